package e2e

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"math/big"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	gopkcs12 "software.sslmate.com/src/go-pkcs12"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// testPKI is a chain root -> intermediate -> leaf with the leaf's key, as
// PEM (the key as PKCS#8, the form ESO's pkcs12key writes).
type testPKI struct {
	root, intermediate, leaf, key string
	p12                           func(password string) string // the leaf, its key and the chain, as a PKCS#12 archive
}

// newTestPKI makes a chain whose certificates carry key ids, so that
// ESO's chain order (authority key id to subject key id) applies.
func newTestPKI(sans ...string) testPKI {
	mk := func(tmpl, parent *x509.Certificate, parentKey *ecdsa.PrivateKey) (*x509.Certificate, *ecdsa.PrivateKey) {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			panic(err)
		}
		if parent == nil {
			parent, parentKey = tmpl, key
		}
		tmpl.NotBefore, tmpl.NotAfter = time.Unix(0, 0), time.Unix(1<<32, 0)
		der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
		if err != nil {
			panic(err)
		}
		c, _ := x509.ParseCertificate(der)
		return c, key
	}
	ca := func(n int64, cn string) *x509.Certificate {
		return &x509.Certificate{SerialNumber: big.NewInt(n), Subject: pkix.Name{CommonName: cn}, IsCA: true,
			BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign}
	}
	root, rootKey := mk(ca(1, "eso-test-root"), nil, nil)
	inter, interKey := mk(ca(2, "eso-test-intermediate"), root, rootKey)
	// A leaf without a subject key id would match a root without an
	// authority key id (both empty) in ESO's order, as in kseal's.
	leaf, leafKey := mk(&x509.Certificate{SerialNumber: big.NewInt(3), Subject: pkix.Name{CommonName: sans[0]}, DNSNames: sans,
		SubjectKeyId: []byte("eso-test-leaf-key-id")}, inter, interKey)
	pemOf := func(typ string, der []byte) string {
		return string(pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}))
	}
	keyDER, _ := x509.MarshalPKCS8PrivateKey(leafKey)
	return testPKI{root: pemOf("CERTIFICATE", root.Raw), intermediate: pemOf("CERTIFICATE", inter.Raw),
		leaf: pemOf("CERTIFICATE", leaf.Raw), key: pemOf("PRIVATE KEY", keyDER),
		p12: func(password string) string {
			// The archive lists the CA certificates root first, so that
			// the documented order is kseal's doing.
			der, err := gopkcs12.Modern.Encode(leafKey, leaf, []*x509.Certificate{root, inter}, password)
			if err != nil {
				panic(err)
			}
			return base64.StdEncoding.EncodeToString(der)
		}}
}

// certSANsCase runs ESO's certSANs example over a chain (with its key)
// read from Secrets Manager.
func certSANsCase() esoCase {
	p := newTestPKI("app.example.com", "www.app.example.com")
	return esoCase{provider: esoAWS,
		complete: `{"spec":{"secretStoreRef":{"name":"secretstore-sample"},"data":[{"secretKey":"certificate","remoteRef":{"key":"cert"}}]}}`,
		remote:   []esoRemote{{key: "cert", value: p.root + p.key + p.leaf + p.intermediate}},
		want: map[string]string{"sans": "app.example.com,www.app.example.com", "primary-domain": "app.example.com",
			"sans-json": `["app.example.com","www.app.example.com"]`}}
}

// esoRepaired are documented snippets that are not valid YAML as
// published (see esoNotManifests), each with the smallest repair that
// makes it a manifest (pairs of published text, which must occur once, and
// its replacement) and the case it then runs.
var esoRepaired = map[string]struct {
	repair []string
	run    func(t *testing.T) esoCase
}{
	// The alternative under "if needed" repeats tls.crt: the pair as
	// published first, for an archive without a password.
	"pkcs12-template-v2-external-secret.yaml": {
		repair: []string{"\n        # if needed unlock the pkcs12 with the password\n        tls.crt: \"{{ .mysecret | pkcs12certPass \"my-password\" }}\"\n", "\n"},
		run:    func(t *testing.T) esoCase { return pkcs12Case(t, "") },
	},
	// Nested double quotes: the outer ones become single quotes.
	"filtercertchain-template-v2-external-secret.yaml": {
		repair: []string{
			`"{{ .mysecret | filterPEM "CERTIFICATE" | filterCertChain "intermediate" }}"`, `'{{ .mysecret | filterPEM "CERTIFICATE" | filterCertChain "intermediate" }}'`,
			`"{{ .mysecret | filterPEM "CERTIFICATE" | filterCertChain "leaf" }}"`, `'{{ .mysecret | filterPEM "CERTIFICATE" | filterCertChain "leaf" }}'`,
			`"{{ .mysecret | filterPEM "PRIVATE KEY" }}"`, `'{{ .mysecret | filterPEM "PRIVATE KEY" }}'`,
		},
		run: filterCertChainCase,
	},
}

// pkcs12Case reads an archive (base64 in Secrets Manager, decoded by
// decodingStrategy) with ESO's pkcs12cert and pkcs12key example.
func pkcs12Case(t *testing.T, password string) esoCase {
	p := newTestPKI("p12.example.com")
	return esoCase{provider: esoAWS,
		complete: `{"spec":{"secretStoreRef":{"name":"secretstore-sample"},"data":[{"secretKey":"mysecret","remoteRef":{"key":"example","decodingStrategy":"Base64"}}]}}`,
		remote:   []esoRemote{{key: "example", value: p.p12(password)}},
		want:     map[string]string{"tls.crt": p.leaf + p.intermediate + p.root, "tls.key": p.key}}
}

// filterCertChainCase splits a bundle (leaf, chain and key in one value)
// into a kubernetes.io/tls Secret, as ESO's example does.
func filterCertChainCase(t *testing.T) esoCase {
	p := newTestPKI("chain.example.com")
	return esoCase{provider: esoAWS,
		complete: `{"spec":{"secretStoreRef":{"name":"secretstore-sample"},"data":[{"secretKey":"mysecret","remoteRef":{"key":"bundle"}}]}}`,
		remote:   []esoRemote{{key: "bundle", value: p.root + p.leaf + p.key + p.intermediate}},
		want:     map[string]string{"ca.crt": p.intermediate, "tls.crt": p.leaf, "tls.key": p.key}}
}

// rsaDecryptCase runs ESO's rsaDecrypt example on a provider kseal has.
// The example reads the private key through ESO's kubernetes provider (a
// store named "kubernetes"); kseal has none, so the completion makes
// "kubernetes" a Secrets Manager store and reads both values through
// secretStoreRef, the ciphertext as base64 decoded by decodingStrategy
// Base64 (the variation the example describes).
func rsaDecryptCase() esoCase {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		panic(err)
	}
	ct, err := rsa.EncryptOAEP(sha1.New(), rand.Reader, &key.PublicKey, []byte(canary("rsa")), nil)
	if err != nil {
		panic(err)
	}
	keyJSON, _ := json.Marshal(map[string]string{"privatekey": string(pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)}))})
	return esoCase{provider: esoAWS,
		complete: `{"spec":{"secretStoreRef":{"name":"kubernetes","kind":"SecretStore"},"data":[` +
			`{"secretKey":"privatekey","remoteRef":{"key":"a-secretname-in-cluster","property":"privatekey"}},` +
			`{"secretKey":"password_encrypted_binary","remoteRef":{"key":"/credentials/password_encrypted_binary","decodingStrategy":"Base64"}}]}}`,
		remote: []esoRemote{{key: "a-secretname-in-cluster", value: string(keyJSON)},
			{key: "/credentials/password_encrypted_binary", value: base64.StdEncoding.EncodeToString(ct)}},
		want: map[string]string{"password": canary("rsa")}}
}

// TestESOExternalSecrets_repairedSnippets applies ESO's documented PKCS#12
// and filterCertChain snippets, which are not valid YAML as published,
// after the smallest repair (esoRepaired), and compares the Secret with
// what ESO documents. The password alternative of the PKCS#12 snippet
// (whose tls.key line reads the archive without the password) fails as in
// ESO, with a message that says why.
func TestESOExternalSecrets_repairedSnippets(t *testing.T) {
	fx := newESOFixture(t)
	defer fx.ctrl.stop()
	for base, rep := range esoRepaired {
		t.Run(strings.TrimSuffix(base, ".yaml"), func(t *testing.T) {
			fx.run(t, rep.run(t), repairedDocs(t, base, rep.repair...))
		})
	}
	t.Run("pkcs12-template-v2-external-secret-password", func(t *testing.T) {
		c := pkcs12Case(t, "my-password")
		c.want, c.reason, c.refused = nil, v1alpha1.ReasonTemplateError, "pkcs12key: an encrypted container of the archive cannot be decrypted"
		fx.run(t, c, repairedDocs(t, "pkcs12-template-v2-external-secret.yaml",
			"        tls.crt: \"{{ .mysecret | pkcs12cert }}\"\n", "",
			`"{{ .mysecret | pkcs12certPass "my-password" }}"`, `'{{ .mysecret | pkcs12certPass "my-password" }}'`))
	})
}

// repairedDocs reads a documented snippet with the repairs applied (pairs
// of text, which must occur once, and replacement) and returns its
// documents.
func repairedDocs(t *testing.T, base string, repair ...string) []*unstructured.Unstructured {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(esoDir, base))
	if err != nil {
		t.Fatal(err)
	}
	text := string(raw)
	for i := 0; i+1 < len(repair); i += 2 {
		if strings.Count(text, repair[i]) != 1 {
			t.Fatalf("%s: the text to repair, %q, is not there once", base, repair[i])
		}
		text = strings.Replace(text, repair[i], repair[i+1], 1)
	}
	f := filepath.Join(t.TempDir(), base)
	if err := os.WriteFile(f, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	docs := esoDocuments(t, f)
	if docs == nil {
		t.Fatalf("%s does not parse after the repair", base)
	}
	return docs
}
