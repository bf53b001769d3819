package keys_test

import (
	"strings"
	"testing"
	"time"

	"github.com/kseal-dev/kseal/crypto/keys"
)

// TestGenerate_separateSopsIdentity: a new generation has one age identity
// for v2 values and another for SOPS documents; the certificate names both,
// the key Secret holds both (immutable), and a Keyring uses only the v2 one.
func TestGenerate_separateSopsIdentity(t *testing.T) {
	g := testGeneration(t)
	if g.Sops == nil || g.Sops.Recipient().String() == g.Hybrid.Recipient().String() {
		t.Fatal("the generation has no SOPS identity of its own")
	}
	cert, err := keys.ParseCertificate(g.CertificatePEM, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r, legacy := cert.SopsRecipient()
	if legacy || r == nil || r.String() != g.Sops.Recipient().String() {
		t.Fatalf("certificate SOPS recipient: legacy=%v", legacy)
	}
	s := g.Secret("kseal-system")
	if s.Immutable == nil || !*s.Immutable {
		t.Error("key Secret is not immutable")
	}
	if strings.TrimSpace(string(s.Data[keys.SecretKeySops])) != g.Sops.String() {
		t.Errorf("key Secret has no %s", keys.SecretKeySops)
	}
	back, err := keys.FromSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	dk := back.DecryptionKey()
	if dk.Shared || dk.Hybrid.String() != g.Hybrid.String() || dk.Sops.String() != g.Sops.String() {
		t.Errorf("decryption key: shared=%v, identities not the generation's", dk.Shared)
	}
}

// TestGenerate_sharedIdentity: a generation made as older kseal made them
// (one identity) keeps its identity for both purposes and is marked Shared.
func TestGenerate_sharedIdentity(t *testing.T) {
	g, err := keys.Generate(keys.GenerateOptions{Name: "legacy", RSABits: 1024, SharedIdentity: true})
	if err != nil {
		t.Fatal(err)
	}
	s := g.Secret("ns")
	if _, ok := s.Data[keys.SecretKeySops]; ok {
		t.Fatal("legacy Secret has a SOPS identity")
	}
	back, err := keys.FromSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	if r, legacy := back.Certificate.SopsRecipient(); !legacy || r.String() != g.Hybrid.Recipient().String() {
		t.Errorf("legacy certificate SOPS recipient: legacy=%v", legacy)
	}
	dk := back.DecryptionKey()
	if !dk.Shared || dk.Sops != back.Hybrid {
		t.Errorf("legacy decryption key: shared=%v", dk.Shared)
	}
	// An identity file line does not say its purpose: treated as shared.
	dks, err := keys.ParsePrivateKeys("id.txt", []byte(g.Hybrid.String()+"\n"))
	if err != nil || !dks[0].Shared {
		t.Errorf("identity file key: %v shared=%v", err, err == nil && dks[0].Shared)
	}
}

func TestFromSecret_sopsIdentityErrors(t *testing.T) {
	g := testGeneration(t)
	other, err := keys.Generate(keys.GenerateOptions{Name: "other", RSABits: 1024})
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]struct {
		mutate func(d map[string][]byte)
		want   string
	}{
		"missing":         {func(d map[string][]byte) { delete(d, keys.SecretKeySops) }, "no sops.agekey"},
		"same as age.key": {func(d map[string][]byte) { d[keys.SecretKeySops] = d[keys.SecretKeyAge] }, "must differ"},
		"mismatched":      {func(d map[string][]byte) { d[keys.SecretKeySops] = []byte(other.Sops.String()) }, "does not match the SOPS recipient"},
		"garbage":         {func(d map[string][]byte) { d[keys.SecretKeySops] = []byte("AGE-SECRET-KEY-PQ-1XYZ") }, "not an age hybrid identity"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			s := g.Secret("ns")
			tt.mutate(s.Data)
			_, err := keys.FromSecret(s)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
			if strings.Contains(err.Error(), "AGE-SECRET-KEY-PQ-1") && name != "garbage" {
				t.Errorf("error leaks key material: %v", err)
			}
		})
	}
}
