package controllers

import (
	"context"
	"encoding/base64"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
)

// Event reasons of the SealedSecret reconciler.
const (
	EventUnsealed       = "Unsealed"
	EventUnsealFailed   = "UnsealFailed"
	EventSecretNotOwned = "SecretNotOwned"
	EventSecretRefused  = "SecretImmutable"
)

// SealedSecretReconciler turns SealedSecrets into Secrets.
type SealedSecretReconciler struct {
	client.Client
	// Keys gives the decryption keys.
	Keys keys.Source
	// Recorder records events; they never contain secret values.
	Recorder record.EventRecorder
	// Workers is the number of SealedSecrets reconciled in parallel.
	Workers int
	// LabelSelector, when set, limits the SealedSecrets handled.
	LabelSelector labels.Selector

	// retry receives SealedSecrets to reconcile again after a key change.
	retry chan event.GenericEvent
	// reload restarts workloads after a data change; nil when off.
	reload *reloader
}

// SetupWithManager registers the reconciler; Secrets it owns are watched so
// deleted or edited Secrets are restored.
func (r *SealedSecretReconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		Owns(&corev1.Secret{}).
		WithOptions(controllerOptions(max(r.Workers, 1)))
	if r.LabelSelector != nil && !r.LabelSelector.Empty() {
		b = b.For(&v1alpha1.SealedSecret{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return r.LabelSelector.Matches(labels.Set(o.GetLabels()))
		})))
	} else {
		b = b.For(&v1alpha1.SealedSecret{})
	}
	if r.retry != nil {
		b = b.WatchesRawSource(source.Channel(r.retry, &handler.EnqueueRequestForObject{}))
	}
	return b.Complete(r)
}

// retryFailed queues every SealedSecret that is not Ready, after the set of
// keys changed: a key restored from backup or imported heals them without a
// restart. Only the leader, which runs the reconciler, drains the channel.
func (r *SealedSecretReconciler) retryFailed(ctx context.Context, km *KeyManager) {
	if !km.isLeader() {
		return
	}
	var list v1alpha1.SealedSecretList
	if err := r.List(ctx, &list); err != nil {
		logf.FromContext(ctx).Error(err, "list SealedSecrets to retry after a key change")
		return
	}
	for i := range list.Items {
		ss := &list.Items[i]
		if apimeta.IsStatusConditionTrue(ss.Status.Conditions, v1alpha1.ConditionReady) {
			continue
		}
		r.retry <- event.GenericEvent{Object: ss}
	}
}

// +kubebuilder:rbac:groups=kseal.dev,resources=sealedsecrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=kseal.dev,resources=sealedsecrets/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// Reconcile brings the Secret of one SealedSecret up to date. It records the
// outcome in the Ready condition with one status patch.
func (r *SealedSecretReconciler) Reconcile(ctx context.Context, req reconcile.Request) (result reconcile.Result, retErr error) {
	ss := &v1alpha1.SealedSecret{}
	if err := r.Get(ctx, req.NamespacedName, ss); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !ss.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, nil // the owner reference lets the garbage collector remove the Secret
	}
	base := ss.DeepCopy()
	defer func() {
		if err := r.patchStatus(ctx, base, ss); err != nil && retErr == nil {
			retErr = err
		}
	}()

	secret, err := r.currentSecret(ctx, ss)
	if err != nil {
		return reconcile.Result{}, err
	}
	in := sealedSecretInput(ss, secret)
	act, reason, message := decide(in)
	switch act {
	case actionNone:
		setReadyTrue(ss, reason, message)
		return reconcile.Result{}, nil
	case actionRefuse:
		setFailed(ss, false, reason, message)
		r.event(ss, corev1.EventTypeWarning, reason, message)
		unsealTotal.WithLabelValues("error", reason).Inc()
		return reconcile.Result{}, nil // re-run when the Secret or SealedSecret changes
	}

	if len(r.Keys.Keyring().Keys()) == 0 {
		// Only decryption needs keys; an up-to-date Secret was confirmed above.
		setWaiting(ss, "waiting for the controller's keys to load")
		return reconcile.Result{RequeueAfter: time.Second}, nil
	}
	desired, keyName, err := r.unseal(ss, secret)
	if err != nil {
		reason := sealedsecret.Reason(err)
		setFailed(ss, false, reason, err.Error())
		r.event(ss, corev1.EventTypeWarning, EventUnsealFailed, err.Error())
		unsealTotal.WithLabelValues("error", reason).Inc()
		// Bad ciphertext or scope does not heal by retrying; a key change or
		// spec change triggers a new reconcile.
		return reconcile.Result{}, reconcile.TerminalError(err)
	}
	if err := writeTargetSecret(ctx, r.Client, ss, in, desired, keyName, act, r.reload); err != nil {
		setFailed(ss, true, v1alpha1.ReasonProgressing, "writing the Secret failed: "+err.Error())
		return reconcile.Result{}, err
	}
	setReadyTrue(ss, v1alpha1.ReasonUnsealed, messageUpToDate)
	r.event(ss, corev1.EventTypeNormal, EventUnsealed, fmt.Sprintf("Secret %s %s", ss.Name, map[action]string{actionCreate: "created", actionUpdate: "updated"}[act]))
	unsealTotal.WithLabelValues("success", v1alpha1.ReasonUnsealed).Inc()
	return reconcile.Result{}, nil
}

// currentSecret returns the target Secret, or nil when it does not exist.
func (r *SealedSecretReconciler) currentSecret(ctx context.Context, ss *v1alpha1.SealedSecret) (*corev1.Secret, error) {
	secret := &corev1.Secret{}
	err := r.Get(ctx, client.ObjectKeyFromObject(ss), secret)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get Secret: %w", err)
	}
	return secret, nil
}

// unseal decrypts every item and returns the rendered Secret.
func (r *SealedSecretReconciler) unseal(ss *v1alpha1.SealedSecret, current *corev1.Secret) (*corev1.Secret, string, error) {
	prefer := ""
	if current != nil {
		prefer = current.Annotations[AnnotationUnsealedWith]
	}
	start := time.Now()
	res, err := sealedsecret.Unseal(ss, r.Keys.Keyring(), sealedsecret.UnsealOptions{PreferKey: prefer})
	decryptDuration.Observe(time.Since(start).Seconds())
	countDecryptions(ss)
	if err != nil {
		return nil, "", err
	}
	return res.Secret, res.KeyName, nil
}

// countDecryptions adds the items of ss to kseal_decryptions_total by format.
func countDecryptions(ss *v1alpha1.SealedSecret) {
	v1, v2 := 0, 0
	for _, v := range ss.Spec.EncryptedData {
		head, _ := base64.StdEncoding.DecodeString(v[:min(len(v), 8)])
		if len(head) >= 4 && string(head[:4]) == "KSL2" {
			v2++
		} else {
			v1++
		}
	}
	decryptionsTotal.WithLabelValues("v1").Add(float64(v1))
	decryptionsTotal.WithLabelValues("v2").Add(float64(v2))
}

func (r *SealedSecretReconciler) event(ss *v1alpha1.SealedSecret, typ, reason, message string) {
	if r.Recorder != nil {
		r.Recorder.Event(ss, typ, reason, message)
	}
}

// patchStatus writes the status once, and only when it changed.
func (r *SealedSecretReconciler) patchStatus(ctx context.Context, base, ss *v1alpha1.SealedSecret) error {
	if apiequalStatus(base.Status, ss.Status) {
		return nil
	}
	if err := r.Status().Patch(ctx, ss, client.MergeFrom(base)); err != nil {
		if apierrors.IsNotFound(err) {
			return nil
		}
		logf.FromContext(ctx).Error(err, "patch status")
		return err
	}
	return nil
}

func apiequalStatus(a, b v1alpha1.SealedSecretStatus) bool {
	if a.ObservedGeneration != b.ObservedGeneration || len(a.Conditions) != len(b.Conditions) {
		return false
	}
	for i := range a.Conditions {
		x, y := a.Conditions[i], b.Conditions[i]
		if x.Type != y.Type || x.Status != y.Status || x.Reason != y.Reason || x.Message != y.Message || x.ObservedGeneration != y.ObservedGeneration {
			return false
		}
	}
	return true
}
