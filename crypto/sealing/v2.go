package sealing

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
)

// v2Magic starts every v2 value. A v1 value starts with the big-endian length
// of an RSA ciphertext (0x0200 for RSA-4096), so the two cannot collide.
var v2Magic = []byte("KSL2")

// KeyIDSize is the length of a v2 key id.
const KeyIDSize = 8

// KeyID names a key generation's hybrid recipient inside v2 values.
type KeyID [KeyIDSize]byte

// String returns the key id in hex.
func (id KeyID) String() string { return hex.EncodeToString(id[:]) }

// KeyIDOf returns the key id of a hybrid recipient: the first 8 bytes of the
// SHA-256 of its "age1pq1..." string.
func KeyIDOf(r *age.HybridRecipient) KeyID {
	sum := sha256.Sum256([]byte(r.String()))
	var id KeyID
	copy(id[:], sum[:KeyIDSize])
	return id
}

// SealV2 seals plaintext to the hybrid recipient r, binding label inside the
// ciphertext.
func SealV2(r *age.HybridRecipient, label, plaintext []byte) ([]byte, error) {
	if len(plaintext) > MaxValueSize {
		return nil, &SizeError{Size: len(plaintext), Limit: MaxValueSize}
	}
	if bytes.IndexByte(label, 0) >= 0 {
		return nil, errors.New("scope label contains a zero byte")
	}
	id := KeyIDOf(r)
	var buf bytes.Buffer
	buf.Grow(len(v2Magic) + KeyIDSize + 1700 + len(label) + len(plaintext))
	buf.Write(v2Magic)
	buf.Write(id[:])
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		return nil, fmt.Errorf("age encrypt: %w", err)
	}
	if _, err := w.Write(label); err != nil {
		return nil, err
	}
	if _, err := w.Write([]byte{0}); err != nil {
		return nil, err
	}
	if _, err := w.Write(plaintext); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// IsV2 reports whether ciphertext carries the v2 magic.
func IsV2(ciphertext []byte) bool { return bytes.HasPrefix(ciphertext, v2Magic) }

// ParseV2 splits a v2 value into its key id and age file. It checks the
// framing only.
func ParseV2(ciphertext []byte) (KeyID, []byte, error) {
	var id KeyID
	if !IsV2(ciphertext) {
		return id, nil, corrupt("not a v2 value (no KSL2 magic)")
	}
	rest := ciphertext[len(v2Magic):]
	if len(rest) < KeyIDSize {
		return id, nil, corrupt("truncated: %d bytes, shorter than the key id", len(ciphertext))
	}
	copy(id[:], rest)
	if len(rest) == KeyIDSize {
		return id, nil, corrupt("truncated: no age ciphertext after the key id")
	}
	return id, rest[KeyIDSize:], nil
}

// SOPS data keys are 32 bytes, and sops wraps each Shamir share of one (key
// groups) as 33 bytes. A key whose v2 identity also serves SOPS refuses v2
// contents of these lengths: they could be a SOPS document's age stanza
// presented as a v2 value, whose "value" would be most of the data key.
const (
	sopsDataKeySize   = 32
	sopsShamirPartLen = sopsDataKeySize + 1
)

// openV2 decrypts the age file of a v2 value with k's v2 identity and returns
// the embedded label and the value. The caller compares the label. Under a
// Shared identity, contents that could be a SOPS data key are refused before
// anything of them is looked at.
func openV2(k *DecryptionKey, file []byte) (label, plaintext []byte, err error) {
	r, err := age.Decrypt(bytes.NewReader(file), k.Hybrid)
	if err != nil {
		var noMatch *age.NoIdentityMatchError
		if errors.As(err, &noMatch) {
			return nil, nil, errWrongKeyOrLabel
		}
		return nil, nil, corrupt("age header: %v", err)
	}
	data, err := io.ReadAll(io.LimitReader(r, MaxValueSize+64<<10+1))
	if err != nil {
		return nil, nil, corrupt("age payload does not authenticate (garbled or truncated)")
	}
	if k.Shared && (len(data) == sopsDataKeySize || len(data) == sopsShamirPartLen) {
		clear(data)
		return nil, nil, &LegacyKeyError{Key: k.Name}
	}
	label, plaintext, found := bytes.Cut(data, []byte{0})
	if !found {
		return nil, nil, corrupt("no scope label inside the ciphertext")
	}
	if len(plaintext) > MaxValueSize {
		return nil, nil, &SizeError{Size: len(plaintext), Limit: MaxValueSize}
	}
	return label, plaintext, nil
}
