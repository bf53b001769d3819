package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// ClusterPushSecretKind is the kind name of ClusterPushSecret.
const ClusterPushSecretKind = "ClusterPushSecret"

// ClusterPushSecretFinalizer lets kseal delete the PushSecrets a
// ClusterPushSecret created before the ClusterPushSecret goes.
const ClusterPushSecretFinalizer = "kseal.dev/clusterpushsecret-cleanup"

// ClusterPushSecretSpec says which PushSecret to create in which
// namespaces. Field names follow External Secrets Operator's
// ClusterPushSecret, so its manifests move to kseal by changing apiVersion.
// Its Ready condition has the reasons of a ClusterExternalSecret
// (Provisioned, NamespacesFailed, TooManyNamespaces).
type ClusterPushSecretSpec struct {
	// PushSecretSpec is the spec of the PushSecret created in each
	// namespace. Each one goes through the same checks as any PushSecret
	// written in that namespace: its source Secret is read there, and its
	// stores are that namespace's (or ClusterSecretStores that allow it).
	PushSecretSpec PushSecretSpec `json:"pushSecretSpec"`
	// RefreshInterval is how often the namespaces are checked again even
	// without a change (JSON name refreshTime, as in ESO); default 1h.
	// Namespace label changes are seen at once.
	// +optional
	RefreshInterval *metav1.Duration `json:"refreshTime,omitempty"`
	// PushSecretName is the name of the PushSecrets; default the
	// ClusterPushSecret's name.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +kubebuilder:validation:Pattern=`^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$`
	// +optional
	PushSecretName string `json:"pushSecretName,omitempty"`
	// PushSecretMetadata are the labels and annotations set on each
	// PushSecret (they replace any others).
	// +optional
	PushSecretMetadata PushSecretMetadata `json:"pushSecretMetadata,omitempty,omitzero"`
	// NamespaceSelectors select namespaces by label; a namespace matching
	// any one of them is chosen.
	// +kubebuilder:validation:MaxItems=50
	// +optional
	NamespaceSelectors []*metav1.LabelSelector `json:"namespaceSelectors,omitempty"`
}

// PushSecretMetadata are the labels and annotations of the created
// PushSecrets.
type PushSecretMetadata struct {
	// Annotations of each PushSecret.
	// +optional
	Annotations map[string]string `json:"annotations,omitempty"`
	// Labels of each PushSecret.
	// +optional
	Labels map[string]string `json:"labels,omitempty"`
}

// ClusterPushSecretStatus is the observed state of a ClusterPushSecret.
type ClusterPushSecretStatus struct {
	// ObservedGeneration is the metadata.generation the status describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// PushSecretName is the name of the PushSecrets created.
	// +optional
	PushSecretName string `json:"pushSecretName,omitempty"`
	// FailedNamespaces are the matching namespaces where the PushSecret
	// could not be written (for example one of that name that the
	// ClusterPushSecret does not own). Problems of the PushSecrets
	// themselves are in their own status.
	// +optional
	FailedNamespaces []ClusterExternalSecretNamespaceFailure `json:"failedNamespaces,omitempty"`
	// ProvisionedNamespaces are the namespaces holding the PushSecret.
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

// ClusterPushSecret creates the same PushSecret in every namespace it
// selects, and removes it from namespaces that stop matching. It is
// cluster-scoped: only cluster administrators should be allowed to write it.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,shortName=cps;kcps,categories=kseal
// +kubebuilder:printcolumn:name="Refresh Interval",type=string,JSONPath=`.spec.refreshTime`
// +kubebuilder:printcolumn:name="Ready",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].status`
// +kubebuilder:printcolumn:name="Reason",type=string,JSONPath=`.status.conditions[?(@.type=="Ready")].reason`
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type ClusterPushSecret struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says what to create where.
	Spec ClusterPushSecretSpec `json:"spec"`
	// Status reports the namespaces provisioned and failed.
	// +optional
	Status ClusterPushSecretStatus `json:"status,omitempty,omitzero"`
}

// ClusterPushSecretList is a list of ClusterPushSecrets.
//
// +kubebuilder:object:root=true
type ClusterPushSecretList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []ClusterPushSecret `json:"items"`
}

func init() {
	SchemeBuilder.Register(&ClusterPushSecret{}, &ClusterPushSecretList{})
}

// GetConditions returns the status conditions.
func (o *ClusterPushSecret) GetConditions() []metav1.Condition { return o.Status.Conditions }

// SetConditions replaces the status conditions.
func (o *ClusterPushSecret) SetConditions(c []metav1.Condition) { o.Status.Conditions = c }

// SetObservedGeneration records the generation the status describes.
func (o *ClusterPushSecret) SetObservedGeneration(g int64) { o.Status.ObservedGeneration = g }
