package controllers

import (
	"context"
	"testing"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kseal-dev/kseal/internal/shard"
)

// countingReconciler counts the requests that reach it.
type countingReconciler struct{ n int }

func (c *countingReconciler) Reconcile(context.Context, reconcile.Request) (reconcile.Result, error) {
	c.n++
	return reconcile.Result{}, nil
}

// TestShardGuard: a request runs only while its namespace's shard has an
// active term here, under a context that ends with the term.
func TestShardGuard(t *testing.T) {
	s := &shardSet{opts: ShardOptions{Count: 3}, terms: map[int]*shardTerm{}, ctx: context.Background()}
	next := &countingReconciler{}
	g := &shardGuard{shards: s, next: next}
	req := reconcile.Request{}
	req.Namespace, req.Name = "team-a", "db"
	i := shard.Of("team-a", 3)

	if _, err := g.Reconcile(context.Background(), req); err != nil || next.n != 0 {
		t.Fatalf("no term: reconciled %d times (%v), want 0", next.n, err)
	}
	tctx, cancel := context.WithCancel(context.Background())
	term := &shardTerm{ctx: tctx, cancel: cancel, timer: time.NewTimer(time.Hour)}
	s.terms[i] = term
	if _, err := g.Reconcile(context.Background(), req); err != nil || next.n != 0 {
		t.Fatalf("term not active yet: reconciled %d times (%v), want 0", next.n, err)
	}
	term.active = true
	if _, err := g.Reconcile(context.Background(), req); err != nil || next.n != 1 {
		t.Fatalf("active term: reconciled %d times (%v), want 1", next.n, err)
	}
	other := reconcile.Request{}
	other.Namespace = "default" // another shard with 3
	if shard.Of(other.Namespace, 3) == i {
		t.Fatal("test namespaces share a shard")
	}
	if _, _ = g.Reconcile(context.Background(), other); next.n != 1 {
		t.Fatalf("another shard's object reconciled")
	}

	ctx, done, ok := s.hold(context.Background(), "team-a")
	if !ok {
		t.Fatal("hold refused with an active term")
	}
	s.end(i, term)
	select {
	case <-ctx.Done():
	case <-time.After(10 * time.Second):
		t.Fatal("the reconcile's context outlived its shard's term")
	}
	done()
	if _, _, ok := s.hold(context.Background(), "team-a"); ok {
		t.Fatal("hold granted after the term ended")
	}
}
