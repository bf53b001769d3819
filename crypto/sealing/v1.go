package sealing

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"sync/atomic"
)

const (
	sessionKeySize = 32
	gcmOverhead    = 16
)

// SealV1 seals plaintext for the holder of the RSA key pub under label, in
// the sealed-secrets format.
func SealV1(pub *rsa.PublicKey, label, plaintext []byte) ([]byte, error) {
	if len(plaintext) > MaxValueSize {
		return nil, &SizeError{Size: len(plaintext), Limit: MaxValueSize}
	}
	sessionKey := make([]byte, sessionKeySize)
	if _, err := rand.Read(sessionKey); err != nil {
		return nil, err
	}
	wrapped, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, sessionKey, label)
	if err != nil {
		return nil, fmt.Errorf("wrap session key: %w", err)
	}
	if len(wrapped) > 0xffff {
		return nil, errors.New("wrap session key: RSA key too large")
	}
	aead, err := newGCM(sessionKey)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 2, 2+len(wrapped)+len(plaintext)+gcmOverhead)
	binary.BigEndian.PutUint16(out, uint16(len(wrapped)))
	out = append(out, wrapped...)
	// The session key is fresh for every value, so the zero nonce is never reused.
	out = aead.Seal(out, make([]byte, aead.NonceSize()), plaintext, nil)
	return out, nil
}

// v1Parts splits a v1 ciphertext into the wrapped session key and the GCM
// ciphertext. It checks only the framing.
func v1Parts(ciphertext []byte) (wrapped, sealed []byte, err error) {
	if len(ciphertext) < 2 {
		return nil, nil, corrupt("truncated: %d bytes, shorter than the length prefix", len(ciphertext))
	}
	n := int(binary.BigEndian.Uint16(ciphertext))
	if n == 0 {
		return nil, nil, corrupt("RSA ciphertext length is zero")
	}
	if len(ciphertext) < 2+n+gcmOverhead {
		return nil, nil, corrupt("truncated: %d bytes, the header announces %d bytes of RSA ciphertext plus a %d-byte tag", len(ciphertext), n, gcmOverhead)
	}
	return ciphertext[2 : 2+n], ciphertext[2+n:], nil
}

// rsaOperations counts RSA-OAEP decryptions, the cost of format v1.
var rsaOperations atomic.Uint64

// RSAOperations returns how many RSA-OAEP decryptions this process has
// made (for the controller's metrics).
func RSAOperations() uint64 { return rsaOperations.Load() }

// openV1 opens a v1 ciphertext with one RSA key. It returns errWrongKeyOrLabel
// when RSA-OAEP rejects the session key (the two cannot be told apart), and a
// CorruptError when the key unwrapped but the value does not authenticate.
func openV1(priv *rsa.PrivateKey, label, ciphertext []byte) ([]byte, error) {
	wrapped, sealed, err := v1Parts(ciphertext)
	if err != nil {
		return nil, err
	}
	if len(wrapped) != priv.Size() {
		return nil, errWrongKeyOrLabel
	}
	rsaOperations.Add(1)
	sessionKey, err := rsa.DecryptOAEP(sha256.New(), nil, priv, wrapped, label)
	if err != nil || len(sessionKey) != sessionKeySize {
		return nil, errWrongKeyOrLabel
	}
	aead, err := newGCM(sessionKey)
	if err != nil {
		return nil, err
	}
	plaintext, err := aead.Open(nil, make([]byte, aead.NonceSize()), sealed, nil)
	if err != nil {
		return nil, corrupt("the value does not authenticate (garbled or truncated after the key header)")
	}
	if len(plaintext) > MaxValueSize {
		return nil, &SizeError{Size: len(plaintext), Limit: MaxValueSize}
	}
	return plaintext, nil
}

func newGCM(key []byte) (cipher.AEAD, error) {
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}
