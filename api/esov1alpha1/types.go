package esov1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// What ESO writes on its PushSecrets and the remote secrets they push.
const (
	// ConditionReady is the one condition ESO sets on a PushSecret.
	ConditionReady = "Ready"
	// ReasonSynced: every key is in every store.
	ReasonSynced = "Synced"
	// ReasonErrored: a push or a deletion failed; the message says why.
	ReasonErrored = "Errored"
	// Finalizer is ESO's finalizer of a PushSecret with deletionPolicy
	// Delete.
	Finalizer = "pushsecret.externalsecrets.io/finalizer"
	// ManagedByValue is the managed-by mark (AWS tag, Vault custom
	// metadata) ESO puts on the remote secrets it creates.
	ManagedByValue = "external-secrets"
)

// Condition is ESO's PushSecret condition (no observedGeneration).
type Condition struct {
	// Type is Ready.
	Type string `json:"type"`
	// Status is True, False or Unknown.
	Status corev1.ConditionStatus `json:"status"`
	// Reason is Synced or Errored.
	// +optional
	Reason string `json:"reason,omitempty"`
	// Message says what happened; it never holds a secret value.
	// +optional
	Message string `json:"message,omitempty"`
	// LastTransitionTime is when Status last changed.
	// +optional
	LastTransitionTime metav1.Time `json:"lastTransitionTime,omitempty"`
}

// PushSecretStatus is ESO's PushSecret status.
type PushSecretStatus struct {
	// RefreshTime is when the keys were last pushed.
	// +nullable
	RefreshTime metav1.Time `json:"refreshTime,omitempty"`
	// SyncedResourceVersion is ESO's record of the spec and metadata last
	// pushed: "<generation>-<hash of labels and annotations>".
	SyncedResourceVersion string `json:"syncedResourceVersion,omitempty"`
	// SyncedPushSecrets records what was pushed, per store.
	// +optional
	SyncedPushSecrets v1alpha1.SyncedPushSecretsMap `json:"syncedPushSecrets,omitempty"`
	// Conditions holds Ready.
	// +optional
	Conditions []Condition `json:"conditions,omitempty"`
}

// PushSecret is ESO's PushSecret, read with kseal's spec type.
//
// +kubebuilder:object:root=true
type PushSecret struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the PushSecret's spec, in kseal's type (ESO's names).
	Spec v1alpha1.PushSecretSpec `json:"spec,omitempty"`
	// Status is in ESO's shape.
	Status PushSecretStatus `json:"status,omitempty"`
}

// PushSecretList is a list of PushSecrets.
//
// +kubebuilder:object:root=true
type PushSecretList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []PushSecret `json:"items"`
}

func init() {
	SchemeBuilder.Register(&PushSecret{}, &PushSecretList{})
}
