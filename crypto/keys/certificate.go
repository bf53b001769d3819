package keys

import (
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/asn1"
	"encoding/hex"
	"encoding/pem"
	"errors"
	"fmt"
	"time"

	"filippo.io/age"

	"github.com/kseal-dev/kseal/crypto/sealing"
)

// OIDHybridRecipient identifies the certificate extension that carries the
// generation's age hybrid recipient ("age1pq1...") as a DER UTF8String. The
// extension is non-critical, so other X.509 users such as kubeseal ignore it.
// It lives in the 2.25 (UUID) arc under a randomly chosen number small
// enough for every X.509 parser (Go rejects arcs above 2^31-1).
var OIDHybridRecipient = asn1.ObjectIdentifier{2, 25, 1750764433, 1}

// OIDSopsRecipient identifies the certificate extension that carries the
// generation's SOPS recipient: a second age hybrid recipient, used only for
// SOPS documents, encoded like OIDHybridRecipient. Generations made before
// kseal separated the two purposes have no such extension; their v2
// recipient serves SOPS too (see Certificate.SopsRecipient).
var OIDSopsRecipient = asn1.ObjectIdentifier{2, 25, 1750764433, 2}

// maxRecipientExtension bounds the extension value; a hybrid recipient is
// 1,959 characters.
const maxRecipientExtension = 4096

// MarshalRecipientExtension encodes r as the value of the recipient extension.
func MarshalRecipientExtension(r *age.HybridRecipient) ([]byte, error) {
	return asn1.MarshalWithParams(r.String(), "utf8")
}

// ParseRecipientExtension decodes the value of the recipient extension.
func ParseRecipientExtension(der []byte) (*age.HybridRecipient, error) {
	if len(der) > maxRecipientExtension {
		return nil, fmt.Errorf("recipient extension of %d bytes is too large", len(der))
	}
	var s string
	rest, err := asn1.UnmarshalWithParams(der, &s, "utf8")
	if err != nil {
		return nil, fmt.Errorf("recipient extension: %w", err)
	}
	if len(rest) != 0 {
		return nil, errors.New("recipient extension: trailing data")
	}
	r, err := age.ParseHybridRecipient(s)
	if err != nil {
		return nil, fmt.Errorf("recipient extension: %w", err)
	}
	return r, nil
}

// Certificate is a sealer's view of a key generation's cert.pem.
type Certificate struct {
	// X509 is the parsed certificate.
	X509 *x509.Certificate
	// PublicKey seals values; Hybrid is nil for a certificate without the
	// recipient extension (one made by sealed-secrets).
	PublicKey sealing.PublicKey
	// Sops is the recipient SOPS documents are encrypted to, from the
	// OIDSopsRecipient extension; nil for older certificates.
	Sops *age.HybridRecipient
}

// SopsRecipient returns the age recipient to encrypt SOPS documents to (the
// one for .sops.yaml), and whether it is a legacy recipient shared with
// format v2 (a certificate made before kseal separated the purposes). It
// returns nil for a certificate without an age recipient.
func (c *Certificate) SopsRecipient() (r *age.HybridRecipient, legacy bool) {
	if c.Sops != nil {
		return c.Sops, false
	}
	return c.PublicKey.Hybrid, c.PublicKey.Hybrid != nil
}

// Fingerprint returns the SHA-256 of the certificate's DER, in hex.
func (c *Certificate) Fingerprint() string {
	sum := sha256.Sum256(c.X509.Raw)
	return hex.EncodeToString(sum[:])
}

// KeyID returns the v2 key id of the certificate's recipient, or false when
// it has none.
func (c *Certificate) KeyID() (sealing.KeyID, bool) {
	if c.PublicKey.Hybrid == nil {
		return sealing.KeyID{}, false
	}
	return sealing.KeyIDOf(c.PublicKey.Hybrid), true
}

// maxCertificatePEM bounds a cert.pem read from a file or URL.
const maxCertificatePEM = 64 << 10

// ParseCertificate reads the first certificate of a PEM file. It refuses
// certificates whose key is not RSA and, unless now is zero, certificates
// outside their validity period.
func ParseCertificate(data []byte, now time.Time) (*Certificate, error) {
	if len(data) > maxCertificatePEM {
		return nil, fmt.Errorf("certificate file of %d bytes is larger than %d bytes", len(data), maxCertificatePEM)
	}
	var block *pem.Block
	for rest := data; ; {
		block, rest = pem.Decode(rest)
		if block == nil {
			return nil, errors.New("no PEM CERTIFICATE block found")
		}
		if block.Type == "CERTIFICATE" {
			break
		}
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, fmt.Errorf("parse certificate: %w", err)
	}
	pub, ok := cert.PublicKey.(*rsa.PublicKey)
	if !ok {
		return nil, fmt.Errorf("certificate key is %s, not RSA", cert.PublicKeyAlgorithm)
	}
	if !now.IsZero() {
		if now.After(cert.NotAfter) {
			return nil, &ExpiredError{NotAfter: cert.NotAfter}
		}
		if now.Before(cert.NotBefore) {
			return nil, fmt.Errorf("certificate is not valid before %s", cert.NotBefore.UTC().Format(time.RFC3339))
		}
	}
	c := &Certificate{X509: cert, PublicKey: sealing.PublicKey{RSA: pub}}
	for _, ext := range cert.Extensions {
		var dst **age.HybridRecipient
		switch {
		case ext.Id.Equal(OIDHybridRecipient):
			dst = &c.PublicKey.Hybrid
		case ext.Id.Equal(OIDSopsRecipient):
			dst = &c.Sops
		default:
			continue
		}
		r, err := ParseRecipientExtension(ext.Value)
		if err != nil {
			return nil, err
		}
		*dst = r
	}
	if c.Sops != nil && (c.PublicKey.Hybrid == nil || c.Sops.String() == c.PublicKey.Hybrid.String()) {
		return nil, errors.New("certificate: the SOPS recipient must come with a different v2 recipient")
	}
	return c, nil
}

// ExpiredError says that a certificate is past its validity.
type ExpiredError struct {
	// NotAfter is the end of the certificate's validity.
	NotAfter time.Time
}

func (e *ExpiredError) Error() string {
	return fmt.Sprintf("certificate expired at %s", e.NotAfter.UTC().Format(time.RFC3339))
}
