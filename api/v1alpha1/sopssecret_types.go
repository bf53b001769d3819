package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// SopsFormat is the format of a SopsSecret's document.
// +kubebuilder:validation:Enum=yaml;json;dotenv
type SopsFormat string

// SOPS document formats.
const (
	SopsFormatYAML   SopsFormat = "yaml"
	SopsFormatJSON   SopsFormat = "json"
	SopsFormatDotenv SopsFormat = "dotenv"
)

// SopsSecretSpec holds a SOPS-encrypted document and the template of the
// Secret made from it.
type SopsSecretSpec struct {
	// Sops is a whole document encrypted with sops to the cluster's SOPS
	// recipient (`kseal cert inspect` prints it), as the sops CLI wrote it.
	// It must name where it may be used in the top-level key
	// `kseal.dev/scope`: "NAMESPACE/NAME" (only this SopsSecret),
	// "NAMESPACE/*" (any SopsSecret in the namespace) or "*" (any
	// namespace), covered by the document's MAC; other documents are
	// refused (ScopeMismatch). Its other top-level keys become the Secret's
	// data keys (strings as they are, other values as JSON).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=4194304
	Sops string `json:"sops"`
	// Format of the document: yaml (default), json or dotenv.
	// +optional
	Format SopsFormat `json:"format,omitempty"`
	// Template describes the Secret: metadata, type, immutability, and
	// extra data rendered with Go templates over the decrypted values.
	// +optional
	Template SecretTemplateSpec `json:"template,omitempty"`
	// RolloutRestartTargets are workloads to restart when the data of the
	// Secret written from this object changes (with --rollout-restarts).
	// +optional
	// +kubebuilder:validation:MaxItems=64
	RolloutRestartTargets []RolloutRestartTarget `json:"rolloutRestartTargets,omitempty"`
}

// SopsSecretStatus is the observed state of a SopsSecret.
type SopsSecretStatus struct {
	// ObservedGeneration is the metadata.generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions holds Ready (reasons as for SealedSecret), and Stalled or
	// Reconciling (kstatus) while it is not Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// SopsSecret is a Secret whose values are SOPS-encrypted to the cluster's
// SOPS recipient; the kseal controller decrypts it in the cluster with the
// SOPS identities of its key generations (kept apart from the ones that
// unseal SealedSecrets), so no key lives in the sync engine.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:categories=kseal
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type SopsSecret struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec holds the encrypted document and the Secret template.
	Spec SopsSecretSpec `json:"spec"`
	// Status reports whether the Secret was made from the latest spec.
	// +optional
	Status SopsSecretStatus `json:"status,omitempty,omitzero"`
}

// SopsSecretList is a list of SopsSecrets.
//
// +kubebuilder:object:root=true
type SopsSecretList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SopsSecret `json:"items"`
}

func init() {
	SchemeBuilder.Register(&SopsSecret{}, &SopsSecretList{})
}
