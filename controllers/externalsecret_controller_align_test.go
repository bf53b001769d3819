package controllers

import (
	"fmt"
	"math/rand"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// TestAlignRefresh: 1,000 ExternalSecrets synced over 6 s with their UID
// jitter come due at a few grid instants (so batches fill), never before
// interval+jitter and less than one grid step after it.
func TestAlignRefresh(t *testing.T) {
	interval := time.Minute
	start := time.Date(2026, 12, 2, 15, 0, 0, 123e6, time.UTC)
	rnd := rand.New(rand.NewSource(1))
	instants := map[time.Time]int{}
	for i := 0; i < 1000; i++ {
		es := &v1alpha1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{UID: types.UID(fmt.Sprintf("uid-%d", i))}}
		now := start.Add(time.Duration(rnd.Int63n(int64(6 * time.Second))))
		d := interval + refreshJitter(es, interval)
		got := alignRefresh(now, d, interval)
		if got < d {
			t.Fatalf("refresh %v early (%v < %v)", d-got, got, d)
		}
		if got-d >= refreshGrid(interval) {
			t.Fatalf("refresh late by %v, a grid step is %v", got-d, refreshGrid(interval))
		}
		instants[now.Add(got)]++
	}
	// 6 s of first sync + 6 s of jitter on a 2 s grid: at most 7 instants
	// (12,000 distinct ones without alignment at millisecond spread).
	if len(instants) > 7 {
		t.Errorf("%d distinct refresh instants, want ≤ 7", len(instants))
	}
	if refreshGrid(0) != 0 || alignRefresh(start, 0, 0) != 0 {
		t.Error("no refresh interval: no alignment")
	}
	if d := 10*time.Second + 7*time.Millisecond; alignRefresh(start, d, 10*time.Second) != d {
		t.Error("an interval under 30 s is aligned")
	}
	if g := refreshGrid(24 * time.Hour); g != time.Minute {
		t.Errorf("grid of 24h = %v, want 1m", g)
	}
}
