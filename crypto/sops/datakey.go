package sops

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
	"filippo.io/age/armor"
)

// maxDataKey bounds a decrypted SOPS data key (32 bytes in practice).
const maxDataKey = 1 << 10

// opening counts, for one document, why its age stanzas did or did not
// open, for the error message.
type opening struct {
	// noMatch counts age stanzas that none of the identities opened.
	noMatch int
	// failed counts age stanzas that failed for another reason (corrupt
	// armor or header).
	failed int
	// opened counts age stanzas an identity opened. Once one has, every
	// later failure is reported the same way (errUndecryptable), whatever
	// the opened plaintext was: a stanza copied from elsewhere (say a v2
	// SealedSecret value under a legacy key) must not reveal its length.
	opened int
	// oversized counts opened stanzas whose plaintext exceeded maxDataKey.
	oversized int
}

// errNoPart: no key of a group opened.
var errNoPart = errors.New("no key of the group opened")

// openStanza opens one age-encrypted data key (or Shamir part).
func (d *Decryptor) openStanza(enc string, o *opening) ([]byte, error) {
	r, err := age.Decrypt(armor.NewReader(bytes.NewReader([]byte(enc))), d.identities...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			o.noMatch++
		} else {
			o.failed++
		}
		return nil, errNoPart
	}
	o.opened++
	key, err := io.ReadAll(io.LimitReader(r, maxDataKey+1))
	if err != nil || len(key) > maxDataKey {
		clear(key)
		o.oversized++
		return nil, errUndecryptable
	}
	return key, nil
}

// openGroup opens the part of one key group: the first of its age keys
// that opens. Other keys are never used.
func (d *Decryptor) openGroup(group []masterKey, o *opening) ([]byte, error) {
	for _, k := range group {
		if k.kind != "age" {
			continue
		}
		if part, err := d.openStanza(k.enc, o); err == nil {
			return part, nil
		}
	}
	return nil, errNoPart
}

// dataKeyID fingerprints the encrypted data keys of a document, for the
// cache of opened keys.
func dataKeyID(md *metadata) [sha256.Size]byte {
	h := sha256.New()
	for _, group := range md.groups {
		for _, k := range group {
			fmt.Fprintf(h, "%s\x00%s\x00%x\x00", k.kind, k.id, k.enc)
		}
		h.Write([]byte{0xff})
	}
	var id [sha256.Size]byte
	h.Sum(id[:0])
	return id
}

// dataKey opens the document's data key with the identities held, or
// takes it from the cache. With several key groups, the parts opened are
// combined with Shamir's scheme once the threshold is met.
func (d *Decryptor) dataKey(md *metadata) ([]byte, error) {
	id := dataKeyID(md)
	d.mu.Lock()
	cached, ok := d.dataKeys[id]
	d.mu.Unlock()
	if ok {
		return cached, nil
	}
	var o opening
	var parts [][]byte
	for _, g := range md.groups {
		part, err := d.openGroup(g, &o)
		if err == nil {
			parts = append(parts, part)
		}
	}
	var key []byte
	switch {
	case len(md.groups) > 1 && len(parts) >= md.shamirThreshold:
		var err error
		if key, err = combineShares(parts); err != nil {
			if o.opened > 0 || o.oversized > 0 {
				// Opened parts that do not combine: what they hold
				// is not told apart from any other failure.
				return nil, errUndecryptable
			}
			return nil, d.keyError(md, &o)
		}
	case len(md.groups) == 1 && len(parts) == 1:
		key = parts[0]
	case o.oversized > 0:
		// An opened stanza was too large: what it holds is not told
		// apart from any other failure.
		return nil, errUndecryptable
	default:
		return nil, d.keyError(md, &o)
	}
	if len(key) != dataKeySize {
		clear(key)
		return nil, errUndecryptable
	}
	d.mu.Lock()
	if d.dataKeys == nil || len(d.dataKeys) >= maxCachedDataKeys {
		d.dataKeys = map[[sha256.Size]byte][]byte{}
	}
	d.dataKeys[id] = key
	d.mu.Unlock()
	return key, nil
}

// keyError describes why no data key was found.
func (d *Decryptor) keyError(md *metadata, o *opening) error {
	ke := &KeyError{Held: d.held}
	for _, group := range md.groups {
		for _, k := range group {
			if k.kind == "age" {
				ke.Recipients = append(ke.Recipients, k.id)
				continue
			}
			ke.OtherKeys = append(ke.OtherKeys, k.kind+": "+k.id)
		}
	}
	if o.failed > 0 && o.noMatch == 0 {
		ke.Corrupt = true
	}
	return ke
}

// combineShares rebuilds a secret from Shamir shares over GF(2^8): each
// share is the secret's bytes evaluated at one point, whose x coordinate
// is the share's last byte. Interpolating at x = 0 gives the secret.
func combineShares(shares [][]byte) ([]byte, error) {
	if len(shares) < 2 {
		return nil, errors.New("fewer than two shares")
	}
	n := len(shares[0])
	if n < 2 {
		return nil, errors.New("shares are shorter than two bytes")
	}
	xs := make([]byte, len(shares))
	seen := map[byte]bool{}
	for i, s := range shares {
		if len(s) != n {
			return nil, errors.New("shares differ in length")
		}
		x := s[n-1]
		if seen[x] {
			return nil, errors.New("two shares are for the same point")
		}
		seen[x] = true
		xs[i] = x
	}
	secret := make([]byte, n-1)
	for b := range secret {
		var acc byte
		for i, s := range shares {
			// The Lagrange basis polynomial of point i, at 0.
			basis := byte(1)
			for j := range shares {
				if j != i {
					basis = gfMul(basis, gfMul(xs[j], gfInv(xs[i]^xs[j])))
				}
			}
			acc ^= gfMul(s[b], basis)
		}
		secret[b] = acc
	}
	return secret, nil
}

// gfMul multiplies in GF(2^8) modulo x^8+x^4+x^3+x+1 (AES's field),
// without branches on the operands.
func gfMul(a, b byte) byte {
	var p byte
	for i := 0; i < 8; i++ {
		p ^= -(b & 1) & a
		a = (a << 1) ^ (-(a >> 7) & 0x1b)
		b >>= 1
	}
	return p
}

// gfInv inverts a non-zero element: a^254 (the group has 255 elements).
func gfInv(a byte) byte {
	r := byte(1)
	for e := 254; e > 0; e >>= 1 {
		if e&1 == 1 {
			r = gfMul(r, a)
		}
		a = gfMul(a, a)
	}
	return r
}
