package controllers

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// finalize deletes the ExternalSecrets the ClusterExternalSecret controls
// and then releases it.
func (r *clusterExternalSecretReconciler) finalize(ctx context.Context, ces *v1alpha1.ClusterExternalSecret) error {
	if !controllerutil.ContainsFinalizer(ces, v1alpha1.ClusterExternalSecretFinalizer) {
		return nil
	}
	children, err := r.children(ctx, ces)
	if err != nil {
		return err
	}
	for i := range children {
		if err := r.Delete(ctx, &children[i], client.Preconditions{UID: &children[i].UID}); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("delete ExternalSecret %s/%s: %w", children[i].Namespace, children[i].Name, err)
		}
	}
	base := ces.DeepCopy()
	controllerutil.RemoveFinalizer(ces, v1alpha1.ClusterExternalSecretFinalizer)
	return client.IgnoreNotFound(r.Patch(ctx, ces, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})))
}

// children are the ExternalSecrets ces controls, whatever their name or
// namespace (the index finds them by owner name; the UID must match too).
func (r *clusterExternalSecretReconciler) children(ctx context.Context, ces *v1alpha1.ClusterExternalSecret) ([]v1alpha1.ExternalSecret, error) {
	items, err := r.listChildren(ctx, ces)
	if err != nil {
		return nil, fmt.Errorf("list the ExternalSecrets of the ClusterExternalSecret: %w", err)
	}
	return slices.DeleteFunc(items, func(es v1alpha1.ExternalSecret) bool { return !r.controls(&es, ces) }), nil
}

// targetNamespaces are the sorted names of the existing, not terminating
// (and watched) namespaces that a selector or the namespaces list chooses.
func (r *clusterExternalSecretReconciler) targetNamespaces(ctx context.Context, ces *v1alpha1.ClusterExternalSecret) ([]string, error) {
	return selectNamespaces(ctx, r.Client, cesSelectors(ces), ces.Spec.Namespaces, r.provisionable)
}

// selectNamespaces returns the sorted names of the existing namespaces that
// a selector or the names list chooses and that provisionable accepts.
func selectNamespaces(ctx context.Context, c client.Reader, selectors []*metav1.LabelSelector, names []string, provisionable func(*metav1.PartialObjectMetadata) bool) ([]string, error) {
	chosen := map[string]bool{}
	for _, ls := range selectors {
		sel, err := metav1.LabelSelectorAsSelector(ls)
		if err != nil {
			return nil, terminal(v1alpha1.ReasonInvalidSpec, fmt.Errorf("namespaceSelectors: %w", err))
		}
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("NamespaceList"))
		if err := c.List(ctx, list, client.MatchingLabelsSelector{Selector: sel}); err != nil {
			return nil, fmt.Errorf("list namespaces: %w", err)
		}
		for i := range list.Items {
			if provisionable(&list.Items[i]) {
				chosen[list.Items[i].Name] = true
			}
		}
	}
	for _, name := range names {
		if chosen[name] {
			continue
		}
		ns := &metav1.PartialObjectMetadata{}
		ns.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Namespace"))
		err := c.Get(ctx, client.ObjectKey{Name: name}, ns)
		if apierrors.IsNotFound(err) {
			continue // provisioned when it is created
		}
		if err != nil {
			return nil, fmt.Errorf("read namespace %s: %w", name, err)
		}
		if provisionable(ns) {
			chosen[name] = true
		}
	}
	return slices.Sorted(maps.Keys(chosen)), nil
}

// provisionable: the namespace is not being deleted and is watched.
func (r *clusterExternalSecretReconciler) provisionable(ns *metav1.PartialObjectMetadata) bool {
	return ns.DeletionTimestamp.IsZero() && (r.watchNamespaces == nil || slices.Contains(r.watchNamespaces, ns.Name))
}

// cesSelectors are the deprecated namespaceSelector and namespaceSelectors.
func cesSelectors(ces *v1alpha1.ClusterExternalSecret) []*metav1.LabelSelector {
	var out []*metav1.LabelSelector
	if ces.Spec.NamespaceSelector != nil {
		out = append(out, ces.Spec.NamespaceSelector)
	}
	for _, s := range ces.Spec.NamespaceSelectors {
		if s != nil {
			out = append(out, s)
		}
	}
	return out
}

// cesSelects reports whether ces chooses a namespace with that name and
// those labels (an invalid selector chooses nothing).
func cesSelects(ces *v1alpha1.ClusterExternalSecret, name string, set labels.Set) bool {
	if slices.Contains(ces.Spec.Namespaces, name) {
		return true
	}
	for _, ls := range cesSelectors(ces) {
		if sel, err := metav1.LabelSelectorAsSelector(ls); err == nil && sel.Matches(set) {
			return true
		}
	}
	return false
}

// desiredExternalSecret is the ExternalSecret ces wants in ns: its spec,
// the labels and annotations of externalSecretMetadata (and ESO's
// force-sync annotation copied from the ClusterExternalSecret), controlled
// by ces.
func (r *clusterExternalSecretReconciler) desiredExternalSecret(ces *v1alpha1.ClusterExternalSecret, ns, name string) (*v1alpha1.ExternalSecret, error) {
	es := &v1alpha1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{
		Namespace:   ns,
		Name:        name,
		Labels:      maps.Clone(ces.Spec.ExternalSecretMetadata.Labels),
		Annotations: maps.Clone(ces.Spec.ExternalSecretMetadata.Annotations),
	}}
	if v, ok := ces.Annotations[v1alpha1.AnnotationForceSync]; ok {
		if es.Annotations == nil {
			es.Annotations = map[string]string{}
		}
		es.Annotations[v1alpha1.AnnotationForceSync] = v
	}
	ces.Spec.ExternalSecretSpec.DeepCopyInto(&es.Spec)
	if err := controllerutil.SetControllerReference(r.owner(ces), es, r.Scheme()); err != nil {
		return nil, err
	}
	return es, nil
}

// externalSecretUpToDate reports whether have already carries want's
// labels, annotations and spec.
func externalSecretUpToDate(have, want *v1alpha1.ExternalSecret) bool {
	return maps.Equal(have.Labels, want.Labels) && maps.Equal(have.Annotations, want.Annotations) &&
		equality.Semantic.DeepEqual(have.Spec, want.Spec)
}

// cesOwnerName is the name of the kseal ClusterExternalSecret that controls
// o, or "".
func cesOwnerName(o client.Object) string {
	ref := metav1.GetControllerOf(o)
	if ref == nil || ref.Kind != v1alpha1.ClusterExternalSecretKind {
		return ""
	}
	if gv, err := schema.ParseGroupVersion(ref.APIVersion); err != nil || gv.Group != v1alpha1.GroupVersion.Group {
		return ""
	}
	return ref.Name
}

// controlledBy reports whether ces (this very object: name and UID) is
// o's controller.
func controlledBy(o client.Object, ces *v1alpha1.ClusterExternalSecret) bool {
	ref := metav1.GetControllerOf(o)
	return cesOwnerName(o) == ces.Name && ref.UID == ces.UID
}

// cesExternalSecretName is the name of the ExternalSecrets.
func cesExternalSecretName(ces *v1alpha1.ClusterExternalSecret) string {
	if ces.Spec.ExternalSecretName != "" {
		return ces.Spec.ExternalSecretName
	}
	return ces.Name
}

// cesRefresh is when namespaces are checked again without a change; 0
// (refreshTime "0s") never.
func cesRefresh(ces *v1alpha1.ClusterExternalSecret) time.Duration {
	if ces.Spec.RefreshInterval == nil {
		return cesDefaultRefresh
	}
	d := ces.Spec.RefreshInterval.Duration
	if d <= 0 {
		return 0
	}
	return max(d, cesMinRefresh)
}

// truncateReason bounds a reason written into the status.
func truncateReason(s string) string {
	if len(s) <= cesMaxReasonLength {
		return s
	}
	return s[:cesMaxReasonLength-3] + "..."
}

// forNamespace maps a namespace to the ClusterExternalSecrets that choose
// it or have provisioned (or failed) it. On a label change both the old and
// the new labels are mapped, so a namespace that stops matching is seen.
func (r *clusterExternalSecretReconciler) forNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	return r.cesRequests(ctx, func(ces *v1alpha1.ClusterExternalSecret) bool {
		return cesSelects(ces, o.GetName(), labels.Set(o.GetLabels())) ||
			slices.Contains(ces.Status.ProvisionedNamespaces, o.GetName()) || cesFailedIn(ces, o.GetName())
	})
}

// forExternalSecret maps an ExternalSecret to the ClusterExternalSecret
// controlling it or, for one it does not control, to those that failed in
// its namespace because of its name.
func (r *clusterExternalSecretReconciler) forExternalSecret(ctx context.Context, o client.Object) []reconcile.Request {
	if name := cesOwnerName(o); name != "" {
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: name}}}
	}
	return r.cesRequests(ctx, func(ces *v1alpha1.ClusterExternalSecret) bool {
		return ces.Status.ExternalSecretName == o.GetName() && cesFailedIn(ces, o.GetNamespace())
	})
}

// cesRequests lists the ClusterExternalSecrets (from the cache) and queues
// those that match.
func (r *clusterExternalSecretReconciler) cesRequests(ctx context.Context, match func(*v1alpha1.ClusterExternalSecret) bool) []reconcile.Request {
	var list v1alpha1.ClusterExternalSecretList
	if err := r.List(ctx, &list); err != nil {
		return nil
	}
	var out []reconcile.Request
	for i := range list.Items {
		if match(&list.Items[i]) {
			out = append(out, reconcile.Request{NamespacedName: client.ObjectKey{Name: list.Items[i].Name}})
		}
	}
	return out
}

// cesFailedIn reports whether ns is among ces's failed namespaces.
func cesFailedIn(ces *v1alpha1.ClusterExternalSecret, ns string) bool {
	return slices.ContainsFunc(ces.Status.FailedNamespaces, func(f v1alpha1.ClusterExternalSecretNamespaceFailure) bool { return f.Namespace == ns })
}

// childChanged passes ExternalSecret creations, deletions and changes of
// spec, labels, annotations or owners, not the status writes of every sync.
func childChanged() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, n := e.ObjectOld, e.ObjectNew
			return o.GetGeneration() != n.GetGeneration() || !maps.Equal(o.GetLabels(), n.GetLabels()) ||
				!maps.Equal(o.GetAnnotations(), n.GetAnnotations()) || !equality.Semantic.DeepEqual(o.GetOwnerReferences(), n.GetOwnerReferences())
		},
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

// namespaceChanged passes namespace creations, deletions, label changes and
// the start of a deletion.
func namespaceChanged() predicate.Predicate {
	return predicate.Funcs{
		UpdateFunc: func(e event.UpdateEvent) bool {
			o, n := e.ObjectOld, e.ObjectNew
			return !maps.Equal(o.GetLabels(), n.GetLabels()) || o.GetDeletionTimestamp().IsZero() != n.GetDeletionTimestamp().IsZero()
		},
		GenericFunc: func(event.GenericEvent) bool { return false },
	}
}

// setupClusterExternalSecrets registers the ClusterExternalSecret
// reconciler.
func setupClusterExternalSecrets(mgr ctrl.Manager, opts Options, recorder record.EventRecorder) error {
	limit := opts.ClusterExternalSecretNamespaceLimit
	if limit <= 0 {
		limit = DefaultClusterExternalSecretNamespaceLimit
	}
	r := &clusterExternalSecretReconciler{Client: mgr.GetClient(), recorder: recorder, watchNamespaces: opts.WatchNamespaces, limit: limit}
	return r.SetupWithManager(context.Background(), mgr)
}
