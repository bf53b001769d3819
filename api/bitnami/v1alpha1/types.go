package v1alpha1

import (
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	ksealv1 "github.com/kseal-dev/kseal/api/v1alpha1"
)

// ConditionSynced is sealed-secrets' one condition type: True when the
// Secret was written from the SealedSecret's current generation.
const ConditionSynced = "Synced"

// SealedSecretSpec is kseal's SealedSecretSpec with sealed-secrets'
// deprecated spec.data.
type SealedSecretSpec struct {
	ksealv1.SealedSecretSpec `json:",inline"`

	// Data is sealed-secrets' deprecated single-blob format (one ciphertext
	// of a whole serialized Secret). kseal does not open it: an object that
	// sets it is reported Synced=False and must be sealed again per item.
	// +optional
	Data []byte `json:"data,omitempty"`
}

// SealedSecretCondition is a condition in sealed-secrets' shape.
type SealedSecretCondition struct {
	// Type is the condition type; sealed-secrets sets only Synced.
	Type string `json:"type"`
	// Status is True, False or Unknown.
	Status corev1.ConditionStatus `json:"status"`
	// LastUpdateTime is when the condition was last written.
	// +optional
	LastUpdateTime metav1.Time `json:"lastUpdateTime,omitempty"`
	// LastTransitionTime is when Status last changed.
	// +optional
	LastTransitionTime metav1.Time `json:"lastTransitionTime,omitempty"`
	// Reason is a one-word cause; sealed-secrets leaves it empty, kseal sets
	// it on failures (its Ready reasons).
	// +optional
	Reason string `json:"reason,omitempty"`
	// Message explains a failure; empty when Synced. The CRD's Status
	// column shows it.
	// +optional
	Message string `json:"message,omitempty"`
}

// SealedSecretStatus is sealed-secrets' status.
type SealedSecretStatus struct {
	// ObservedGeneration is the metadata.generation the conditions describe.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`
	// Conditions holds the Synced condition.
	// +optional
	Conditions []SealedSecretCondition `json:"conditions,omitempty"`
}

// SealedSecret is sealed-secrets' SealedSecret (bitnami.com/v1alpha1).
//
// +kubebuilder:object:root=true
type SealedSecret struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec holds the sealed items and the Secret template.
	Spec SealedSecretSpec `json:"spec"`
	// Status is nil until a controller first reconciled the object.
	// +optional
	Status *SealedSecretStatus `json:"status,omitempty"`
}

// SealedSecretList is a list of SealedSecrets.
//
// +kubebuilder:object:root=true
type SealedSecretList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []SealedSecret `json:"items"`
}

// Synced returns the Synced condition, nil when absent.
func (s *SealedSecretStatus) Synced() *SealedSecretCondition {
	if s == nil {
		return nil
	}
	for i := range s.Conditions {
		if s.Conditions[i].Type == ConditionSynced {
			return &s.Conditions[i]
		}
	}
	return nil
}

func init() {
	SchemeBuilder.Register(&SealedSecret{}, &SealedSecretList{})
}
