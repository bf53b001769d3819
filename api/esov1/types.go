package esov1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// Labels and annotations ESO puts on the Secrets it writes; kseal reads them
// to recognise a Secret ESO wrote as already correct, and keeps them current
// when it writes, so that ESO can take the Secret back.
const (
	// LabelManaged is "true" on every Secret an ExternalSecret manages.
	LabelManaged = "reconcile.external-secrets.io/managed"
	// LabelCreatedBy is, with creationPolicy Owner, the hash of the owning
	// ExternalSecret's namespace/name.
	LabelCreatedBy = "reconcile.external-secrets.io/created-by"
	// AnnotationDataHash is ESO's hash of the Secret's data.
	AnnotationDataHash = "reconcile.external-secrets.io/data-hash"
)

// Condition types and the reasons ESO reports.
const (
	// ConditionReady is the one condition ESO sets on an ExternalSecret and
	// a store.
	ConditionReady = "Ready"
	// ReasonSecretSynced: the Secret is up to date.
	ReasonSecretSynced = "SecretSynced"
	// ReasonSecretSyncedError: the last sync failed; the message says why.
	ReasonSecretSyncedError = "SecretSyncedError"
	// ReasonSecretDeleted: every remote value is gone and the Secret was
	// deleted (deletionPolicy Delete).
	ReasonSecretDeleted = "SecretDeleted"
	// ReasonStoreValid: a store's configuration and credentials work.
	ReasonStoreValid = "Valid"
	// ReasonStoreValidationFailed: a store's credentials failed.
	ReasonStoreValidationFailed = "ValidationFailed"
	// ReasonInvalidProviderConfig: a store's configuration is invalid (or
	// names a provider kseal does not serve).
	ReasonInvalidProviderConfig = "InvalidProviderConfig"
	// CapabilitiesReadOnly is the capability kseal reports for stores.
	CapabilitiesReadOnly = "ReadOnly"
)

// Condition is ESO's status condition (no observedGeneration).
type Condition struct {
	// Type is Ready.
	Type string `json:"type"`
	// Status is True, False or Unknown.
	Status corev1.ConditionStatus `json:"status"`
	// Reason is one of the Reason constants.
	// +optional
	Reason string `json:"reason,omitempty"`
	// Message says what happened; it never holds a secret value.
	// +optional
	Message string `json:"message,omitempty"`
	// LastTransitionTime is when Status last changed.
	// +optional
	LastTransitionTime metav1.Time `json:"lastTransitionTime,omitempty"`
}

// ExternalSecretStatus is ESO's ExternalSecret status.
type ExternalSecretStatus struct {
	// RefreshTime is when the values were last fetched.
	// +nullable
	RefreshTime metav1.Time `json:"refreshTime,omitempty"`
	// SyncedResourceVersion is ESO's record of the spec and metadata last
	// synced: "<generation>-<hash of labels and annotations>".
	SyncedResourceVersion string `json:"syncedResourceVersion,omitempty"`
	// Conditions holds Ready.
	// +optional
	Conditions []Condition `json:"conditions,omitempty"`
	// Binding names the written Secret (servicebinding.io).
	Binding corev1.LocalObjectReference `json:"binding,omitempty"`
}

// ExternalSecret is ESO's ExternalSecret, read with kseal's spec type.
//
// +kubebuilder:object:root=true
type ExternalSecret struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the ExternalSecret's spec, in kseal's type (ESO's names).
	Spec v1alpha1.ExternalSecretSpec `json:"spec,omitempty"`
	// Status is in ESO's shape.
	Status ExternalSecretStatus `json:"status,omitempty"`
}

// ExternalSecretList is a list of ExternalSecrets.
//
// +kubebuilder:object:root=true
type ExternalSecretList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ExternalSecret `json:"items"`
}

// SecretStoreStatus is ESO's store status.
type SecretStoreStatus struct {
	// Conditions holds Ready.
	// +optional
	Conditions []Condition `json:"conditions,omitempty"`
	// Capabilities is ReadOnly, WriteOnly or ReadWrite.
	// +optional
	Capabilities string `json:"capabilities,omitempty"`
}

// SecretStore is ESO's SecretStore, read with kseal's spec type.
//
// +kubebuilder:object:root=true
type SecretStore struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the store's spec, in kseal's type (ESO's names).
	Spec v1alpha1.SecretStoreSpec `json:"spec,omitempty"`
	// Status is in ESO's shape.
	Status SecretStoreStatus `json:"status,omitempty"`
}

// SecretStoreList is a list of SecretStores.
//
// +kubebuilder:object:root=true
type SecretStoreList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SecretStore `json:"items"`
}

// ClusterSecretStore is ESO's ClusterSecretStore, read with kseal's spec
// type.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster
type ClusterSecretStore struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the store's spec, in kseal's type (ESO's names).
	Spec v1alpha1.SecretStoreSpec `json:"spec,omitempty"`
	// Status is in ESO's shape.
	Status SecretStoreStatus `json:"status,omitempty"`
}

// ClusterSecretStoreList is a list of ClusterSecretStores.
//
// +kubebuilder:object:root=true
type ClusterSecretStoreList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterSecretStore `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ExternalSecret{}, &ExternalSecretList{},
		&SecretStore{}, &SecretStoreList{}, &ClusterSecretStore{}, &ClusterSecretStoreList{})
}
