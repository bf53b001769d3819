package controllers

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// cpsOwnerIndex indexes PushSecrets by the ClusterPushSecret that controls
// them.
const cpsOwnerIndex = "kseal.dev/clusterpushsecret-owner"

// clusterPushSecretReconciler writes one PushSecret per selected namespace,
// as the ClusterExternalSecret reconciler writes ExternalSecrets. It only
// copies a spec: it never reads a store or a Secret, and every PushSecret
// it writes is checked by the PushSecret reconciler as if a user had
// written it in that namespace (source Secret and stores of that
// namespace only).
type clusterPushSecretReconciler struct {
	client.Client
	recorder record.EventRecorder
	// watchNamespaces limits the namespaces provisioned (nil: all).
	watchNamespaces []string
	// limit is the most namespaces one ClusterPushSecret provisions.
	limit int
}

// SetupWithManager registers the reconciler: changes to a
// ClusterPushSecret, to the PushSecrets it controls (or one of the same
// name that blocked it), and to Namespaces' labels queue it.
func (r *clusterPushSecretReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1alpha1.PushSecret{}, cpsOwnerIndex, func(o client.Object) []string {
		if name := cpsOwnerName(o); name != "" {
			return []string{name}
		}
		return nil
	}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.ClusterPushSecret{}).
		Watches(&v1alpha1.PushSecret{}, handler.EnqueueRequestsFromMapFunc(r.forPushSecret), builder.WithPredicates(childChanged())).
		WatchesMetadata(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.forNamespace), builder.WithPredicates(namespaceChanged())).
		WithOptions(controllerOptions(1)).
		Complete(r)
}

// +kubebuilder:rbac:groups=kseal.dev,resources=clusterpushsecrets,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=kseal.dev,resources=clusterpushsecrets/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=kseal.dev,resources=clusterpushsecrets/finalizers,verbs=update
// +kubebuilder:rbac:groups=kseal.dev,resources=pushsecrets,verbs=get;list;watch;create;update;patch;delete

// Reconcile brings the PushSecrets of one ClusterPushSecret in line with
// the namespaces it selects and records them with one status patch. A
// finalizer lets it delete them before the ClusterPushSecret goes.
func (r *clusterPushSecretReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	cps := &v1alpha1.ClusterPushSecret{}
	if err := r.Get(ctx, req.NamespacedName, cps); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !cps.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, r.finalize(ctx, cps)
	}
	if !controllerutil.ContainsFinalizer(cps, v1alpha1.ClusterPushSecretFinalizer) {
		base := cps.DeepCopy()
		controllerutil.AddFinalizer(cps, v1alpha1.ClusterPushSecretFinalizer)
		if err := r.Patch(ctx, cps, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
			return reconcile.Result{}, err
		}
	}
	base := cps.DeepCopy()
	res, err := r.provision(ctx, cps)
	if perr := patchStatus(ctx, r.Client, base, cps); perr != nil && err == nil {
		err = perr
	}
	return res, err
}

// provision runs the steps: choose the namespaces, remove the PushSecrets
// no longer wanted, write the wanted ones.
func (r *clusterPushSecretReconciler) provision(ctx context.Context, cps *v1alpha1.ClusterPushSecret) (reconcile.Result, error) {
	name := cpsPushSecretName(cps)
	targets, err := selectNamespaces(ctx, r.Client, cpsSelectors(cps), nil, r.provisionable)
	if err != nil {
		return fail(cps, asStepError(err, v1alpha1.ReasonNamespacesFailed), 0)
	}
	if len(targets) > r.limit {
		return fail(cps, terminal(v1alpha1.ReasonTooManyNamespaces, fmt.Errorf(
			"the selectors match %d namespaces, more than the %d one ClusterPushSecret may provision: narrow namespaceSelectors or split it into several ClusterPushSecrets; nothing was changed",
			len(targets), r.limit)), 0)
	}
	children, err := r.children(ctx, cps)
	if err != nil {
		return fail(cps, retryable(v1alpha1.ReasonNamespacesFailed, err), 0)
	}
	failed := map[string]string{}
	var apiErr error
	for i := range children {
		ps := &children[i]
		if ps.Name == name && slices.Contains(targets, ps.Namespace) {
			continue
		}
		if err := r.Delete(ctx, ps, client.Preconditions{UID: &ps.UID}); client.IgnoreNotFound(err) != nil {
			failed[ps.Namespace] = truncateReason("remove PushSecret " + ps.Name + ": " + err.Error())
			apiErr = err
		}
	}
	var provisioned []string
	for _, ns := range targets {
		reason, err := r.writePushSecret(ctx, cps, ns, name)
		switch {
		case err != nil:
			failed[ns] = truncateReason(reason + ": " + err.Error())
			apiErr = err
		case reason != "":
			failed[ns] = reason
		default:
			provisioned = append(provisioned, ns)
		}
	}
	r.record(cps, name, provisioned, failed)
	if apiErr != nil {
		return reconcile.Result{}, apiErr
	}
	return reconcile.Result{RequeueAfter: refreshOf(cps.Spec.RefreshInterval)}, nil
}

// record writes the outcome into the status and the Ready condition.
func (r *clusterPushSecretReconciler) record(cps *v1alpha1.ClusterPushSecret, name string, provisioned []string, failed map[string]string) {
	before := cps.Status.ProvisionedNamespaces
	cps.Status.PushSecretName = name
	cps.Status.ProvisionedNamespaces = provisioned
	cps.Status.FailedNamespaces = nil
	for ns, reason := range failed {
		cps.Status.FailedNamespaces = append(cps.Status.FailedNamespaces, v1alpha1.ClusterExternalSecretNamespaceFailure{Namespace: ns, Reason: reason})
	}
	slices.SortFunc(cps.Status.FailedNamespaces, func(a, b v1alpha1.ClusterExternalSecretNamespaceFailure) int {
		return strings.Compare(a.Namespace, b.Namespace)
	})
	if added := len(slices.DeleteFunc(slices.Clone(provisioned), func(ns string) bool { return slices.Contains(before, ns) })); added > 0 {
		r.recorder.Eventf(cps, corev1.EventTypeNormal, EventNamespacesProvisioned, "PushSecret %s written in %d more namespaces", name, added)
	}
	if len(failed) == 0 {
		setReadyTrue(cps, v1alpha1.ReasonNamespacesProvisioned, fmt.Sprintf("PushSecret %s is in %d namespaces", name, len(provisioned)))
		return
	}
	msg := fmt.Sprintf("one or more namespaces failed (%d; see status.failedNamespaces)", len(failed))
	if c := apimeta.FindStatusCondition(cps.Status.Conditions, v1alpha1.ConditionReady); c == nil || c.Message != msg {
		r.recorder.Event(cps, corev1.EventTypeWarning, EventNamespacesFailed, msg)
	}
	setFailed(cps, true, v1alpha1.ReasonNamespacesFailed, msg)
}

// writePushSecret creates or updates the PushSecret in ns. A non-empty
// reason without error is a namespace that cannot be provisioned (a
// PushSecret of that name this ClusterPushSecret does not control, left
// untouched); with an error, what failed.
func (r *clusterPushSecretReconciler) writePushSecret(ctx context.Context, cps *v1alpha1.ClusterPushSecret, ns, name string) (string, error) {
	want := &v1alpha1.PushSecret{ObjectMeta: metav1.ObjectMeta{
		Namespace: ns, Name: name,
		Labels:      maps.Clone(cps.Spec.PushSecretMetadata.Labels),
		Annotations: maps.Clone(cps.Spec.PushSecretMetadata.Annotations),
	}}
	cps.Spec.PushSecretSpec.DeepCopyInto(&want.Spec)
	if err := controllerutil.SetControllerReference(cps, want, r.Scheme()); err != nil {
		return "build PushSecret", err
	}
	have := &v1alpha1.PushSecret{}
	err := r.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, have)
	if apierrors.IsNotFound(err) {
		if err := r.Create(ctx, want); err != nil {
			return "create PushSecret", err
		}
		return "", nil
	}
	if err != nil {
		return "read PushSecret", err
	}
	if !cpsControls(have, cps) {
		return fmt.Sprintf("a PushSecret named %s already exists in the namespace and is not owned by this ClusterPushSecret; it was left untouched (delete or rename it, or set pushSecretName)", name), nil
	}
	if maps.Equal(have.Labels, want.Labels) && maps.Equal(have.Annotations, want.Annotations) && equality.Semantic.DeepEqual(have.Spec, want.Spec) {
		return "", nil
	}
	have.Labels, have.Annotations, have.Spec = want.Labels, want.Annotations, want.Spec
	if err := r.Update(ctx, have); err != nil {
		return "update PushSecret", err
	}
	return "", nil
}

// finalize deletes the PushSecrets the ClusterPushSecret controls (each
// then does what its deletionPolicy says with what it pushed) and releases
// it.
func (r *clusterPushSecretReconciler) finalize(ctx context.Context, cps *v1alpha1.ClusterPushSecret) error {
	if !controllerutil.ContainsFinalizer(cps, v1alpha1.ClusterPushSecretFinalizer) {
		return nil
	}
	children, err := r.children(ctx, cps)
	if err != nil {
		return err
	}
	for i := range children {
		if err := r.Delete(ctx, &children[i], client.Preconditions{UID: &children[i].UID}); client.IgnoreNotFound(err) != nil {
			return fmt.Errorf("delete PushSecret %s/%s: %w", children[i].Namespace, children[i].Name, err)
		}
	}
	base := cps.DeepCopy()
	controllerutil.RemoveFinalizer(cps, v1alpha1.ClusterPushSecretFinalizer)
	return client.IgnoreNotFound(r.Patch(ctx, cps, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})))
}

// children are the PushSecrets cps controls, whatever their name or
// namespace.
func (r *clusterPushSecretReconciler) children(ctx context.Context, cps *v1alpha1.ClusterPushSecret) ([]v1alpha1.PushSecret, error) {
	var list v1alpha1.PushSecretList
	if err := r.List(ctx, &list, client.MatchingFields{cpsOwnerIndex: cps.Name}); err != nil {
		return nil, fmt.Errorf("list the PushSecrets of the ClusterPushSecret: %w", err)
	}
	return slices.DeleteFunc(list.Items, func(ps v1alpha1.PushSecret) bool { return !cpsControls(&ps, cps) }), nil
}

// provisionable: the namespace is not being deleted and is watched.
func (r *clusterPushSecretReconciler) provisionable(ns *metav1.PartialObjectMetadata) bool {
	return ns.DeletionTimestamp.IsZero() && (r.watchNamespaces == nil || slices.Contains(r.watchNamespaces, ns.Name))
}

// forNamespace maps a namespace to the ClusterPushSecrets that choose it or
// have provisioned (or failed) it.
func (r *clusterPushSecretReconciler) forNamespace(ctx context.Context, o client.Object) []reconcile.Request {
	return r.requests(ctx, func(cps *v1alpha1.ClusterPushSecret) bool {
		return cpsSelects(cps, labels.Set(o.GetLabels())) ||
			slices.Contains(cps.Status.ProvisionedNamespaces, o.GetName()) || failedIn(cps.Status.FailedNamespaces, o.GetName())
	})
}

// forPushSecret maps a PushSecret to the ClusterPushSecret controlling it
// or, for one it does not control, to those that failed in its namespace
// because of its name.
func (r *clusterPushSecretReconciler) forPushSecret(ctx context.Context, o client.Object) []reconcile.Request {
	if name := cpsOwnerName(o); name != "" {
		return []reconcile.Request{{NamespacedName: client.ObjectKey{Name: name}}}
	}
	return r.requests(ctx, func(cps *v1alpha1.ClusterPushSecret) bool {
		return cps.Status.PushSecretName == o.GetName() && failedIn(cps.Status.FailedNamespaces, o.GetNamespace())
	})
}

// requests lists the ClusterPushSecrets (from the cache) and queues those
// that match.
func (r *clusterPushSecretReconciler) requests(ctx context.Context, match func(*v1alpha1.ClusterPushSecret) bool) []reconcile.Request {
	var list v1alpha1.ClusterPushSecretList
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

// cpsSelectors are the non-null namespaceSelectors.
func cpsSelectors(cps *v1alpha1.ClusterPushSecret) []*metav1.LabelSelector {
	return slices.DeleteFunc(slices.Clone(cps.Spec.NamespaceSelectors), func(s *metav1.LabelSelector) bool { return s == nil })
}

// cpsSelects reports whether a namespace with those labels is chosen (an
// invalid selector chooses nothing).
func cpsSelects(cps *v1alpha1.ClusterPushSecret, set labels.Set) bool {
	for _, ls := range cpsSelectors(cps) {
		if sel, err := metav1.LabelSelectorAsSelector(ls); err == nil && sel.Matches(set) {
			return true
		}
	}
	return false
}

// cpsOwnerName is the name of the kseal ClusterPushSecret that controls o,
// or "".
func cpsOwnerName(o client.Object) string {
	ref := metav1.GetControllerOf(o)
	if ref == nil || ref.Kind != v1alpha1.ClusterPushSecretKind {
		return ""
	}
	if gv, err := schema.ParseGroupVersion(ref.APIVersion); err != nil || gv.Group != v1alpha1.GroupVersion.Group {
		return ""
	}
	return ref.Name
}

// cpsControls reports whether cps (name and UID) is o's controller.
func cpsControls(o client.Object, cps *v1alpha1.ClusterPushSecret) bool {
	ref := metav1.GetControllerOf(o)
	return cpsOwnerName(o) == cps.Name && ref.UID == cps.UID
}

// cpsPushSecretName is the name of the PushSecrets.
func cpsPushSecretName(cps *v1alpha1.ClusterPushSecret) string {
	if cps.Spec.PushSecretName != "" {
		return cps.Spec.PushSecretName
	}
	return cps.Name
}

// refreshOf is when namespaces are checked again without a change, as for
// a ClusterExternalSecret: default 1h, "0s" never.
func refreshOf(d *metav1.Duration) time.Duration {
	if d == nil {
		return cesDefaultRefresh
	}
	if d.Duration <= 0 {
		return 0
	}
	return max(d.Duration, cesMinRefresh)
}

// failedIn reports whether ns is among the failed namespaces.
func failedIn(failed []v1alpha1.ClusterExternalSecretNamespaceFailure, ns string) bool {
	return slices.ContainsFunc(failed, func(f v1alpha1.ClusterExternalSecretNamespaceFailure) bool { return f.Namespace == ns })
}

// setupClusterPushSecrets registers the ClusterPushSecret reconciler, with
// the namespace bound of ClusterExternalSecrets.
func setupClusterPushSecrets(mgr ctrl.Manager, opts Options, recorder record.EventRecorder) error {
	limit := opts.ClusterExternalSecretNamespaceLimit
	if limit <= 0 {
		limit = DefaultClusterExternalSecretNamespaceLimit
	}
	r := &clusterPushSecretReconciler{Client: mgr.GetClient(), recorder: recorder, watchNamespaces: opts.WatchNamespaces, limit: limit}
	return r.SetupWithManager(context.Background(), mgr)
}
