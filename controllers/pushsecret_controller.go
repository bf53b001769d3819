package controllers

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// PushSecretFinalizer holds a PushSecret with deletionPolicy Delete until
// the remote secrets it pushed are deleted.
const PushSecretFinalizer = "kseal.dev/pushsecret"

// Event reasons of the PushSecret reconciler.
const (
	EventPushFailed = "PushFailed"
	EventPushed     = "Synced"
)

// pushSecretSourceIndex indexes PushSecrets by the Secret they push.
const pushSecretSourceIndex = "kseal.dev/pushsecret-source"

// pushSecretReconciler pushes keys of Secrets to stores.
type pushSecretReconciler struct {
	client.Client
	// providers caches provider clients per store and credentials (shared
	// with the ExternalSecret reconciler).
	providers *providerCache
	// recorder records events; they never contain secret values.
	recorder record.EventRecorder
	// workers is the number of PushSecrets reconciled in parallel.
	workers int
	// clock is the time source; time.Now when nil.
	clock func() time.Time
	// secretMeta watches every Secret's metadata: a source Secret is not
	// one kseal writes, so the manager's cache does not hold it.
	secretMeta *secretMetaCache
	// shards, when set, limits the work to this replica's shards.
	shards *shardSet
	// adopt, when set, serves External Secrets Operator's PushSecrets:
	// ESO's stores and ESO's marks on remote secrets (eso_pushsecret.go).
	adopt *esoAdoption
}

// SetupWithManager registers the reconciler; a change to a source Secret
// queues the PushSecrets of its namespace that name it.
func (r *pushSecretReconciler) SetupWithManager(ctx context.Context, mgr ctrl.Manager) error {
	if err := mgr.GetFieldIndexer().IndexField(ctx, &v1alpha1.PushSecret{}, pushSecretSourceIndex, func(o client.Object) []string {
		ps := o.(*v1alpha1.PushSecret)
		if s := ps.Spec.Selector.Secret; s != nil && s.Name != "" {
			return []string{s.Name}
		}
		return nil
	}); err != nil {
		return err
	}
	b := ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.PushSecret{}).
		WatchesRawSource(r.secretMeta.source(handler.EnqueueRequestsFromMapFunc(r.forSecret)))
	return r.shards.complete(b, controllerOptions(max(r.workers, 1)), r, func() client.ObjectList { return &v1alpha1.PushSecretList{} })
}

// forSecret maps a Secret to the PushSecrets in its namespace that push it.
func (r *pushSecretReconciler) forSecret(ctx context.Context, o client.Object) []reconcile.Request {
	var list v1alpha1.PushSecretList
	if err := r.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{pushSecretSourceIndex: o.GetName()}); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for _, ps := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&ps)})
	}
	return out
}

// +kubebuilder:rbac:groups=kseal.dev,resources=pushsecrets,verbs=get;list;watch;update;patch
// +kubebuilder:rbac:groups=kseal.dev,resources=pushsecrets/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=kseal.dev,resources=pushsecrets/finalizers,verbs=update

// Reconcile pushes one PushSecret's keys when its spec or its Secret
// changed or a refresh is due, and records the outcome with one status
// patch. With deletionPolicy Delete it holds a finalizer and, on deletion,
// deletes the remote secrets it pushed.
func (r *pushSecretReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	ps := &v1alpha1.PushSecret{}
	if err := r.Get(ctx, req.NamespacedName, ps); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !ps.DeletionTimestamp.IsZero() {
		return r.finalize(ctx, ps)
	}
	if err := r.syncFinalizer(ctx, ps); err != nil {
		return reconcile.Result{}, err
	}
	base := ps.DeepCopy()
	res, err := r.reconcile(ctx, ps)
	if perr := patchStatus(ctx, r.Client, base, ps); perr != nil && err == nil {
		err = perr
	}
	return res, err
}

// syncFinalizer adds the finalizer for deletionPolicy Delete and removes it
// otherwise.
func (r *pushSecretReconciler) syncFinalizer(ctx context.Context, ps *v1alpha1.PushSecret) error {
	want := ps.Spec.DeletionPolicy == v1alpha1.PushSecretDeletionPolicyDelete
	if want == controllerutil.ContainsFinalizer(ps, PushSecretFinalizer) {
		return nil
	}
	base := ps.DeepCopy()
	if want {
		controllerutil.AddFinalizer(ps, PushSecretFinalizer)
	} else {
		controllerutil.RemoveFinalizer(ps, PushSecretFinalizer)
	}
	return r.Patch(ctx, ps, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
}

// finalize deletes the pushed remote secrets (deletionPolicy Delete) and
// then releases the PushSecret.
func (r *pushSecretReconciler) finalize(ctx context.Context, ps *v1alpha1.PushSecret) (reconcile.Result, error) {
	if !controllerutil.ContainsFinalizer(ps, PushSecretFinalizer) {
		return reconcile.Result{}, nil
	}
	if ps.Spec.DeletionPolicy == v1alpha1.PushSecretDeletionPolicyDelete {
		base := ps.DeepCopy()
		left, err := r.deleteRemoved(ctx, ps, ps.Status.SyncedPushSecrets, nil)
		if err != nil {
			ps.Status.SyncedPushSecrets = left
			se := asStepError(err, v1alpha1.ReasonPushErrored)
			r.event(ps, corev1.EventTypeWarning, EventPushFailed, se.Error())
			setFailed(ps, true, se.reason, "delete remote secrets: "+se.Error())
			_ = patchStatus(ctx, r.Client, base, ps)
			return reconcile.Result{}, se
		}
	}
	base := ps.DeepCopy()
	controllerutil.RemoveFinalizer(ps, PushSecretFinalizer)
	return reconcile.Result{}, client.IgnoreNotFound(r.Patch(ctx, ps, client.MergeFrom(base)))
}

// reconcile runs the steps: stop while the last push stands, read the
// Secret, push to every store, delete what left the spec, record.
func (r *pushSecretReconciler) reconcile(ctx context.Context, ps *v1alpha1.PushSecret) (reconcile.Result, error) {
	now := r.now()
	interval := pushRefreshInterval(ps)
	secret, err := r.source(ctx, ps)
	if err != nil {
		return r.failed(ps, err, interval)
	}
	version := pushSyncVersion(ps, secret)
	if next, fresh := pushUpToDate(ps, version, now, interval); fresh {
		return reconcile.Result{RequeueAfter: next}, nil
	}
	values, err := pushValues(ps, secret)
	if err != nil {
		return r.failed(ps, err, interval)
	}
	synced, err := r.pushAll(ctx, ps, values)
	if err != nil {
		// Keep the record of every remote secret pushed so far, so a later
		// deletion still finds them.
		ps.Status.SyncedPushSecrets = mergeSynced(synced, ps.Status.SyncedPushSecrets)
		return r.failed(ps, err, interval)
	}
	if ps.Spec.DeletionPolicy == v1alpha1.PushSecretDeletionPolicyDelete {
		left, err := r.deleteRemoved(ctx, ps, ps.Status.SyncedPushSecrets, synced)
		if err != nil {
			ps.Status.SyncedPushSecrets = mergeSynced(synced, left)
			return r.failed(ps, err, interval)
		}
	}
	ps.Status.SyncedPushSecrets = synced
	ps.Status.RefreshTime = metav1.NewTime(now)
	ps.Status.SyncedResourceVersion = version
	msg := "PushSecret synced successfully"
	if ps.Spec.UpdatePolicy == v1alpha1.PushSecretUpdatePolicyIfNotExists {
		msg += ". Existing secrets in providers unchanged."
	}
	if !apimeta.IsStatusConditionTrue(ps.Status.Conditions, v1alpha1.ConditionReady) {
		r.event(ps, corev1.EventTypeNormal, EventPushed, msg)
	}
	setReadyTrue(ps, v1alpha1.ReasonPushSynced, msg)
	if interval == 0 {
		return reconcile.Result{}, nil
	}
	return reconcile.Result{RequeueAfter: interval}, nil
}

// failed records a failed step.
func (r *pushSecretReconciler) failed(ps *v1alpha1.PushSecret, err error, interval time.Duration) (reconcile.Result, error) {
	se := asStepError(err, v1alpha1.ReasonPushErrored)
	r.event(ps, corev1.EventTypeWarning, EventPushFailed, se.Error())
	later := time.Minute
	if interval > 0 {
		later = min(interval, 5*time.Minute)
	}
	return fail(ps, se, later)
}

// source reads the Secret to push, always from the PushSecret's own
// namespace.
func (r *pushSecretReconciler) source(ctx context.Context, ps *v1alpha1.PushSecret) (*corev1.Secret, error) {
	sel := ps.Spec.Selector.Secret
	if sel == nil || sel.Name == "" || sel.Selector != nil || ps.Spec.Selector.GeneratorRef != nil {
		return nil, terminal(v1alpha1.ReasonInvalidSpec, fmt.Errorf("spec.selector.secret.name is required: kseal pushes one named Secret of the PushSecret's namespace"))
	}
	s := &corev1.Secret{}
	err := r.Get(ctx, client.ObjectKey{Namespace: ps.Namespace, Name: sel.Name}, s)
	if apierrors.IsNotFound(err) {
		return nil, retryLater(v1alpha1.ReasonSourceNotFound, fmt.Errorf("Secret %s/%s not found", ps.Namespace, sel.Name))
	}
	return s, err
}

func (r *pushSecretReconciler) event(ps *v1alpha1.PushSecret, typ, reason, msg string) {
	if r.recorder != nil {
		r.recorder.Event(ps, typ, reason, msg)
	}
}

func (r *pushSecretReconciler) now() time.Time {
	if r.clock == nil {
		return time.Now()
	}
	return r.clock()
}

func pushRefreshInterval(ps *v1alpha1.PushSecret) time.Duration {
	if ps.Spec.RefreshInterval == nil {
		return DefaultRefreshInterval
	}
	return ps.Spec.RefreshInterval.Duration
}

// pushSyncVersion identifies the spec and the Secret a push used.
func pushSyncVersion(ps *v1alpha1.PushSecret, s *corev1.Secret) string {
	return fmt.Sprintf("%d-%s", ps.Generation, s.ResourceVersion)
}

// pushUpToDate reports whether the last push still stands and when to
// look again.
func pushUpToDate(ps *v1alpha1.PushSecret, version string, now time.Time, interval time.Duration) (time.Duration, bool) {
	if ps.Status.SyncedResourceVersion != version || !apimeta.IsStatusConditionTrue(ps.Status.Conditions, v1alpha1.ConditionReady) {
		return 0, false
	}
	if interval == 0 {
		return 0, true
	}
	next := ps.Status.RefreshTime.Add(interval).Sub(now)
	return next, next > 0
}
