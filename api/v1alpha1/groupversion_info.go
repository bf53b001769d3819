// Package v1alpha1 holds the kseal.dev/v1alpha1 API types: SealedSecret and the
// condition types and reasons every kseal kind reports. It contains types,
// constants and generated code only; the cryptography lives in crypto/.
//
// +kubebuilder:object:generate=true
// +groupName=kseal.dev
package v1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is the API group and version of every kind in this package.
	GroupVersion = schema.GroupVersion{Group: "kseal.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the kinds of this package with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the kinds of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
