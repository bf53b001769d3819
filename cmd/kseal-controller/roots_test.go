package main

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"
)

func testCertPEM(t *testing.T) []byte {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "test CA"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
}

// TestFirstCABundleHasCert: like crypto/x509, only the first readable
// bundle counts, and only a CERTIFICATE block that parses.
func TestFirstCABundleHasCert(t *testing.T) {
	dir := t.TempDir()
	cert := testCertPEM(t)
	write := func(name string, data []byte) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	good := write("good.pem", cert)
	empty := write("empty.pem", nil)
	garbage := write("garbage.pem", []byte("not a certificate\n"))
	broken := write("broken.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}))
	withHeaders := write("headers.pem", pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Headers: map[string]string{"a": "b"}, Bytes: []byte("junk")}))
	keyThenCert := write("key-then-cert.pem", append(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: []byte("x")}), cert...))
	brokenThenCert := write("broken-then-cert.pem", append(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: []byte("junk")}), cert...))
	missing := filepath.Join(dir, "missing.pem")
	for _, tc := range []struct {
		name  string
		files []string
		want  bool
	}{
		{"none", nil, false},
		{"missing", []string{missing}, false},
		{"missing then good", []string{missing, good}, true},
		{"good", []string{good}, true},
		{"empty first", []string{empty, good}, false},
		{"garbage first", []string{garbage, good}, false},
		{"unparseable", []string{broken}, false},
		{"headers", []string{withHeaders}, false},
		{"key then certificate", []string{keyThenCert}, true},
		{"broken then certificate", []string{brokenThenCert}, true},
		{"directory", []string{dir}, false},
	} {
		if got := firstCABundleHasCert(tc.files); got != tc.want {
			t.Errorf("%s: %v, want %v", tc.name, got, tc.want)
		}
	}
}

// TestInstallFallbackRoots_noSystemRoots: on a system without CA roots
// (the scratch-based image) crypto/x509 gets Mozilla's. Run in a child
// process: the roots can be set once per process.
func TestInstallFallbackRoots_noSystemRoots(t *testing.T) {
	if os.Getenv("KSEAL_TEST_FALLBACK_ROOTS") == "1" {
		installFallbackRoots()
		pool, err := x509.SystemCertPool()
		if err != nil {
			t.Fatal(err)
		}
		if n := len(pool.Subjects()); n < 50 { //nolint:staticcheck // a count, not a trust decision
			t.Fatalf("with no system roots crypto/x509 has %d roots, want Mozilla's fallback", n)
		}
		return
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestInstallFallbackRoots_noSystemRoots$", "-test.count=1")
	missing := filepath.Join(t.TempDir(), "none")
	cmd.Env = append(os.Environ(), "KSEAL_TEST_FALLBACK_ROOTS=1", "SSL_CERT_FILE="+missing, "SSL_CERT_DIR="+missing)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("child: %v\n%s", err, out)
	}
}

// FuzzFirstCABundleHasCert: any bundle content gives an answer, no panic.
func FuzzFirstCABundleHasCert(f *testing.F) {
	f.Add([]byte("-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n"))
	f.Add([]byte("not pem"))
	f.Add([]byte{})
	dir := f.TempDir()
	f.Fuzz(func(t *testing.T, data []byte) {
		p := filepath.Join(dir, "bundle.pem")
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		firstCABundleHasCert([]string{p})
	})
}
