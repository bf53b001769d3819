package esov1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// ClusterExternalSecretKind is the kind of ESO's ClusterExternalSecret (the
// owner of the ExternalSecrets it provisions).
const ClusterExternalSecretKind = "ClusterExternalSecret"

// MessageNamespacesFailed is the message of ESO's Ready=False condition of a
// ClusterExternalSecret (its conditions have no reason).
const MessageNamespacesFailed = "one or more namespaces failed"

// ClusterExternalSecretCondition is ESO's ClusterExternalSecret condition:
// a type, a status and a message, nothing else.
type ClusterExternalSecretCondition struct {
	// Type is Ready.
	Type string `json:"type"`
	// Status is True or False.
	Status corev1.ConditionStatus `json:"status"`
	// Message says what failed.
	// +optional
	Message string `json:"message,omitempty"`
}

// ClusterExternalSecretStatus is ESO's ClusterExternalSecret status.
type ClusterExternalSecretStatus struct {
	// ExternalSecretName is the name of the provisioned ExternalSecrets.
	ExternalSecretName string `json:"externalSecretName,omitempty"`
	// FailedNamespaces are the namespaces that could not be provisioned.
	// +optional
	FailedNamespaces []v1alpha1.ClusterExternalSecretNamespaceFailure `json:"failedNamespaces,omitempty"`
	// ProvisionedNamespaces are the namespaces that hold the ExternalSecret.
	// +optional
	ProvisionedNamespaces []string `json:"provisionedNamespaces,omitempty"`
	// Conditions holds Ready.
	// +optional
	Conditions []ClusterExternalSecretCondition `json:"conditions,omitempty"`
}

// ClusterExternalSecret is ESO's ClusterExternalSecret, read with kseal's
// spec type.
//
// +kubebuilder:object:root=true
// +kubebuilder:resource:scope=Cluster
type ClusterExternalSecret struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec is the ClusterExternalSecret's spec, in kseal's type (ESO's
	// names).
	Spec v1alpha1.ClusterExternalSecretSpec `json:"spec,omitempty"`
	// Status is in ESO's shape.
	Status ClusterExternalSecretStatus `json:"status,omitempty"`
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
