package keys_test

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kseal-dev/kseal/crypto/keys"
)

func FuzzParseRecipientExtension(f *testing.F) {
	g := testGeneration(f)
	ext, err := keys.MarshalRecipientExtension(g.Hybrid.Recipient())
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ext)
	f.Add([]byte{0x0c, 0x00})
	f.Fuzz(func(t *testing.T, der []byte) {
		r, err := keys.ParseRecipientExtension(der)
		if err != nil {
			return
		}
		// Whatever parses re-encodes to a value that parses to the same recipient.
		again, err := keys.MarshalRecipientExtension(r)
		if err != nil {
			t.Fatal(err)
		}
		r2, err := keys.ParseRecipientExtension(again)
		if err != nil || r2.String() != r.String() {
			t.Fatalf("re-encoded extension does not round-trip: %v", err)
		}
	})
}

func FuzzParseCertificate(f *testing.F) {
	g := testGeneration(f)
	f.Add(g.CertificatePEM)
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := keys.ParseCertificate(data, time.Time{})
		if err == nil && c.PublicKey.RSA == nil {
			t.Fatal("accepted a certificate without an RSA key")
		}
	})
}

func FuzzFromSecret(f *testing.F) {
	g := testGeneration(f)
	s := g.Secret("ns")
	f.Add(s.Data[keys.SecretKeyTLSKey], s.Data[keys.SecretKeyTLSCert], s.Data[keys.SecretKeyAge], s.Data[keys.SecretKeySops])
	f.Add([]byte("-----BEGIN RSA PRIVATE KEY-----\n-----END RSA PRIVATE KEY-----\n"), []byte{}, []byte("AGE-SECRET-KEY-PQ-1"), []byte{})
	f.Fuzz(func(t *testing.T, key, cert, ageKey, sopsKey []byte) {
		g, err := keys.FromSecret(&corev1.Secret{Data: map[string][]byte{
			keys.SecretKeyTLSKey: key, keys.SecretKeyTLSCert: cert, keys.SecretKeyAge: ageKey, keys.SecretKeySops: sopsKey,
		}})
		// Whatever loads never has one identity for both purposes unless
		// it is marked as such.
		if err == nil && g.Sops != nil && g.Hybrid != nil && g.Sops.Recipient().String() == g.Hybrid.Recipient().String() {
			t.Fatal("loaded a generation whose SOPS identity is its v2 identity")
		}
	})
}

func FuzzParsePrivateKeys(f *testing.F) {
	g := testGeneration(f)
	f.Add(g.PrivateKeyPEM())
	f.Add([]byte(g.Hybrid.String()))
	f.Add([]byte("apiVersion: v1\nkind: List\nitems:\n- kind: Secret\n  data:\n    tls.key: AAAA\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		_, _ = keys.ParsePrivateKeys("fuzz", data)
	})
}
