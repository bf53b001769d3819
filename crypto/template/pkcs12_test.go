package template_test

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	gopkcs12 "software.sslmate.com/src/go-pkcs12"

	"github.com/kseal-dev/kseal/crypto/template"
)

// fixture reads a file of testdata/pkcs12 (made by its gen.sh with OpenSSL).
func fixture(t testing.TB, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "pkcs12", name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// chainPEM is the fixtures' chain in order: leaf, intermediate, root.
func chainPEM(t testing.TB) string {
	return fixture(t, "leaf.crt") + fixture(t, "intermediate.crt") + fixture(t, "root.crt")
}

// leafKeyPKCS8 is the fixtures' leaf key as PEM PKCS#8, as ESO writes it.
func leafKeyPKCS8(t testing.TB) string {
	t.Helper()
	b, _ := pem.Decode([]byte(fixture(t, "leaf.key")))
	k, err := x509.ParseECPrivateKey(b.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := x509.MarshalPKCS8PrivateKey(k)
	return string(pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}))
}

// TestRender_pkcs12Read: pkcs12key and pkcs12cert (and their Pass forms)
// read the archives OpenSSL writes, in its modern and legacy (RC2, 3DES)
// layouts, with a password, an empty one and none, and give what ESO
// documents: the key as PEM PKCS#8, the certificates as PEM ordered leaf,
// intermediate, root.
func TestRender_pkcs12Read(t *testing.T) {
	key, chain := leafKeyPKCS8(t), chainPEM(t)
	for _, tc := range []struct{ file, pass string }{
		{"modern-pass.p12", "my-password"}, {"legacy-pass.p12", "my-password"},
		{"nopass.p12", ""}, {"emptypass.p12", ""},
	} {
		t.Run(tc.file, func(t *testing.T) {
			data := map[string]string{"p12": fixture(t, tc.file), "pass": tc.pass}
			src := `{{ .p12 | pkcs12keyPass .pass }}|{{ .p12 | pkcs12certPass .pass }}`
			if tc.pass == "" {
				src += `|{{ .p12 | pkcs12key }}|{{ .p12 | pkcs12cert }}`
			}
			got, err := render(template.Limits{}, src, data)
			if err != nil {
				t.Fatal(err)
			}
			for i, part := range strings.Split(got, "|") {
				want := key
				if i%2 == 1 {
					want = chain
				}
				if part != want {
					t.Errorf("part %d:\n%s\nwant\n%s", i, part, want)
				}
			}
		})
	}
}

// TestRender_pkcs12ReadErrors: a wrong password, a value that is not an
// archive, and an archive above the iteration bound each give an error
// that says so and quotes neither the password nor the archive.
func TestRender_pkcs12ReadErrors(t *testing.T) {
	const pass = "canary-password-4f1e"
	for name, tc := range map[string]struct {
		src, p12, want string
	}{
		"wrong password":        {`{{ .p12 | pkcs12keyPass .pass }}`, fixture(t, "modern-pass.p12"), "cannot be decrypted"},
		"wrong password legacy": {`{{ .p12 | pkcs12certPass .pass }}`, fixture(t, "legacy-pass.p12"), "cannot be decrypted"},
		"not an archive":        {`{{ .p12 | pkcs12key }}`, "canary-not-der-value", "not a PKCS#12 archive"},
		"PEM, not DER":          {`{{ .p12 | pkcs12cert }}`, fixture(t, "leaf.crt"), "not a PKCS#12 archive"},
		"too many iterations":   {`{{ .p12 | pkcs12keyPass "my-password" }}`, fixture(t, "many-iterations.p12"), "iteration count"},
		"too large":             {`{{ .p12 | pkcs12key }}`, strings.Repeat("x", 65<<10), "more than the 65536"},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := render(template.Limits{}, tc.src, map[string]string{"p12": tc.p12, "pass": pass})
			templateError(t, err)
			if !strings.Contains(err.Error(), tc.want) {
				t.Errorf("%v, want %q", err, tc.want)
			}
			if strings.Contains(err.Error(), pass) || strings.Contains(err.Error(), "canary-not") {
				t.Errorf("error quotes a value: %v", err)
			}
		})
	}
}

// TestRender_pkcs12Write: pemToPkcs12, fullPemToPkcs12 and
// pemTruststoreToPKCS12 (and their Pass forms) write base64 archives that
// OpenSSL's reader (the library's, and openssl itself when present) opens
// to the key and certificates given.
func TestRender_pkcs12Write(t *testing.T) {
	chain, key := chainPEM(t), fixture(t, "leaf.key")
	data := map[string]string{"chain": chain, "key": key, "leaf": fixture(t, "leaf.crt")}
	for name, tc := range map[string]struct {
		src, pass string
		certs     int
	}{
		"pemToPkcs12":         {`{{ pemToPkcs12 .chain .key }}`, "", 1},
		"pemToPkcs12Pass":     {`{{ pemToPkcs12Pass .leaf .key "pw" }}`, "pw", 1},
		"fullPemToPkcs12":     {`{{ fullPemToPkcs12 .chain .key }}`, "", 3},
		"fullPemToPkcs12Pass": {`{{ fullPemToPkcs12Pass .chain .key "pw" }}`, "pw", 3},
	} {
		t.Run(name, func(t *testing.T) {
			out, err := render(template.Limits{}, tc.src, data)
			if err != nil {
				t.Fatal(err)
			}
			der, err := base64.StdEncoding.DecodeString(out)
			if err != nil {
				t.Fatal(err)
			}
			k, cert, cas, err := gopkcs12.DecodeChain(der, tc.pass)
			if err != nil {
				t.Fatal(err)
			}
			if len(cas)+1 != tc.certs || cert.Subject.CommonName != "foo.example.com" {
				t.Errorf("%d certificates, leaf %s", len(cas)+1, cert.Subject)
			}
			if _, err := x509.MarshalPKCS8PrivateKey(k); err != nil {
				t.Error(err)
			}
			// The archive reads back through kseal's own functions too.
			back, err := render(template.Limits{}, `{{ .p | pkcs12certPass .pass }}`, map[string]string{"p": string(der), "pass": tc.pass})
			if err != nil || !strings.HasPrefix(back, data["leaf"]) {
				t.Errorf("read back: %v\n%s", err, back)
			}
			openssl(t, der, tc.pass)
		})
	}
	out, err := render(template.Limits{}, `{{ pemTruststoreToPKCS12Pass .chain "pw" }}`, data)
	if err != nil {
		t.Fatal(err)
	}
	der, _ := base64.StdEncoding.DecodeString(out)
	certs, err := gopkcs12.DecodeTrustStore(der, "pw")
	if err != nil || len(certs) != 3 {
		t.Errorf("trust store: %d certificates, %v", len(certs), err)
	}
}

// openssl opens der with the openssl command, when there is one.
func openssl(t *testing.T, der []byte, pass string) {
	t.Helper()
	if _, err := exec.LookPath("openssl"); err != nil {
		return
	}
	f := filepath.Join(t.TempDir(), "a.p12")
	if err := os.WriteFile(f, der, 0o600); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("openssl", "pkcs12", "-in", f, "-passin", "pass:"+pass, "-nodes").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "BEGIN PRIVATE KEY") {
		t.Errorf("openssl pkcs12: %v\n%s", err, out)
	}
}

// TestRender_pkcs12WriteErrors: inputs that are not PEM, a certificate
// where the key goes, and too many blocks are refused with a message.
func TestRender_pkcs12WriteErrors(t *testing.T) {
	data := map[string]string{"leaf": fixture(t, "leaf.crt"), "key": fixture(t, "leaf.key"),
		"many": strings.Repeat(fixture(t, "leaf.crt"), 65)}
	for src, want := range map[string]string{
		`{{ pemToPkcs12 "nothing" .key }}`:              "not PEM",
		`{{ pemToPkcs12 .leaf "nothing" }}`:             "not PEM",
		`{{ pemToPkcs12 .leaf .leaf }}`:                 "unable to parse private key",
		`{{ fullPemToPkcs12 (print .leaf .key) .key }}`: "not a valid certificate",
		`{{ pemTruststoreToPKCS12 .many }}`:             "more than 64 PEM blocks",
	} {
		_, err := render(template.Limits{}, src, data)
		templateError(t, err)
		if !strings.Contains(err.Error(), want) {
			t.Errorf("%s: %v, want %q", src, err, want)
		}
	}
}

// TestRender_pkcs12ReadPBMAC1: an archive with a PBMAC1 MAC (RFC 9579, as
// go-pkcs12's Modern2026 writes it) reads, and one whose MAC asks for more
// iterations than the bound is refused before they run.
func TestRender_pkcs12ReadPBMAC1(t *testing.T) {
	kb, _ := pem.Decode([]byte(fixture(t, "leaf.key")))
	key, err := x509.ParseECPrivateKey(kb.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	cb, _ := pem.Decode([]byte(fixture(t, "leaf.crt")))
	cert, _ := x509.ParseCertificate(cb.Bytes)
	for iterations, want := range map[int]string{2048: "", 200_000: "iteration count"} {
		der, err := gopkcs12.Modern2026.WithIterations(iterations).Encode(key, cert, nil, "pw")
		if err != nil {
			t.Fatal(err)
		}
		got, err := render(template.Limits{}, `{{ .p | pkcs12keyPass "pw" }}`, map[string]string{"p": string(der)})
		switch {
		case want == "" && (err != nil || got != leafKeyPKCS8(t)):
			t.Errorf("%d iterations: %v\n%s", iterations, err, got)
		case want != "" && (err == nil || !strings.Contains(err.Error(), want)):
			t.Errorf("%d iterations: %v, want %q", iterations, err, want)
		}
	}
}

// TestRender_pkcs12Budget: the PKCS#12 functions share the object's work
// budget, so a template that reads an archive many times is stopped at
// MaxWork before the work of the call that would exceed it.
func TestRender_pkcs12Budget(t *testing.T) {
	data := map[string]string{"p": fixture(t, "modern-pass.p12"), "c": chainPEM(t), "k": fixture(t, "leaf.key")}
	for _, call := range []string{`{{ .p | pkcs12keyPass "my-password" }}`, `{{ fullPemToPkcs12 .c .k }}`} {
		if _, err := render(template.Limits{}, strings.Repeat(call, 14), data); err != nil {
			t.Fatalf("14 calls: %v", err)
		}
		_, err := render(template.Limits{}, strings.Repeat(call, 15), data)
		if te := templateError(t, err); te.Limit != template.LimitWork {
			t.Errorf("15 calls: %v, want the work limit", err)
		}
	}
}
