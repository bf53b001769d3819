// Package shard holds the pure rules by which kseal replicas split their
// work: which shard an object belongs to (Of), how many shards one replica
// may hold (FairShare), and what a replica does with the shard Leases it
// sees on one pass (Decide). The Leases themselves (coordination.k8s.io)
// are read and written by the controllers package; nothing here talks to
// the API server or reads a clock.
//
// An object's shard is a stable hash of its namespace, so every object of
// one namespace (its SealedSecrets, ExternalSecrets and the SecretStore
// they use) is reconciled by one replica: provider batching and rollout
// restart batching stay per store and per namespace, as with one replica.
package shard

import "hash/fnv"

// Of returns the shard, in [0, n), of the objects of namespace: FNV-1a
// (32-bit) of the namespace name, modulo n. It never changes between
// versions of kseal, so replicas of different versions agree; n <= 1 gives
// shard 0.
func Of(namespace string, n int) int {
	if n <= 1 {
		return 0
	}
	h := fnv.New32a()
	_, _ = h.Write([]byte(namespace))
	return int(h.Sum32() % uint32(n))
}

// FairShare is the most shards one of members live replicas holds:
// ceil(shards / members). A replica always counts itself, so members < 1
// counts as 1.
func FairShare(shards, members int) int {
	members = max(members, 1)
	return (shards + members - 1) / members
}

// State is what a replica sees of one shard's Lease.
type State struct {
	// Holder is the Lease's holderIdentity; "" when the Lease does not
	// exist or was released.
	Holder string
	// Live reports whether the holder renewed the Lease within its
	// duration, as observed by this replica's own clock (the time it last
	// saw the Lease change, as Kubernetes leader election does).
	Live bool
}

// Free reports whether the shard may be taken: nobody holds it, or its
// holder stopped renewing.
func (s State) Free() bool { return s.Holder == "" || !s.Live }

// Input is one replica's view on one pass.
type Input struct {
	// Me is this replica's identity.
	Me string
	// Shards is the state of each shard's Lease, by shard index.
	Shards []State
	// Members is the number of live replicas, this one included.
	Members int
	// NoAcquire forbids taking shards on this pass (a replica that sees a
	// live Lease made for another shard count, or one that just started
	// and has not been seen by the others yet).
	NoAcquire bool
}

// Plan is what the replica does on this pass. Every index appears in at
// most one list.
type Plan struct {
	// Keep are shards this replica holds and renews.
	Keep []int
	// Release are shards this replica holds beyond its fair share: it
	// stops reconciling them, then clears their holder so another replica
	// takes them at once.
	Release []int
	// Acquire are free shards this replica tries to take (the API
	// server's optimistic concurrency decides between replicas that try
	// the same one).
	Acquire []int
}

// Decide returns the plan for in: keep up to the fair share of the shards
// already held (lowest indexes first), release the rest, and try to take
// free shards up to the fair share. The free shards are tried starting at
// an offset derived from Me, so replicas that start together tend to reach
// for different shards.
func Decide(in Input) Plan {
	n := len(in.Shards)
	share := FairShare(n, in.Members)
	var p Plan
	for i, s := range in.Shards {
		if s.Holder != in.Me {
			continue
		}
		if len(p.Keep) < share {
			p.Keep = append(p.Keep, i)
		} else {
			p.Release = append(p.Release, i)
		}
	}
	if in.NoAcquire || n == 0 {
		return p
	}
	start := Of(in.Me, n)
	for k := range n {
		if len(p.Keep)+len(p.Acquire) >= share {
			break
		}
		i := (start + k) % n
		if s := in.Shards[i]; s.Holder != in.Me && s.Free() {
			p.Acquire = append(p.Acquire, i)
		}
	}
	return p
}
