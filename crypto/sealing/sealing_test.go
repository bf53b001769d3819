package sealing_test

import (
	"bytes"
	"crypto/rand"
	"crypto/rsa"
	"errors"
	"strings"
	"sync"
	"testing"

	"filippo.io/age"

	"github.com/kseal-dev/kseal/crypto/sealing"
)

// testKey is one generation for tests; RSA-2048 keeps them fast, the format
// does not depend on the modulus size.
type testKey struct {
	rsa    *rsa.PrivateKey
	hybrid *age.HybridIdentity
}

var (
	keysOnce sync.Once
	keyA     testKey
	keyB     testKey
)

func keys(t testing.TB) (testKey, testKey) {
	t.Helper()
	keysOnce.Do(func() {
		for _, k := range []*testKey{&keyA, &keyB} {
			r, err := rsa.GenerateKey(rand.Reader, 2048)
			if err != nil {
				panic(err)
			}
			h, err := age.GenerateHybridIdentity()
			if err != nil {
				panic(err)
			}
			*k = testKey{r, h}
		}
	})
	return keyA, keyB
}

func (k testKey) public() *sealing.PublicKey {
	return &sealing.PublicKey{RSA: &k.rsa.PublicKey, Hybrid: k.hybrid.Recipient()}
}

func (k testKey) decryption(name string) *sealing.DecryptionKey {
	return sealing.NewDecryptionKey(name, k.rsa, k.hybrid)
}

func TestPublicKey_Seal_roundTrip(t *testing.T) {
	a, b := keys(t)
	kr := sealing.NewKeyring(b.decryption("b"), a.decryption("a"))
	values := [][]byte{
		{},
		[]byte("s3cr3t"),
		{0x00, 0xff, 0xfe, 0x80, 0x00},
		bytes.Repeat([]byte("x"), sealing.MaxValueSize),
	}
	for _, v := range []sealing.Version{sealing.V1, sealing.V2} {
		for _, label := range []string{"ns/name", "ns", ""} {
			for _, value := range values {
				ct, err := a.public().Seal(v, []byte(label), value)
				if err != nil {
					t.Fatalf("%v seal: %v", v, err)
				}
				if got := sealing.IsV2(ct); got != (v == sealing.V2) {
					t.Errorf("%v: IsV2 = %v", v, got)
				}
				pt, key, err := kr.Open(ct, []byte(label), sealing.OpenOptions{})
				if err != nil {
					t.Fatalf("%v open label %q: %v", v, label, err)
				}
				if !bytes.Equal(pt, value) || key.Name != "a" {
					t.Errorf("%v label %q: got %d bytes from key %s, want %d bytes from a", v, label, len(pt), key.Name, len(value))
				}
			}
		}
	}
}

func TestSealV1_format(t *testing.T) {
	a, _ := keys(t)
	ct, err := sealing.SealV1(&a.rsa.PublicKey, []byte("ns/n"), []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	// uint16 length of the RSA ciphertext, then 256 bytes for RSA-2048, then
	// the 5-byte value and the 16-byte GCM tag.
	if ct[0] != 0x01 || ct[1] != 0x00 || len(ct) != 2+256+5+16 {
		t.Errorf("unexpected v1 framing: prefix %x, length %d", ct[:2], len(ct))
	}
}

func TestSealV2_format(t *testing.T) {
	a, _ := keys(t)
	ct, err := sealing.SealV2(a.hybrid.Recipient(), []byte("ns/n"), []byte("hello"))
	if err != nil {
		t.Fatal(err)
	}
	id, file, err := sealing.ParseV2(ct)
	if err != nil {
		t.Fatal(err)
	}
	if id != sealing.KeyIDOf(a.hybrid.Recipient()) {
		t.Errorf("key id %s, want %s", id, sealing.KeyIDOf(a.hybrid.Recipient()))
	}
	if !bytes.HasPrefix(file, []byte("age-encryption.org/v1\n")) {
		t.Errorf("v2 payload is not an age file")
	}
	if bytes.Contains(ct, []byte("hello")) {
		t.Errorf("plaintext visible in ciphertext")
	}
}

func TestKeyring_Open_errors(t *testing.T) {
	a, b := keys(t)
	onlyB := sealing.NewKeyring(b.decryption("b"))
	both := sealing.NewKeyring(b.decryption("b"), a.decryption("a"))
	secret := []byte("do-not-leak-this-value")
	alternatives := [][]byte{[]byte("ns"), nil}

	for _, v := range []sealing.Version{sealing.V1, sealing.V2} {
		ct, err := a.public().Seal(v, []byte("ns/name"), secret)
		if err != nil {
			t.Fatal(err)
		}
		nsWide, err := a.public().Seal(v, []byte("ns"), secret)
		if err != nil {
			t.Fatal(err)
		}
		garbled := bytes.Clone(ct)
		garbled[len(garbled)-3] ^= 0x40
		tests := []struct {
			name  string
			kr    *sealing.Keyring
			ct    []byte
			label string
			want  error
			text  string
		}{
			{"wrong key", onlyB, ct, "ns/name", sealing.ErrUnknownKey, "unknown key"},
			{"moved to another namespace", both, ct, "other/name", sealing.ErrScopeMismatch, ""},
			{"other scope for the same object", both, nsWide, "ns/name", sealing.ErrScopeMismatch, `namespace-wide scope in namespace "ns"`},
			{"truncated", both, ct[:len(ct)/2], "ns/name", sealing.ErrCorrupt, "corrupt input"},
			{"garbled payload", both, garbled, "ns/name", sealing.ErrCorrupt, "corrupt input"},
			{"empty", both, nil, "ns/name", sealing.ErrCorrupt, "truncated"},
		}
		for _, tt := range tests {
			t.Run(v.String()+"/"+tt.name, func(t *testing.T) {
				if v == sealing.V1 && tt.name == "moved to another namespace" {
					// v1 cannot tell a moved strict value from an unknown key:
					// RSA-OAEP gives no oracle on the label.
					tt.want, tt.text = sealing.ErrUnknownKey, `strict scope for namespace "other" and name "name"`
				}
				pt, _, err := tt.kr.Open(tt.ct, []byte(tt.label), sealing.OpenOptions{Alternatives: alternatives})
				if err == nil {
					t.Fatalf("opened with %d bytes, want error", len(pt))
				}
				if !errors.Is(err, tt.want) {
					t.Errorf("error %q does not match %v", err, tt.want)
				}
				if !strings.Contains(err.Error(), tt.text) {
					t.Errorf("error %q does not contain %q", err, tt.text)
				}
				if strings.Contains(err.Error(), string(secret)) {
					t.Errorf("error leaks the plaintext: %q", err)
				}
			})
		}
	}
}

func TestKeyring_Open_v2ScopeMismatchNamesBothLabels(t *testing.T) {
	a, _ := keys(t)
	ct, err := a.public().Seal(sealing.V2, []byte("prod/db"), []byte("x"))
	if err != nil {
		t.Fatal(err)
	}
	_, _, err = sealing.NewKeyring(a.decryption("a")).Open(ct, []byte("dev/db"), sealing.OpenOptions{})
	want := `scope mismatch: sealed for strict scope for namespace "prod" and name "db", but this object requires strict scope for namespace "dev" and name "db"`
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("got %v, want prefix %q", err, want)
	}
}

func TestKeyring_Open_prefer(t *testing.T) {
	a, b := keys(t)
	kr := sealing.NewKeyring(b.decryption("b"), a.decryption("a"))
	ct, err := a.public().Seal(sealing.V1, nil, []byte("v"))
	if err != nil {
		t.Fatal(err)
	}
	for _, prefer := range []string{"", "a", "b", "missing"} {
		_, k, err := kr.Open(ct, nil, sealing.OpenOptions{Prefer: prefer})
		if err != nil || k.Name != "a" {
			t.Errorf("prefer %q: key %v, err %v", prefer, k, err)
		}
	}
}

func TestKeyring_Open_v1OnlyKeys(t *testing.T) {
	// A key imported from sealed-secrets has no hybrid identity: v2 values
	// are unknown to it, v1 values open.
	a, _ := keys(t)
	kr := sealing.NewKeyring(sealing.NewDecryptionKey("bitnami", a.rsa, nil))
	v2, _ := a.public().Seal(sealing.V2, nil, []byte("v"))
	if _, _, err := kr.Open(v2, nil, sealing.OpenOptions{}); !errors.Is(err, sealing.ErrUnknownKey) {
		t.Errorf("v2 with RSA-only keyring: %v", err)
	}
	v1, _ := a.public().Seal(sealing.V1, nil, []byte("v"))
	if _, _, err := kr.Open(v1, nil, sealing.OpenOptions{}); err != nil {
		t.Errorf("v1: %v", err)
	}
}

func TestSeal_oversized(t *testing.T) {
	a, _ := keys(t)
	big := make([]byte, sealing.MaxValueSize+1)
	for _, v := range []sealing.Version{sealing.V1, sealing.V2} {
		_, err := a.public().Seal(v, nil, big)
		var se *sealing.SizeError
		if !errors.As(err, &se) {
			t.Errorf("%v: got %v, want SizeError", v, err)
		}
	}
}

func TestSealV2_labelWithZeroByte(t *testing.T) {
	a, _ := keys(t)
	if _, err := sealing.SealV2(a.hybrid.Recipient(), []byte("a\x00b"), nil); err == nil {
		t.Error("label with a zero byte was accepted")
	}
}
