package controllers

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"strconv"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/providers"
)

// DefaultRefreshInterval applies when spec.refreshInterval is not set.
const DefaultRefreshInterval = time.Hour

// Event reasons of the ExternalSecret reconciler.
const (
	EventSyncFailed = "SyncFailed"
	EventDeleted    = "Deleted"
)

// externalSecretReconciler keeps Secrets in sync with provider values.
type externalSecretReconciler struct {
	client.Client
	// providers caches provider clients per store and credentials.
	providers *providerCache
	// recorder records events; they never contain secret values.
	recorder record.EventRecorder
	// workers is the number of ExternalSecrets reconciled in parallel.
	workers int
	// clock is the time source; time.Now when nil.
	clock func() time.Time
	// reload restarts workloads after a data change; nil when off.
	reload *reloader
	// reader reads templateFrom ConfigMaps and Secrets uncached; the
	// Client when nil.
	reader client.Reader
	// credentials refreshes ExternalSecrets whose store credentials
	// changed; nil when not set up.
	credentials *credentialWatch
	// recent remembers this process's last sync of each ExternalSecret.
	recent recentSyncs
	// secretMeta watches every Secret's metadata, for credentials.
	secretMeta *secretMetaCache
	// shards, when set, limits the work to this replica's shards.
	shards *shardSet
	// adopt, when set, makes this the reconciler of ESO's own
	// ExternalSecrets (--adopt-apis=external-secrets); nil for kseal's.
	adopt *esoAdoption
}

// SetupWithManager registers the reconciler; owned Secrets are watched so
// hand edits and deletions are repaired.
func (r *externalSecretReconciler) SetupWithManager(mgr ctrl.Manager) error {
	b := ctrl.NewControllerManagedBy(mgr).
		For(&v1alpha1.ExternalSecret{}).
		Owns(&corev1.Secret{})
	if r.credentials != nil && r.secretMeta != nil {
		b = b.WatchesRawSource(r.secretMeta.source(r.credentials))
	}
	return r.shards.complete(b, controllerOptions(max(r.workers, 1)), r, func() client.ObjectList { return &v1alpha1.ExternalSecretList{} })
}

// +kubebuilder:rbac:groups=kseal.dev,resources=externalsecrets,verbs=get;list;watch
// +kubebuilder:rbac:groups=kseal.dev,resources=externalsecrets/status,verbs=get;update;patch
// +kubebuilder:rbac:groups=kseal.dev,resources=secretstores;clustersecretstores,verbs=get;list;watch
// +kubebuilder:rbac:groups=kseal.dev,resources=secretstores/status;clustersecretstores/status,verbs=get;update;patch
// +kubebuilder:rbac:groups="",resources=namespaces,verbs=get;list;watch
// +kubebuilder:rbac:groups="",resources=serviceaccounts/token,verbs=create
// +kubebuilder:rbac:groups="",resources=secrets,verbs=delete

// Reconcile fetches the values of one ExternalSecret when a refresh is due
// and writes its Secret; it records the outcome with one status patch. A
// provider failure never deletes or blanks the Secret.
func (r *externalSecretReconciler) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	forget := r.credentials.forget(req.NamespacedName)
	gone := func() {
		r.recent.drop(req.NamespacedName)
		if forget != nil {
			forget()
		}
	}
	return reconcileObject(ctx, r.Client, req, &v1alpha1.ExternalSecret{}, gone, r.reconcile)
}

// reconcile runs the steps: look at the target Secret, stop while the last
// sync stands, sync, record the outcome.
func (r *externalSecretReconciler) reconcile(ctx context.Context, es *v1alpha1.ExternalSecret) (reconcile.Result, error) {
	now := r.now()
	interval := refreshInterval(es)
	if p := es.Spec.RefreshPolicy; p == v1alpha1.RefreshPolicyCreatedOnce || p == v1alpha1.RefreshPolicyOnChange {
		interval = 0
	}
	secret, err := r.targetSecret(ctx, es)
	if err != nil {
		return reconcile.Result{}, err
	}
	credentialsChanged := r.credentials.take(es)
	if next, fresh := upToDate(es, secret, now, interval); fresh && !credentialsChanged {
		return reconcile.Result{RequeueAfter: alignRefresh(now, next, interval)}, nil
	}
	key := types.NamespacedName{Namespace: es.Namespace, Name: es.Name}
	if !credentialsChanged && targetIntact(es, secret) {
		if next, done := r.recent.covers(es, now, interval); done {
			return reconcile.Result{RequeueAfter: alignRefresh(now, next, interval)}, nil // the cached copy lags a sync just made
		}
	}
	reason, message, err := r.sync(ctx, es, secret)
	if err != nil {
		r.recent.drop(key)
		se := asStepError(err, v1alpha1.ReasonProviderError)
		r.event(es, corev1.EventTypeWarning, EventSyncFailed, se.Error())
		syncTotal.WithLabelValues("error", se.reason).Inc()
		return fail(es, se, min(interval, 5*time.Minute)+time.Second)
	}
	es.Status.RefreshTime = metav1.NewTime(now)
	es.Status.SyncedResourceVersion = syncVersion(es)
	recordForceSync(es)
	r.recent.record(es, now, reason, message)
	setReadyTrue(es, reason, message)
	syncTotal.WithLabelValues("success", reason).Inc()
	if interval == 0 {
		return reconcile.Result{}, nil
	}
	return reconcile.Result{RequeueAfter: alignRefresh(now, interval+refreshJitter(es, interval), interval)}, nil
}

// targetIntact reports whether the target Secret holds what kseal last
// wrote (always true with creationPolicy None, where kseal writes none).
func targetIntact(es *v1alpha1.ExternalSecret, secret *corev1.Secret) bool {
	return creationPolicy(es) == v1alpha1.CreationPolicyNone || (secret != nil && (dataIntact(secret, managedKeys(secret)) || esoIntact(secret)))
}

// upToDate reports whether the last sync still stands: same spec, Ready,
// refresh not yet due, and the Secret's data unchanged since kseal wrote
// it. It returns when to look again.
func upToDate(es *v1alpha1.ExternalSecret, secret *corev1.Secret, now time.Time, interval time.Duration) (time.Duration, bool) {
	intact := targetIntact(es, secret)
	synced := es.Status.SyncedResourceVersion != "" && !es.Status.RefreshTime.IsZero()
	switch es.Spec.RefreshPolicy {
	case v1alpha1.RefreshPolicyCreatedOnce:
		// As in ESO: once synced, only a missing or edited Secret is
		// written again.
		return 0, synced && intact
	case v1alpha1.RefreshPolicyOnChange:
		return 0, synced && intact && !forceSyncRequested(es) && es.Status.SyncedResourceVersion == syncVersion(es)
	}
	if forceSyncRequested(es) || es.Status.SyncedResourceVersion != syncVersion(es) || !apimeta.IsStatusConditionTrue(es.Status.Conditions, v1alpha1.ConditionReady) {
		return 0, false
	}
	if !intact {
		return 0, false
	}
	if interval == 0 {
		return 0, true
	}
	next := es.Status.RefreshTime.Add(interval + refreshJitter(es, interval)).Sub(now)
	if next <= 0 {
		return 0, false
	}
	return next, true
}

// sync resolves the store, fetches every value, renders the template and
// writes the Secret. It returns the Ready reason and a short description.
func (r *externalSecretReconciler) sync(ctx context.Context, es *v1alpha1.ExternalSecret, secret *corev1.Secret) (string, string, error) {
	if err := checkPolicies(es); err != nil {
		return "", "", err
	}
	if err := r.adopt.check(es); err != nil {
		return "", "", err
	}
	pf := r.providerFor(es, map[v1alpha1.SecretStoreRef]providers.Provider{})
	if es.Spec.SecretStoreRef.Name != "" {
		// The default store is resolved first: a store problem is reported
		// as such even when no entry reaches it.
		if _, err := pf(ctx, nil); err != nil {
			return "", "", err
		}
	}
	data, allGone, err := fetchAllWith(ctx, es, pf, r.generatorFor(es))
	if err != nil {
		if allGone && es.Spec.Target.DeletionPolicy == v1alpha1.DeletionPolicyDelete {
			return r.deleteGone(ctx, es, secret)
		}
		return "", "", classify(err)
	}
	out, err := r.renderTemplate(ctx, es, data)
	if err != nil {
		return "", "", err
	}
	if creationPolicy(es) == v1alpha1.CreationPolicyNone {
		return v1alpha1.ReasonSecretSynced, fmt.Sprintf("fetched %d keys (creationPolicy None: no Secret written)", len(out.data)), nil
	}
	if err := r.write(ctx, es, secret, out); err != nil {
		return "", "", err
	}
	return v1alpha1.ReasonSecretSynced, fmt.Sprintf("Secret %s synced (%d keys)", targetName(es), len(out.data)), nil
}

// providerFor resolves store references to providers, each once: nil is
// spec.secretStoreRef, and a sourceRef.storeRef names another store of the
// same namespace (or a ClusterSecretStore that allows it).
func (r *externalSecretReconciler) providerFor(es *v1alpha1.ExternalSecret, seen map[v1alpha1.SecretStoreRef]providers.Provider) providerFor {
	var mu sync.Mutex
	return func(ctx context.Context, ref *v1alpha1.SecretStoreRef) (providers.Provider, error) {
		key := es.Spec.SecretStoreRef
		if ref != nil {
			key = *ref
		}
		if key.Kind == "" {
			key.Kind = v1alpha1.SecretStoreKind
		}
		mu.Lock()
		defer mu.Unlock()
		if p, ok := seen[key]; ok {
			return p, nil
		}
		if key.Name == "" {
			return nil, terminal(v1alpha1.ReasonInvalidSpec, errors.New("no store: set spec.secretStoreRef, or sourceRef.storeRef on every entry"))
		}
		store, err := r.resolveStoreRef(ctx, es.Namespace, key)
		if err != nil {
			return nil, err
		}
		p, err := r.providers.get(ctx, store)
		if err != nil {
			if errors.Is(err, errInvalidStore) {
				return nil, terminal(v1alpha1.ReasonInvalidSpec, fmt.Errorf("store %s: %w", store.Name, err))
			}
			return nil, retryable(v1alpha1.ReasonProviderError, fmt.Errorf("store %s: %w", store.Name, err))
		}
		seen[key] = p
		return p, nil
	}
}

// checkPolicies refuses the combinations External Secrets Operator also
// refuses: deletionPolicy Delete would delete a Secret kseal does not own
// (Merge) or never wrote (None).
func checkPolicies(es *v1alpha1.ExternalSecret) error {
	if p := creationPolicy(es); es.Spec.Target.DeletionPolicy == v1alpha1.DeletionPolicyDelete && (p == v1alpha1.CreationPolicyMerge || p == v1alpha1.CreationPolicyNone) {
		return terminal(v1alpha1.ReasonInvalidSpec, fmt.Errorf("deletionPolicy Delete cannot be combined with creationPolicy %s: it would delete a Secret this ExternalSecret does not own; use deletionPolicy Retain", p))
	}
	return checkUnsupported(es)
}

// checkUnsupported refuses what the schema accepts but kseal cannot do,
// saying what to write instead.
func checkUnsupported(es *v1alpha1.ExternalSecret) error {
	if err := checkGenerators(es); err != nil {
		return terminal(v1alpha1.ReasonInvalidSpec, err)
	}
	return nil
}

// classify turns a provider error into a stepError with a reason.
func classify(err error) error {
	switch {
	case providers.IsRetryable(err), errors.Is(err, providers.ErrAuth):
		return retryable(v1alpha1.ReasonProviderError, err)
	case errors.Is(err, errBadGenerator):
		return terminal(v1alpha1.ReasonInvalidSpec, err)
	case errors.Is(err, errMergeConflict):
		return retryLater(v1alpha1.ReasonInvalidSpec, err)
	case errors.Is(err, errGeneratorNotFound):
		return retryLater(v1alpha1.ReasonGeneratorNotFound, err)
	case errors.Is(err, providers.ErrNotFound), errors.Is(err, providers.ErrPropertyNotFound):
		return retryLater(v1alpha1.ReasonRemoteNotFound, err)
	case errors.Is(err, providers.ErrNotJSON), errors.Is(err, providers.ErrUnsupported),
		errors.Is(err, errBadKeys), errors.Is(err, errBadRewrite), errors.Is(err, errBadValue):
		return terminal(v1alpha1.ReasonInvalidSpec, err)
	}
	return retryable(v1alpha1.ReasonProviderError, err)
}

func (r *externalSecretReconciler) targetSecret(ctx context.Context, es *v1alpha1.ExternalSecret) (*corev1.Secret, error) {
	s := &corev1.Secret{}
	// Merge compares and keeps the keys kseal does not manage, so it needs
	// the data; otherwise the cache's copy without data will do (see
	// currentSecret).
	how := lookupMeta
	if creationPolicy(es) == v1alpha1.CreationPolicyMerge {
		how = lookupData
	}
	err := getSecret(ctx, r.Client, client.ObjectKey{Namespace: es.Namespace, Name: targetName(es)}, s, how)
	if apierrors.IsNotFound(err) {
		return nil, nil
	}
	return s, err
}

func (r *externalSecretReconciler) event(es *v1alpha1.ExternalSecret, typ, reason, msg string) {
	if r.recorder != nil {
		r.recorder.Event(r.adopt.owner(es), typ, reason, msg)
	}
}

func (r *externalSecretReconciler) now() time.Time {
	if r.clock == nil {
		return time.Now()
	}
	return r.clock()
}

func targetName(es *v1alpha1.ExternalSecret) string {
	if es.Spec.Target.Name != "" {
		return es.Spec.Target.Name
	}
	return es.Name
}

func creationPolicy(es *v1alpha1.ExternalSecret) v1alpha1.CreationPolicy {
	if es.Spec.Target.CreationPolicy == "" {
		return v1alpha1.CreationPolicyOwner
	}
	return es.Spec.Target.CreationPolicy
}

func refreshInterval(es *v1alpha1.ExternalSecret) time.Duration {
	if es.Spec.RefreshInterval == nil {
		return DefaultRefreshInterval
	}
	return es.Spec.RefreshInterval.Duration
}

// syncVersion identifies the spec a sync used.
func syncVersion(es *v1alpha1.ExternalSecret) string {
	return strconv.FormatInt(es.Generation, 10)
}

// alignRefresh returns the delay from now to the first instant at or after
// now+d on a grid of refreshGrid(interval): refreshes due within one grid
// step fire together, so the provider's batch window (100 ms for Secrets
// Manager) gathers full batches instead of the few the jitter and the
// spread of the first sync leave in each window. A refresh is late by less
// than one step (2 s for a 1m interval), never early.
func alignRefresh(now time.Time, d, interval time.Duration) time.Duration {
	g := refreshGrid(interval)
	if g <= 0 || d <= 0 {
		return d
	}
	due := now.Add(d)
	next := due.Truncate(g)
	if next.Before(due) {
		next = next.Add(g)
	}
	return next.Sub(now)
}

// refreshGrid is the grid step of alignRefresh: 1/30 of the interval, at
// most 1 min; none below 1 s (intervals under 30 s are kept exact).
func refreshGrid(interval time.Duration) time.Duration {
	g := min(interval/30, time.Minute)
	if g < time.Second {
		return 0
	}
	return g
}

// refreshJitter is a fixed share (0–10%) of the refresh interval, chosen by
// the object's UID, added to every refresh: thousands of ExternalSecrets
// created together do not refresh in lockstep, and because it is the same
// for an object on every reconcile, a status update that re-queues the
// object cannot undo it.
func refreshJitter(es *v1alpha1.ExternalSecret, interval time.Duration) time.Duration {
	if interval <= 0 {
		return 0
	}
	h := fnv.New64a()
	h.Write([]byte(es.UID))
	return time.Duration(h.Sum64() % uint64(interval/10+1))
}
