package keys

import "github.com/kseal-dev/kseal/crypto/sealing"

// Source gives a holder's current keys: the controller's key manager, which
// the SealedSecret and SopsSecret reconcilers and the HTTP API read, or a
// fixed Set for tests and tools. Every call returns an immutable value, safe
// to use concurrently.
type Source interface {
	// Keyring returns the decryption keys, newest first.
	Keyring() *sealing.Keyring
	// Newest returns the newest key generation that has a certificate (the
	// one sealers should use), or nil while there is none.
	Newest() *Generation
}

// Set is one immutable view of key generations, ordered newest first. It is
// a Source that never changes.
type Set struct {
	keyring *sealing.Keyring
	newest  *Generation
	gens    []*Generation
}

// NewSet returns the Set of gens (in any order; the slice is not kept).
func NewSet(gens ...*Generation) *Set {
	sorted := append([]*Generation(nil), gens...)
	SortNewestFirst(sorted)
	s := &Set{keyring: Keyring(sorted), gens: sorted}
	for _, g := range sorted {
		if g.Certificate != nil {
			s.newest = g
			break
		}
	}
	return s
}

// Keyring implements Source.
func (s *Set) Keyring() *sealing.Keyring { return s.keyring }

// Newest implements Source.
func (s *Set) Newest() *Generation { return s.newest }

// Generations returns the generations, newest first. The caller must not
// modify the slice.
func (s *Set) Generations() []*Generation { return s.gens }

var _ Source = &Set{}
