package controllers

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// maxReloadSecrets bounds the names one kseal.dev/reload-secrets annotation
// may list; more are ignored.
const maxReloadSecrets = 256

// podSpecSecrets returns the names of the Secrets a pod spec reads, sorted
// and without duplicates: env valueFrom secretKeyRef and envFrom secretRef
// of every container (init and ephemeral too), secret volumes, projected
// volume secret sources and imagePullSecrets.
func podSpecSecrets(spec *corev1.PodSpec) []string {
	var names []string
	add := func(n string) {
		if n != "" {
			names = append(names, n)
		}
	}
	envs := func(env []corev1.EnvVar, from []corev1.EnvFromSource) {
		for _, e := range env {
			if e.ValueFrom != nil && e.ValueFrom.SecretKeyRef != nil {
				add(e.ValueFrom.SecretKeyRef.Name)
			}
		}
		for _, f := range from {
			if f.SecretRef != nil {
				add(f.SecretRef.Name)
			}
		}
	}
	for _, c := range spec.InitContainers {
		envs(c.Env, c.EnvFrom)
	}
	for _, c := range spec.Containers {
		envs(c.Env, c.EnvFrom)
	}
	for _, c := range spec.EphemeralContainers {
		envs(c.Env, c.EnvFrom)
	}
	for _, v := range spec.Volumes {
		if v.Secret != nil {
			add(v.Secret.SecretName)
		}
		if v.Projected != nil {
			for _, s := range v.Projected.Sources {
				if s.Secret != nil {
					add(s.Secret.Name)
				}
			}
		}
	}
	for _, r := range spec.ImagePullSecrets {
		add(r.Name)
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// workloadSecrets returns the Secrets whose data changes restart a workload
// by its own annotations: every Secret of its pod template with
// kseal.dev/reload "true", plus those kseal.dev/reload-secrets names. It is
// empty for a workload that did not opt in.
func workloadSecrets(annotations map[string]string, tmpl *corev1.PodTemplateSpec) []string {
	var names []string
	if annotations[v1alpha1.AnnotationReload] == "true" {
		names = append(names, podSpecSecrets(&tmpl.Spec)...)
	}
	if list, ok := annotations[v1alpha1.AnnotationReloadSecrets]; ok {
		for i, n := range strings.Split(list, ",") {
			if i == maxReloadSecrets {
				break
			}
			if n = strings.TrimSpace(n); n != "" {
				names = append(names, n)
			}
		}
	}
	slices.Sort(names)
	return slices.Compact(names)
}

// errEmptySelector: a rolloutRestartTarget selector with no requirement
// would restart every workload of its kind in the namespace.
var errEmptySelector = errors.New("an empty selector would select every workload; give matchLabels or matchExpressions")

// targetSelects reports whether t names the workload of kind with the given
// name and labels.
func targetSelects(t v1alpha1.RolloutRestartTarget, kind, name string, lbls map[string]string) (bool, error) {
	if t.Kind != kind {
		return false, nil
	}
	if t.Selector == nil {
		return t.Name == name, nil
	}
	if len(t.Selector.MatchLabels) == 0 && len(t.Selector.MatchExpressions) == 0 {
		return false, errEmptySelector
	}
	sel, err := metav1.LabelSelectorAsSelector(t.Selector)
	if err != nil {
		return false, fmt.Errorf("rolloutRestartTargets selector: %w", err)
	}
	return sel.Matches(labels.Set(lbls)), nil
}

// restartTargets returns the rolloutRestartTargets of a kseal object.
func restartTargets(owner client.Object) []v1alpha1.RolloutRestartTarget {
	switch o := owner.(type) {
	case *v1alpha1.SealedSecret:
		return o.Spec.RolloutRestartTargets
	case *v1alpha1.SopsSecret:
		return o.Spec.RolloutRestartTargets
	case *v1alpha1.ExternalSecret:
		return o.Spec.RolloutRestartTargets
	}
	return nil
}

// workload is a Deployment, StatefulSet or DaemonSet seen by the reloader.
type workload struct {
	kind     string
	obj      client.Object
	template *corev1.PodTemplateSpec
}

// workloadsOf turns lists of the three kinds into workloads.
func workloadsOf(d *appsv1.DeploymentList, s *appsv1.StatefulSetList, ds *appsv1.DaemonSetList) []workload {
	var out []workload
	for i := range d.Items {
		out = append(out, workload{v1alpha1.WorkloadDeployment, &d.Items[i], &d.Items[i].Spec.Template})
	}
	for i := range s.Items {
		out = append(out, workload{v1alpha1.WorkloadStatefulSet, &s.Items[i], &s.Items[i].Spec.Template})
	}
	for i := range ds.Items {
		out = append(out, workload{v1alpha1.WorkloadDaemonSet, &ds.Items[i], &ds.Items[i].Spec.Template})
	}
	return out
}

// restartFingerprint identifies the Secret writes a workload is restarted
// for: the sorted name@resourceVersion pairs of the writes that changed the
// data. The same write seen twice gives the same fingerprint; any later
// change gives another. It is derived from no secret data, so the pod
// template annotation that holds it reveals nothing to readers of workloads.
func restartFingerprint(writes map[string]string) string {
	names := slices.Sorted(maps.Keys(writes))
	h := sha256.New()
	for _, n := range names {
		fmt.Fprintf(h, "%s@%s\n", n, writes[n])
	}
	return hex.EncodeToString(h.Sum(nil)[:16])
}

// dataChanged reports whether a Secret write changed its data: the data
// hash kseal records differs, or, for a Secret kseal had not written before
// (no hash), the data itself differs.
func dataChanged(before, after *corev1.Secret) bool {
	if before == nil || after == nil {
		return false // a new Secret: no pod can have read an older value
	}
	if old := before.Annotations[AnnotationDataHash]; old != "" {
		return old != after.Annotations[AnnotationDataHash]
	}
	return dataHash(before, nil) != dataHash(after, nil)
}
