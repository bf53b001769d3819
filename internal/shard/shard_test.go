package shard

import (
	"fmt"
	"reflect"
	"testing"
)

// TestOf_stable pins the hash: replicas of different kseal versions must
// put a namespace in the same shard, so a change of function fails here.
func TestOf_stable(t *testing.T) {
	for _, tt := range []struct {
		ns   string
		n    int
		want int
	}{
		{"default", 3, 0},
		{"kube-system", 3, 2},
		{"team-a", 3, 1},
		{"team-a", 7, 2},
		{"", 3, 1},
		{"team-a", 1, 0},
		{"team-a", 0, 0},
	} {
		if got := Of(tt.ns, tt.n); got != tt.want {
			t.Errorf("Of(%q, %d) = %d, want %d", tt.ns, tt.n, got, tt.want)
		}
	}
}

// TestOf_spread: 3,000 namespaces split over 3 shards within 10% of even.
func TestOf_spread(t *testing.T) {
	count := make([]int, 3)
	for i := range 3000 {
		count[Of(fmt.Sprintf("ns-%d", i), 3)]++
	}
	for i, c := range count {
		if c < 900 || c > 1100 {
			t.Errorf("shard %d has %d of 3000 namespaces: %v", i, c, count)
		}
	}
}

func TestFairShare(t *testing.T) {
	for _, tt := range []struct{ shards, members, want int }{
		{3, 1, 3}, {3, 2, 2}, {3, 3, 1}, {3, 4, 1}, {4, 3, 2}, {10, 3, 4}, {3, 0, 3}, {0, 2, 0},
	} {
		if got := FairShare(tt.shards, tt.members); got != tt.want {
			t.Errorf("FairShare(%d, %d) = %d, want %d", tt.shards, tt.members, got, tt.want)
		}
	}
}

func TestDecide(t *testing.T) {
	free, mine, theirs, dead := State{}, State{Holder: "me", Live: true}, State{Holder: "b", Live: true}, State{Holder: "c"}
	for _, tt := range []struct {
		name string
		in   Input
		want Plan
	}{
		{"alone takes every shard", Input{Me: "me", Shards: []State{free, free, free}, Members: 1},
			Plan{Acquire: rotate([]int{0, 1, 2}, Of("me", 3))}},
		{"keeps what it holds", Input{Me: "me", Shards: []State{mine, theirs, theirs}, Members: 3},
			Plan{Keep: []int{0}}},
		{"a member joins: gives back extras", Input{Me: "me", Shards: []State{mine, mine, mine}, Members: 3},
			Plan{Keep: []int{0}, Release: []int{1, 2}}},
		{"a member died: takes its expired shard", Input{Me: "me", Shards: []State{mine, theirs, dead}, Members: 2},
			Plan{Keep: []int{0}, Acquire: []int{2}}},
		{"never takes a live shard of another", Input{Me: "me", Shards: []State{theirs, theirs, theirs}, Members: 1},
			Plan{}},
		{"holds its own lapsed lease as its own", Input{Me: "me", Shards: []State{{Holder: "me"}, theirs, theirs}, Members: 3},
			Plan{Keep: []int{0}}},
		{"no acquire while told not to", Input{Me: "me", Shards: []State{mine, free, free}, Members: 1, NoAcquire: true},
			Plan{Keep: []int{0}}},
		{"no shards", Input{Me: "me", Members: 2}, Plan{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			if got := Decide(tt.in); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("Decide = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestDecide_converges plays passes of three replicas over shared leases
// until nothing changes: each ends with exactly one shard of three, and
// after one dies the other two hold all three.
func TestDecide_converges(t *testing.T) {
	leases := make([]State, 3)
	members := []string{"kseal-controller-6d9f-a", "kseal-controller-6d9f-b", "kseal-controller-6d9f-c"}
	settle := func() {
		for range 10 {
			for _, me := range members {
				p := Decide(Input{Me: me, Shards: leases, Members: len(members)})
				for _, i := range p.Release {
					leases[i] = State{}
				}
				for _, i := range p.Acquire {
					if leases[i].Free() { // the API server lets one writer win
						leases[i] = State{Holder: me, Live: true}
					}
				}
			}
		}
	}
	held := func() map[string]int {
		m := map[string]int{}
		for _, s := range leases {
			if s.Holder != "" && s.Live {
				m[s.Holder]++
			}
		}
		return m
	}
	settle()
	if h := held(); len(h) != 3 || h[members[0]] != 1 || h[members[1]] != 1 || h[members[2]] != 1 {
		t.Fatalf("three replicas hold %v, want one shard each", h)
	}
	dead := members[2]
	members = members[:2]
	for i := range leases {
		if leases[i].Holder == dead {
			leases[i].Live = false
		}
	}
	settle()
	if h := held(); h[members[0]]+h[members[1]] != 3 || h[members[0]] == 0 || h[members[1]] == 0 {
		t.Fatalf("two replicas hold %v after one died, want all three shards between them", h)
	}
}

func rotate(s []int, by int) []int {
	return append(append([]int{}, s[by:]...), s[:by]...)
}
