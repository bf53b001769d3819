package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// DefaultClusterExternalSecretNamespaceLimit is how many namespaces one
// ClusterExternalSecret may provision unless Options say otherwise.
const DefaultClusterExternalSecretNamespaceLimit = 1000

// Event reasons of the ClusterExternalSecret reconciler.
const (
	EventNamespacesProvisioned = "Provisioned"
	EventNamespacesFailed      = "NamespacesFailed"
)

const (
	// cesOwnerIndex indexes ExternalSecrets by the ClusterExternalSecret
	// that controls them.
	cesOwnerIndex = "kseal.dev/clusterexternalsecret-owner"
	// cesDefaultRefresh is how often namespaces are checked again when
	// spec.refreshTime is not set.
	cesDefaultRefresh = time.Hour
	// cesMinRefresh is the shortest refreshTime honoured.
	cesMinRefresh = 5 * time.Second
	// cesMaxReasonLength bounds a failed namespace's reason in the status.
	cesMaxReasonLength = 256
)

// clusterExternalSecretReconciler writes one ExternalSecret per selected
// namespace. It only copies a spec: it never reads a store or a secret
// value, and every ExternalSecret it writes is checked by the
// ExternalSecret reconciler as if a user had written it there.
type clusterExternalSecretReconciler struct {
	client.Client
	recorder record.EventRecorder
	// watchNamespaces limits the namespaces provisioned (nil: all), as
	// --watch-namespaces limits the cache of ExternalSecrets.
	watchNamespaces []string
	// limit is the most namespaces one ClusterExternalSecret provisions.
	limit int
	// eso, when set, provisions External Secrets Operator's
	// ExternalSecrets for ESO's ClusterExternalSecrets
	// (eso_clusterexternalsecret.go).
	eso bool
}

// SetupWithManager registers the reconciler: changes to a
// ClusterExternalSecret, to the ExternalSecrets it controls (or one of the
// same name that blocked it), and to Namespaces' labels (metadata only)
// queue it.
func (r *clusterExternalSecretReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1alpha1.ExternalSecret{}, cesOwnerIndex, func(o client.Object) []string {
		if name := cesOwnerName(o); name != "" {
			return []string{name}
		}
		return nil
	}); err != nil {
		return err
	}
	return ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.ClusterExternalSecret{}).
		Watches(&v1alpha1.ExternalSecret{}, handler.EnqueueRequestsFromMapFunc(r.forExternalSecret), builder.WithPredicates(childChanged())).
		WatchesMetadata(&corev1.Namespace{}, handler.EnqueueRequestsFromMapFunc(r.forNamespace), builder.WithPredicates(namespaceChanged())).
		WithOptions(controllerOptions(1)).
		Complete(r)
}

// +kubebuilder:rbac:groups=kseal.dev,resources=clusterexternalsecrets,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=kseal.dev,resources=clusterexternalsecrets/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=kseal.dev,resources=clusterexternalsecrets/finalizers,verbs=update
// +kubebuilder:rbac:groups=kseal.dev,resources=externalsecrets,verbs=get;list;watch;create;update;patch;delete
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch

// Reconcile brings the ExternalSecrets of one ClusterExternalSecret in line
// with the namespaces it selects and records them with one status patch.
// A finalizer lets it delete them before the ClusterExternalSecret goes.
func (r *clusterExternalSecretReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	ces := &v1alpha1.ClusterExternalSecret{}
	if err := r.Get(ctx, req.NamespacedName, ces); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !ces.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, r.finalize(ctx, ces)
	}
	if !controllerutil.ContainsFinalizer(ces, v1alpha1.ClusterExternalSecretFinalizer) {
		base := ces.DeepCopy()
		controllerutil.AddFinalizer(ces, v1alpha1.ClusterExternalSecretFinalizer)
		if err := r.Patch(ctx, ces, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{})); err != nil {
			return reconcile.Result{}, err
		}
	}
	base := ces.DeepCopy()
	res, err := r.provision(ctx, ces)
	if perr := patchStatus(ctx, r.Client, base, ces); perr != nil && err == nil {
		err = perr
	}
	return res, err
}

// provision runs the steps: choose the namespaces, remove the
// ExternalSecrets no longer wanted, write the wanted ones.
func (r *clusterExternalSecretReconciler) provision(ctx context.Context, ces *v1alpha1.ClusterExternalSecret) (reconcile.Result, error) {
	name := cesExternalSecretName(ces)
	targets, err := r.targetNamespaces(ctx, ces)
	if err != nil {
		return fail(ces, asStepError(err, v1alpha1.ReasonNamespacesFailed), 0)
	}
	if len(targets) > r.limit {
		return fail(ces, terminal(v1alpha1.ReasonTooManyNamespaces, fmt.Errorf(
			"the selectors match %d namespaces, more than the %d one ClusterExternalSecret may provision: narrow namespaceSelectors or split it into several ClusterExternalSecrets; nothing was changed",
			len(targets), r.limit)), 0)
	}
	failed := map[string]string{}
	var apiErr error
	children, err := r.children(ctx, ces)
	if err != nil {
		return fail(ces, retryable(v1alpha1.ReasonNamespacesFailed, err), 0)
	}
	for i := range children {
		es := &children[i]
		if es.Name == name && slices.Contains(targets, es.Namespace) {
			continue
		}
		if err := r.Delete(ctx, r.child(es), client.Preconditions{UID: &es.UID}); client.IgnoreNotFound(err) != nil {
			failed[es.Namespace] = truncateReason("remove ExternalSecret " + es.Name + ": " + err.Error())
			apiErr = err
		}
	}
	var provisioned []string
	for _, ns := range targets {
		reason, err := r.writeExternalSecret(ctx, ces, ns, name)
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
	r.record(ces, name, provisioned, failed)
	if apiErr != nil {
		return reconcile.Result{}, apiErr
	}
	return reconcile.Result{RequeueAfter: cesRefresh(ces)}, nil
}

// record writes the outcome into the status and the Ready condition.
func (r *clusterExternalSecretReconciler) record(ces *v1alpha1.ClusterExternalSecret, name string, provisioned []string, failed map[string]string) {
	before := ces.Status.ProvisionedNamespaces
	ces.Status.ExternalSecretName = name
	ces.Status.ProvisionedNamespaces = provisioned
	ces.Status.FailedNamespaces = nil
	for ns, reason := range failed {
		ces.Status.FailedNamespaces = append(ces.Status.FailedNamespaces, v1alpha1.ClusterExternalSecretNamespaceFailure{Namespace: ns, Reason: reason})
	}
	slices.SortFunc(ces.Status.FailedNamespaces, func(a, b v1alpha1.ClusterExternalSecretNamespaceFailure) int {
		return strings.Compare(a.Namespace, b.Namespace)
	})
	if added := len(slices.DeleteFunc(slices.Clone(provisioned), func(ns string) bool { return slices.Contains(before, ns) })); added > 0 {
		r.recorder.Eventf(r.owner(ces), corev1.EventTypeNormal, EventNamespacesProvisioned, "ExternalSecret %s written in %d more namespaces", name, added)
	}
	if len(failed) == 0 {
		setReadyTrue(ces, v1alpha1.ReasonNamespacesProvisioned, fmt.Sprintf("ExternalSecret %s is in %d namespaces", name, len(provisioned)))
		return
	}
	msg := fmt.Sprintf("one or more namespaces failed (%d; see status.failedNamespaces)", len(failed))
	if c := apimeta.FindStatusCondition(ces.Status.Conditions, v1alpha1.ConditionReady); c == nil || c.Message != msg {
		r.recorder.Event(r.owner(ces), corev1.EventTypeWarning, EventNamespacesFailed, msg)
	}
	setFailed(ces, true, v1alpha1.ReasonNamespacesFailed, msg)
}

// writeExternalSecret creates or updates the ExternalSecret in ns. A
// non-empty reason without error is a namespace that cannot be provisioned
// (an ExternalSecret of that name that this ClusterExternalSecret does not
// control, left untouched); with an error, what failed.
func (r *clusterExternalSecretReconciler) writeExternalSecret(ctx context.Context, ces *v1alpha1.ClusterExternalSecret, ns, name string) (string, error) {
	want, err := r.desiredExternalSecret(ces, ns, name)
	if err != nil {
		return "build ExternalSecret", err
	}
	have, err := r.getChild(ctx, client.ObjectKey{Namespace: ns, Name: name})
	if apierrors.IsNotFound(err) {
		if err := r.Create(ctx, r.child(want)); err != nil {
			return "create ExternalSecret", err
		}
		return "", nil
	}
	if err != nil {
		return "read ExternalSecret", err
	}
	if !r.controls(have, ces) {
		return fmt.Sprintf("an ExternalSecret named %s already exists in the namespace and is not owned by this ClusterExternalSecret; it was left untouched (delete or rename it, or set externalSecretName)", name), nil
	}
	if externalSecretUpToDate(have, want) {
		return "", nil
	}
	have.Labels, have.Annotations, have.Spec = want.Labels, want.Annotations, want.Spec
	if err := r.Update(ctx, r.child(have)); err != nil {
		return "update ExternalSecret", err
	}
	return "", nil
}
