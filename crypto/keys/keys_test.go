package keys_test

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/json"
	"encoding/pem"
	"errors"
	"math/big"
	"strings"
	"sync"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sealing"
)

var (
	genOnce sync.Once
	gen     *keys.Generation
)

// testGeneration is a generation with an RSA-2048 key: fast to make, same format.
func testGeneration(t testing.TB) *keys.Generation {
	t.Helper()
	genOnce.Do(func() {
		var err error
		gen, err = keys.Generate(keys.GenerateOptions{Name: "kseal-key-test", RSABits: 2048})
		if err != nil {
			panic(err)
		}
	})
	return gen
}

func TestGenerate_defaults(t *testing.T) {
	if testing.Short() {
		t.Skip("RSA-4096 generation")
	}
	g, err := keys.Generate(keys.GenerateOptions{Name: "k"})
	if err != nil {
		t.Fatal(err)
	}
	if g.RSA.N.BitLen() != 4096 {
		t.Errorf("RSA key has %d bits", g.RSA.N.BitLen())
	}
	c := g.Certificate.X509
	if c.Subject.CommonName != "kseal" {
		t.Errorf("CN %q", c.Subject.CommonName)
	}
	if got := c.NotAfter.Sub(c.NotBefore); got < keys.CertificateValidity {
		t.Errorf("validity %v", got)
	}
}

func TestGenerate_certificateCarriesRecipient(t *testing.T) {
	g := testGeneration(t)
	cert, err := keys.ParseCertificate(g.CertificatePEM, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if cert.PublicKey.Hybrid == nil || cert.PublicKey.Hybrid.String() != g.Hybrid.Recipient().String() {
		t.Fatal("certificate does not carry the generation's hybrid recipient")
	}
	if !strings.HasPrefix(cert.PublicKey.Hybrid.String(), "age1pq1") {
		t.Errorf("recipient %q", cert.PublicKey.Hybrid.String()[:10])
	}
	for _, ext := range cert.X509.Extensions {
		if ext.Id.Equal(keys.OIDHybridRecipient) && ext.Critical {
			t.Error("the recipient extension must be non-critical so other X.509 users ignore it")
		}
	}
	id, ok := cert.KeyID()
	if !ok || id != g.DecryptionKey().ID {
		t.Errorf("certificate key id %s, generation key id %s", id, g.DecryptionKey().ID)
	}
	// Both formats seal with the certificate and open with the generation.
	kr := keys.Keyring([]*keys.Generation{g})
	for _, v := range []sealing.Version{sealing.V1, sealing.V2} {
		ct, err := cert.PublicKey.Seal(v, []byte("a/b"), []byte("v"))
		if err != nil {
			t.Fatal(err)
		}
		if _, _, err := kr.Open(ct, []byte("a/b"), sealing.OpenOptions{}); err != nil {
			t.Errorf("%v: %v", v, err)
		}
	}
}

func TestGeneration_Secret_roundTrip(t *testing.T) {
	g := testGeneration(t)
	s := g.Secret("kseal-system")
	if s.Type != "kubernetes.io/tls" || s.Labels["kseal.dev/sealing-key"] != "active" || !keys.IsKeySecret(s) {
		t.Errorf("key Secret shape: type %q labels %v", s.Type, s.Labels)
	}
	// Through YAML, as a backup would go.
	b, err := yaml.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	dks, err := keys.ParsePrivateKeys("backup.yaml", b)
	if err != nil {
		t.Fatal(err)
	}
	if len(dks) != 1 || dks[0].ID != g.DecryptionKey().ID || !dks[0].RSA.Equal(g.RSA) {
		t.Errorf("round trip lost key material")
	}
}

func TestFromSecret_bitnami(t *testing.T) {
	g := testGeneration(t)
	s := g.Secret("sealed-secrets")
	delete(s.Data, keys.SecretKeyAge)
	delete(s.Data, keys.SecretKeySops)
	s.Labels = map[string]string{"sealedsecrets.bitnami.com/sealed-secrets-key": "active"}
	if !keys.IsKeySecret(s) {
		t.Error("Bitnami key Secret not recognised")
	}
	got, err := keys.FromSecret(s)
	if err != nil {
		t.Fatal(err)
	}
	if got.Hybrid != nil || !got.RSA.Equal(g.RSA) {
		t.Error("Bitnami key Secret read wrongly")
	}
}

func TestFromSecret_errors(t *testing.T) {
	g := testGeneration(t)
	other, err := keys.Generate(keys.GenerateOptions{Name: "other", RSABits: 2048})
	if err != nil {
		t.Fatal(err)
	}
	tests := map[string]func(data map[string][]byte){
		"no tls.key":        func(d map[string][]byte) { delete(d, "tls.key") },
		"garbage tls.key":   func(d map[string][]byte) { d["tls.key"] = []byte("not a key") },
		"mismatched cert":   func(d map[string][]byte) { d["tls.crt"] = other.CertificatePEM },
		"garbage age.key":   func(d map[string][]byte) { d["age.key"] = []byte("AGE-SECRET-KEY-PQ-1XYZ") },
		"mismatched age":    func(d map[string][]byte) { d["age.key"] = []byte(other.Hybrid.String()) },
		"oversized tls.key": func(d map[string][]byte) { d["tls.key"] = make([]byte, 1<<20) },
	}
	for name, mutate := range tests {
		t.Run(name, func(t *testing.T) {
			s := g.Secret("ns")
			mutate(s.Data)
			_, err := keys.FromSecret(s)
			if err == nil {
				t.Fatal("accepted")
			}
			if !strings.Contains(err.Error(), "ns/kseal-key-test") {
				t.Errorf("error does not name the Secret: %v", err)
			}
			if strings.Contains(err.Error(), "PRIVATE KEY") || strings.Contains(err.Error(), g.Hybrid.String()[:30]) {
				t.Errorf("error leaks key material: %v", err)
			}
		})
	}
}

func TestParseCertificate_refusals(t *testing.T) {
	g := testGeneration(t)
	// Expired.
	_, err := keys.ParseCertificate(g.CertificatePEM, time.Now().Add(11*365*24*time.Hour))
	var expired *keys.ExpiredError
	if !errors.As(err, &expired) {
		t.Errorf("expired certificate: %v", err)
	}
	// Not RSA.
	ec, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "ec"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour)}
	der, _ := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &ec.PublicKey, ec)
	_, err = keys.ParseCertificate(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), time.Now())
	if err == nil || !strings.Contains(err.Error(), "not RSA") {
		t.Errorf("ECDSA certificate: %v", err)
	}
	// Not a certificate.
	if _, err := keys.ParseCertificate([]byte("hello"), time.Now()); err == nil {
		t.Error("garbage accepted")
	}
}

func TestParsePrivateKeys_formats(t *testing.T) {
	g := testGeneration(t)
	pkcs8, _ := x509.MarshalPKCS8PrivateKey(g.RSA)
	list, _ := json.Marshal(map[string]any{"apiVersion": "v1", "kind": "List", "items": []any{g.Secret("ns")}})
	tests := map[string]struct {
		data  []byte
		n     int
		rsa   bool
		age   bool
		error string
	}{
		"PKCS#1":            {data: g.PrivateKeyPEM(), n: 1, rsa: true},
		"PKCS#8":            {data: pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: pkcs8}), n: 1, rsa: true},
		"key and cert":      {data: append(g.PrivateKeyPEM(), g.CertificatePEM...), n: 1, rsa: true},
		"age identity file": {data: []byte("# created: now\n" + g.Hybrid.String() + "\n"), n: 1, age: true},
		"List of Secrets":   {data: list, n: 1, rsa: true, age: true},
		"empty":             {data: nil, error: "no private key found"},
		"not a key":         {data: []byte("hello"), error: "no private key found"},
		"a ConfigMap":       {data: []byte("apiVersion: v1\nkind: ConfigMap\n"), error: "not a Secret"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			dks, err := keys.ParsePrivateKeys("f", tt.data)
			if tt.error != "" {
				if err == nil || !strings.Contains(err.Error(), tt.error) {
					t.Fatalf("got %v, want %q", err, tt.error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if len(dks) != tt.n || (dks[0].RSA != nil) != tt.rsa || (dks[0].Hybrid != nil) != tt.age {
				t.Errorf("got %d keys, first rsa=%v age=%v", len(dks), dks[0].RSA != nil, dks[0].Hybrid != nil)
			}
		})
	}
}

func TestSortNewestFirst(t *testing.T) {
	now := time.Now()
	var gens []*keys.Generation
	for i, name := range []string{"old", "new", "mid"} {
		offset := map[int]time.Duration{0: -48 * time.Hour, 1: 0, 2: -24 * time.Hour}[i]
		g, err := keys.Generate(keys.GenerateOptions{Name: name, RSABits: 1024, Now: now.Add(offset)})
		if err != nil {
			t.Fatal(err)
		}
		gens = append(gens, g)
	}
	gens = append(gens, &keys.Generation{Name: "no-cert"})
	keys.SortNewestFirst(gens)
	var got []string
	for _, g := range gens {
		got = append(got, g.Name)
	}
	if strings.Join(got, ",") != "new,mid,old,no-cert" {
		t.Errorf("order %v", got)
	}
}
