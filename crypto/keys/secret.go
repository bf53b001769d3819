package keys

import (
	"bytes"
	"crypto/rsa"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"sort"
	"strings"
	"time"

	"filippo.io/age"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/sealing"
)

// Data keys of a key-generation Secret.
const (
	// SecretKeyTLSKey holds the RSA private key (PKCS#1 PEM).
	SecretKeyTLSKey = corev1.TLSPrivateKeyKey
	// SecretKeyTLSCert holds the certificate PEM.
	SecretKeyTLSCert = corev1.TLSCertKey
	// SecretKeyAge holds the age hybrid identity (AGE-SECRET-KEY-PQ-1...).
	SecretKeyAge = "age.key"
	// SecretKeySops holds the age hybrid identity for SOPS documents
	// (AGE-SECRET-KEY-PQ-1...). The .agekey suffix is the one Flux's
	// decryption Secrets use. Generations made before kseal separated the
	// purposes have none; their age.key opens SOPS documents too.
	SecretKeySops = "sops.agekey"
)

// maxKeyMaterial bounds each key field read from a Secret or file.
const maxKeyMaterial = 64 << 10

// Secret encodes the generation as a kseal key Secret in namespace: type
// kubernetes.io/tls, labelled kseal.dev/sealing-key=active, and immutable:
// key material never changes once written (labels, which are metadata,
// still can, so a generation can be relabelled).
func (g *Generation) Secret(namespace string) *corev1.Secret {
	immutable := true
	s := &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{
			Name:      g.Name,
			Namespace: namespace,
			Labels:    map[string]string{v1alpha1.LabelSealingKey: "active"},
		},
		Type:      corev1.SecretTypeTLS,
		Immutable: &immutable,
		Data: map[string][]byte{
			SecretKeyTLSKey:  g.PrivateKeyPEM(),
			SecretKeyTLSCert: g.CertificatePEM,
			SecretKeyAge:     []byte(g.Hybrid.String() + "\n"),
		},
	}
	if g.Sops != nil {
		s.Data[SecretKeySops] = []byte(g.Sops.String() + "\n")
	}
	return s
}

// IsKeySecret reports whether s is labelled as an active key generation,
// kseal's or sealed-secrets'.
func IsKeySecret(s *corev1.Secret) bool {
	return s.Labels[v1alpha1.LabelSealingKey] == "active" || s.Labels[v1alpha1.LabelBitnamiSealingKey] == "active"
}

// FromSecret reads a key generation from a Secret: kseal's (tls.key, tls.crt,
// age.key) or sealed-secrets' (tls.key, tls.crt only; the generation then has
// no hybrid identity and opens only v1 values). Errors name the Secret and
// the field, never key material.
func FromSecret(s *corev1.Secret) (*Generation, error) {
	name := s.Namespace + "/" + s.Name
	if s.Namespace == "" {
		name = s.Name
	}
	keyPEM, certPEM := s.Data[SecretKeyTLSKey], s.Data[SecretKeyTLSCert]
	if len(keyPEM) == 0 {
		return nil, fmt.Errorf("key Secret %s: no %s", name, SecretKeyTLSKey)
	}
	if len(keyPEM) > maxKeyMaterial || len(certPEM) > maxKeyMaterial || len(s.Data[SecretKeyAge]) > maxKeyMaterial || len(s.Data[SecretKeySops]) > maxKeyMaterial {
		return nil, fmt.Errorf("key Secret %s: a key field is larger than %d bytes", name, maxKeyMaterial)
	}
	rsaKey, err := parseRSAPrivateKey(keyPEM)
	if err != nil {
		return nil, fmt.Errorf("key Secret %s: %s: %w", name, SecretKeyTLSKey, err)
	}
	g := &Generation{Name: s.Name, RSA: rsaKey}
	if len(certPEM) > 0 {
		cert, err := ParseCertificate(certPEM, time.Time{})
		if err != nil {
			return nil, fmt.Errorf("key Secret %s: %s: %w", name, SecretKeyTLSCert, err)
		}
		if !cert.PublicKey.RSA.Equal(&rsaKey.PublicKey) {
			return nil, fmt.Errorf("key Secret %s: %s does not match %s", name, SecretKeyTLSCert, SecretKeyTLSKey)
		}
		g.Certificate, g.CertificatePEM = cert, certPEM
	}
	if raw := bytes.TrimSpace(s.Data[SecretKeyAge]); len(raw) > 0 {
		id, err := age.ParseHybridIdentity(string(raw))
		if err != nil {
			return nil, fmt.Errorf("key Secret %s: %s is not an age hybrid identity (AGE-SECRET-KEY-PQ-1...)", name, SecretKeyAge)
		}
		if g.Certificate != nil && g.Certificate.PublicKey.Hybrid != nil &&
			g.Certificate.PublicKey.Hybrid.String() != id.Recipient().String() {
			return nil, fmt.Errorf("key Secret %s: %s does not match the recipient in %s", name, SecretKeyAge, SecretKeyTLSCert)
		}
		g.Hybrid = id
	}
	if err := g.readSops(name, s.Data[SecretKeySops]); err != nil {
		return nil, err
	}
	return g, nil
}

// readSops reads the SOPS identity of a key Secret and checks it against the
// v2 identity and the certificate: both present and different, and the
// certificate (when it says) naming the same recipient. An RSA-only key (a
// sealed-secrets one) needs none.
func (g *Generation) readSops(name string, data []byte) error {
	var certSops *age.HybridRecipient
	if g.Certificate != nil {
		certSops = g.Certificate.Sops
	}
	raw := bytes.TrimSpace(data)
	if len(raw) == 0 {
		if certSops != nil && g.Hybrid != nil {
			return fmt.Errorf("key Secret %s: no %s, but %s names a SOPS recipient", name, SecretKeySops, SecretKeyTLSCert)
		}
		return nil
	}
	id, err := age.ParseHybridIdentity(string(raw))
	if err != nil {
		return fmt.Errorf("key Secret %s: %s is not an age hybrid identity (AGE-SECRET-KEY-PQ-1...)", name, SecretKeySops)
	}
	switch {
	case g.Hybrid == nil:
		return fmt.Errorf("key Secret %s: %s without %s", name, SecretKeySops, SecretKeyAge)
	case id.Recipient().String() == g.Hybrid.Recipient().String():
		return fmt.Errorf("key Secret %s: %s must differ from %s (one identity per purpose)", name, SecretKeySops, SecretKeyAge)
	case g.Certificate != nil && (certSops == nil || certSops.String() != id.Recipient().String()):
		return fmt.Errorf("key Secret %s: %s does not match the SOPS recipient in %s", name, SecretKeySops, SecretKeyTLSCert)
	}
	g.Sops = id
	return nil
}

// parseRSAPrivateKey reads the first RSA private key of a PEM file, PKCS#1 or
// PKCS#8. Errors never include the key bytes.
func parseRSAPrivateKey(data []byte) (*rsa.PrivateKey, error) {
	for rest := data; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("no PEM RSA private key found")
		}
		switch block.Type {
		case "RSA PRIVATE KEY":
			k, err := x509.ParsePKCS1PrivateKey(block.Bytes)
			if err != nil {
				return nil, errors.New("malformed PKCS#1 RSA private key")
			}
			return k, nil
		case "PRIVATE KEY":
			k, err := x509.ParsePKCS8PrivateKey(block.Bytes)
			if err != nil {
				return nil, errors.New("malformed PKCS#8 private key")
			}
			rk, ok := k.(*rsa.PrivateKey)
			if !ok {
				return nil, fmt.Errorf("PKCS#8 private key is %T, not RSA", k)
			}
			return rk, nil
		}
	}
}

// SortNewestFirst orders generations by certificate start, newest first;
// generations without a certificate go last, in name order.
func SortNewestFirst(gens []*Generation) {
	sort.SliceStable(gens, func(i, j int) bool {
		a, b := gens[i], gens[j]
		if (a.Certificate == nil) != (b.Certificate == nil) {
			return a.Certificate != nil
		}
		if a.Certificate != nil && !a.NotBefore().Equal(b.NotBefore()) {
			return a.NotBefore().After(b.NotBefore())
		}
		return strings.Compare(a.Name, b.Name) > 0
	})
}

// Keyring builds a sealing.Keyring from generations ordered newest first.
func Keyring(gens []*Generation) *sealing.Keyring {
	keys := make([]*sealing.DecryptionKey, 0, len(gens))
	for _, g := range gens {
		keys = append(keys, g.DecryptionKey())
	}
	return sealing.NewKeyring(keys...)
}
