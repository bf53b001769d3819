package controllers

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
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
	// notReady holds the SealedSecrets (by key) whose last reconcile here
	// did not end Ready: they are never confirmed from metadata, and a key
	// change queues them again.
	notReady sync.Map
	// statusWritten holds, by key, the resourceVersion a SealedSecret had
	// right after this process last wrote its Ready status (the mark on the
	// Secret may not be in the cache yet).
	statusWritten sync.Map
}

// SetupWithManager registers the reconciler; Secrets it owns are watched so
// deleted or edited Secrets are restored. SealedSecrets are watched as
// metadata only (the cache holds neither spec nor status): a reconcile
// reads the whole object from the API server only when the sealed mark of
// its Secret cannot prove it unchanged (see sealedmark.go).
func (r *sealedSecretReconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		Owns(&corev1.Secret{})
	var listOpts []client.ListOption
	if r.selector != nil && !r.selector.Empty() {
		b = b.For(&v1alpha1.SealedSecret{}, builder.OnlyMetadata, builder.WithPredicates(predicate.NewPredicateFuncs(func(o client.Object) bool {
			return r.selector.Matches(labels.Set(o.GetLabels()))
		})))
		listOpts = append(listOpts, client.MatchingLabelsSelector{Selector: r.selector})
	} else {
		b = b.For(&v1alpha1.SealedSecret{}, builder.OnlyMetadata)
	}
	if r.retry != nil {
		b = b.WatchesRawSource(r.retry.source())
	}
	return r.shards.complete(b, controllerOptions(max(r.workers, 1)), r, sealedSecretMetaList, listOpts...)
}

// sealedSecretGVK is the kind of kseal's SealedSecret.
var sealedSecretGVK = v1alpha1.GroupVersion.WithKind("SealedSecret")

// sealedSecretMeta is an empty SealedSecret as the metadata-only cache holds
// it.
func sealedSecretMeta() *metav1.PartialObjectMetadata {
	m := &metav1.PartialObjectMetadata{}
	m.SetGroupVersionKind(sealedSecretGVK)
	return m
}

// sealedSecretMetaList lists SealedSecrets from the metadata-only cache.
func sealedSecretMetaList() client.ObjectList {
	l := &metav1.PartialObjectMetadataList{}
	l.SetGroupVersionKind(v1alpha1.GroupVersion.WithKind("SealedSecretList"))
	return l
}

// +kubebuilder:rbac:groups=kseal.dev,resources=sealedsecrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=kseal.dev,resources=sealedsecrets/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create;update;patch
// +kubebuilder:rbac:groups="",resources=events,verbs=create;patch

// Reconcile brings the Secret of one SealedSecret up to date. From the
// cached metadata and the cached Secret it first tries to prove that
// nothing changed (no API request, no decryption); otherwise it reads the
// SealedSecret, runs the steps, records the outcome in the Ready condition
// with one status patch, and records in the Secret's sealed mark the
// resourceVersion that status patch produced.
func (r *sealedSecretReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	meta := sealedSecretMeta()
	if err := r.Client.Get(ctx, req.NamespacedName, meta); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !meta.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, nil
	}
	if r.upToDateFromMeta(ctx, meta) {
		return reconcile.Result{}, nil
	}
	ss := &v1alpha1.SealedSecret{}
	if err := r.api.Get(ctx, req.NamespacedName, ss); err != nil {
		if apierrors.IsNotFound(err) {
			r.forget(req.NamespacedName)
		}
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !ss.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, nil
	}
	_, _ = CacheTransform(ss)
	base := ss.DeepCopy()
	out := &sealedOutcome{}
	res, err := r.reconcileLookup(ctx, ss, sealedSource{outcome: out}, sealedLookup(ss, sealedSource{}))
	rv, perr := patchStatusMeta(ctx, r.Client, base, ss)
	if perr != nil {
		r.notReady.Store(req.NamespacedName, struct{}{})
		r.statusWritten.Delete(req.NamespacedName)
		if err == nil {
			err = perr
		}
		return res, err
	}
	if merr := r.recordMark(ctx, ss, rv, out); merr != nil && err == nil {
		err = merr
	}
	return res, err
}

// sealedOutcome is what a kseal SealedSecret's reconcile left for the sealed
// mark: the Secret as it now is (written, or confirmed) when kseal keeps it
// up to date as its own, nil otherwise (patch mode, refused, failed).
type sealedOutcome struct {
	secret *corev1.Secret
}

// upToDateFromMeta is unchangedFromMeta for the cached Secret of meta and
// what this process remembers of the status it wrote. A SealedSecret this
// process last saw not Ready is never confirmed from metadata.
func (r *sealedSecretReconciler) upToDateFromMeta(ctx context.Context, meta *metav1.PartialObjectMetadata) bool {
	key := client.ObjectKeyFromObject(meta)
	if _, bad := r.notReady.Load(key); bad {
		return false
	}
	secret := &corev1.Secret{}
	if err := getSecret(ctx, r.Client, key, secret, lookupCached); err != nil {
		return false
	}
	written := ""
	if v, ok := r.statusWritten.Load(key); ok {
		written = v.(string)
	}
	if !unchangedFromMeta(meta, secret, written) {
		return false
	}
	if written != "" && strings.HasSuffix(secret.Annotations[AnnotationSealedMark], ";srv="+written) {
		r.statusWritten.Delete(key) // the cached mark says it now
	}
	confirmedTotal.WithLabelValues("metadata").Inc()
	return true
}

// recordMark remembers how the reconcile of ss ended and, when its Secret is
// kseal's, up to date and the status Ready for the current generation, puts
// into the Secret's sealed mark the resourceVersion rv that status has (one
// metadata patch, none when the mark already says it; the label too for a
// Secret written before kseal labelled them).
func (r *sealedSecretReconciler) recordMark(ctx context.Context, ss *v1alpha1.SealedSecret, rv string, out *sealedOutcome) error {
	key := client.ObjectKeyFromObject(ss)
	ready := isReady(ss) && ss.Status.ObservedGeneration == ss.Generation
	if !ready {
		r.notReady.Store(key, struct{}{})
		r.statusWritten.Delete(key)
		return nil
	}
	r.notReady.Delete(key)
	s := out.secret
	if s == nil || rv == "" {
		r.statusWritten.Delete(key)
		return nil
	}
	want := markFor(ss, !skipOwnerReferences(ss), rv).String()
	if s.Annotations[AnnotationSealedMark] != want || s.Labels[LabelWrittenBy] != writtenByValue {
		patch, err := json.Marshal(map[string]any{"metadata": map[string]any{
			"labels":      map[string]string{LabelWrittenBy: writtenByValue},
			"annotations": map[string]string{AnnotationSealedMark: want},
		}})
		if err != nil {
			return err
		}
		m := &metav1.PartialObjectMetadata{ObjectMeta: metav1.ObjectMeta{Namespace: s.Namespace, Name: s.Name}}
		m.SetGroupVersionKind(corev1.SchemeGroupVersion.WithKind("Secret"))
		if err := r.Client.Patch(ctx, m, client.RawPatch(types.MergePatchType, patch)); err != nil {
			// Not remembered: the next reconcile reads the SealedSecret
			// and tries again.
			r.statusWritten.Delete(key)
			return client.IgnoreNotFound(err)
		}
		confirmedTotal.WithLabelValues("marked").Inc()
	}
	r.statusWritten.Store(key, rv)
	return nil
}

// notReadyObjects returns the SealedSecrets whose last reconcile here did
// not end Ready, as metadata (for keyRetry: the cache holds no status).
func (r *sealedSecretReconciler) notReadyObjects() []client.Object {
	var out []client.Object
	r.notReady.Range(func(k, _ any) bool {
		m := sealedSecretMeta()
		m.Namespace, m.Name = k.(types.NamespacedName).Namespace, k.(types.NamespacedName).Name
		out = append(out, m)
		return true
	})
	return out
}

// forget drops what this process remembers of a SealedSecret that is gone.
func (r *sealedSecretReconciler) forget(key types.NamespacedName) {
	r.notReady.Delete(key)
	r.statusWritten.Delete(key)
}

// patchStatusMeta is patchStatus for a kseal SealedSecret, with the answer
// read as metadata only: it returns the object's resourceVersion after the
// patch (as it was when nothing needed writing), empty when it is gone.
func patchStatusMeta(ctx context.Context, c client.Client, base, obj *v1alpha1.SealedSecret) (string, error) {
	data, err := client.MergeFrom(base).Data(obj)
	if err != nil {
		return "", err
	}
	if string(data) == "{}" {
		return obj.ResourceVersion, nil
	}
	m := sealedSecretMeta()
	m.Namespace, m.Name = obj.Namespace, obj.Name
	if err := c.Status().Patch(ctx, m, client.RawPatch(types.MergePatchType, data)); err != nil {
		if apierrors.IsNotFound(err) {
			return "", nil
		}
		logf.FromContext(ctx).Error(err, "patch status")
		return "", err
	}
	return m.ResourceVersion, nil
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
	// outcome, when set (kseal's own kind), receives the Secret kseal keeps
	// for the sealed mark, which the Secret is then written with.
	outcome *sealedOutcome
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
	if src.outcome != nil {
		input = func(ss *v1alpha1.SealedSecret) policyInput {
			in := sealedSecretInput(ss, secret)
			if !in.patch {
				in.mark = markFor(ss, !in.skipOwner, "").String()
			}
			return in
		}
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
		if src.outcome != nil {
			if !in.patch {
				src.outcome.secret = secret // labelled with the mark (recordMark)
			}
			return reconcile.Result{}, nil
		}
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
	written, err := writeTarget(ctx, r.Client, owner, in, desired, keyName, act, r.reload)
	if err != nil {
		if how == lookupCached && apierrors.IsAlreadyExists(err) {
			// A Secret the cache does not hold: decide again with it.
			return r.reconcileLookup(ctx, ss, src, lookupMeta)
		}
		return fail(ss, retryable(v1alpha1.ReasonProgressing, fmt.Errorf("writing the Secret failed: %w", err)), 0)
	}
	if src.outcome != nil && !in.patch {
		src.outcome.secret = written
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
