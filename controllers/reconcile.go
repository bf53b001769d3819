package controllers

import (
	"context"
	"errors"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// object is a kseal object with conditions in its status.
type object interface {
	client.Object
	conditioned
}

// reconcileObject is the skeleton every reconciler runs: fetch obj, skip it
// while it is being deleted (owner references let the garbage collector
// remove its Secret), defer one status patch, then run the steps. gone, when
// set, is called when the object no longer exists.
func reconcileObject[T object](ctx context.Context, c client.Client, req reconcile.Request, obj T, gone func(), steps func(context.Context, T) (reconcile.Result, error)) (result reconcile.Result, retErr error) {
	if err := c.Get(ctx, req.NamespacedName, obj); err != nil {
		if apierrors.IsNotFound(err) && gone != nil {
			gone()
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.GetDeletionTimestamp().IsZero() {
		return reconcile.Result{}, nil
	}
	base := obj.DeepCopyObject().(client.Object)
	defer func() {
		if err := patchStatus(ctx, c, base, obj); err != nil && retErr == nil {
			retErr = err
		}
	}()
	return steps(ctx, obj)
}

// patchStatus writes obj's status as one merge patch from base, and nothing
// when the steps changed nothing. The patch is computed once and sent as it
// is (a client.MergeFrom patch would marshal both objects again).
func patchStatus(ctx context.Context, c client.Client, base, obj client.Object) error {
	data, err := client.MergeFrom(base).Data(obj)
	if err != nil {
		return err
	}
	if string(data) == "{}" {
		return nil
	}
	if err := c.Status().Patch(ctx, obj, client.RawPatch(types.MergePatchType, data)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		logf.FromContext(ctx).Error(err, "patch status")
		return err
	}
	return nil
}

// healing says how a failed step recovers.
type healing int

const (
	// healTerminal: only a change to the object, its Secret or the keys
	// heals it. Stalled; not retried (a watch event re-runs it).
	healTerminal healing = iota
	// healBackoff: a transient failure, retried with exponential backoff.
	healBackoff
	// healLater: something the object needs may appear later (a store
	// applied in a later sync wave, a remote key not yet written): looked at
	// again after a delay, and Reconciling meanwhile.
	healLater
)

// stepError is the one error type of the reconcilers: a failed step with
// the Ready reason it reports and how it heals. Its message goes into the
// condition and events, so it never carries a secret value.
type stepError struct {
	reason string
	err    error
	heal   healing
}

func (e *stepError) Error() string { return e.err.Error() }
func (e *stepError) Unwrap() error { return e.err }

// terminal is a failure only a change heals.
func terminal(reason string, err error) *stepError {
	return &stepError{reason: reason, err: err, heal: healTerminal}
}

// retryable is a transient failure, retried with backoff.
func retryable(reason string, err error) *stepError {
	return &stepError{reason: reason, err: err, heal: healBackoff}
}

// retryLater is a failure that may heal when something appears.
func retryLater(reason string, err error) *stepError {
	return &stepError{reason: reason, err: err, heal: healLater}
}

// asStepError returns err as a stepError; any other error is transient
// with reason fallback.
func asStepError(err error, fallback string) *stepError {
	var se *stepError
	if errors.As(err, &se) {
		return se
	}
	return &stepError{reason: fallback, err: err, heal: healBackoff}
}

// fail records a failed step on obj (Ready=False, plus Stalled or
// Reconciling) and returns what Reconcile returns for it: the error for a
// backoff, a delayed requeue for healLater, a terminal error otherwise.
func fail(obj conditioned, se *stepError, later time.Duration) (reconcile.Result, error) {
	setFailed(obj, se.heal != healTerminal, se.reason, se.err.Error())
	switch se.heal {
	case healBackoff:
		return reconcile.Result{}, se
	case healLater:
		return reconcile.Result{RequeueAfter: later}, nil
	}
	return reconcile.Result{}, reconcile.TerminalError(se)
}

// keyRetry re-queues the objects of one kind that are not Ready after the
// set of keys changed: a key restored from backup or imported heals them
// without a restart. Only the leader, which runs the reconcilers, drains
// the channel.
type keyRetry struct {
	events  chan event.GenericEvent
	newList func() client.ObjectList
	// everyReplica: with shards every replica runs the reconcilers and
	// drains the channel (each reconciles its own shards).
	everyReplica bool
	// pending, when set, gives the objects not Ready instead of a list
	// (a kind cached as metadata only, whose cache holds no status).
	pending func() []client.Object
}

func newKeyRetry(newList func() client.ObjectList) *keyRetry {
	return &keyRetry{events: make(chan event.GenericEvent), newList: newList}
}

// source is the watch source the reconciler adds.
func (k *keyRetry) source() source.Source {
	return source.Channel(k.events, &handler.EnqueueRequestForObject{})
}

// queueNotReady lists the kind and queues every object not Ready.
func (k *keyRetry) queueNotReady(ctx context.Context, c client.Client, km *KeyManager) {
	if !k.everyReplica && !km.isLeader() {
		return
	}
	if k.pending != nil {
		for _, o := range k.pending() {
			k.events <- event.GenericEvent{Object: o}
		}
		return
	}
	list := k.newList()
	if err := c.List(ctx, list); err != nil {
		logf.FromContext(ctx).Error(err, "list objects to retry after a key change")
		return
	}
	_ = apimeta.EachListItem(list, func(o runtime.Object) error {
		if obj, ok := o.(object); ok && !apimeta.IsStatusConditionTrue(obj.GetConditions(), v1alpha1.ConditionReady) {
			k.events <- event.GenericEvent{Object: obj}
		}
		return nil
	})
}

// startupSource enqueues the key manager's request once, when the controller
// starts, so keys are loaded (and the first generation made) even in a
// namespace without any Secret yet.
func startupSource() source.Source {
	return source.Func(func(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		q.Add(keyManagerRequest)
		return nil
	})
}

// skipNameValidation lets tests start several managers in one process.
var skipNameValidation = false

// keyManagerControllerOptions runs the key manager on every replica, so each
// one serves the API and can unseal, whatever the leader election says.
func keyManagerControllerOptions() controller.Options {
	o := controllerOptions(1)
	f := false
	o.NeedLeaderElection = &f
	return o
}

func controllerOptions(workers int) controller.Options {
	o := controller.Options{MaxConcurrentReconciles: workers}
	if skipNameValidation {
		t := true
		o.SkipNameValidation = &t
	}
	return o
}
