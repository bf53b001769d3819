package v1alpha1

import (
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// PushSecretKind is the kind name of PushSecret.
const PushSecretKind = "PushSecret"

// Reasons of a PushSecret's Ready condition (External Secrets Operator's
// names, plus kseal's refusals).
const (
	// ReasonPushSynced: every selected key is in every store.
	ReasonPushSynced = "Synced"
	// ReasonPushErrored: a push or a deletion failed; the message says which
	// remote key and why (never a value).
	ReasonPushErrored = "Errored"
	// ReasonRemoteNotOwned: a remote secret of that name exists and was not
	// created by kseal; it is left untouched.
	ReasonRemoteNotOwned = "RemoteNotOwned"
	// ReasonSourceNotFound: the selected Secret does not exist in the
	// PushSecret's namespace.
	ReasonSourceNotFound = "SourceNotFound"
)

// PushSecretUpdatePolicy says whether an existing remote secret is
// overwritten.
// +kubebuilder:validation:Enum=Replace;IfNotExists
type PushSecretUpdatePolicy string

// Update policies.
const (
	// PushSecretUpdatePolicyReplace writes the value every time it differs.
	PushSecretUpdatePolicyReplace PushSecretUpdatePolicy = "Replace"
	// PushSecretUpdatePolicyIfNotExists writes only remote secrets that do
	// not exist yet.
	PushSecretUpdatePolicyIfNotExists PushSecretUpdatePolicy = "IfNotExists"
)

// PushSecretDeletionPolicy says what happens to pushed remote secrets when
// the PushSecret (or one of its data entries) goes away.
// +kubebuilder:validation:Enum=Delete;None
type PushSecretDeletionPolicy string

// Deletion policies.
const (
	// PushSecretDeletionPolicyDelete deletes the remote secrets kseal pushed
	// (or, for an entry with a property, that property).
	PushSecretDeletionPolicyDelete PushSecretDeletionPolicy = "Delete"
	// PushSecretDeletionPolicyNone leaves them.
	PushSecretDeletionPolicyNone PushSecretDeletionPolicy = "None"
)

// PushSecretConversionStrategy converts the Secret's keys before a push.
// +kubebuilder:validation:Enum=None;ReverseUnicode
type PushSecretConversionStrategy string

// Conversion strategies.
const (
	// PushSecretConversionNone pushes keys as they are.
	PushSecretConversionNone PushSecretConversionStrategy = "None"
	// PushSecretConversionReverseUnicode turns "_U0024_" sequences in keys
	// back into the character they encode (the reverse of an
	// ExternalSecret's Unicode key conversion).
	PushSecretConversionReverseUnicode PushSecretConversionStrategy = "ReverseUnicode"
)

// PushSecretSpec says which keys of which Secret are pushed to which
// stores. Field names follow External Secrets Operator's v1alpha1
// PushSecret, so its manifests move to kseal by changing apiVersion.
//
// +kubebuilder:validation:XValidation:rule="!has(self.dataTo)",message="dataTo is not supported by kseal: list each key in data"
// +kubebuilder:validation:XValidation:rule="!has(self.template)",message="template is not supported by kseal on PushSecret: template the source Secret instead (a SealedSecret or an ExternalSecret template)"
type PushSecretSpec struct {
	// RefreshInterval is how often the keys are pushed again even when
	// nothing changed (a remote edit is then overwritten); 0 pushes only
	// on changes. Default 1h.
	// +kubebuilder:default="1h0m0s"
	// +optional
	RefreshInterval *metav1.Duration `json:"refreshInterval,omitempty"`
	// SecretStoreRefs are the stores to push to (1 to 10).
	// +kubebuilder:validation:MinItems=1
	// +kubebuilder:validation:MaxItems=10
	SecretStoreRefs []PushSecretStoreRef `json:"secretStoreRefs"`
	// UpdatePolicy: Replace (default) or IfNotExists.
	// +kubebuilder:default="Replace"
	// +optional
	UpdatePolicy PushSecretUpdatePolicy `json:"updatePolicy,omitempty"`
	// DeletionPolicy: None (default) leaves remote secrets when the
	// PushSecret or an entry goes away; Delete deletes those kseal pushed.
	// +kubebuilder:default="None"
	// +optional
	DeletionPolicy PushSecretDeletionPolicy `json:"deletionPolicy,omitempty"`
	// Selector names the source Secret, in the PushSecret's namespace.
	Selector PushSecretSelector `json:"selector"`
	// Data lists the keys to push (1 to 100).
	// +kubebuilder:validation:MaxItems=100
	// +optional
	Data []PushSecretData `json:"data,omitempty"`
	// DataTo is External Secrets Operator's bulk push; refused by kseal.
	// +kubebuilder:validation:items:Type=object
	// +optional
	DataTo []apiextensionsv1.JSON `json:"dataTo,omitempty"`
	// Template is External Secrets Operator's PushSecret template; refused
	// by kseal.
	// +kubebuilder:validation:Type=object
	// +optional
	Template *apiextensionsv1.JSON `json:"template,omitempty"`
}

// PushSecretStoreRef names a store to push to.
// +kubebuilder:validation:XValidation:rule="!has(self.labelSelector)",message="secretStoreRefs[].labelSelector is not supported by kseal: name each store"
type PushSecretStoreRef struct {
	// Name of the SecretStore or ClusterSecretStore.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Name string `json:"name,omitempty"`
	// LabelSelector is External Secrets Operator's store selection;
	// refused by kseal.
	// +optional
	LabelSelector *metav1.LabelSelector `json:"labelSelector,omitempty"`
	// Kind is SecretStore (default) or ClusterSecretStore.
	// +kubebuilder:validation:Enum=SecretStore;ClusterSecretStore
	// +kubebuilder:default="SecretStore"
	// +optional
	Kind string `json:"kind,omitempty"`
}

// PushSecretSelector selects the source Secret.
// +kubebuilder:validation:XValidation:rule="!has(self.generatorRef)",message="selector.generatorRef is not supported by kseal: push a Secret"
// +kubebuilder:validation:XValidation:rule="has(self.secret) && has(self.secret.name) && !has(self.secret.selector)",message="selector.secret.name is required (kseal pushes one named Secret; secret.selector is not supported)"
type PushSecretSelector struct {
	// Secret names the Secret.
	// +optional
	Secret *PushSecretSecret `json:"secret,omitempty"`
	// GeneratorRef is External Secrets Operator's generator source;
	// refused by kseal.
	// +kubebuilder:validation:Type=object
	// +optional
	GeneratorRef *apiextensionsv1.JSON `json:"generatorRef,omitempty"`
}

// PushSecretSecret names the source Secret.
type PushSecretSecret struct {
	// Name of the Secret, in the PushSecret's namespace.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	Name string `json:"name,omitempty"`
	// Selector is External Secrets Operator's label selection of Secrets;
	// refused by kseal.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}

// PushSecretData maps one key of the Secret to a remote secret.
// +kubebuilder:validation:XValidation:rule="!has(self.metadata)",message="data[].metadata is not supported by kseal: remote secrets get kseal's managed-by tag only"
type PushSecretData struct {
	// Match says which key goes where.
	Match PushSecretMatch `json:"match"`
	// Metadata is External Secrets Operator's provider-specific metadata;
	// refused by kseal.
	// +kubebuilder:validation:Type=object
	// +optional
	Metadata *apiextensionsv1.JSON `json:"metadata,omitempty"`
	// ConversionStrategy converts the Secret's keys first: None (default)
	// or ReverseUnicode.
	// +kubebuilder:default="None"
	// +optional
	ConversionStrategy PushSecretConversionStrategy `json:"conversionStrategy,omitempty"`
}

// PushSecretMatch maps a Secret key to a remote key.
type PushSecretMatch struct {
	// SecretKey is the key of the Secret to push; empty pushes the whole
	// Secret as a JSON object of its keys.
	// +kubebuilder:validation:MaxLength=253
	// +optional
	SecretKey string `json:"secretKey,omitempty"`
	// RemoteRef is where the value goes.
	RemoteRef PushSecretRemoteRef `json:"remoteRef"`
}

// PushSecretRemoteRef is a remote location.
type PushSecretRemoteRef struct {
	// RemoteKey is the remote secret's name (AWS) or path (Vault).
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=512
	RemoteKey string `json:"remoteKey"`
	// Property, when set, is a top-level field of the remote JSON object
	// that receives the value; the other fields are kept.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Property string `json:"property,omitempty"`
}

// SyncedPushSecretsMap records what was pushed: store ("SecretStore/name")
// to remote key ("key" or "key/property") to the data entry.
type SyncedPushSecretsMap map[string]map[string]PushSecretData

// PushSecretStatus is the observed state of a PushSecret.
type PushSecretStatus struct {
	// ObservedGeneration is the metadata.generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// RefreshTime is when the keys were last pushed.
	// +optional
	// +nullable
	RefreshTime metav1.Time `json:"refreshTime,omitempty"`
	// SyncedResourceVersion is the PushSecret generation and the Secret
	// resourceVersion last pushed ("<generation>-<resourceVersion>").
	// +optional
	SyncedResourceVersion string `json:"syncedResourceVersion,omitempty"`
	// SyncedPushSecrets lists the remote secrets kseal pushed, by store.
	// With deletionPolicy Delete, entries that leave spec.data are deleted
	// remotely.
	// +optional
	SyncedPushSecrets SyncedPushSecretsMap `json:"syncedPushSecrets,omitempty"`
	// Conditions holds Ready (reasons Synced, Errored, RemoteNotOwned,
	// SourceNotFound, StoreNotFound, ...) and the kstatus Stalled or
	// Reconciling while it is not Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// PushSecret pushes selected keys of a Secret in its namespace to external
// stores (AWS Secrets Manager, Vault KV v2). kseal never overwrites or
// deletes a remote secret it did not create.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:shortName=ps;kps,categories=kseal
// +kubebuilder:printcolumn:name="Secret",type=string,JSONPath=`.spec.selector.secret.name`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Status",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Last Sync",type=date,JSONPath=`.status.refreshTime`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type PushSecret struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says what to push where.
	Spec PushSecretSpec `json:"spec"`
	// Status reports the last push.
	// +optional
	Status PushSecretStatus `json:"status,omitempty,omitzero"`
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

// GetConditions returns the status conditions.
func (o *PushSecret) GetConditions() []metav1.Condition { return o.Status.Conditions }

// SetConditions replaces the status conditions.
func (o *PushSecret) SetConditions(c []metav1.Condition) { o.Status.Conditions = c }

// SetObservedGeneration records the generation the status describes.
func (o *PushSecret) SetObservedGeneration(g int64) { o.Status.ObservedGeneration = g }
