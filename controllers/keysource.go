// Package controllers holds kseal's reconcilers and the controller's HTTP
// API: the key manager (cluster key generations), the SealedSecret
// reconciler, and the API the CLI talks to. Setup wires them into a
// controller-runtime manager; cmd/kseal-controller only parses flags.
package controllers

import (
	"sync/atomic"

	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sealing"
)

// KeySource gives the controller's current keys. The key manager implements
// it; every call returns an immutable snapshot, safe to use concurrently.
type KeySource interface {
	// Keyring returns the decryption keys, newest first.
	Keyring() *sealing.Keyring
	// Newest returns the newest key generation that has a certificate (the
	// one sealers should use), or nil while there is none.
	Newest() *keys.Generation
}

// keySnapshot is one immutable view of the key generations.
type keySnapshot struct {
	keyring *sealing.Keyring
	newest  *keys.Generation
	gens    []*keys.Generation
}

func newKeySnapshot(gens []*keys.Generation) *keySnapshot {
	sorted := append([]*keys.Generation(nil), gens...)
	keys.SortNewestFirst(sorted)
	s := &keySnapshot{keyring: keys.Keyring(sorted), gens: sorted}
	for _, g := range sorted {
		if g.Certificate != nil {
			s.newest = g
			break
		}
	}
	return s
}

// StaticKeys is a KeySource over a fixed set of generations, for the CLI's
// tests and for tools that serve the API without a cluster.
type StaticKeys struct {
	snap atomic.Pointer[keySnapshot]
}

// NewStaticKeys returns a KeySource over gens (in any order).
func NewStaticKeys(gens ...*keys.Generation) *StaticKeys {
	s := &StaticKeys{}
	s.snap.Store(newKeySnapshot(gens))
	return s
}

// Keyring implements KeySource.
func (s *StaticKeys) Keyring() *sealing.Keyring { return s.snap.Load().keyring }

// Newest implements KeySource.
func (s *StaticKeys) Newest() *keys.Generation { return s.snap.Load().newest }

var _ KeySource = &StaticKeys{}
