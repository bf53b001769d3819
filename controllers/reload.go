package controllers

import (
	"context"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/time/rate"
	appsv1 "k8s.io/api/apps/v1"
	authorizationv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/record"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// Defaults of ReloadOptions.
const (
	DefaultRolloutRestartDebounce = 5 * time.Second
	DefaultRolloutRestartRate     = 1.0
	DefaultRolloutRestartBurst    = 20
)

// Event reasons of rollout restarts, on the workload and on the kseal object
// whose Secret changed.
const (
	EventRolloutRestarted     = "RolloutRestarted"
	EventRolloutRestartFailed = "RolloutRestartFailed"
)

// ReloadOptions configures rollout restarts (docs/reload.md).
type ReloadOptions struct {
	// Enabled turns rollout restarts on (--rollout-restarts). Off, no
	// workload is read or patched.
	Enabled bool
	// Debounce is how long the Secret changes of a namespace must be quiet
	// before its workloads are restarted; every change until then is
	// served by one restart per workload. A steady stream of changes waits
	// at most maxDebounceWindows times Debounce after its first change.
	// DefaultRolloutRestartDebounce when zero.
	Debounce time.Duration
	// RatePerSecond bounds the restarts issued per namespace; a restart
	// over the limit waits. DefaultRolloutRestartRate when zero.
	RatePerSecond float64
	// Burst is the burst of RatePerSecond; DefaultRolloutRestartBurst when
	// zero.
	Burst int
	// everyReplica runs the restarts on every replica (set with shards).
	everyReplica bool
}

// reloader restarts the workloads that use a Secret kseal changed, as
// `kubectl rollout restart` does. Its entry points are afterWrite and
// secretChanged; a nil reloader (the feature off) does nothing.
type reloader struct {
	client   client.Client // patches; Secrets from the cache
	reader   client.Reader // workloads, read uncached (no watch on them)
	recorder record.EventRecorder
	opts     ReloadOptions
	now      func() time.Time
	rollouts bool // Argo Rollouts are restarted too (CRD installed, access granted)

	mu       sync.Mutex
	ctx      context.Context          // the manager's, once started
	batches  map[string]*reloadBatch  // pending changes by namespace
	limiters map[string]*rate.Limiter // by namespace
	flushing int                      // batches being served
}

// maxDebounceWindows bounds how long a batch can be held open by changes
// that keep coming: its flush waits at most this many debounce windows
// after its first change.
const maxDebounceWindows = 4

// reloadBatch collects the Secret changes of one namespace within the
// debounce window.
type reloadBatch struct {
	// first and last are when its first and latest changes were seen.
	first, last time.Time
	// writes maps a changed Secret's name to the resourceVersion of the
	// write that changed it.
	writes map[string]string
	// owners are the kseal objects that wrote them, by kind/name.
	owners map[string]reloadOwner
}

// reloadOwner is a kseal object that changed a Secret.
type reloadOwner struct {
	obj     client.Object
	secret  string
	targets []v1alpha1.RolloutRestartTarget
}

var rolloutRestarts = prometheus.NewCounterVec(prometheus.CounterOpts{
	Name: "kseal_rollout_restarts_total",
	Help: "Workload rollout restarts after a Secret's data changed, by workload kind and result (success, error, or skipped: already restarted for that change).",
}, []string{"kind", "result"})

var rolloutRestartsQueued = prometheus.NewGauge(prometheus.GaugeOpts{
	Name: "kseal_rollout_restarts_queued",
	Help: "Rollout restarts decided but not issued yet: waiting for the per-namespace rate limit (--rollout-restart-rate).",
})

func init() { metrics.Registry.MustRegister(rolloutRestarts, rolloutRestartsQueued) }

func newReloader(c client.Client, reader client.Reader, rec record.EventRecorder, opts ReloadOptions) *reloader {
	if opts.Debounce <= 0 {
		opts.Debounce = DefaultRolloutRestartDebounce
	}
	if opts.RatePerSecond <= 0 {
		opts.RatePerSecond = DefaultRolloutRestartRate
	}
	if opts.Burst <= 0 {
		opts.Burst = DefaultRolloutRestartBurst
	}
	return &reloader{client: c, reader: reader, recorder: rec, opts: opts, now: time.Now,
		batches: map[string]*reloadBatch{}, limiters: map[string]*rate.Limiter{}}
}

// NeedLeaderElection: restarts are issued by the replica that reconciles
// (with shards, every replica, for the namespaces of its shards).
func (r *reloader) NeedLeaderElection() bool { return !r.opts.everyReplica }

// Start keeps the manager's context for the restarts, and drops pending
// batches when it ends.
func (r *reloader) Start(ctx context.Context) error {
	r.mu.Lock()
	r.ctx = ctx
	r.mu.Unlock()
	<-ctx.Done()
	return nil
}

// afterWrite is called with the result err of a write of Secret after over
// before by owner; when it succeeded and changed the data, the workloads
// that use the Secret are restarted after the debounce window. It returns
// err unchanged.
func (r *reloader) afterWrite(ctx context.Context, err error, owner client.Object, before, after *corev1.Secret) error {
	if r == nil || err != nil || !dataChanged(before, after) {
		return err
	}
	r.secretChanged(ctx, after.Namespace, after.Name, after.ResourceVersion, owner)
	return nil
}

// secretChanged records that owner changed the data of Secret
// namespace/name with the write that has resourceVersion rv.
func (r *reloader) secretChanged(ctx context.Context, namespace, name, rv string, owner client.Object) {
	if r == nil {
		return
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	b := r.batches[namespace]
	if b == nil {
		b = &reloadBatch{first: r.now(), writes: map[string]string{}, owners: map[string]reloadOwner{}}
		r.batches[namespace] = b
		time.AfterFunc(r.opts.Debounce, func() { r.flush(namespace) })
	}
	b.last = r.now()
	b.writes[name] = rv
	subject := eventSubject(owner)
	b.owners[fmt.Sprintf("%T/%s", owner, owner.GetName())] = reloadOwner{obj: subject, secret: name, targets: r.validTargets(subject, restartTargets(owner))}
	logf.FromContext(ctx).V(1).Info("Secret data changed; workloads restart after the debounce window", "secret", name, "debounce", r.opts.Debounce)
}

// validTargets returns the targets whose selector is usable; each other one
// gets one warning event on the owner.
func (r *reloader) validTargets(owner client.Object, targets []v1alpha1.RolloutRestartTarget) []v1alpha1.RolloutRestartTarget {
	var out []v1alpha1.RolloutRestartTarget
	for i, t := range targets {
		if _, err := targetSelects(t, t.Kind, "", nil); err != nil {
			r.event(owner, corev1.EventTypeWarning, EventRolloutRestartFailed, fmt.Sprintf("rolloutRestartTargets[%d] ignored: %v", i, err))
			continue
		}
		out = append(out, *t.DeepCopy())
	}
	return out
}

// idle reports whether no change waits and no restart is being issued.
func (r *reloader) idle() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.batches) == 0 && r.flushing == 0
}

// flush restarts the workloads of namespace that the batch concerns.
func (r *reloader) flush(namespace string) {
	r.mu.Lock()
	b := r.batches[namespace]
	if b != nil {
		// Changes that keep coming (a controller still writing the
		// Secrets of one commit) hold the batch open, up to a bound.
		due := b.last.Add(r.opts.Debounce)
		if bound := b.first.Add(maxDebounceWindows * r.opts.Debounce); bound.Before(due) {
			due = bound
		}
		if wait := due.Sub(r.now()); wait > 0 {
			time.AfterFunc(wait, func() { r.flush(namespace) })
			r.mu.Unlock()
			return
		}
	}
	delete(r.batches, namespace)
	ctx := r.ctx
	lim := r.limiters[namespace]
	if lim == nil {
		lim = rate.NewLimiter(rate.Limit(r.opts.RatePerSecond), r.opts.Burst)
		r.limiters[namespace] = lim
	}
	r.flushing++
	r.mu.Unlock()
	defer func() {
		r.mu.Lock()
		r.flushing--
		r.mu.Unlock()
	}()
	if b == nil || ctx == nil || ctx.Err() != nil {
		return
	}
	log := logf.FromContext(ctx).WithValues("namespace", namespace)
	workloads, err := r.listWorkloads(ctx, namespace)
	if err != nil {
		log.Error(err, "list workloads for rollout restarts")
		for _, o := range b.owners {
			r.event(o.obj, corev1.EventTypeWarning, EventRolloutRestartFailed, "listing workloads to restart failed: "+err.Error())
		}
		return
	}
	type job struct {
		w      workload
		writes map[string]string
		owners []reloadOwner
	}
	var jobs []job
	for _, w := range workloads {
		if writes, owners := r.concerns(b, w); len(writes) > 0 {
			jobs = append(jobs, job{w, writes, owners})
		}
	}
	rolloutRestartsQueued.Add(float64(len(jobs)))
	for i, j := range jobs {
		if err := lim.Wait(ctx); err != nil {
			rolloutRestartsQueued.Sub(float64(len(jobs) - i))
			return
		}
		rolloutRestartsQueued.Dec()
		r.restart(ctx, j.w, j.writes, j.owners)
	}
}

// listWorkloads reads the Deployments, StatefulSets and DaemonSets of one
// namespace, and its Argo Rollouts when they are restarted too.
func (r *reloader) listWorkloads(ctx context.Context, namespace string) ([]workload, error) {
	var (
		d  appsv1.DeploymentList
		s  appsv1.StatefulSetList
		ds appsv1.DaemonSetList
	)
	for _, l := range []client.ObjectList{&d, &s, &ds} {
		if err := r.reader.List(ctx, l, client.InNamespace(namespace)); err != nil {
			return nil, err
		}
	}
	out := workloadsOf(&d, &s, &ds)
	if r.rollouts {
		ro, err := r.listRollouts(ctx, namespace)
		if err != nil {
			return nil, err
		}
		out = append(out, ro...)
	}
	return out, nil
}

// concerns returns the changed Secrets (name to write) that restart w, by
// its annotations or by an owner's rolloutRestartTargets, and the owners of
// those changes.
func (r *reloader) concerns(b *reloadBatch, w workload) (map[string]string, []reloadOwner) {
	writes := map[string]string{}
	for _, name := range workloadSecrets(w.obj.GetAnnotations(), w.template) {
		if rv, ok := b.writes[name]; ok {
			writes[name] = rv
		}
	}
	var owners []reloadOwner
	for _, key := range slices.Sorted(maps.Keys(b.owners)) {
		o := b.owners[key]
		targeted := false
		for _, t := range o.targets {
			ok, _ := targetSelects(t, w.kind, w.obj.GetName(), w.obj.GetLabels()) // validTargets kept only valid ones
			targeted = targeted || ok
		}
		if targeted {
			writes[o.secret] = b.writes[o.secret]
		}
		if _, ok := writes[o.secret]; ok {
			owners = append(owners, o)
		}
	}
	return writes, owners
}

// restart patches the pod template of w as `kubectl rollout restart` does,
// unless it was restarted for these writes already.
func (r *reloader) restart(ctx context.Context, w workload, writes map[string]string, owners []reloadOwner) {
	fp := restartFingerprint(writes)
	if w.restartedFor() == fp {
		rolloutRestarts.WithLabelValues(w.kind, "skipped").Inc()
		return
	}
	secrets := strings.Join(slices.Sorted(maps.Keys(writes)), ", ")
	patch := w.restartPatch(r.now(), fp)
	target := w.obj.DeepCopyObject().(client.Object)
	err := r.client.Patch(ctx, target, client.RawPatch(types.MergePatchType, []byte(patch)))
	if apierrors.IsNotFound(err) {
		return // deleted since it was listed
	}
	if err != nil {
		rolloutRestarts.WithLabelValues(w.kind, "error").Inc()
		logf.FromContext(ctx).Error(err, "rollout restart", "kind", w.kind, "name", w.obj.GetName())
		msg := fmt.Sprintf("restarting %s %s after Secret %s changed failed: %v", w.kind, w.obj.GetName(), secrets, err)
		for _, o := range owners {
			r.event(o.obj, corev1.EventTypeWarning, EventRolloutRestartFailed, msg)
		}
		return
	}
	rolloutRestarts.WithLabelValues(w.kind, "success").Inc()
	r.event(w.obj, corev1.EventTypeNormal, EventRolloutRestarted, "kseal restarted the rollout: the data of Secret "+secrets+" changed")
	for _, o := range owners {
		r.event(o.obj, corev1.EventTypeNormal, EventRolloutRestarted, fmt.Sprintf("restarted %s %s: the data of Secret %s changed", w.kind, w.obj.GetName(), o.secret))
	}
}

// eventSubject returns what events about owner need (its kind, name,
// namespace, UID), without the spec: a batch does not keep large sealed or
// SOPS documents alive.
func eventSubject(owner client.Object) client.Object {
	meta := metav1.ObjectMeta{Name: owner.GetName(), Namespace: owner.GetNamespace(), UID: owner.GetUID(), ResourceVersion: owner.GetResourceVersion()}
	switch owner.(type) {
	case *v1alpha1.SealedSecret:
		return &v1alpha1.SealedSecret{ObjectMeta: meta}
	case *v1alpha1.SopsSecret:
		return &v1alpha1.SopsSecret{ObjectMeta: meta}
	case *v1alpha1.ExternalSecret:
		return &v1alpha1.ExternalSecret{ObjectMeta: meta}
	}
	return owner.DeepCopyObject().(client.Object)
}

func (r *reloader) event(obj client.Object, typ, reason, msg string) {
	if r.recorder != nil {
		r.recorder.Event(obj, typ, reason, msg)
	}
}

// reloadVerbs are what rollout restarts need on each workload kind.
var reloadVerbs = []string{"list", "patch"}

// checkReloadAccess asks the API server (SelfSubjectAccessReview) whether
// the controller may list and patch the workloads it restarts, so a missing
// role fails at start with advice, not at the first change.
func checkReloadAccess(ctx context.Context, c client.Client) error {
	var missing []string
	for _, res := range []string{"deployments", "statefulsets", "daemonsets"} {
		for _, verb := range reloadVerbs {
			review := &authorizationv1.SelfSubjectAccessReview{Spec: authorizationv1.SelfSubjectAccessReviewSpec{
				ResourceAttributes: &authorizationv1.ResourceAttributes{Group: "apps", Resource: res, Verb: verb},
			}}
			if err := c.Create(ctx, review); err != nil {
				return fmt.Errorf("--rollout-restarts: check access to %s.apps: %w", res, err)
			}
			if !review.Status.Allowed {
				missing = append(missing, verb+" "+res+".apps")
			}
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("--rollout-restarts is on but the controller may not %s in every namespace: apply config/rbac/reload (see docs/reload.md) or turn the flag off", strings.Join(missing, ", "))
	}
	return nil
}

// setupReloader makes the reloader when rollout restarts are on (nil
// otherwise), after checking the controller's access to workloads.
func setupReloader(mgr ctrl.Manager, opts ReloadOptions) (*reloader, error) {
	if !opts.Enabled {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := checkReloadAccess(ctx, mgr.GetClient()); err != nil {
		return nil, err
	}
	log := mgr.GetLogger().WithName("reload")
	rollouts, err := setupRollouts(ctx, mgr.GetConfig(), mgr.GetClient(), func(msg string) { log.Info(msg) })
	if err != nil {
		return nil, fmt.Errorf("--rollout-restarts: %w", err)
	}
	r := newReloader(mgr.GetClient(), mgr.GetAPIReader(), mgr.GetEventRecorderFor("kseal-controller"), opts) //nolint:staticcheck // core/v1 events
	r.rollouts = rollouts
	if rollouts {
		log.Info("Argo Rollouts installed: they are restarted too (spec.restartAt)")
	}
	if err := mgr.Add(r); err != nil {
		return nil, err
	}
	return r, nil
}

// RolloutRestartsIdle reports whether no Secret change waits for its
// rollout restarts and none is being issued (always true with rollout
// restarts off). Tests use it to know that restarts have settled.
func (c *Controllers) RolloutRestartsIdle() bool {
	return c.reload == nil || c.reload.idle()
}
