package template_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/kseal-dev/kseal/crypto/template"
)

// pkcs12FuzzLimits keep each fuzz run small: a work budget that allows the
// four reads of one archive of OpenSSL's default iteration counts.
var pkcs12FuzzLimits = template.Limits{MaxWork: 1 << 20}

// FuzzPKCS12 reads arbitrary bytes as a PKCS#12 archive with each reading
// function: it never panics, allocates little, and no error quotes the
// password or the archive.
func FuzzPKCS12(f *testing.F) {
	for _, name := range []string{"modern-pass.p12", "legacy-pass.p12", "nopass.p12", "emptypass.p12", "many-iterations.p12"} {
		f.Add([]byte(fixture(f, name)), "my-password")
	}
	f.Add([]byte{0x30, 0x03, 0x02, 0x01, 0x03}, "")
	const canary = "canary-pw-93d1"
	f.Fuzz(func(t *testing.T, p12 []byte, pass string) {
		if len(p12) > 8<<10 || len(pass) > 64 {
			return
		}
		pass = canary + pass
		data := map[string][]byte{"p": p12, "pass": []byte(pass)}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := pkcs12FuzzLimits.Render(map[string]string{
			"k": `{{ .p | pkcs12keyPass .pass }}`, "c": `{{ .p | pkcs12certPass .pass }}`,
			"k0": `{{ .p | pkcs12key }}`, "c0": `{{ .p | pkcs12cert }}`,
		}, data)
		runtime.ReadMemStats(&after)
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 8<<20 {
			t.Errorf("reading allocated %d bytes", alloc)
		}
		if err != nil {
			templateError(t, err)
			if strings.Contains(err.Error(), canary) || (len(p12) >= 8 && strings.Contains(err.Error(), string(p12))) {
				t.Fatalf("error quotes a value: %v", err)
			}
		}
	})
}

// FuzzCertChain reads arbitrary text as PEM certificates and keys with
// filterCertChain, certSANs and rsaDecrypt (the PEM parsing the PKCS#12
// writers share): no panic, and an error never quotes the input.
func FuzzCertChain(f *testing.F) {
	chain := fixture(f, "leaf.crt") + fixture(f, "intermediate.crt") + fixture(f, "root.crt")
	f.Add(chain, fixture(f, "leaf.key"))
	f.Add(fixture(f, "root.crt")+fixture(f, "root.crt"), "-----BEGIN RSA PRIVATE KEY-----\nMAA=\n-----END RSA PRIVATE KEY-----\n")
	f.Add("junk -----BEGIN CERTIFICATE-----\nMAA=\n-----END CERTIFICATE-----\n", "")
	f.Fuzz(func(t *testing.T, certs, key string) {
		if len(certs) > 16<<10 || len(key) > 8<<10 {
			return
		}
		data := map[string][]byte{"c": []byte(certs), "k": []byte(key)}
		for _, src := range []string{
			`{{ .c | filterCertChain "leaf" }}{{ .c | filterCertChain "intermediate" }}{{ .c | filterCertChain "root" }}`,
			`{{ .c | filterPEM "CERTIFICATE" | filterCertChain "leaf" | certSANs | join "," }}`,
			`{{ rsaDecrypt "RSA-OAEP" "SHA1" .c .k }}`,
		} {
			err := pkcs12FuzzLimits.Render(map[string]string{"o": src}, data)
			if err != nil {
				templateError(t, err)
				if len(certs) >= 16 && strings.Contains(err.Error(), certs) {
					t.Fatalf("error quotes the input: %v", err)
				}
			}
			delete(data, "o")
		}
	})
}
