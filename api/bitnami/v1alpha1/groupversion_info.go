// Package v1alpha1 holds Go types for Bitnami sealed-secrets' own API,
// bitnami.com/v1alpha1 SealedSecret, so that kseal can reconcile those
// objects in place (--adopt-apis=bitnami) through the CRD sealed-secrets
// installed. kseal never installs or changes that CRD: no CRD is generated
// from this package.
//
// The spec is kseal's own SealedSecretSpec (the field names are the same)
// plus the deprecated single-blob spec.data, which kseal refuses. The status
// has sealed-secrets' shape: a Synced condition with lastUpdateTime and
// lastTransitionTime, and observedGeneration, which is what `kubectl get`
// columns and Argo CD's health check of that kind read.
//
// +kubebuilder:object:generate=true
// +kubebuilder:skip
// +groupName=bitnami.com
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is bitnami.com/v1alpha1.
	GroupVersion = schema.GroupVersion{Group: "bitnami.com", Version: "v1alpha1"}

	// SchemeBuilder registers the kinds of this package with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the kinds of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
