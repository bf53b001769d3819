package template_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"hash"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/kseal-dev/kseal/crypto/template"
)

// TestRender_filterCertChain: filterCertChain picks the leaf, the
// intermediates or the root of a chain in any order, and gives "" where
// ESO does: no such certificate, an unknown type.
func TestRender_filterCertChain(t *testing.T) {
	leaf, inter, root := fixture(t, "leaf.crt"), fixture(t, "intermediate.crt"), fixture(t, "root.crt")
	for name, tc := range map[string]struct{ certType, input, want string }{
		"leaf":                   {"leaf", root + leaf + inter, leaf},
		"intermediate":           {"intermediate", inter + root + leaf, inter},
		"root":                   {"root", leaf + root + inter, root},
		"leaf with a key":        {"leaf", "text before\n" + leaf + inter, leaf},
		"no root in the chain":   {"root", leaf + inter, ""},
		"intermediate, no root":  {"intermediate", leaf + inter, inter},
		"one certificate: leaf":  {"leaf", leaf, leaf},
		"self-signed: no leaf":   {"leaf", root, ""},
		"self-signed: root":      {"root", root, root},
		"self-signed: no inter.": {"intermediate", root, ""},
		"unknown type":           {"branch", leaf + inter + root, ""},
	} {
		t.Run(name, func(t *testing.T) {
			got, err := render(template.Limits{}, `{{ .in | filterCertChain .type }}`, map[string]string{"in": tc.input, "type": tc.certType})
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got\n%s\nwant\n%s", got, tc.want)
			}
		})
	}
}

// TestRender_filterCertChainErrors: a block that is not a certificate,
// two leaves, no certificate, and too many are refused.
func TestRender_filterCertChainErrors(t *testing.T) {
	leaf, root := fixture(t, "leaf.crt"), fixture(t, "root.crt")
	for name, tc := range map[string]struct{ input, want string }{
		"a key":        {leaf + fixture(t, "leaf.key"), "not a valid certificate"},
		"two leaves":   {leaf + root, "multiple leaf or disjunct"},
		"nothing":      {"", "no leaf certificate"},
		"too many":     {strings.Repeat(leaf, 65), "more than 64"},
		"not a chain2": {root + root, "no leaf certificate"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := render(template.Limits{}, `{{ .in | filterCertChain "leaf" }}`, map[string]string{"in": tc.input})
			templateError(t, err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v, want %q", err, tc.want)
			}
		})
	}
}

// TestRender_certSANsOfTheLeaf: ESO's documented certSANs example, the
// leaf's SANs of a chain with its key.
func TestRender_certSANsOfTheLeaf(t *testing.T) {
	data := map[string]string{"certificate": fixture(t, "root.crt") + fixture(t, "leaf.key") + fixture(t, "leaf.crt") + fixture(t, "intermediate.crt")}
	got, err := render(template.Limits{}, `{{ .certificate | filterPEM "CERTIFICATE" | filterCertChain "leaf" | certSANs | join "," }}|`+
		`{{ index (.certificate | filterPEM "CERTIFICATE" | filterCertChain "leaf" | certSANs) 0 }}|`+
		`{{ .certificate | filterPEM "CERTIFICATE" | filterCertChain "leaf" | certSANs | toJson }}`, data)
	if err != nil {
		t.Fatal(err)
	}
	if want := `foo.example.com,www.foo.example.com,10.0.0.1|foo.example.com|["foo.example.com","www.foo.example.com","10.0.0.1"]`; got != want {
		t.Errorf("got %s, want %s", got, want)
	}
}

// TestRender_rsaDecrypt: rsaDecrypt opens RSA-OAEP ciphertexts with each
// hash ESO names, in both argument orders ESO documents, with PKCS#1 and
// PKCS#8 keys; "None" gives the input back.
func TestRender_rsaDecrypt(t *testing.T) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	pkcs1 := string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))
	der, _ := x509.MarshalPKCS8PrivateKey(key)
	pkcs8 := string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
	const secret = "s3cret-rsa-canary"
	for name, h := range map[string]hash.Hash{"SHA1": sha1.New(), "SHA256": sha256.New(), "SHA512": sha512.New(), "None": sha256.New()} {
		ct, err := rsa.EncryptOAEP(h, rand.Reader, &key.PublicKey, []byte(secret), nil)
		if err != nil {
			t.Fatal(err)
		}
		data := map[string]string{"ct": string(ct), "k1": pkcs1, "k8": pkcs8, "h": name}
		got, err := render(template.Limits{}, `{{ rsaDecrypt "RSA-OAEP" .h .ct .k1 }}|{{ .k8 | rsaDecrypt "RSA-OAEP" .h .ct }}|{{ rsaDecrypt "None" .h .h .k1 }}`, data)
		if err != nil {
			t.Fatal(name, err)
		}
		if want := secret + "|" + secret + "|" + name; got != want {
			t.Errorf("%s: %q, want %q", name, got, want)
		}
	}
	opensslOAEP(t, key, pkcs1, secret)
}

// opensslOAEP: a ciphertext made by openssl (OAEP, SHA-1, as ESO's example
// reads) opens, when openssl is present.
func opensslOAEP(t *testing.T, key *rsa.PrivateKey, keyPEM, secret string) {
	if _, err := exec.LookPath("openssl"); err != nil {
		return
	}
	dir := t.TempDir()
	pub, _ := x509.MarshalPKIXPublicKey(&key.PublicKey)
	pubFile, in := filepath.Join(dir, "pub.pem"), filepath.Join(dir, "in")
	_ = os.WriteFile(pubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o600)
	_ = os.WriteFile(in, []byte(secret), 0o600)
	ct, err := exec.Command("openssl", "pkeyutl", "-encrypt", "-pubin", "-inkey", pubFile, "-in", in,
		"-pkeyopt", "rsa_padding_mode:oaep", "-pkeyopt", "rsa_oaep_md:sha1").Output()
	if err != nil {
		t.Fatalf("openssl pkeyutl: %v", err)
	}
	got, err := render(template.Limits{}, `{{ rsaDecrypt "RSA-OAEP" "SHA1" .ct .k }}`, map[string]string{"ct": string(ct), "k": keyPEM})
	if err != nil || got != secret {
		t.Errorf("openssl ciphertext: %q, %v", got, err)
	}
}

// TestRender_rsaDecryptErrors: a wrong key or hash, a key that is not RSA,
// an unknown scheme and an oversized key are refused, and no error quotes
// the ciphertext or the key.
func TestRender_rsaDecryptErrors(t *testing.T) {
	key, _ := rsa.GenerateKey(rand.Reader, 2048)
	other, _ := rsa.GenerateKey(rand.Reader, 2048)
	ct, _ := rsa.EncryptOAEP(sha1.New(), rand.Reader, &key.PublicKey, []byte("s3cret-rsa-canary"), nil)
	pemOf := func(k *rsa.PrivateKey) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(k)}))
	}
	data := map[string]string{"ct": string(ct), "key": pemOf(key), "other": pemOf(other), "ec": fixture(t, "leaf.key"),
		"huge": string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: make([]byte, 9<<10)}))}
	for src, want := range map[string]string{
		`{{ rsaDecrypt "RSA-OAEP" "SHA1" .ct .other }}`: "cannot be decrypted",
		`{{ rsaDecrypt "RSA-OAEP" "SHA256" .ct .key }}`: "cannot be decrypted",
		`{{ rsaDecrypt "RSA-OAEP" "SHA1" .ct .ec }}`:    "not an RSA private key",
		`{{ rsaDecrypt "RSA-PKCS1" "SHA1" .ct .key }}`:  "scheme must be",
		`{{ rsaDecrypt "RSA-OAEP" "SHA1" .ct .huge }}`:  "larger than the 8 KiB",
		`{{ rsaDecrypt "RSA-OAEP" "SHA1" .ct "x" }}`:    "not PEM",
	} {
		_, err := render(template.Limits{}, src, data)
		templateError(t, err)
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", src, err, want)
		}
		if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), "canary") {
			t.Errorf("%s: the error quotes a value: %v", src, err)
		}
	}
}

// TestRender_filterCertChainEmptyKeyIDs: as in ESO, the chain is ordered
// by key ids alone, and an empty subject key id matches an empty authority
// key id: a leaf without one, issued by a root without an authority key id
// (what Go's x509 writes for a self-signed CA), leaves no leaf; with a
// subject key id the leaf is found.
func TestRender_filterCertChainEmptyKeyIDs(t *testing.T) {
	caKey, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	caTmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ca"}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage: x509.KeyUsageCertSign, NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<32, 0)}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	ca, _ := x509.ParseCertificate(caDER)
	pemOf := func(der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
	}
	for _, skid := range [][]byte{nil, []byte("leaf-key-id")} {
		leafTmpl := &x509.Certificate{SerialNumber: big.NewInt(2), Subject: pkix.Name{CommonName: "leaf"}, SubjectKeyId: skid,
			NotBefore: time.Unix(0, 0), NotAfter: time.Unix(1<<32, 0)}
		leafDER, err := x509.CreateCertificate(rand.Reader, leafTmpl, ca, &caKey.PublicKey, caKey)
		if err != nil {
			t.Fatal(err)
		}
		got, err := render(template.Limits{}, `{{ .c | filterCertChain "leaf" }}`, map[string]string{"c": pemOf(leafDER) + pemOf(caDER)})
		if skid == nil && (err == nil || !strings.Contains(err.Error(), "no leaf certificate found")) {
			t.Errorf("no subject key id: %q, %v; want no leaf found", got, err)
		}
		if skid != nil && (err != nil || got != pemOf(leafDER)) {
			t.Errorf("with a subject key id: %q, %v", got, err)
		}
	}
}
