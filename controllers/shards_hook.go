package controllers

import (
	"context"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/kseal-dev/kseal/internal/shard"
)

// complete finishes the controller b with r, sharded when s is set: the
// one call a reconciler of a namespaced kind makes in SetupWithManager
// instead of b.WithOptions(opts).Complete(r).
//
// Without shards (s nil) the controller runs on the elected leader, as
// before. With shards it runs on every replica; each request passes through
// hold (dropped unless this replica holds the object's shard, and run under
// a context cancelled when the shard's term ends), and when a shard is
// gained every object of the kind in it is queued from the cache. newList
// makes an empty list of the kind; listOpts narrow it (a label selector the
// controller's predicates also apply).
func (s *shardSet) complete(b *builder.Builder, opts controller.Options, r reconcile.Reconciler, newList func() client.ObjectList, listOpts ...client.ListOption) error {
	if s == nil {
		return b.WithOptions(opts).Complete(r)
	}
	f := false
	opts.NeedLeaderElection = &f
	q := &shardQueue{newList: newList, listOpts: listOpts}
	register := source.Func(func(_ context.Context, wq workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		s.addQueue(q, wq)
		return nil
	})
	return b.WatchesRawSource(register).WithOptions(opts).Complete(&shardGuard{shards: s, next: r})
}

// shardGuard runs a reconciler only for the objects of the shards this
// replica holds: ownership is checked on every request, not by a predicate,
// because it changes while requests wait in the queue.
type shardGuard struct {
	shards *shardSet
	next   reconcile.Reconciler
}

// Reconcile implements reconcile.Reconciler.
func (g *shardGuard) Reconcile(ctx context.Context, req reconcile.Request) (reconcile.Result, error) {
	ctx, done, ok := g.shards.hold(ctx, req.Namespace)
	if !ok {
		shardSkipped.Inc()
		return reconcile.Result{}, nil // the holder queues it when it gains the shard
	}
	defer done()
	return g.next.Reconcile(ctx, req)
}

// hold reports whether this replica may reconcile an object of namespace
// now. When it may, the context it returns is cancelled when the shard's
// term ends, and done must be called when the reconcile returns (a release
// waits for it).
func (s *shardSet) hold(ctx context.Context, namespace string) (context.Context, func(), bool) {
	i := shard.Of(namespace, s.opts.Count)
	s.mu.Lock()
	t := s.terms[i]
	if t == nil || !t.active || t.ctx.Err() != nil {
		s.mu.Unlock()
		return ctx, nil, false
	}
	t.inflight.Add(1)
	s.mu.Unlock()
	ctx, cancel := context.WithCancel(ctx)
	stop := context.AfterFunc(t.ctx, cancel)
	return ctx, func() {
		stop()
		cancel()
		t.inflight.Done()
	}, true
}

// shardQueue is the work queue of one sharded controller and how to list
// its kind.
type shardQueue struct {
	newList  func() client.ObjectList
	listOpts []client.ListOption
	queue    workqueue.TypedRateLimitingInterface[reconcile.Request]
}

// addQueue registers a controller's queue when it starts, and queues the
// objects of the shards already held.
func (s *shardSet) addQueue(q *shardQueue, wq workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	s.mu.Lock()
	q.queue = wq
	s.queues = append(s.queues, q)
	var active []int
	for i, t := range s.terms {
		if t.active {
			active = append(active, i)
		}
	}
	s.mu.Unlock()
	for _, i := range active {
		go s.enqueue(q, i)
	}
}

// enqueueShard queues, in every sharded controller, the objects of shard i.
func (s *shardSet) enqueueShard(i int) {
	s.mu.Lock()
	queues := append([]*shardQueue(nil), s.queues...)
	s.mu.Unlock()
	for _, q := range queues {
		s.enqueue(q, i)
	}
}

// enqueue queues the objects of shard i of q's kind, read from the cache
// (which waits for its first sync).
func (s *shardSet) enqueue(q *shardQueue, i int) {
	s.mu.Lock()
	ctx := s.ctx
	s.mu.Unlock()
	if ctx == nil {
		return
	}
	list := q.newList()
	if err := s.cache.List(ctx, list, q.listOpts...); err != nil {
		s.log.Error(err, "list the objects of a gained shard", "shard", i)
		return
	}
	n := 0
	_ = apimeta.EachListItem(list, func(o runtime.Object) error {
		obj, ok := o.(client.Object)
		if ok && shard.Of(obj.GetNamespace(), s.opts.Count) == i {
			q.queue.Add(reconcile.Request{NamespacedName: client.ObjectKeyFromObject(obj)})
			n++
		}
		return nil
	})
	s.log.V(1).Info("queued the objects of a gained shard", "shard", i, "objects", n)
}
