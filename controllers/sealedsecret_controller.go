package controllers

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

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

// sealedSecretReconciler turns SealedSecrets into Secrets.
type sealedSecretReconciler struct {
	client.Client
	// keys gives the decryption keys.
	keys keys.Source
	// recorder records events; they never contain secret values.
	recorder record.EventRecorder
	// workers is the number of SealedSecrets reconciled in parallel.
	workers int
	// selector, when set, limits the SealedSecrets handled.
	selector labels.Selector
	// api reads from the API server what the cache leaves out (the
	// ciphertexts).
	api client.Reader
	// keysReady is closed once the keys have loaded (nil: not waited for).
	keysReady <-chan struct{}
	// retry re-queues SealedSecrets that are not Ready after a key change.
	retry *keyRetry
	// lastKey names the key that opened the most recent SealedSecret: an
	// object never opened before (no Secret yet) tries it first, so a
	// migration of data sealed for an imported key costs one RSA operation
	// per v1 item instead of one more per object for the newest key.
	lastKey atomic.Pointer[string]
	// reload restarts workloads after a data change; nil when off.
	reload *reloader
	// shards, when set, limits the work to this replica's shards.
	shards *shardSet
}

// SetupWithManager registers the reconciler; Secrets it owns are watched so
// deleted or edited Secrets are restored.
func (r *sealedSecretReconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		Owns(&corev1.Secret{})
	var listOpts []client.ListOption
	if r.selector != nil && !r.selector.Empty() {
		b = b.For(&v1alpha1.SealedSecret{}, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return r.selector.Matches(labels.Set(o.GetLabels()))
		})))
		listOpts = append(listOpts, client.MatchingLabelsSelector{Selector: r.selector})
	} else {
		b = b.For(&v1alpha1.SealedSecret{})
	}
	if r.retry != nil {
		b = b.WatchesRawSource(r.retry.source())
	}
	return r.shards.complete(b, controllerOptions(max(r.workers, 1)), r, func() client.ObjectList { return &v1alpha1.SealedSecretList{} }, listOpts...)
}

// +kubebuilder:rbac:groups=kseal.dev,resources=sealedsecrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=kseal.dev,resources=sealedsecrets/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// Reconcile brings the Secret of one SealedSecret up to date. It records the
// outcome in the Ready condition with one status patch.
func (r *sealedSecretReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	return reconcileObject(ctx, r.Client, req, &v1alpha1.SealedSecret{}, nil, r.reconcile)
}

// reconcile runs the steps: decide from the hashes, then (only when the
// Secret must change) read the ciphertexts, decrypt and write.
func (r *sealedSecretReconciler) reconcile(ctx context.Context, ss *v1alpha1.SealedSecret) (reconcile.Result, error) {
	return r.reconcileSealed(ctx, ss, sealedSource{})
}

// sealedSource says where a SealedSecret reconciled by reconcileSealed
// comes from when it is not kseal's own kind: an adopted kind (see
// adopt_bitnami.go) is reconciled as a kseal SealedSecret that carries its
// metadata and spec.
type sealedSource struct {
	// owner is the object that owns the Secret and that events name; nil:
	// the SealedSecret itself.
	owner client.Object
	// adopted reports that secret is the other controller's write of this
	// generation, to be kept as it is; nil: never.
	adopted func(secret *corev1.Secret) bool
}

// reconcileSealed is reconcile for ss coming from src.
func (r *sealedSecretReconciler) reconcileSealed(ctx context.Context, ss *v1alpha1.SealedSecret, src sealedSource) (reconcile.Result, error) {
	return r.reconcileLookup(ctx, ss, src, sealedLookup(ss, src))
}

// sealedLookup is how reconcileSealed first reads the Secret of ss. Patch
// mode compares only its own keys, which the cache's digest does not
// cover, and merges into a Secret that usually exists. A SealedSecret of
// kseal's own kind without any condition has never been reconciled: its
// Secret normally does not exist yet, so a cold start does not read
// thousands of absent Secrets from the API server (the create finds one
// that does exist).
func sealedLookup(ss *v1alpha1.SealedSecret, src sealedSource) secretLookup {
	switch {
	case isPatchMode(ss):
		return lookupData
	case src.owner == nil && len(ss.Status.Conditions) == 0:
		return lookupCached
	}
	return lookupMeta
}

// reconcileLookup is reconcileSealed with the Secret read as how says.
func (r *sealedSecretReconciler) reconcileLookup(ctx context.Context, ss *v1alpha1.SealedSecret, src sealedSource, how secretLookup) (reconcile.Result, error) {
	secret, err := currentSecret(ctx, r.Client, ss, how)
	if err != nil {
		return reconcile.Result{}, err
	}
	input := func(ss *v1alpha1.SealedSecret) policyInput {
		in := sealedSecretInput(ss, secret)
		in.adopted = src.adopted != nil && secret != nil && src.adopted(secret)
		return in
	}
	in := input(ss)
	act, reason, message := decide(in)
	full := ss
	if act == actionCreate || act == actionUpdate {
		if !awaitKeys(ctx, r.keysReady, func() bool { return len(r.keys.Keyring().Keys()) > 0 }) {
			// Only decryption needs keys; an up-to-date Secret is confirmed without them.
			setWaiting(ss, "waiting for the controller's keys to load")
			return reconcile.Result{RequeueAfter: time.Second}, nil
		}
		if full, err = fullObject(ctx, r.api, ss); err != nil || full == nil {
			return reconcile.Result{}, err
		}
		in = input(full)
		act, reason, message = decide(in)
	}
	owner := src.owner
	if owner == nil {
		owner = full
	}
	switch act {
	case actionNone:
		setReadyTrue(ss, reason, message)
		return reconcile.Result{}, labelWritten(ctx, r.Client, in)
	case actionRefuse:
		r.event(owner, corev1.EventTypeWarning, reason, message)
		unsealTotal.WithLabelValues("error", reason).Inc()
		return fail(ss, terminal(reason, errors.New(message)), 0)
	}
	desired, keyName, err := r.unseal(full, secret)
	if err != nil {
		// Bad ciphertext or scope does not heal by retrying; a key change or
		// spec change triggers a new reconcile.
		reason := sealedsecret.Reason(err)
		r.event(owner, corev1.EventTypeWarning, EventUnsealFailed, err.Error())
		unsealTotal.WithLabelValues("error", reason).Inc()
		return fail(ss, terminal(reason, err), 0)
	}
	if err := writeTargetSecret(ctx, r.Client, owner, in, desired, keyName, act, r.reload); err != nil {
		if how == lookupCached && apierrors.IsAlreadyExists(err) {
			// A Secret the cache does not hold: decide again with it.
			return r.reconcileLookup(ctx, ss, src, lookupMeta)
		}
		return fail(ss, retryable(v1alpha1.ReasonProgressing, fmt.Errorf("writing the Secret failed: %w", err)), 0)
	}
	wasReady := isReady(ss)
	setReadyTrue(ss, v1alpha1.ReasonUnsealed, messageUpToDate)
	if wasReady {
		// A first write shows as the Ready condition's transition; a
		// rewrite of a Ready object (edited, Secret deleted) only here.
		r.event(owner, corev1.EventTypeNormal, EventUnsealed, fmt.Sprintf("Secret %s %s", ss.Name, map[action]string{actionCreate: "created", actionUpdate: "updated"}[act]))
	}
	unsealTotal.WithLabelValues("success", v1alpha1.ReasonUnsealed).Inc()
	return reconcile.Result{}, nil
}

// keysWait is how long a reconcile that must decrypt waits for the keys to
// load at start, before it reports Progressing and tries again: waiting
// saves a status write (Progressing, then Ready) per object at a cold start.
const keysWait = 15 * time.Second

// awaitKeys reports whether have holds, waiting up to keysWait for ready.
func awaitKeys(ctx context.Context, ready <-chan struct{}, have func() bool) bool {
	if have() || ready == nil {
		return have()
	}
	t := time.NewTimer(keysWait)
	defer t.Stop()
	select {
	case <-ready:
	case <-t.C:
	case <-ctx.Done():
	}
	return have()
}

// currentSecret returns the target Secret, or nil when it does not exist
// (see secretLookup: it may be the cache's copy without data, enough to
// decide whether it is up to date; writeTargetSecret reads the rest).
func currentSecret(ctx context.Context, c client.Client, owner client.Object, how secretLookup) (*corev1.Secret, error) {
	secret := &corev1.Secret{}
	err := getSecret(ctx, c, client.ObjectKeyFromObject(owner), secret, how)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("get Secret: %w", err)
	}
	return secret, nil
}

// unseal decrypts every item and returns the rendered Secret.
func (r *sealedSecretReconciler) unseal(ss *v1alpha1.SealedSecret, current *corev1.Secret) (*corev1.Secret, string, error) {
	prefer := ""
	if current != nil {
		prefer = current.Annotations[AnnotationUnsealedWith]
	}
	if last := r.lastKey.Load(); prefer == "" && last != nil {
		prefer = *last
	}
	start := time.Now()
	res, err := sealedsecret.Unseal(ss, r.keys.Keyring(), sealedsecret.UnsealOptions{PreferKey: prefer})
	decryptDuration.Observe(time.Since(start).Seconds())
	countDecryptions(ss)
	if err != nil {
		return nil, "", err
	}
	if res.KeyName != "" {
		r.lastKey.Store(&res.KeyName)
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

func (r *sealedSecretReconciler) event(obj client.Object, typ, reason, message string) {
	if r.recorder != nil {
		r.recorder.Event(obj, typ, reason, message)
	}
}
