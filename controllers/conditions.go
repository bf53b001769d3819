package controllers

import (
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// conditioned is a kseal object whose status carries conditions and an
// observed generation.
type conditioned interface {
	GetGeneration() int64
	GetConditions() []metav1.Condition
	SetConditions([]metav1.Condition)
	SetObservedGeneration(int64)
}

// outcome is what a reconcile found, as the status reports it.
type outcome int

const (
	// outcomeReady: the object is up to date. Ready=True; Stalled and
	// Reconciling are removed.
	outcomeReady outcome = iota
	// outcomeProgressing: work is under way or a failure that heals by
	// itself is retried. Reconciling=True (kstatus: InProgress).
	outcomeProgressing
	// outcomeStalled: a failure that retrying does not fix; the object must
	// change. Stalled=True (kstatus: Failed).
	outcomeStalled
)

// setStatus records o on obj: Ready, plus the kstatus conditions Stalled or
// Reconciling with the same reason and message, all stamped with the
// object's generation. ready is the Ready status for a failure (False, or
// Unknown when nothing has been decided yet); it is ignored for
// outcomeReady. Every reconciler reports through this one function.
func setStatus(obj conditioned, o outcome, ready metav1.ConditionStatus, reason, message string) {
	conds := obj.GetConditions()
	gen := obj.GetGeneration()
	set := func(typ string, status metav1.ConditionStatus) {
		apimeta.SetStatusCondition(&conds, metav1.Condition{
			Type: typ, Status: status, Reason: reason, Message: message, ObservedGeneration: gen,
		})
	}
	switch o {
	case outcomeReady:
		set(v1alpha1.ConditionReady, metav1.ConditionTrue)
		apimeta.RemoveStatusCondition(&conds, v1alpha1.ConditionStalled)
		apimeta.RemoveStatusCondition(&conds, v1alpha1.ConditionReconciling)
	case outcomeProgressing:
		set(v1alpha1.ConditionReady, ready)
		set(v1alpha1.ConditionReconciling, metav1.ConditionTrue)
		apimeta.RemoveStatusCondition(&conds, v1alpha1.ConditionStalled)
	default:
		set(v1alpha1.ConditionReady, ready)
		set(v1alpha1.ConditionStalled, metav1.ConditionTrue)
		apimeta.RemoveStatusCondition(&conds, v1alpha1.ConditionReconciling)
	}
	obj.SetConditions(conds)
	obj.SetObservedGeneration(gen)
}

// setFailed records a failed reconcile: Ready=False with reason and
// message, and Reconciling when retryable (the controller retries it) or
// Stalled when terminal (only a change to the object or its keys heals it).
func setFailed(obj conditioned, retryable bool, reason, message string) {
	o := outcomeStalled
	if retryable {
		o = outcomeProgressing
	}
	setStatus(obj, o, metav1.ConditionFalse, reason, message)
}

// setReadyTrue records an up-to-date object.
func setReadyTrue(obj conditioned, reason, message string) {
	setStatus(obj, outcomeReady, metav1.ConditionTrue, reason, message)
}

// setWaiting records work not yet decided (keys still loading): Ready
// Unknown and Reconciling True.
func setWaiting(obj conditioned, message string) {
	setStatus(obj, outcomeProgressing, metav1.ConditionUnknown, v1alpha1.ReasonProgressing, message)
}
