package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SealedSecretKind is the kind name of SealedSecret.
const SealedSecretKind = "SealedSecret"

// SealedSecretSpec is the desired state of a SealedSecret: encrypted items and
// the template of the Secret the controller creates from them.
type SealedSecretSpec struct {
	// EncryptedData maps a Secret data key to its sealed value: base64 (std) of
	// a v1 (Bitnami-compatible RSA-OAEP + AES-GCM) or v2 (age hybrid
	// post-quantum) ciphertext. Keys follow the rules for Secret data keys.
	// +kubebuilder:validation:XValidation:rule="self.all(k, k.matches('^[-._a-zA-Z0-9]+$'))",message="every key must consist of alphanumeric characters, '-', '_' or '.'"
	// +kubebuilder:validation:MaxProperties=1024
	EncryptedData map[string]string `json:"encryptedData"`

	// Template describes the Secret the controller creates: its metadata, type,
	// immutability, and extra data rendered from the decrypted values.
	// +optional
	Template SecretTemplateSpec `json:"template,omitempty"`
	// RolloutRestartTargets are workloads to restart when the data of the
	// Secret written from this object changes (with --rollout-restarts).
	// +optional
	// +kubebuilder:validation:MaxItems=64
	RolloutRestartTargets []RolloutRestartTarget `json:"rolloutRestartTargets,omitempty"`
}

// SecretTemplateSpec describes the Secret created from a SealedSecret.
type SecretTemplateSpec struct {
	// Metadata holds the labels and annotations copied to the Secret. The
	// Secret's name and namespace are those of the SealedSecret.
	// +optional
	// +kubebuilder:pruning:PreserveUnknownFields
	// +kubebuilder:validation:Schemaless
	// +kubebuilder:validation:Type=object
	Metadata metav1.ObjectMeta `json:"metadata,omitempty"`

	// Type is the Secret type, Opaque when empty.
	// +optional
	Type corev1.SecretType `json:"type,omitempty"`

	// Immutable marks the created Secret immutable.
	// +optional
	Immutable *bool `json:"immutable,omitempty"`

	// Data holds extra Secret items as Go templates over the decrypted values
	// (for example `{{ index . "password" }}`). Templates have no access to the
	// environment or the file system.
	// +optional
	Data map[string]string `json:"data,omitempty"`
}

// SealedSecretStatus is the observed state of a SealedSecret.
type SealedSecretStatus struct {
	// ObservedGeneration is the metadata.generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions holds the Ready condition (see the Reason* constants),
	// and Stalled or Reconciling (kstatus) while it is not Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// SealedSecret holds Secret data encrypted to the cluster's key. Only the
// kseal controller in that cluster can turn it into a Secret, so it is safe to
// commit to git.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ss;kss,categories=kseal
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
// +kubebuilder:printcolumn:name="Message",type=string,priority=1,JSONPath=`.status.conditions[?(@.type=="Ready")].message`
type SealedSecret struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec holds the sealed items and the Secret template.
	Spec SealedSecretSpec `json:"spec"`

	// Status reports whether the Secret was created from the latest spec.
	// +optional
	Status SealedSecretStatus `json:"status,omitempty,omitzero"`
}

// SealedSecretList is a list of SealedSecrets.
//
// +kubebuilder:object:root=true
type SealedSecretList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SealedSecret `json:"items"`
}

func init() {
	SchemeBuilder.Register(&SealedSecret{}, &SealedSecretList{})
}
