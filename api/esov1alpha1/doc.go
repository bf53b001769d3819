// Package esov1alpha1 holds Go types for External Secrets Operator's
// external-secrets.io/v1alpha1 PushSecret, so that kseal can reconcile
// ESO's PushSecrets in place when it takes over from ESO
// (kseal-controller --adopt-apis=external-secrets).
//
// The spec is kseal's own (api/v1alpha1 follows ESO's field names); the
// status has ESO's shape: a Ready condition without observedGeneration,
// refreshTime, syncedResourceVersion and syncedPushSecrets. kseal never
// installs or changes ESO's CRDs: this package is skipped by the CRD
// generator.
//
// +kubebuilder:object:generate=true
// +kubebuilder:skip
// +groupName=external-secrets.io
package esov1alpha1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is ESO's API group and the version of its PushSecret.
	GroupVersion = schema.GroupVersion{Group: "external-secrets.io", Version: "v1alpha1"}

	// SchemeBuilder registers the kinds of this package with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the kinds of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
