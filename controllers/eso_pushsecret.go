package controllers

import (
	"context"
	"fmt"
	"strings"
	"sync"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kseal-dev/kseal/api/esov1"
	"github.com/kseal-dev/kseal/api/esov1alpha1"
	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/providers"
)

// esoPushSourceIndex indexes ESO's PushSecrets by the Secret they push.
const esoPushSourceIndex = "kseal.dev/eso-pushsecret-source"

// pusher wraps a store's pusher for an adopted PushSecret: remote secrets
// carry ESO's managed-by mark (so ESO can take them back), and one ESO
// created is this PushSecret's only when its status records it (recorded:
// its syncedPushSecrets entries for the store). kseal's own PushSecrets
// (nil receiver) get p unchanged.
func (a *esoAdoption) pusher(p providers.Pusher, recorded map[string]v1alpha1.PushSecretData) providers.Pusher {
	if a == nil {
		return p
	}
	return esoPusher{inner: p, recorded: recorded}
}

// esoPusher sets ESO's marks on every reference it passes on.
type esoPusher struct {
	inner    providers.Pusher
	recorded map[string]v1alpha1.PushSecretData
}

func (p esoPusher) ref(r providers.PushRef) providers.PushRef {
	key := r.Key
	if r.Property != "" {
		key += "/" + r.Property
	}
	_, r.Recorded = p.recorded[key]
	r.ManagedBy = esov1alpha1.ManagedByValue
	return r
}

func (p esoPusher) PushSecret(ctx context.Context, ref providers.PushRef, value []byte) error {
	return p.inner.PushSecret(ctx, p.ref(ref), value)
}

func (p esoPusher) SecretExists(ctx context.Context, ref providers.PushRef) (bool, error) {
	return p.inner.SecretExists(ctx, p.ref(ref))
}

func (p esoPusher) DeleteSecret(ctx context.Context, ref providers.PushRef) error {
	return p.inner.DeleteSecret(ctx, p.ref(ref))
}

// esoPushSecretReconciler runs kseal's PushSecret steps on ESO's
// PushSecrets: the object is read as ESO's, its status turned into kseal's
// for the steps and back into ESO's shape for one status patch.
//
// ESO records no version of the source Secret. A PushSecret whose ESO
// status is current (Ready, syncedResourceVersion of its present metadata,
// refresh not due) is taken to match the Secret as it is when kseal first
// sees it, as ESO would until its next refresh: no provider call. That
// resourceVersion of the Secret, and after each push the one pushed, is
// remembered, so a later change of the Secret pushes at once, as for
// kseal's PushSecrets. A due push reads the remote
// value first and writes nothing when it is already the value.
type esoPushSecretReconciler struct {
	inner *pushSecretReconciler

	mu sync.Mutex
	// pushed is the source Secret's resourceVersion at this process's last
	// push of each PushSecret.
	pushed map[types.NamespacedName]string
}

// setupAdoptedPushSecrets registers the reconciler of ESO's PushSecrets.
func setupAdoptedPushSecrets(mgr ctrl.Manager, inner *pushSecretReconciler) error {
	if err := mgr.GetFieldIndexer().IndexField(context.Background(), &esov1alpha1.PushSecret{}, esoPushSourceIndex, func(o client.Object) []string {
		if s := o.(*esov1alpha1.PushSecret).Spec.Selector.Secret; s != nil && s.Name != "" {
			return []string{s.Name}
		}
		return nil
	}); err != nil {
		return err
	}
	inner.recorder = esoPushRecorder{inner.recorder}
	r := &esoPushSecretReconciler{inner: inner, pushed: map[types.NamespacedName]string{}}
	return ctrl.NewControllerManagedBy(mgr).
		Named("external-secrets.io-pushsecret").
		For(&esov1alpha1.PushSecret{}).
		WatchesRawSource(inner.secretMeta.source(handler.EnqueueRequestsFromMapFunc(r.forSecret))).
		WithOptions(controllerOptions(max(inner.workers, 1))).
		Complete(r)
}

// forSecret maps a Secret to ESO's PushSecrets in its namespace that push it.
func (r *esoPushSecretReconciler) forSecret(ctx context.Context, o client.Object) []reconcile.Request {
	var list esov1alpha1.PushSecretList
	if err := r.inner.List(ctx, &list, client.InNamespace(o.GetNamespace()), client.MatchingFields{esoPushSourceIndex: o.GetName()}); err != nil {
		return nil
	}
	out := make([]reconcile.Request, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
	}
	return out
}

// Reconcile is pushSecretReconciler.Reconcile for ESO's PushSecret, with
// ESO's finalizer.
func (r *esoPushSecretReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	eso := &esov1alpha1.PushSecret{}
	if err := r.inner.Get(ctx, req.NamespacedName, eso); err != nil {
		if client.IgnoreNotFound(err) == nil {
			r.remember(req.NamespacedName, "")
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	ps := r.fromESO(ctx, eso)
	if !eso.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, r.finalize(ctx, eso, ps)
	}
	if err := r.syncFinalizer(ctx, eso); err != nil {
		return reconcile.Result{}, err
	}
	base := eso.DeepCopy()
	before := ps.DeepCopy()
	var res reconcile.Result
	var err error
	if berr := esoPushBounded(&ps.Spec); berr != nil {
		res, err = r.inner.failed(ps, berr, pushRefreshInterval(ps))
	} else {
		res, err = r.inner.reconcile(ctx, ps)
	}
	r.toESO(eso, before, ps)
	if perr := patchStatus(ctx, r.inner.Client, base, eso); perr != nil && err == nil {
		err = perr
	}
	return res, err
}

// Bounds kseal's PushSecret CRD enforces and ESO's does not: checked
// before any work.
const (
	maxPushData      = 100
	maxPushStoreRefs = 10
)

// esoPushBounded refuses an ESO PushSecret beyond kseal's bounds.
func esoPushBounded(spec *v1alpha1.PushSecretSpec) error {
	if len(spec.Data) > maxPushData || len(spec.SecretStoreRefs) > maxPushStoreRefs {
		return terminal(v1alpha1.ReasonInvalidSpec, fmt.Errorf("the PushSecret has %d data entries and %d secretStoreRefs; kseal pushes at most %d and %d: split it",
			len(spec.Data), len(spec.SecretStoreRefs), maxPushData, maxPushStoreRefs))
	}
	return nil
}

// fromESO is kseal's view of ESO's PushSecret (see the type's comment for
// the synced version).
func (r *esoPushSecretReconciler) fromESO(ctx context.Context, eso *esov1alpha1.PushSecret) *v1alpha1.PushSecret {
	ps := &v1alpha1.PushSecret{ObjectMeta: *eso.ObjectMeta.DeepCopy(), Spec: *eso.Spec.DeepCopy()}
	st := eso.Status.DeepCopy()
	ps.Status.ObservedGeneration = ps.Generation
	ps.Status.RefreshTime = st.RefreshTime
	ps.Status.SyncedPushSecrets = st.SyncedPushSecrets
	ps.Status.Conditions = conditionsFromESO(pushConditionsToESO(st.Conditions), ps.Generation)
	ps.Status.SyncedResourceVersion = "eso:" + st.SyncedResourceVersion // never a kseal version: pushes
	if st.SyncedResourceVersion == "" || st.SyncedResourceVersion != esoResourceVersion(&eso.ObjectMeta) {
		return ps
	}
	key := client.ObjectKeyFromObject(eso)
	r.mu.Lock()
	rv, ok := r.pushed[key]
	r.mu.Unlock()
	if !ok {
		// First sight of a current PushSecret: ESO's push stands for the
		// Secret as it is now; a later change of it pushes.
		rv = r.sourceVersion(ctx, ps)
		r.remember(key, rv)
	}
	if rv != "" {
		ps.Status.SyncedResourceVersion = fmt.Sprintf("%d-%s", ps.Generation, rv)
	}
	return ps
}

// sourceVersion is the source Secret's resourceVersion in the metadata
// cache, or "" (then the PushSecret pushes).
func (r *esoPushSecretReconciler) sourceVersion(ctx context.Context, ps *v1alpha1.PushSecret) string {
	sel := ps.Spec.Selector.Secret
	if sel == nil || sel.Name == "" || r.inner.secretMeta == nil {
		return ""
	}
	m := &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}}
	if err := r.inner.secretMeta.Get(ctx, client.ObjectKey{Namespace: ps.Namespace, Name: sel.Name}, m); err != nil {
		return ""
	}
	return m.ResourceVersion
}

// toESO writes what the steps recorded on ps (before: as it was read)
// back into eso's status, in ESO's shape, and remembers a new push.
func (r *esoPushSecretReconciler) toESO(eso *esov1alpha1.PushSecret, before, ps *v1alpha1.PushSecret) {
	eso.Status.RefreshTime = ps.Status.RefreshTime
	eso.Status.SyncedPushSecrets = ps.Status.SyncedPushSecrets
	if v := ps.Status.SyncedResourceVersion; v != before.Status.SyncedResourceVersion && !strings.HasPrefix(v, "eso:") {
		eso.Status.SyncedResourceVersion = esoResourceVersion(&eso.ObjectMeta)
		_, rv, _ := strings.Cut(v, "-")
		r.remember(client.ObjectKeyFromObject(eso), rv)
	}
	conds := esoConditions(pushConditionsToESO(eso.Status.Conditions), before.Status.Conditions, ps.Status.Conditions, pushReasonForESO)
	eso.Status.Conditions = pushConditionsFromESO(conds)
}

// remember records (rv "" forgets) the Secret version of a push.
func (r *esoPushSecretReconciler) remember(key types.NamespacedName, rv string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if rv == "" {
		delete(r.pushed, key)
		return
	}
	r.pushed[key] = rv
}

// syncFinalizer holds ESO's finalizer exactly while deletionPolicy is
// Delete, as ESO does (a PushSecret ESO finalized is not written again).
func (r *esoPushSecretReconciler) syncFinalizer(ctx context.Context, eso *esov1alpha1.PushSecret) error {
	want := eso.Spec.DeletionPolicy == v1alpha1.PushSecretDeletionPolicyDelete
	if want == controllerutil.ContainsFinalizer(eso, esov1alpha1.Finalizer) {
		return nil
	}
	base := eso.DeepCopy()
	if want {
		controllerutil.AddFinalizer(eso, esov1alpha1.Finalizer)
	} else {
		controllerutil.RemoveFinalizer(eso, esov1alpha1.Finalizer)
	}
	return r.inner.Patch(ctx, eso, client.MergeFromWithOptions(base, client.MergeFromWithOptimisticLock{}))
}

// finalize deletes the remote secrets the PushSecret's status records
// (deletionPolicy Delete) and releases ESO's finalizer.
func (r *esoPushSecretReconciler) finalize(ctx context.Context, eso *esov1alpha1.PushSecret, ps *v1alpha1.PushSecret) error {
	if !controllerutil.ContainsFinalizer(eso, esov1alpha1.Finalizer) {
		return nil
	}
	if eso.Spec.DeletionPolicy == v1alpha1.PushSecretDeletionPolicyDelete {
		left, err := r.inner.deleteRemoved(ctx, ps, ps.Status.SyncedPushSecrets, nil)
		if err != nil {
			base := eso.DeepCopy()
			se := asStepError(err, v1alpha1.ReasonPushErrored)
			before := ps.DeepCopy()
			ps.Status.SyncedPushSecrets = left
			setFailed(ps, true, se.reason, "delete remote secrets: "+se.Error())
			r.toESO(eso, before, ps)
			_ = patchStatus(ctx, r.inner.Client, base, eso)
			return se
		}
	}
	base := eso.DeepCopy()
	controllerutil.RemoveFinalizer(eso, esov1alpha1.Finalizer)
	r.remember(client.ObjectKeyFromObject(eso), "")
	return client.IgnoreNotFound(r.inner.Patch(ctx, eso, client.MergeFrom(base)))
}

// pushReasonForESO maps kseal's Ready reason to ESO's: Synced, or Errored
// with kseal's reason leading the message.
func pushReasonForESO(c metav1.Condition) (string, string) {
	if c.Status == metav1.ConditionTrue {
		return esov1alpha1.ReasonSynced, c.Message
	}
	return esov1alpha1.ReasonErrored, c.Reason + ": " + c.Message
}

// pushConditionsToESO and pushConditionsFromESO convert between ESO's
// PushSecret conditions and its ExternalSecret conditions (the same
// fields), so the ExternalSecret's condition mapping serves both.
func pushConditionsToESO(in []esov1alpha1.Condition) []esov1.Condition {
	out := make([]esov1.Condition, 0, len(in))
	for _, c := range in {
		out = append(out, esov1.Condition{Type: c.Type, Status: c.Status, Reason: c.Reason, Message: c.Message, LastTransitionTime: c.LastTransitionTime})
	}
	return out
}

func pushConditionsFromESO(in []esov1.Condition) []esov1alpha1.Condition {
	if len(in) == 0 {
		return nil
	}
	out := make([]esov1alpha1.Condition, 0, len(in))
	for _, c := range in {
		out = append(out, esov1alpha1.Condition{Type: c.Type, Status: c.Status, Reason: c.Reason, Message: c.Message, LastTransitionTime: c.LastTransitionTime})
	}
	return out
}

// esoPushRecorder records the steps' events on ESO's PushSecret.
type esoPushRecorder struct {
	record.EventRecorder
}

func (e esoPushRecorder) object(o runtime.Object) runtime.Object {
	if ps, ok := o.(*v1alpha1.PushSecret); ok {
		return &esov1alpha1.PushSecret{ObjectMeta: ps.ObjectMeta}
	}
	return o
}

func (e esoPushRecorder) Event(o runtime.Object, typ, reason, message string) {
	if e.EventRecorder != nil {
		e.EventRecorder.Event(e.object(o), typ, reason, message)
	}
}

func (e esoPushRecorder) Eventf(o runtime.Object, typ, reason, format string, args ...any) {
	if e.EventRecorder != nil {
		e.EventRecorder.Eventf(e.object(o), typ, reason, format, args...)
	}
}

func (e esoPushRecorder) AnnotatedEventf(o runtime.Object, ann map[string]string, typ, reason, format string, args ...any) {
	if e.EventRecorder != nil {
		e.EventRecorder.AnnotatedEventf(e.object(o), ann, typ, reason, format, args...)
	}
}
