package controllers

import (
	"context"
	"fmt"
	"time"

	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// Argo Rollouts (rollouts.argoproj.io) are restarted as `kubectl argo
// rollouts restart` does: spec.restartAt is set to the current time, and
// the Rollout controller then evicts, one at a time, every pod created
// before it, without a canary or blue-green update. Their pod template is
// left alone (a change there would start such an update), so the
// fingerprint of the change served goes on the Rollout's own metadata.
var rolloutGVK = schema.GroupVersionKind{Group: "argoproj.io", Version: "v1alpha1", Kind: v1alpha1.WorkloadRollout}

// rolloutsResource is the resource name of rolloutGVK.
const rolloutsResource = "rollouts"

// rolloutsServed asks the API server's discovery whether the Rollout CRD is
// installed.
func rolloutsServed(cfg *rest.Config) (bool, error) {
	dc, err := discovery.NewDiscoveryClientForConfig(cfg)
	if err != nil {
		return false, err
	}
	list, err := dc.ServerResourcesForGroupVersion(rolloutGVK.GroupVersion().String())
	if apierrors.IsNotFound(err) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("discover %s: %w", rolloutGVK.GroupVersion(), err)
	}
	for _, r := range list.APIResources {
		if r.Name == rolloutsResource {
			return true, nil
		}
	}
	return false, nil
}

// rolloutAccess returns the verbs of reloadVerbs the controller may not use
// on Rollouts in every namespace.
func rolloutAccess(ctx context.Context, c client.Client) ([]string, error) {
	var missing []string
	for _, verb := range reloadVerbs {
		review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
			ResourceAttributes: &authorizationv1.ResourceAttributes{Group: rolloutGVK.Group, Resource: rolloutsResource, Verb: verb},
		}}
		if err := c.Create(ctx, review); err != nil {
			return nil, fmt.Errorf("check access to rollouts.%s: %w", rolloutGVK.Group, err)
		}
		if !review.Status.Allowed {
			missing = append(missing, verb)
		}
	}
	return missing, nil
}

// listRollouts reads the Rollouts of one namespace. A Rollout whose pod
// template cannot be read is kept with an empty one: its
// kseal.dev/reload-secrets annotation and rolloutRestartTargets still
// apply. A Rollout with spec.workloadRef (its template in a Deployment) has
// no template of its own either.
func (r *reloader) listRollouts(ctx context.Context, namespace string) ([]workload, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(rolloutGVK.GroupVersion().WithKind(rolloutGVK.Kind + "List"))
	if err := r.reader.List(ctx, list, client.InNamespace(namespace)); err != nil {
		if meta.IsNoMatchError(err) || apierrors.IsNotFound(err) {
			return nil, nil // the CRD was removed since the start
		}
		return nil, err
	}
	out := make([]workload, 0, len(list.Items))
	for i := range list.Items {
		u := &list.Items[i]
		tmpl := &corev1.PodTemplateSpec{}
		if m, ok, _ := unstructured.NestedMap(u.Object, "spec", "template"); ok {
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, tmpl); err != nil {
				tmpl = &corev1.PodTemplateSpec{}
			}
		}
		out = append(out, workload{kind: v1alpha1.WorkloadRollout, obj: u, template: tmpl})
	}
	return out, nil
}

// restartedFor returns the fingerprint of the change w was last restarted
// for.
func (w workload) restartedFor() string {
	if w.kind == v1alpha1.WorkloadRollout {
		return w.obj.GetAnnotations()[v1alpha1.AnnotationRestartedFor]
	}
	return w.template.Annotations[v1alpha1.AnnotationRestartedFor]
}

// restartPatch is the merge patch that restarts w at now for the change
// with fingerprint fp.
func (w workload) restartPatch(now time.Time, fp string) string {
	at := now.UTC().Truncate(time.Second)
	if w.kind == v1alpha1.WorkloadRollout {
		// restartAt has a resolution of a second, and pods created at or
		// after it are kept: a change in the same second as the last
		// restart needs a later time, or the pods that last restart made
		// (which may have read the older value) would stay. A restart
		// scheduled later than that is replaced by one now.
		if u, ok := w.obj.(*unstructured.Unstructured); ok {
			if s, _, _ := unstructured.NestedString(u.Object, "spec", "restartAt"); s != "" {
				if last, err := time.Parse(time.RFC3339, s); err == nil && !at.After(last) && last.Sub(at) < time.Second {
					at = last.UTC().Add(time.Second)
				}
			}
		}
		return fmt.Sprintf(`{"metadata":{"annotations":{%q:%q}},"spec":{"restartAt":%q}}`, v1alpha1.AnnotationRestartedFor, fp, at.Format(time.RFC3339))
	}
	return fmt.Sprintf(`{"spec":{"template":{"metadata":{"annotations":{%q:%q,%q:%q}}}}}`,
		v1alpha1.AnnotationRestartedAt, at.Format(time.RFC3339), v1alpha1.AnnotationRestartedFor, fp)
}

// setupRollouts reports whether the reloader restarts Argo Rollouts: their
// CRD is installed and the controller may list and patch them. Installed
// but not allowed, they are left alone with a warning; the other workloads
// are still restarted.
func setupRollouts(ctx context.Context, cfg *rest.Config, c client.Client, warn func(msg string)) (bool, error) {
	served, err := rolloutsServed(cfg)
	if err != nil || !served {
		return false, err
	}
	missing, err := rolloutAccess(ctx, c)
	if err != nil {
		return false, err
	}
	if len(missing) > 0 {
		warn(fmt.Sprintf("Argo Rollouts are installed but the controller may not %v rollouts.%s in every namespace: they are not restarted (apply config/rbac/reload, or the chart's rolloutRestarts RBAC)", missing, rolloutGVK.Group))
		return false, nil
	}
	return true, nil
}
