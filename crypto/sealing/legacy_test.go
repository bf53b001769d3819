package sealing_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/kseal-dev/kseal/crypto/sealing"
)

// sopsStanzaAsV2 wraps content with age to r, as SOPS wraps a data key for
// an age recipient, and frames it as a v2 value naming r's key id: what an
// attacker builds from a SOPS document's age stanza.
func sopsStanzaAsV2(t *testing.T, r *age.HybridRecipient, content []byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := age.Encrypt(&buf, r)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(content)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	id := sealing.KeyIDOf(r)
	return append(append([]byte("KSL2"), id[:]...), buf.Bytes()...)
}

// TestKeyring_Open_sharedIdentityRefusesDataKeys: under a legacy key whose
// v2 identity also opens SOPS documents, a v2 value whose content has the
// length of a SOPS data key (32 bytes) or of a Shamir share of one (33) is
// refused before its label or value is looked at: otherwise a cluster-wide
// "SealedSecret" made of a SOPS stanza whose data key starts with 0x00 would
// unseal to the rest of the data key.
func TestKeyring_Open_sharedIdentityRefusesDataKeys(t *testing.T) {
	a, _ := keys(t)
	shared := a.decryption("legacy")
	shared.Sops, shared.Shared = a.hybrid, true
	separate := a.decryption("current")
	kr := sealing.NewKeyring(shared)

	dataKey := append([]byte{0}, bytes.Repeat([]byte{0xab}, 31)...)
	_, _, err := kr.Open(sopsStanzaAsV2(t, a.hybrid.Recipient(), dataKey), nil, sealing.OpenOptions{})
	var legacy *sealing.LegacyKeyError
	if !errors.As(err, &legacy) || !errors.Is(err, sealing.ErrLegacyAmbiguous) || !errors.Is(err, sealing.ErrCorrupt) {
		t.Fatalf("a SOPS data key presented as a cluster-wide v2 value: err = %v, want LegacyKeyError", err)
	}
	if !strings.Contains(err.Error(), "seal the value again") {
		t.Errorf("message does not say what to do: %v", err)
	}
	if strings.Contains(err.Error(), "\xab") {
		t.Error("message holds plaintext")
	}

	pk := &sealing.PublicKey{Hybrid: a.hybrid.Recipient()}
	for _, tt := range []struct {
		label string
		value int
		ok    bool
	}{
		{"", 31, false},        // content 32 bytes
		{"", 32, false},        // 33: a Shamir share
		{"ns", 29, false},      // "ns\x00" + 29
		{"", 30, true},         // 31
		{"", 33, true},         // 34
		{"ns/name", 100, true}, // ordinary values keep opening
	} {
		ct, err := pk.Seal(sealing.V2, []byte(tt.label), bytes.Repeat([]byte{'v'}, tt.value))
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = kr.Open(ct, []byte(tt.label), sealing.OpenOptions{})
		if (err == nil) != tt.ok {
			t.Errorf("label %q, %d-byte value under a shared key: err = %v, want ok=%v", tt.label, tt.value, err, tt.ok)
		}
		// A key of a current generation (v2 identity for v2 only) opens all.
		if _, _, err := sealing.NewKeyring(separate).Open(ct, []byte(tt.label), sealing.OpenOptions{}); err != nil {
			t.Errorf("label %q, %d-byte value under a v2-only key: %v", tt.label, tt.value, err)
		}
	}
}
