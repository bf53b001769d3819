package sealing

import (
	"bytes"
	"crypto/rsa"
	"errors"
	"fmt"

	"filippo.io/age"
)

// PublicKey is what a sealer needs: the RSA key for v1 and the hybrid
// recipient for v2. Either may be nil if that format is not wanted.
type PublicKey struct {
	// RSA seals v1 values.
	RSA *rsa.PublicKey
	// Hybrid seals v2 values.
	Hybrid *age.HybridRecipient
}

// Seal seals plaintext under label in format v.
func (pk *PublicKey) Seal(v Version, label, plaintext []byte) ([]byte, error) {
	switch v {
	case V1:
		if pk.RSA == nil {
			return nil, errors.New("seal v1: no RSA public key")
		}
		return SealV1(pk.RSA, label, plaintext)
	case V2:
		if pk.Hybrid == nil {
			return nil, errors.New("seal v2: the certificate carries no age hybrid recipient")
		}
		return SealV2(pk.Hybrid, label, plaintext)
	}
	return nil, fmt.Errorf("unknown format version %d", v)
}

// DecryptionKey is one key generation's private half.
type DecryptionKey struct {
	// Name says where the key came from (a Secret name or a file), for
	// messages and for remembering which key opened an object.
	Name string
	// RSA opens v1 values; nil for a key without one.
	RSA *rsa.PrivateKey
	// Hybrid opens v2 values; nil for keys imported from sealed-secrets.
	// Keyring.Open uses it and nothing else for v2.
	Hybrid *age.HybridIdentity
	// Sops opens SOPS documents; the Keyring never uses it. It is a
	// separate identity in generations made by current kseal, and the same
	// as Hybrid in older ones (Shared).
	Sops *age.HybridIdentity
	// Shared says that Hybrid also serves SOPS (a generation made before
	// kseal separated the purposes, or an identity of unknown purpose from
	// a recovery file). Open then refuses v2 values whose content has the
	// length of a SOPS data key, which could be a SOPS document's key
	// wrapped as a v2 value (LegacyKeyError).
	Shared bool
	// ID is the key id of Hybrid; zero when Hybrid is nil.
	ID KeyID
}

// NewDecryptionKey builds a DecryptionKey and computes its key id.
func NewDecryptionKey(name string, rsaKey *rsa.PrivateKey, hybrid *age.HybridIdentity) *DecryptionKey {
	k := &DecryptionKey{Name: name, RSA: rsaKey, Hybrid: hybrid}
	if hybrid != nil {
		k.ID = KeyIDOf(hybrid.Recipient())
	}
	return k
}

// Keyring holds the decryption keys of a cluster, newest first. It is
// immutable once built and safe for concurrent use.
type Keyring struct {
	keys   []*DecryptionKey
	byID   map[KeyID]*DecryptionKey
	rsa    int
	hybrid int
}

// NewKeyring builds a keyring from keys ordered newest first.
func NewKeyring(keys ...*DecryptionKey) *Keyring {
	kr := &Keyring{keys: keys, byID: map[KeyID]*DecryptionKey{}}
	for _, k := range keys {
		if k.RSA != nil {
			kr.rsa++
		}
		if k.Hybrid != nil {
			kr.hybrid++
			if _, dup := kr.byID[k.ID]; !dup {
				kr.byID[k.ID] = k
			}
		}
	}
	return kr
}

// Keys returns the keys, newest first.
func (kr *Keyring) Keys() []*DecryptionKey { return kr.keys }

// OpenOptions tunes Keyring.Open.
type OpenOptions struct {
	// Prefer names the key to try first for v1 values (the key that opened
	// the object last time), saving RSA operations.
	Prefer string
	// Alternatives are other labels tried for v1 values only after every key
	// failed, so the error can say "scope mismatch" instead of "unknown key"
	// when the value was sealed with another scope for the same object.
	Alternatives [][]byte
}

// Open decrypts one sealed value (decoded from base64) that must be bound to
// label. It returns the plaintext and the key that opened it, or an error that
// matches ErrUnknownKey, ErrScopeMismatch or ErrCorrupt and never contains
// plaintext.
func (kr *Keyring) Open(ciphertext, label []byte, opts OpenOptions) ([]byte, *DecryptionKey, error) {
	if len(ciphertext) > maxCiphertextSize {
		return nil, nil, &SizeError{Size: len(ciphertext), Limit: maxCiphertextSize}
	}
	if IsV2(ciphertext) {
		return kr.openV2(ciphertext, label)
	}
	return kr.openV1(ciphertext, label, opts)
}

func (kr *Keyring) openV2(ciphertext, label []byte) ([]byte, *DecryptionKey, error) {
	id, file, err := ParseV2(ciphertext)
	if err != nil {
		return nil, nil, err
	}
	k, ok := kr.byID[id]
	if !ok {
		return nil, nil, &UnknownKeyError{Version: V2, KeyID: id, Keys: kr.hybrid, Label: label}
	}
	found, plaintext, err := openV2(k, file)
	if errors.Is(err, errWrongKeyOrLabel) {
		// The key id matched but the age stanza did not: the id was altered.
		return nil, nil, corrupt("the key id names key %s but its identity does not open the value", id)
	}
	if err != nil {
		return nil, nil, err
	}
	if !bytes.Equal(found, label) {
		clear(plaintext)
		return nil, nil, &ScopeMismatchError{Expected: label, Found: found}
	}
	return plaintext, k, nil
}

func (kr *Keyring) openV1(ciphertext, label []byte, opts OpenOptions) ([]byte, *DecryptionKey, error) {
	if _, _, err := v1Parts(ciphertext); err != nil {
		return nil, nil, err
	}
	order := kr.v1Order(opts.Prefer)
	for _, k := range order {
		plaintext, err := openV1(k.RSA, label, ciphertext)
		if errors.Is(err, errWrongKeyOrLabel) {
			continue
		}
		return plaintext, k, err
	}
	for _, alt := range opts.Alternatives {
		if bytes.Equal(alt, label) {
			continue
		}
		for _, k := range order {
			plaintext, err := openV1(k.RSA, alt, ciphertext)
			if err == nil {
				clear(plaintext)
				return nil, nil, &ScopeMismatchError{Expected: label, Found: alt}
			}
		}
	}
	return nil, nil, &UnknownKeyError{Version: V1, Keys: kr.rsa, Label: label}
}

// v1Order lists the RSA keys with the preferred one first.
func (kr *Keyring) v1Order(prefer string) []*DecryptionKey {
	order := make([]*DecryptionKey, 0, kr.rsa)
	for _, k := range kr.keys {
		if k.RSA != nil && prefer != "" && k.Name == prefer {
			order = append(order, k)
		}
	}
	for _, k := range kr.keys {
		if k.RSA != nil && (prefer == "" || k.Name != prefer) {
			order = append(order, k)
		}
	}
	return order
}
