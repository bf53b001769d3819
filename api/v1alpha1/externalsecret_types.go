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
// +kubebuilder:validation:Enum=Owner;Merge;Orphan;None;CreateOrMerge
// +kubebuilder:validation:XValidation:rule="self != 'CreateOrMerge'",message="creationPolicy CreateOrMerge is not supported by kseal: use Owner (create and own the Secret) or Merge (merge into an existing Secret)"
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
// +kubebuilder:validation:Enum=Retain;Delete;Merge
// +kubebuilder:validation:XValidation:rule="self != 'Merge'",message="deletionPolicy Merge is not supported by kseal: use Retain (keep the last values) or Delete (delete the Secret when every remote value is gone)"
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
	// RefreshPolicy: Periodic (default: every refreshInterval and on every
	// spec change), OnChange (only when the spec or the force-sync
	// annotation changes) or CreatedOnce (fetch once; never refresh a
	// Secret that exists and is intact).
	// +optional
	RefreshPolicy RefreshPolicy `json:"refreshPolicy,omitempty"`
	// SyncWindows is accepted for ESO compatibility and refused: kseal has
	// no sync windows.
	// +optional
	// +kubebuilder:validation:XValidation:rule="false",message="syncWindows are not supported by kseal: remove them (use refreshPolicy OnChange or CreatedOnce to limit refreshes)"
	SyncWindows *ExternalSecretSyncWindows `json:"syncWindows,omitempty"`
	// SecretStoreRef names the store to fetch from; as in ESO it may be left
	// out when every entry names its own (sourceRef.storeRef).
	// +optional
	SecretStoreRef SecretStoreRef `json:"secretStoreRef,omitempty"`
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
	// Manifest is accepted for ESO compatibility and refused unless it
	// names a core/v1 Secret: kseal writes Secrets only.
	// +optional
	// +kubebuilder:validation:XValidation:rule="self.apiVersion == 'v1' && self.kind == 'Secret'",message="target.manifest is not supported by kseal: it writes Secrets only; remove target.manifest"
	Manifest *ManifestReference `json:"manifest,omitempty"`
}

// ExternalSecretTemplate shapes the written Secret.
type ExternalSecretTemplate struct {
	// Type is the Secret type; Opaque when empty.
	// +optional
	Type corev1.SecretType `json:"type,omitempty"`
	// EngineVersion is v2 (ESO's v2 engine: Sprig and ESO's functions);
	// ESO's deprecated v1 engine is refused.
	// +optional
	EngineVersion TemplateEngineVersion `json:"engineVersion,omitempty"`
	// MergePolicy: Replace (default: the Secret holds only the templated
	// keys) or Merge (the templated keys are added to the fetched ones).
	// +optional
	MergePolicy TemplateMergePolicy `json:"mergePolicy,omitempty"`
	// TemplateFrom renders templates held in ConfigMaps, Secrets (of the
	// ExternalSecret's namespace) or literals, before Data.
	// +optional
	// +kubebuilder:validation:MaxItems=64
	TemplateFrom []TemplateFrom `json:"templateFrom,omitempty"`
	// Metadata holds labels and annotations for the Secret.
	// +optional
	Metadata ExternalSecretTemplateMetadata `json:"metadata,omitempty"`
	// Data maps Secret keys to Go templates over the fetched values (for
	// example "postgres://{{ .user }}:{{ .password }}@db"). Templates have
	// no access to the environment or the file system.
	// +optional
	Data map[string]string `json:"data,omitempty"`
}

// ExternalSecretTemplateMetadata holds the Secret's labels and annotations;
// their values are templates, as in ESO.
type ExternalSecretTemplateMetadata struct {
	// Labels for the Secret.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
	// Annotations for the Secret.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
	// Finalizers is accepted for ESO compatibility and refused.
	// +optional
	// +kubebuilder:validation:XValidation:rule="size(self) == 0",message="template.metadata.finalizers is not supported by kseal: remove it (kseal never blocks the deletion of a Secret it writes)"
	Finalizers []string `json:"finalizers,omitempty"`
}

// ExternalSecretData maps one remote value to one Secret key.
type ExternalSecretData struct {
	// SecretKey is the key in the Secret.
	// +kubebuilder:validation:Pattern=`^[-._a-zA-Z0-9]+$`
	SecretKey string `json:"secretKey"`
	// RemoteRef locates the value.
	RemoteRef ExternalSecretDataRemoteRef `json:"remoteRef"`
	// SourceRef fetches this value from another store than
	// spec.secretStoreRef.
	// +optional
	SourceRef *StoreSourceRef `json:"sourceRef,omitempty"`
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
	// MetadataPolicy: None (default) or Fetch: read the remote secret's
	// metadata instead of its value, as a JSON object (Vault KV v2
	// custom_metadata, AWS Secrets Manager tags), of which property
	// selects one key. Parameter Store and Vault KV v1 refuse it with
	// reason InvalidSpec.
	// +optional
	MetadataPolicy MetadataPolicy `json:"metadataPolicy,omitempty"`
	// ConversionStrategy: how dataFrom turns remote names into Secret keys:
	// Default (invalid characters become "_") or Unicode ("_U0024_").
	// +optional
	ConversionStrategy ConversionStrategy `json:"conversionStrategy,omitempty"`
	// DecodingStrategy decodes the fetched value: None (default), Base64,
	// Base64URL or Auto (Base64, else Base64URL, else as is).
	// +optional
	DecodingStrategy DecodingStrategy `json:"decodingStrategy,omitempty"`
	// NullBytePolicy: Ignore (default) or Fail (refuse a value holding a
	// NUL byte).
	// +optional
	NullBytePolicy NullBytePolicy `json:"nullBytePolicy,omitempty"`
}

// ExternalSecretDataFromRemoteRef adds many keys at once.
// +kubebuilder:validation:XValidation:rule="!(has(self.sourceRef) && has(self.sourceRef.generatorRef)) || (!has(self.extract) && !has(self.find))",message="a dataFrom entry with sourceRef.generatorRef takes no extract or find: put them in an entry of their own"
type ExternalSecretDataFromRemoteRef struct {
	// Extract adds every top-level field of a JSON remote value.
	// +optional
	Extract *ExternalSecretDataRemoteRef `json:"extract,omitempty"`
	// Find adds every remote secret that matches (key: secret name).
	// +optional
	Find *ExternalSecretFind `json:"find,omitempty"`
	// Rewrite renames the keys this entry produces, in order.
	// +optional
	// +kubebuilder:validation:MaxItems=16
	Rewrite []ExternalSecretRewrite `json:"rewrite,omitempty"`
	// SourceRef fetches this entry from another store than
	// spec.secretStoreRef, or generates it (generatorRef).
	// +optional
	SourceRef *StoreGeneratorSourceRef `json:"sourceRef,omitempty"`
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
	// ConversionStrategy: how remote names become Secret keys (see
	// ExternalSecretDataRemoteRef).
	// +optional
	ConversionStrategy ConversionStrategy `json:"conversionStrategy,omitempty"`
	// DecodingStrategy decodes every value found.
	// +optional
	DecodingStrategy DecodingStrategy `json:"decodingStrategy,omitempty"`
	// NullBytePolicy: Ignore (default) or Fail.
	// +optional
	NullBytePolicy NullBytePolicy `json:"nullBytePolicy,omitempty"`
}

// FindName filters names.
type FindName struct {
	// RegExp is a Go regular expression.
	// +kubebuilder:validation:MaxLength=1024
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
