package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	bitnamiv1 "github.com/kseal-dev/kseal/api/bitnami/v1alpha1"
	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// Takeover of sealed-secrets' SealedSecrets (--adopt-apis=bitnami).
//
// kseal reconciles bitnami.com/v1alpha1 SealedSecrets through the CRD
// sealed-secrets installed, as it reconciles its own kind: the object is seen
// as a kseal SealedSecret with the same metadata and spec (scope
// annotations, v1 ciphertexts, template) and runs through the same steps,
// but the Secret stays owned by the bitnami.com object and the status is
// written in sealed-secrets' shape (Synced, observedGeneration).
//
// A Secret sealed-secrets wrote is kept as it is, with nothing decrypted or
// written, when sealed-secrets' own status says it synced the object's
// current generation (Synced=True, observedGeneration = generation) and the
// Secret is controlled by that object. Proving "unchanged" thus costs one
// Secret GET and no decryption. kseal remembers the data of each kept Secret
// (a hash, in memory): an edit after the takeover is restored like an edit of
// a Secret kseal wrote. The first change of the SealedSecret makes kseal
// write the Secret, keeping the owner reference, so sealed-secrets can take
// it back.

// DefaultBitnamiNamespace is where sealed-secrets runs by default; with
// --adopt-apis=bitnami its keys are imported from there unless
// --bitnami-key-namespace names another namespace.
const DefaultBitnamiNamespace = "kube-system"

// Outcomes counted by kseal_adopt_reconciles_total.
const (
	adoptKept    = "kept"    // the other controller's Secret kept: no decryption, no write
	adoptOther   = "other"   // reconciled as kseal's own kind (written, refused, failed)
	adoptBlocked = "blocked" // not reconciled: the other controller still runs
)

var (
	adoptReconciles = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kseal_adopt_reconciles_total",
		Help: "Reconciles of another controller's objects (--adopt-apis), by api and result: kept (its Secret kept, nothing decrypted or written), other, blocked (that controller still runs).",
	}, []string{"api", "result"})
	adoptBlockedGauge = prometheus.NewGaugeVec(prometheus.GaugeOpts{
		Name: "kseal_adopt_blocked",
		Help: "1 while the takeover of an api waits for the other controller to stop (see the controller's log), else 0.",
	}, []string{"api"})
)

func init() { metrics.Registry.MustRegister(adoptReconciles, adoptBlockedGauge) }

// bitnamiReconciler reconciles sealed-secrets' SealedSecrets with the
// SealedSecret reconciler's steps, keys and client.
type bitnamiReconciler struct {
	ss   *sealedSecretReconciler
	gate *bitnamiGate
	// kept holds, per Secret UID, the data hash of a kept Secret when it
	// was first kept: a different hash later is an edit, which is restored.
	kept sync.Map
	// retry queues the objects not Synced after the set of keys changed.
	retry chan event.GenericEvent
}

// adoptDefaults fills what the takeover needs in opts: sealed-secrets' key
// namespace.
func adoptDefaults(opts Options) Options {
	if opts.AdoptAPIs[AdoptBitnami] && opts.Keys.BitnamiNamespace == "" {
		opts.Keys.BitnamiNamespace = DefaultBitnamiNamespace
	}
	return opts
}

// setupBitnamiAdoption registers the bitnami.com SealedSecret reconciler.
// The kind must exist (sealed-secrets' CRD installed). Secrets are watched as
// metadata (every Secret of the watched namespaces): the ones sealed-secrets
// wrote are not in kseal's Secret cache, and their deletion or edit must
// still be seen.
func setupBitnamiAdoption(mgr ctrl.Manager, opts Options, ssr *sealedSecretReconciler, km *KeyManager) error {
	if err := bitnamiv1.AddToScheme(mgr.GetScheme()); err != nil {
		return err
	}
	gk := schema.GroupKind{Group: bitnamiv1.GroupVersion.Group, Kind: "SealedSecret"}
	if _, err := mgr.GetRESTMapper().RESTMapping(gk, bitnamiv1.GroupVersion.Version); err != nil {
		return fmt.Errorf("--adopt-apis=bitnami needs sealed-secrets' CRD sealedsecrets.bitnami.com (v1alpha1) installed; kseal never installs it: %w", err)
	}
	r := &bitnamiReconciler{ss: ssr, gate: &bitnamiGate{reader: mgr.GetAPIReader(), namespace: opts.Keys.BitnamiNamespace, ignore: opts.AdoptIgnoreRunning},
		retry: make(chan event.GenericEvent)}
	if prev := km.onChange; prev != nil {
		km.onChange = func() {
			go r.queueNotSynced(context.Background(), km)
			prev()
		}
	}
	meta, err := newSecretMetaCache(mgr, opts.WatchNamespaces, false)
	if err != nil {
		return err
	}
	sameName := handler.EnqueueRequestsFromMapFunc(func(_ context.Context, o client.Object) []reconcile.Request {
		return []reconcile.Request{{NamespacedName: types.NamespacedName{Namespace: o.GetNamespace(), Name: o.GetName()}}}
	})
	var preds []predicate.Predicate
	if sel := ssr.selector; sel != nil && !sel.Empty() {
		preds = append(preds, predicate.NewPredicateFuncs(func(o client.Object) bool { return sel.Matches(labels.Set(o.GetLabels())) }))
	}
	return ctrl.NewControllerManagedBy(mgr).
		Named("bitnami-sealedsecret").
		For(&bitnamiv1.SealedSecret{}, builder.WithPredicates(preds...)).
		WatchesRawSource(meta.source(sameName)).
		WatchesRawSource(source.Channel(r.retry, &handler.EnqueueRequestForObject{})).
		WithOptions(controllerOptions(max(ssr.workers, 1))).
		Complete(r)
}

// The RBAC of the takeover (read bitnami.com SealedSecrets, write their
// status, list Deployments in sealed-secrets' namespace) is granted by the
// kustomize component config/rbac/adopt-bitnami, not by the controller's
// own role: kseal without --adopt-apis needs none of it.

// Reconcile brings the Secret of one sealed-secrets SealedSecret up to date
// and writes its status in sealed-secrets' shape (one patch, none when
// nothing changed). It touches nothing while sealed-secrets' controller
// still runs.
func (r *bitnamiReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	obj := &bitnamiv1.SealedSecret{}
	if err := r.ss.Get(ctx, req.NamespacedName, obj); err != nil {
		return reconcile.Result{}, client.IgnoreNotFound(err)
	}
	if !obj.DeletionTimestamp.IsZero() {
		return reconcile.Result{}, nil
	}
	if blocked := r.gate.blocking(ctx); blocked != "" {
		adoptReconciles.WithLabelValues(AdoptBitnami, adoptBlocked).Inc()
		return reconcile.Result{RequeueAfter: gateRecheck}, nil
	}
	base := obj.DeepCopy()
	view := bitnamiView(obj)
	kept := false
	var res reconcile.Result
	var err error
	if len(obj.Spec.Data) > 0 {
		res, err = fail(view, terminal(v1alpha1.ReasonInvalidSpec, errors.New("spec.data (sealed-secrets' deprecated single-blob format) is not supported: seal the Secret again (kubeseal or kseal seal) so that spec.encryptedData holds every item")), 0)
	} else {
		res, err = r.ss.reconcileSealed(ctx, view, sealedSource{owner: obj, adopted: func(s *corev1.Secret) bool {
			kept = r.adopted(obj, view, s)
			return kept
		}})
	}
	setBitnamiStatus(obj, view)
	if perr := patchStatus(ctx, r.ss.Client, base, obj); perr != nil && err == nil {
		err = perr
	}
	result := adoptOther
	if kept {
		result = adoptKept
	}
	adoptReconciles.WithLabelValues(AdoptBitnami, result).Inc()
	return res, err
}

// queueNotSynced queues, on the leader, every object not Synced=True: a
// key imported or restored may open it now.
func (r *bitnamiReconciler) queueNotSynced(ctx context.Context, km *KeyManager) {
	if !km.isLeader() {
		return
	}
	var list bitnamiv1.SealedSecretList
	if err := r.ss.List(ctx, &list); err != nil {
		logf.FromContext(ctx).Error(err, "list bitnami.com SealedSecrets to retry after a key change")
		return
	}
	for i := range list.Items {
		if c := list.Items[i].Status.Synced(); c == nil || c.Status != corev1.ConditionTrue {
			r.retry <- event.GenericEvent{Object: &list.Items[i]}
		}
	}
}

// adopted reports whether s is sealed-secrets' write of b's current
// generation: Synced=True at this generation, and s controlled by b (or, for
// b's patch and skip-set-owner-references modes, not controlled by another
// object), with the data it had when first kept.
func (r *bitnamiReconciler) adopted(b *bitnamiv1.SealedSecret, view *v1alpha1.SealedSecret, s *corev1.Secret) bool {
	c := b.Status.Synced()
	if c == nil || c.Status != corev1.ConditionTrue || b.Status.ObservedGeneration != b.Generation || s.Annotations[AnnotationSealedHash] != "" {
		return false // not synced at this generation, or kseal's own write (its usual rules apply)
	}
	if ref := metav1.GetControllerOf(s); ref != nil {
		if ref.UID != b.UID {
			return false
		}
	} else if !isPatchMode(view) && !skipOwnerReferences(view) {
		return false
	}
	h := dataHash(s, nil)
	first, loaded := r.kept.LoadOrStore(s.UID, h)
	return !loaded || first.(string) == h
}

// bitnamiView is b as a kseal SealedSecret: its metadata and spec, and
// its Synced condition as Ready.
func bitnamiView(b *bitnamiv1.SealedSecret) *v1alpha1.SealedSecret {
	v := &v1alpha1.SealedSecret{ObjectMeta: *b.ObjectMeta.DeepCopy(), Spec: *b.Spec.SealedSecretSpec.DeepCopy()}
	if c := b.Status.Synced(); c != nil {
		reason := c.Reason
		if reason == "" {
			reason = v1alpha1.ReasonProgressing
			if c.Status == corev1.ConditionTrue {
				reason = v1alpha1.ReasonUnsealed
			}
		}
		v.Status.ObservedGeneration = b.Status.ObservedGeneration
		v.Status.Conditions = []metav1.Condition{{
			Type: v1alpha1.ConditionReady, Status: metav1.ConditionStatus(c.Status), Reason: reason, Message: c.Message,
			ObservedGeneration: b.Status.ObservedGeneration, LastTransitionTime: c.LastTransitionTime,
		}}
	}
	return v
}

// setBitnamiStatus writes view's Ready condition into b's status in
// sealed-secrets' shape: Synced with the same status, an empty message and
// reason when True (as sealed-secrets writes it), kseal's reason and message
// otherwise. An unchanged condition at the current generation is left as it
// is, timestamps included, so confirming an object writes nothing.
func setBitnamiStatus(b *bitnamiv1.SealedSecret, view *v1alpha1.SealedSecret) {
	ready := apimeta.FindStatusCondition(view.Status.Conditions, v1alpha1.ConditionReady)
	if ready == nil {
		return
	}
	status, reason, message := corev1.ConditionStatus(ready.Status), ready.Reason, ready.Message
	if status == corev1.ConditionTrue {
		reason, message = "", ""
	}
	if b.Status == nil {
		b.Status = &bitnamiv1.SealedSecretStatus{}
	}
	c := b.Status.Synced()
	if c == nil {
		b.Status.Conditions = append(b.Status.Conditions, bitnamiv1.SealedSecretCondition{Type: bitnamiv1.ConditionSynced})
		c = &b.Status.Conditions[len(b.Status.Conditions)-1]
	}
	if c.Status == status && c.Reason == reason && c.Message == message && b.Status.ObservedGeneration == b.Generation {
		return
	}
	now := metav1.Now()
	if c.Status != status {
		c.LastTransitionTime = now
	}
	c.Status, c.Reason, c.Message, c.LastUpdateTime = status, reason, message, now
	b.Status.ObservedGeneration = b.Generation
}

// gateRecheck is how long a reconcile blocked by a running sealed-secrets
// controller waits before it looks again; gateTTL how long one look is
// reused.
const (
	gateRecheck = 10 * time.Second
	gateTTL     = 5 * time.Second
)

// bitnamiGate says whether sealed-secrets' controller still runs, so that
// two controllers never write the same Secrets.
type bitnamiGate struct {
	reader    client.Reader
	namespace string
	ignore    bool

	mu      sync.Mutex
	checked time.Time
	reason  string // why the takeover waits; empty: it does not
}

// blocking returns why the takeover must wait, empty when it may go on.
func (g *bitnamiGate) blocking(ctx context.Context) string {
	if g.ignore {
		return ""
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if !g.checked.IsZero() && time.Since(g.checked) < gateTTL {
		return g.reason
	}
	reason, err := bitnamiRunning(ctx, g.reader, g.namespace)
	if err != nil {
		reason = err.Error()
	}
	if reason != g.reason || g.checked.IsZero() {
		log := logf.FromContext(ctx).WithName("adopt")
		if reason != "" {
			log.Info("not taking over bitnami.com SealedSecrets yet", "reason", reason)
		} else {
			log.Info("taking over bitnami.com SealedSecrets", "namespace", g.namespace)
		}
	}
	g.reason, g.checked = reason, time.Now()
	adoptBlockedGauge.WithLabelValues(AdoptBitnami).Set(map[bool]float64{true: 1}[reason != ""])
	return reason
}
