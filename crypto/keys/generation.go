package keys

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"time"

	"filippo.io/age"

	"github.com/kseal-dev/kseal/crypto/sealing"
)

// RSAKeyBits is the size of generated RSA keys, as in sealed-secrets.
const RSAKeyBits = 4096

// CertificateValidity is how long a generated certificate is valid. Sealers
// are refused an expired certificate, while decryption keys never expire.
const CertificateValidity = 10 * 365 * 24 * time.Hour

// Generation is one key generation: the private keys and the certificate.
type Generation struct {
	// Name is the name of the Secret the generation is stored in.
	Name string
	// RSA is the RSA private key (v1 format).
	RSA *rsa.PrivateKey
	// Hybrid is the age hybrid identity (v2 format); nil for keys imported
	// from sealed-secrets.
	Hybrid *age.HybridIdentity
	// Sops is the age hybrid identity that opens SOPS documents, separate
	// from Hybrid so that a ciphertext made for one purpose never opens
	// under the other. It is nil for generations made before kseal
	// separated the purposes: their Hybrid serves both (see
	// sealing.DecryptionKey.Shared).
	Sops *age.HybridIdentity
	// CertificatePEM is the PEM of the self-signed certificate.
	CertificatePEM []byte
	// Certificate is the parsed certificate.
	Certificate *Certificate
}

// GenerateOptions tunes Generate.
type GenerateOptions struct {
	// Name is the Secret name of the generation.
	Name string
	// CommonName is the certificate subject CN; "kseal" when empty.
	CommonName string
	// Now is the start of validity; time.Now when zero.
	Now time.Time
	// Validity overrides CertificateValidity when non-zero.
	Validity time.Duration
	// RSABits overrides RSAKeyBits when non-zero (tests use smaller keys).
	RSABits int
	// SharedIdentity makes a generation as kseal did before it separated
	// purposes: one age identity for both v2 and SOPS, and no SOPS
	// recipient in the certificate. Only for tests of the migration path.
	SharedIdentity bool
}

// Generate creates a new key generation.
func Generate(opts GenerateOptions) (*Generation, error) {
	bits := opts.RSABits
	if bits == 0 {
		bits = RSAKeyBits
	}
	now := opts.Now
	if now.IsZero() {
		now = time.Now()
	}
	validity := opts.Validity
	if validity == 0 {
		validity = CertificateValidity
	}
	cn := opts.CommonName
	if cn == "" {
		cn = "kseal"
	}
	rsaKey, err := rsa.GenerateKey(rand.Reader, bits)
	if err != nil {
		return nil, fmt.Errorf("generate RSA key: %w", err)
	}
	hybrid, err := age.GenerateHybridIdentity()
	if err != nil {
		return nil, fmt.Errorf("generate age hybrid identity: %w", err)
	}
	sopsID, err := age.GenerateHybridIdentity()
	if err != nil {
		return nil, fmt.Errorf("generate age hybrid identity for SOPS: %w", err)
	}
	ext, err := MarshalRecipientExtension(hybrid.Recipient())
	if err != nil {
		return nil, err
	}
	sopsExt, err := MarshalRecipientExtension(sopsID.Recipient())
	if err != nil {
		return nil, err
	}
	exts := []pkix.Extension{{Id: OIDHybridRecipient, Value: ext}, {Id: OIDSopsRecipient, Value: sopsExt}}
	if opts.SharedIdentity {
		sopsID, exts = nil, exts[:1]
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial,
		Subject:               pkix.Name{CommonName: cn, Organization: []string{"kseal"}},
		NotBefore:             now.Add(-certificateBackdate).UTC(),
		NotAfter:              now.Add(validity).UTC(),
		KeyUsage:              x509.KeyUsageKeyEncipherment | x509.KeyUsageDataEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage:           []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
		BasicConstraintsValid: true,
		IsCA:                  true,
		ExtraExtensions:       exts,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &rsaKey.PublicKey, rsaKey)
	if err != nil {
		return nil, fmt.Errorf("create certificate: %w", err)
	}
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	cert, err := ParseCertificate(certPEM, time.Time{})
	if err != nil {
		return nil, err
	}
	return &Generation{Name: opts.Name, RSA: rsaKey, Hybrid: hybrid, Sops: sopsID, CertificatePEM: certPEM, Certificate: cert}, nil
}

// DecryptionKey returns the generation's private half for a Keyring.
func (g *Generation) DecryptionKey() *sealing.DecryptionKey {
	k := sealing.NewDecryptionKey(g.Name, g.RSA, g.Hybrid)
	k.Sops = g.SopsIdentity()
	k.Shared = g.Hybrid != nil && g.Sops == nil
	return k
}

// SopsIdentity returns the identity that opens SOPS documents encrypted to
// this generation: Sops, or for a generation made before kseal separated
// the purposes, its dual-purpose Hybrid. It is nil for sealed-secrets keys.
func (g *Generation) SopsIdentity() *age.HybridIdentity {
	if g.Sops != nil {
		return g.Sops
	}
	return g.Hybrid
}

// PrivateKeyPEM returns the RSA key as PKCS#1 PEM, the form of tls.key.
func (g *Generation) PrivateKeyPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(g.RSA)})
}

// certificateBackdate starts a certificate's validity a little before its
// creation, so sealers with a slow clock accept it.
const certificateBackdate = time.Minute

// Created is when the generation was made: its certificate's start of
// validity plus the backdate. Renewal and the key cutoff compare against it.
func (g *Generation) Created() time.Time {
	if g.Certificate == nil {
		return time.Time{}
	}
	return g.NotBefore().Add(certificateBackdate)
}

// NotBefore is when the generation's certificate became valid; generations
// are ordered by it, newest first.
func (g *Generation) NotBefore() time.Time { return g.Certificate.X509.NotBefore }
