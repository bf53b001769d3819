// Package esov1 holds Go types for External Secrets Operator's own kinds
// (external-secrets.io/v1 ExternalSecret, SecretStore, ClusterSecretStore),
// so that kseal can reconcile them in place when it takes over from ESO
// (kseal-controller --adopt-apis=external-secrets).
//
// The specs are kseal's own (api/v1alpha1 follows ESO's field names); the
// status types have ESO's shape: a Ready condition without
// observedGeneration, refreshTime, syncedResourceVersion and binding. kseal
// never installs or changes these CRDs: ESO's are used as they are, and this
// package is skipped by the CRD generator.
//
// +kubebuilder:object:generate=true
// +kubebuilder:skip
// +groupName=external-secrets.io
package esov1

import (
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/scheme"
)

var (
	// GroupVersion is ESO's API group and version.
	GroupVersion = schema.GroupVersion{Group: "external-secrets.io", Version: "v1"}

	// SchemeBuilder registers the kinds of this package with a runtime.Scheme.
	SchemeBuilder = &scheme.Builder{GroupVersion: GroupVersion}

	// AddToScheme adds the kinds of this package to a runtime.Scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)
