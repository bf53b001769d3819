package controllers

import "github.com/kseal-dev/kseal/api/v1alpha1"

// forceSyncRequested reports whether the ExternalSecret's force-sync
// annotation differs from its value at the last successful sync: as in ESO,
// any change (`kseal refresh`, or `kubectl annotate ... force-sync=$(date
// +%s) --overwrite`) fetches the values again at once, and only once.
func forceSyncRequested(es *v1alpha1.ExternalSecret) bool {
	return es.Annotations[v1alpha1.AnnotationForceSync] != es.Status.ForceSyncedValue
}

// recordForceSync remembers, after a successful sync, the force-sync value
// that sync served.
func recordForceSync(es *v1alpha1.ExternalSecret) {
	es.Status.ForceSyncedValue = es.Annotations[v1alpha1.AnnotationForceSync]
}
