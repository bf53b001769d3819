package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Condition accessors. They let one status helper in the controllers set
// Ready, Stalled and Reconciling on every kind the same way.

// GetConditions returns the status conditions.
func (o *SealedSecret) GetConditions() []metav1.Condition { return o.Status.Conditions }

// SetConditions replaces the status conditions.
func (o *SealedSecret) SetConditions(c []metav1.Condition) { o.Status.Conditions = c }

// SetObservedGeneration records the generation the status describes.
func (o *SealedSecret) SetObservedGeneration(g int64) { o.Status.ObservedGeneration = g }

// GetConditions returns the status conditions.
func (o *SopsSecret) GetConditions() []metav1.Condition { return o.Status.Conditions }

// SetConditions replaces the status conditions.
func (o *SopsSecret) SetConditions(c []metav1.Condition) { o.Status.Conditions = c }

// SetObservedGeneration records the generation the status describes.
func (o *SopsSecret) SetObservedGeneration(g int64) { o.Status.ObservedGeneration = g }

// GetConditions returns the status conditions.
func (o *ExternalSecret) GetConditions() []metav1.Condition { return o.Status.Conditions }

// SetConditions replaces the status conditions.
func (o *ExternalSecret) SetConditions(c []metav1.Condition) { o.Status.Conditions = c }

// SetObservedGeneration records the generation the status describes.
func (o *ExternalSecret) SetObservedGeneration(g int64) { o.Status.ObservedGeneration = g }

// GetConditions returns the status conditions.
func (o *SecretStore) GetConditions() []metav1.Condition { return o.Status.Conditions }

// SetConditions replaces the status conditions.
func (o *SecretStore) SetConditions(c []metav1.Condition) { o.Status.Conditions = c }

// SetObservedGeneration records the generation the status describes.
func (o *SecretStore) SetObservedGeneration(g int64) { o.Status.ObservedGeneration = g }

// GetConditions returns the status conditions.
func (o *ClusterSecretStore) GetConditions() []metav1.Condition { return o.Status.Conditions }

// SetConditions replaces the status conditions.
func (o *ClusterSecretStore) SetConditions(c []metav1.Condition) { o.Status.Conditions = c }

// SetObservedGeneration records the generation the status describes.
func (o *ClusterSecretStore) SetObservedGeneration(g int64) { o.Status.ObservedGeneration = g }
