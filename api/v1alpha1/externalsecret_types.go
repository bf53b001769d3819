package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Store kinds a secretStoreRef may name.
const (
	SecretStoreKind        = "SecretStore"
	ClusterSecretStoreKind = "ClusterSecretStore"
)

// CreationPolicy says how an ExternalSecret treats its target Secret.
// +kubebuilder:validation:Enum=Owner;Merge;Orphan;None
type CreationPolicy string

// Creation policies (ESO semantics).
const (
	// CreationPolicyOwner creates the Secret and owns it (default).
	CreationPolicyOwner CreationPolicy = "Owner"
	// CreationPolicyMerge merges the fetched data into an existing Secret
	// without owning it; the Secret must exist.
	CreationPolicyMerge CreationPolicy = "Merge"
	// CreationPolicyOrphan creates and updates the Secret without an owner
	// reference, so it outlives the ExternalSecret.
	CreationPolicyOrphan CreationPolicy = "Orphan"
	// CreationPolicyNone writes no Secret (validation only).
	CreationPolicyNone CreationPolicy = "None"
)

// DeletionPolicy says what happens to data that vanished from the provider.
// +kubebuilder:validation:Enum=Retain;Delete
type DeletionPolicy string

// Deletion policies (ESO semantics).
const (
	// DeletionPolicyRetain keeps the last synced Secret when every remote
	// value is gone (default).
	DeletionPolicyRetain DeletionPolicy = "Retain"
	// DeletionPolicyDelete deletes the Secret when every remote value is
	// gone (only for secrets kseal owns or created).
	DeletionPolicyDelete DeletionPolicy = "Delete"
)

// ExternalSecretSpec is the desired state of an ExternalSecret. Field names
// follow External Secrets Operator v1.
type ExternalSecretSpec struct {
	// RefreshInterval is how often values are fetched again, for example
	// "1h"; "0" fetches once. Refreshes get a jitter of up to 10% so that
	// many objects do not refresh in lockstep. Default 1h.
	// +optional
	RefreshInterval *metav1.Duration `json:"refreshInterval,omitempty"`
	// SecretStoreRef names the store to fetch from.
	SecretStoreRef SecretStoreRef `json:"secretStoreRef"`
	// Target describes the Secret to write.
	// +optional
	Target ExternalSecretTarget `json:"target,omitempty"`
	// Data maps single remote values to Secret keys.
	// +optional
	Data []ExternalSecretData `json:"data,omitempty"`
	// DataFrom adds every key of a remote JSON object (extract) or every
	// secret matching a query (find).
	// +optional
	DataFrom []ExternalSecretDataFromRemoteRef `json:"dataFrom,omitempty"`
	// RolloutRestartTargets are workloads to restart when the data of the
	// Secret written from this object changes (with --rollout-restarts).
	// +optional
	// +kubebuilder:validation:MaxItems=64
	RolloutRestartTargets []RolloutRestartTarget `json:"rolloutRestartTargets,omitempty"`
}

// SecretStoreRef names a SecretStore or ClusterSecretStore.
type SecretStoreRef struct {
	// Name of the store.
	Name string `json:"name"`
	// Kind is SecretStore (default) or ClusterSecretStore.
	// +optional
	// +kubebuilder:validation:Enum=SecretStore;ClusterSecretStore
	Kind string `json:"kind,omitempty"`
}

// ExternalSecretTarget describes the written Secret.
type ExternalSecretTarget struct {
	// Name of the Secret; the ExternalSecret's name when empty.
	// +optional
	Name string `json:"name,omitempty"`
	// CreationPolicy: Owner (default), Merge, Orphan or None.
	// +optional
	CreationPolicy CreationPolicy `json:"creationPolicy,omitempty"`
	// DeletionPolicy: Retain (default) or Delete.
	// +optional
	DeletionPolicy DeletionPolicy `json:"deletionPolicy,omitempty"`
	// Template shapes the Secret: type, metadata and data rendered with Go
	// templates over the fetched values.
	// +optional
	Template *ExternalSecretTemplate `json:"template,omitempty"`
	// Immutable marks the Secret immutable.
	// +optional
	Immutable bool `json:"immutable,omitempty"`
}

// ExternalSecretTemplate shapes the written Secret.
type ExternalSecretTemplate struct {
	// Type is the Secret type; Opaque when empty.
	// +optional
	Type corev1.SecretType `json:"type,omitempty"`
	// Metadata holds labels and annotations for the Secret.
	// +optional
	Metadata ExternalSecretTemplateMetadata `json:"metadata,omitempty"`
	// Data maps Secret keys to Go templates over the fetched values (for
	// example "postgres://{{ .user }}:{{ .password }}@db"). Templates have
	// no access to the environment or the file system.
	// +optional
	Data map[string]string `json:"data,omitempty"`
}

// ExternalSecretTemplateMetadata holds the Secret's labels and annotations.
type ExternalSecretTemplateMetadata struct {
	// Labels for the Secret.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// Annotations for the Secret.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
}

// ExternalSecretData maps one remote value to one Secret key.
type ExternalSecretData struct {
	// SecretKey is the key in the Secret.
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	SecretKey string `json:"secretKey"`
	// RemoteRef locates the value.
	RemoteRef ExternalSecretDataRemoteRef `json:"remoteRef"`
}

// ExternalSecretDataRemoteRef locates a remote value.
type ExternalSecretDataRemoteRef struct {
	// Key is the remote secret's name or path.
	Key string `json:"key"`
	// Property selects a field of a JSON value (dotted path for nested
	// fields, for example "db.password").
	// +optional
	Property string `json:"property,omitempty"`
	// Version selects a version: for AWS a version stage ("AWSCURRENT") or
	// "uuid/<version id>"; for Vault KV v2 a version number.
	// +optional
	Version string `json:"version,omitempty"`
}

// ExternalSecretDataFromRemoteRef adds many keys at once.
type ExternalSecretDataFromRemoteRef struct {
	// Extract adds every top-level field of a JSON remote value.
	// +optional
	Extract *ExternalSecretDataRemoteRef `json:"extract,omitempty"`
	// Find adds every remote secret that matches (key: secret name).
	// +optional
	Find *ExternalSecretFind `json:"find,omitempty"`
}

// ExternalSecretFind selects remote secrets.
type ExternalSecretFind struct {
	// Path is a name prefix.
	// +optional
	Path string `json:"path,omitempty"`
	// Name filters by a regular expression on the name.
	// +optional
	Name *FindName `json:"name,omitempty"`
	// Tags filters by tags (AWS); all must match.
	// +optional
	Tags map[string]string `json:"tags,omitempty"`
}

// FindName filters names.
type FindName struct {
	// RegExp is a Go regular expression.
	RegExp string `json:"regexp,omitempty"`
}

// ExternalSecretStatus is the observed state of an ExternalSecret.
type ExternalSecretStatus struct {
	// ObservedGeneration is the metadata.generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// RefreshTime is when values were last fetched successfully.
	// +optional
	RefreshTime metav1.Time `json:"refreshTime,omitempty,omitzero"`
	// SyncedResourceVersion is the resource version of the spec last synced.
	// +optional
	SyncedResourceVersion string `json:"syncedResourceVersion,omitempty"`
	// ForceSyncedValue is the value of the force-sync annotation at the
	// last successful sync; a different value fetches again at once.
	// +optional
	ForceSyncedValue string `json:"forceSyncedValue,omitempty"`
	// Conditions holds Ready (reasons: see the Reason* constants), and
	// Stalled or Reconciling (kstatus) while it is not Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// ExternalSecret keeps a Secret in sync with values held by a provider.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=es;kes,categories=kseal
// +kubebuilder:printcolumn:name="Store",type=string,JSONPath=`.spec.secretStoreRef.name`
// +kubebuilder:printcolumn:name="Refresh",type=string,JSONPath=`.spec.refreshInterval`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ExternalSecret struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec holds the references and the target.
	Spec ExternalSecretSpec `json:"spec"`
	// Status reports the last sync.
	// +optional
	Status ExternalSecretStatus `json:"status,omitempty,omitzero"`
}

// ExternalSecretList is a list of ExternalSecrets.
//
// +kubebuilder:object:root=true
type ExternalSecretList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ExternalSecret `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ExternalSecret{}, &ExternalSecretList{})
}
