package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClusterExternalSecretKind is the kind name of ClusterExternalSecret.
const ClusterExternalSecretKind = "ClusterExternalSecret"

// ClusterExternalSecretFinalizer lets kseal delete the ExternalSecrets a
// ClusterExternalSecret created before the ClusterExternalSecret goes.
const ClusterExternalSecretFinalizer = "kseal.dev/clusterexternalsecret-cleanup"

// Reasons of a ClusterExternalSecret's Ready condition.
const (
	// ReasonNamespacesProvisioned: the ExternalSecret is in every matching
	// namespace.
	ReasonNamespacesProvisioned = "Provisioned"
	// ReasonNamespacesFailed: one or more namespaces failed; they are listed
	// in status.failedNamespaces with the reason.
	ReasonNamespacesFailed = "NamespacesFailed"
	// ReasonTooManyNamespaces: the selectors match more namespaces than the
	// controller provisions for one ClusterExternalSecret; nothing was
	// changed.
	ReasonTooManyNamespaces = "TooManyNamespaces"
)

// ClusterExternalSecretSpec says which ExternalSecret to create in which
// namespaces. Field names follow External Secrets Operator v1, so its
// manifests move to kseal by changing apiVersion.
type ClusterExternalSecretSpec struct {
	// ExternalSecretSpec is the spec of the ExternalSecret created in each
	// namespace. Each one goes through the same store checks as any
	// ExternalSecret written in that namespace.
	ExternalSecretSpec ExternalSecretSpec `json:"externalSecretSpec"`
	// ExternalSecretName is the name of the ExternalSecrets; default the
	// ClusterExternalSecret's name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +optional
	ExternalSecretName string `json:"externalSecretName,omitempty"`
	// ExternalSecretMetadata are the labels and annotations set on each
	// ExternalSecret (they replace any others).
	// +optional
	ExternalSecretMetadata ExternalSecretMetadata `json:"externalSecretMetadata,omitempty,omitzero"`
	// NamespaceSelector selects namespaces by label.
	//
	// Deprecated: use namespaceSelectors.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`
	// NamespaceSelectors select namespaces by label; a namespace matching
	// any one of them is chosen.
	// +kubebuilder:validation:MaxItems=50
	// +optional
	NamespaceSelectors []*metav1.LabelSelector `json:"namespaceSelectors,omitempty"`
	// Namespaces chooses namespaces by name, in addition to those the
	// selectors choose.
	// +kubebuilder:validation:MaxItems=1000
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=63
	// +kubebuilder:validation:items:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?$`
	// +optional
	Namespaces []string `json:"namespaces,omitempty"`
	// RefreshInterval is how often the namespaces are checked again even
	// without a change (JSON name refreshTime, as in ESO); default 1h.
	// Namespace label changes are seen at once.
	// +optional
	RefreshInterval *metav1.Duration `json:"refreshTime,omitempty"`
}

// ExternalSecretMetadata are the labels and annotations of the created
// ExternalSecrets.
type ExternalSecretMetadata struct {
	// Annotations of each ExternalSecret.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
	// Labels of each ExternalSecret.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
}

// ClusterExternalSecretNamespaceFailure is a namespace where the
// ExternalSecret could not be written, and why.
type ClusterExternalSecretNamespaceFailure struct {
	// Namespace that failed.
	Namespace string `json:"namespace"`
	// Reason it failed.
	// +optional
	Reason string `json:"reason,omitempty"`
}

// ClusterExternalSecretStatus is the observed state of a
// ClusterExternalSecret.
type ClusterExternalSecretStatus struct {
	// ObservedGeneration is the metadata.generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// ExternalSecretName is the name of the ExternalSecrets created.
	// +optional
	ExternalSecretName string `json:"externalSecretName,omitempty"`
	// FailedNamespaces are the matching namespaces where the ExternalSecret
	// could not be written (for example one of that name that the
	// ClusterExternalSecret does not own). Problems of the ExternalSecrets
	// themselves are in their own status.
	// +optional
	FailedNamespaces []ClusterExternalSecretNamespaceFailure `json:"failedNamespaces,omitempty"`
	// ProvisionedNamespaces are the namespaces holding the ExternalSecret.
	// +optional
	ProvisionedNamespaces []string `json:"provisionedNamespaces,omitempty"`
	// Conditions holds Ready (reasons Provisioned, NamespacesFailed,
	// TooManyNamespaces) and the kstatus Stalled or Reconciling while it
	// is not Ready.
	// +optional
	// +listType=map
	// +listMapKey=type
	Conditions []metav1.Condition `json:"conditions,omitempty"`
}

// ClusterExternalSecret creates the same ExternalSecret in every namespace
// it selects, and removes it from namespaces that stop matching. It is
// cluster-scoped: only cluster administrators should be allowed to write it.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=ces;kces,categories=kseal
// +kubebuilder:printcolumn:name="Store",type=string,JSONPath=`.spec.externalSecretSpec.secretStoreRef.name`
// +kubebuilder:printcolumn:name="Refresh Interval",type=string,JSONPath=`.spec.refreshTime`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterExternalSecret struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says what to create where.
	Spec ClusterExternalSecretSpec `json:"spec"`
	// Status reports the namespaces provisioned and failed.
	// +optional
	Status ClusterExternalSecretStatus `json:"status,omitempty,omitzero"`
}

// ClusterExternalSecretList is a list of ClusterExternalSecrets.
//
// +kubebuilder:object:root=true
type ClusterExternalSecretList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterExternalSecret `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ClusterExternalSecret{}, &ClusterExternalSecretList{})
}

// GetConditions returns the status conditions.
func (o *ClusterExternalSecret) GetConditions() []metav1.Condition { return o.Status.Conditions }

// SetConditions replaces the status conditions.
func (o *ClusterExternalSecret) SetConditions(c []metav1.Condition) { o.Status.Conditions = c }

// SetObservedGeneration records the generation the status describes.
func (o *ClusterExternalSecret) SetObservedGeneration(g int64) { o.Status.ObservedGeneration = g }
