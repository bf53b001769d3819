package controllers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	coordinationv1 "k8s.io/api/coordination/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/kseal-dev/kseal/internal/shard"
)

// ShardOptions splits the reconciling of SealedSecrets, SopsSecrets,
// ExternalSecrets and PushSecrets across replicas (--shards). An object
// belongs to shard shard.Of(namespace, Count); each shard is owned through
// the Lease <LeasePrefix>-shard-<i> in Namespace, and each replica renews a
// member Lease <LeasePrefix>-member-<identity> so the others know how many
// replicas share the work. The elected leader keeps the singleton work (key
// generations, store validation).
type ShardOptions struct {
	// Count is the number of shards; 0 or 1 keeps one elected leader
	// reconciling everything.
	Count int
	// Namespace holds the Leases (the controller's namespace).
	Namespace string
	// LeasePrefix starts the Lease names ("kseal-controller" when empty).
	LeasePrefix string
	// Identity names this replica in the Leases; the host name and a
	// random suffix when empty.
	Identity string
	// LeaseDuration is how long a shard stays held after its holder's last
	// renewal, as others observe it; RenewDeadline (shorter) is how long
	// after its last successful renewal the holder stops reconciling the
	// shard; RetryPeriod (shorter still) is how often every replica reads
	// the Leases and renews its own.
	LeaseDuration, RenewDeadline, RetryPeriod time.Duration
}

// Labels and annotation of the shard and member Leases.
const (
	labelLeaseGroup     = "kseal.dev/lease-group"
	labelLeaseRole      = "kseal.dev/lease-role"
	annotationShardsN   = "kseal.dev/shards"
	leaseRoleShard      = "shard"
	leaseRoleMember     = "member"
	shardReleaseTimeout = 5 * time.Second
)

var (
	shardsOwned = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kseal_shards_owned",
		Help: "Shards (--shards) this replica holds and reconciles.",
	})
	shardMembers = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kseal_shard_members",
		Help: "Live replicas this replica counts (its own member Lease included) when it computes its fair share of shards.",
	})
	shardSkipped = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "kseal_shard_skipped_total",
		Help: "Reconcile requests dropped because this replica does not hold the object's shard (controller_runtime_reconcile_total counts them too).",
	})
)

func init() { metrics.Registry.MustRegister(shardsOwned, shardMembers, shardSkipped) }

// shardSet holds this replica's shards. Its Start loop reads the Leases
// every RetryPeriod and applies shard.Decide; reconcilers ask hold whether
// they may work on an object now.
type shardSet struct {
	opts   ShardOptions
	me     string
	api    client.Reader // uncached Lease reads (consistent lists)
	writer client.Client // Lease writes
	cache  client.Reader // the objects to queue when a shard is gained
	log    logr.Logger

	mu sync.Mutex
	// terms are the shards this replica holds, by index.
	terms map[int]*shardTerm
	// queues are the work queues of the sharded controllers.
	queues []*shardQueue
	// ctx is the Start loop's context, the parent of every term.
	ctx context.Context

	// Used by the Start loop only:
	seen   map[string]leaseSeen // last change seen of each Lease, by name
	passes int
}

// shardTerm is one period of holding a shard: it ends (ctx cancelled) when
// the shard is released, lost, or not renewed within RenewDeadline.
type shardTerm struct {
	ctx    context.Context
	cancel context.CancelFunc
	timer  *time.Timer
	// pass is the loop pass that took the shard; active is set on a later
	// pass that saw no Lease made for another shard count. Only an active
	// term lets reconciles run.
	pass   int
	active bool
	// inflight counts the reconciles running under the term; a release
	// waits for them before it clears the Lease's holder.
	inflight sync.WaitGroup
	// lease is the Lease as this replica last wrote it.
	lease *coordinationv1.Lease
}

// leaseSeen is when this replica first saw a Lease's current version.
type leaseSeen struct {
	rv string
	at time.Time
}

// newShardSet returns the shard set of opts (nil when opts.Count <= 1),
// registered with mgr to run on every replica.
func newShardSet(mgr ctrl.Manager, opts ShardOptions) (*shardSet, error) {
	if opts.Count <= 1 {
		return nil, nil
	}
	if opts.RetryPeriod <= 0 || opts.RenewDeadline <= opts.RetryPeriod || opts.LeaseDuration <= opts.RenewDeadline {
		return nil, fmt.Errorf("shards: want lease duration (%s) > renew deadline (%s) > retry period (%s) > 0", opts.LeaseDuration, opts.RenewDeadline, opts.RetryPeriod)
	}
	if opts.LeasePrefix == "" {
		opts.LeasePrefix = "kseal-controller"
	}
	me := opts.Identity
	if me == "" {
		host, _ := os.Hostname()
		suffix := make([]byte, 4)
		_, _ = rand.Read(suffix)
		me = host + "-" + hex.EncodeToString(suffix)
	}
	// The Leases have a client of their own: renewals must not wait behind
	// the reconcilers' requests in a shared rate limiter at a cold start.
	cfg := rest.CopyConfig(mgr.GetConfig())
	cfg.RateLimiter, cfg.QPS, cfg.Burst = nil, 20, 40
	leases, err := client.New(cfg, client.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper()})
	if err != nil {
		return nil, fmt.Errorf("shards: Lease client: %w", err)
	}
	s := &shardSet{opts: opts, me: leaseNamePart(me), api: leases, writer: leases, cache: mgr.GetCache(),
		log: mgr.GetLogger().WithName("shards"), terms: map[int]*shardTerm{}, seen: map[string]leaseSeen{}}
	if err := mgr.Add(s); err != nil {
		return nil, err
	}
	return s, nil
}

// leaseNamePart makes s usable in a Lease name: lower case, [a-z0-9-].
func leaseNamePart(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9', r == '-':
			return r
		case r >= 'A' && r <= 'Z':
			return r + ('a' - 'A')
		}
		return '-'
	}, s)
	return strings.Trim(s[:min(len(s), 200)], "-")
}

// NeedLeaderElection: every replica takes part.
func (s *shardSet) NeedLeaderElection() bool { return false }

// Start runs a pass every RetryPeriod until ctx ends, then releases every
// shard (after the reconciles under it stop) and deletes the member Lease,
// so the others take over at once instead of after LeaseDuration.
func (s *shardSet) Start(ctx context.Context) error {
	s.mu.Lock()
	s.ctx = ctx
	s.mu.Unlock()
	s.log.Info("sharding", "shards", s.opts.Count, "identity", s.me)
	t := time.NewTicker(s.opts.RetryPeriod)
	defer t.Stop()
	for {
		s.pass(ctx)
		select {
		case <-ctx.Done():
			s.shutdown()
			return nil
		case <-t.C:
		}
	}
}

func (s *shardSet) shardName(i int) string { return fmt.Sprintf("%s-shard-%d", s.opts.LeasePrefix, i) }
func (s *shardSet) memberName() string     { return s.opts.LeasePrefix + "-member-" + s.me }

// pass reads the Leases, decides, and acts: release extras, renew what it
// keeps, take free shards, activate the shards taken on an earlier pass.
func (s *shardSet) pass(ctx context.Context) {
	var list coordinationv1.LeaseList
	if err := s.api.List(ctx, &list, client.InNamespace(s.opts.Namespace), client.MatchingLabels{labelLeaseGroup: s.opts.LeasePrefix}); err != nil {
		s.log.Error(err, "list shard Leases")
		return
	}
	view := s.observe(list.Items, time.Now())
	s.renewMember(ctx, view.member)
	plan := shard.Decide(shard.Input{Me: s.me, Shards: view.states, Members: view.members, NoAcquire: view.conflict || s.passes == 0})
	s.passes++
	for _, i := range plan.Release {
		s.release(i, view.shards[i])
	}
	for _, i := range append(plan.Keep, plan.Acquire...) {
		s.renew(ctx, i, view.shards[i])
	}
	s.activate(view.conflict, view.shards)
	s.deleteGone(ctx, view.gone)
	shardMembers.Set(float64(view.members))
}

// leaseView is what one pass saw.
type leaseView struct {
	shards   []*coordinationv1.Lease // by shard index; nil: no Lease yet
	states   []shard.State
	member   *coordinationv1.Lease // this replica's member Lease
	members  int                   // live members, this one included
	conflict bool                  // a live Lease of another replica made for another shard count
	gone     []coordinationv1.Lease
}

// observe turns the listed Leases into a view, judging liveness by this
// replica's clock: a Lease is live for its duration after this replica
// first saw its current version (clock skew between nodes cannot shorten
// it).
func (s *shardSet) observe(items []coordinationv1.Lease, now time.Time) leaseView {
	v := leaseView{shards: make([]*coordinationv1.Lease, s.opts.Count), states: make([]shard.State, s.opts.Count), members: 1}
	seen := make(map[string]leaseSeen, len(items))
	for i := range items {
		l := &items[i]
		obs, ok := s.seen[l.Name]
		if !ok || obs.rv != l.ResourceVersion {
			obs = leaseSeen{rv: l.ResourceVersion, at: now}
		}
		seen[l.Name] = obs
		holder, dur := "", time.Duration(0)
		if l.Spec.HolderIdentity != nil {
			holder = *l.Spec.HolderIdentity
		}
		if l.Spec.LeaseDurationSeconds != nil {
			dur = time.Duration(*l.Spec.LeaseDurationSeconds) * time.Second
		}
		live := holder != "" && now.Before(obs.at.Add(dur))
		sameN := l.Annotations[annotationShardsN] == strconv.Itoa(s.opts.Count)
		switch l.Labels[labelLeaseRole] {
		case leaseRoleMember:
			switch {
			case l.Name == s.memberName():
				v.member = l
			case live && sameN: // replicas with another count share nothing
				v.members++
			case now.After(obs.at.Add(4 * dur)):
				v.gone = append(v.gone, *l)
			}
		case leaseRoleShard:
			if live && holder != s.me && !sameN {
				v.conflict = true
			}
			idx, err := strconv.Atoi(strings.TrimPrefix(l.Name, s.opts.LeasePrefix+"-shard-"))
			if err == nil && idx >= 0 && idx < s.opts.Count && l.Name == s.shardName(idx) {
				v.shards[idx], v.states[idx] = l, shard.State{Holder: holder, Live: live}
			}
		}
	}
	s.seen = seen
	return v
}

// leaseFor returns l (or a new Lease named name) updated for this replica
// to hold it now.
func (s *shardSet) leaseFor(l *coordinationv1.Lease, name, role string) *coordinationv1.Lease {
	if l == nil {
		l = &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: s.opts.Namespace}}
	} else {
		l = l.DeepCopy()
	}
	if l.Labels == nil {
		l.Labels = map[string]string{}
	}
	l.Labels[labelLeaseGroup], l.Labels[labelLeaseRole] = s.opts.LeasePrefix, role
	if l.Annotations == nil {
		l.Annotations = map[string]string{}
	}
	l.Annotations[annotationShardsN] = strconv.Itoa(s.opts.Count)
	now := metav1.NewMicroTime(time.Now())
	if l.Spec.HolderIdentity == nil || *l.Spec.HolderIdentity != s.me {
		l.Spec.AcquireTime = &now
		if l.Spec.HolderIdentity != nil && *l.Spec.HolderIdentity != "" {
			l.Spec.LeaseTransitions = ptrTo(ptrValue(l.Spec.LeaseTransitions) + 1)
		}
	}
	l.Spec.HolderIdentity = ptrTo(s.me)
	l.Spec.LeaseDurationSeconds = ptrTo(int32((s.opts.LeaseDuration + time.Second - 1) / time.Second))
	l.Spec.RenewTime = &now
	return l
}

// write creates l or updates it from the version read; the API server
// refuses an update of a version someone else changed meanwhile.
func (s *shardSet) write(ctx context.Context, l *coordinationv1.Lease) error {
	if l.ResourceVersion == "" {
		return s.writer.Create(ctx, l)
	}
	return s.writer.Update(ctx, l)
}

// renewMember renews (or creates) this replica's member Lease.
func (s *shardSet) renewMember(ctx context.Context, l *coordinationv1.Lease) {
	if err := s.write(ctx, s.leaseFor(l, s.memberName(), leaseRoleMember)); err != nil && !apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err) {
		s.log.Error(err, "renew member Lease")
	}
}

// renew takes or renews shard i. On success the term (a new one when the
// shard was not held) lasts RenewDeadline from before the write was sent;
// a refused write ends the term at once, another error leaves it to run
// out.
func (s *shardSet) renew(ctx context.Context, i int, l *coordinationv1.Lease) {
	sent := time.Now()
	l = s.leaseFor(l, s.shardName(i), leaseRoleShard)
	err := s.write(ctx, l)
	switch {
	case apierrors.IsConflict(err) || apierrors.IsAlreadyExists(err) || apierrors.IsNotFound(err):
		s.end(i, nil)
		return
	case err != nil:
		s.log.Error(err, "renew shard Lease", "shard", i)
		return
	}
	left := time.Until(sent.Add(s.opts.RenewDeadline))
	if left <= 0 {
		return
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if t := s.terms[i]; t != nil && t.ctx.Err() == nil {
		t.timer.Reset(left)
		t.lease = l
		return
	}
	tctx, cancel := context.WithCancel(s.ctx)
	t := &shardTerm{ctx: tctx, cancel: cancel, pass: s.passes, lease: l}
	t.timer = time.AfterFunc(left, func() { s.end(i, t) })
	s.terms[i] = t
}

// end ends the term of shard i (only if it is still t, when t is set): the
// reconciles under it are cancelled.
func (s *shardSet) end(i int, t *shardTerm) *shardTerm {
	s.mu.Lock()
	cur := s.terms[i]
	if cur == nil || (t != nil && cur != t) {
		s.mu.Unlock()
		return nil
	}
	delete(s.terms, i)
	s.mu.Unlock()
	cur.timer.Stop()
	cur.cancel()
	if cur.active {
		s.log.Info("stopped reconciling shard", "shard", i)
	}
	s.updateOwned()
	return cur
}

// release stops reconciling shard i, waits (bounded) for its reconciles to
// return, then clears the Lease's holder so another replica takes it now.
func (s *shardSet) release(i int, l *coordinationv1.Lease) {
	if t := s.end(i, nil); t != nil {
		waitTimeout(&t.inflight, shardReleaseTimeout)
		l = t.lease // the newest version, written by this replica
	}
	if l == nil {
		return
	}
	l = l.DeepCopy()
	l.Spec.HolderIdentity = ptrTo("")
	ctx, cancel := context.WithTimeout(context.Background(), shardReleaseTimeout)
	defer cancel()
	if err := s.writer.Update(ctx, l); err != nil && !apierrors.IsConflict(err) {
		s.log.Error(err, "release shard Lease", "shard", i)
	}
}

// activate turns on the terms taken on an earlier pass, when this pass saw
// no live Lease made for another shard count (a replica with another
// --shards during a rollout); with one, it gives such new terms back.
// Because a replica lists after its own write, of two replicas with
// different counts that take shards at once at least one sees the other's
// Lease before it activates.
func (s *shardSet) activate(conflict bool, leases []*coordinationv1.Lease) {
	s.mu.Lock()
	var gained, drop []int
	for i, t := range s.terms {
		switch {
		case t.active:
		case conflict:
			drop = append(drop, i)
		case t.pass < s.passes: // taken on an earlier pass
			t.active = true
			gained = append(gained, i)
		}
	}
	s.mu.Unlock()
	for _, i := range drop {
		s.log.Info("a replica with a different --shards holds a shard; giving back a new one", "shard", i)
		s.release(i, leases[i])
	}
	for _, i := range gained {
		s.log.Info("reconciling shard", "shard", i)
		go s.enqueueShard(i)
	}
	s.updateOwned()
}

func (s *shardSet) updateOwned() {
	s.mu.Lock()
	n := 0
	for _, t := range s.terms {
		if t.active {
			n++
		}
	}
	s.mu.Unlock()
	shardsOwned.Set(float64(n))
}

// deleteGone deletes the member Leases of replicas gone for several lease
// durations (each version checked, so a returning replica's is kept).
func (s *shardSet) deleteGone(ctx context.Context, gone []coordinationv1.Lease) {
	for i := range gone {
		err := s.writer.Delete(ctx, &gone[i], client.Preconditions{ResourceVersion: &gone[i].ResourceVersion})
		if err != nil && !apierrors.IsNotFound(err) && !apierrors.IsConflict(err) {
			s.log.Error(err, "delete a gone replica's member Lease", "lease", gone[i].Name)
		}
	}
}

// shutdown releases every shard and deletes the member Lease.
func (s *shardSet) shutdown() {
	s.mu.Lock()
	held := make([]int, 0, len(s.terms))
	for i := range s.terms {
		held = append(held, i)
	}
	s.mu.Unlock()
	for _, i := range held {
		s.release(i, nil)
	}
	ctx, cancel := context.WithTimeout(context.Background(), shardReleaseTimeout)
	defer cancel()
	member := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Name: s.memberName(), Namespace: s.opts.Namespace}}
	_ = s.writer.Delete(ctx, member)
}

// everyReplicaCache is a cache the manager starts on every replica, with
// its own caches (a bare cache.Cache would start on the leader only).
type everyReplicaCache struct{ cache.Cache }

// GetCache implements the manager's interface for caches.
func (c everyReplicaCache) GetCache() cache.Cache { return c.Cache }

func waitTimeout(wg *sync.WaitGroup, d time.Duration) {
	done := make(chan struct{})
	go func() { wg.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(d):
	}
}

func ptrTo[T any](v T) *T { return &v }
