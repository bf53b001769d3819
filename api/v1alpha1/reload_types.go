package v1alpha1

import metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

// Annotations and values of rollout restarts (docs/reload.md). Restarts
// happen only when the controller runs with --rollout-restarts.
const (
	// AnnotationReload, set to "true" on a Deployment, StatefulSet or
	// DaemonSet, restarts it when the data of a Secret its pod template uses
	// (env, envFrom, volumes, projected volumes, imagePullSecrets) and that
	// kseal writes changes.
	AnnotationReload = "kseal.dev/reload"
	// AnnotationReloadSecrets, on a workload, names (comma-separated) the
	// Secrets in its namespace whose data changes restart it, whether or not
	// its pod template uses them.
	AnnotationReloadSecrets = "kseal.dev/reload-secrets"
	// AnnotationRestartedAt is the pod template annotation `kubectl rollout
	// restart` sets, to an RFC 3339 time; kseal sets it the same way.
	AnnotationRestartedAt = "kubectl.kubernetes.io/restartedAt"
	// AnnotationRestartedFor, on a pod template kseal restarted (on an Argo
	// Rollout: on its metadata, because a pod template change would start a
	// canary or blue-green update), fingerprints
	// the data hashes of the Secrets it was restarted for: the same change
	// never restarts the workload twice. It holds no secret data.
	AnnotationRestartedFor = "kseal.dev/restarted-for"
	// AnnotationForceSync is ESO's annotation: any change of its value on an
	// ExternalSecret fetches the values again now, once. `kseal refresh` sets
	// it to the current time.
	AnnotationForceSync = "force-sync"
)

// Kinds of workloads kseal can restart.
const (
	WorkloadDeployment  = "Deployment"
	WorkloadStatefulSet = "StatefulSet"
	WorkloadDaemonSet   = "DaemonSet"
	// WorkloadRollout is an Argo Rollout (rollouts.argoproj.io), restarted
	// only when its CRD is installed: kseal sets spec.restartAt as
	// `kubectl argo rollouts restart` does.
	WorkloadRollout = "Rollout"
)

// RolloutRestartTarget names workloads, in the namespace of the object that
// lists it, to restart (as `kubectl rollout restart` does) when the data of
// the Secret that object writes changes. Give either Name or Selector.
// +kubebuilder:validation:XValidation:rule="has(self.name) != has(self.selector)",message="give exactly one of name and selector"
type RolloutRestartTarget struct {
	// Kind of the workload.
	// +kubebuilder:validation:Enum=Deployment;StatefulSet;DaemonSet;Rollout
	Kind string `json:"kind"`
	// Name of the workload.
	// +optional
	// +kubebuilder:validation:MaxLength=253
	Name string `json:"name,omitempty"`
	// Selector selects the workloads of Kind by their labels.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`
}
