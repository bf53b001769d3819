package sops_test

import (
	"testing"

	"filippo.io/age"

	"github.com/kseal-dev/kseal/crypto/sops"
	"github.com/kseal-dev/kseal/crypto/sops/sopstest"
)

// keyPair is a freshly generated age identity and its recipient.
type keyPair struct {
	name      string
	identity  age.Identity
	secret    string // the identity as text, as in a key file
	recipient string
}

func newX25519(t testing.TB) keyPair {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return keyPair{name: "x25519", identity: id, secret: id.String(), recipient: id.Recipient().String()}
}

func newHybrid(t testing.TB) keyPair {
	t.Helper()
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return keyPair{name: "pq-hybrid", identity: id, secret: id.String(), recipient: id.Recipient().String()}
}

func newDecryptor(t testing.TB, opts sops.Options, kps ...keyPair) *sops.Decryptor {
	t.Helper()
	var ids []age.Identity
	for _, kp := range kps {
		ids = append(ids, kp.identity)
	}
	d, err := sops.New(ids, opts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func encrypt(t testing.TB, plain string, f sops.Format, opts sopstest.Options) []byte {
	t.Helper()
	out, err := sopstest.Encrypt([]byte(plain), f, opts)
	if err != nil {
		t.Fatalf("encrypt %v: %v", f, err)
	}
	return out
}
