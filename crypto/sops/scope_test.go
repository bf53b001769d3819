package sops_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/kseal-dev/kseal/crypto/sops"
	"github.com/kseal-dev/kseal/crypto/sops/sopstest"
)

// TestDecryptor_DecryptBound: a document bound by kseal.dev/scope decrypts
// only where it names, the key is dropped from the output, and documents
// without a binding covered by the MAC are refused without any value.
func TestDecryptor_DecryptBound(t *testing.T) {
	kp := newHybrid(t)
	d := newDecryptor(t, sops.Options{}, kp)
	at := sops.Target{Namespace: "tenant-b", Name: "db"}
	doc := func(scope string, opts sopstest.Options) []byte {
		plain := "password: pw-canary\n"
		if scope != "" {
			plain = "kseal.dev/scope: " + scope + "\n" + plain
		}
		opts.Recipients = []string{kp.recipient}
		return encrypt(t, plain, sops.FormatYAML, opts)
	}
	tests := map[string]struct {
		data []byte
		want string // "" = decrypts
	}{
		"strict":                  {doc("tenant-b/db", sopstest.Options{}), ""},
		"namespace-wide":          {doc("tenant-b/*", sopstest.Options{}), ""},
		"cluster-wide":            {doc(`"*"`, sopstest.Options{}), ""},
		"readable, MAC-covered":   {doc("tenant-b/db", sopstest.Options{EncryptedRegex: "^password$"}), ""},
		"encrypted, MAC-only":     {doc("tenant-b/db", sopstest.Options{MACOnlyEncrypted: true}), ""},
		"other namespace":         {doc("tenant-a/db", sopstest.Options{}), `bound to namespace "tenant-a" and name "db"`},
		"other namespace, wide":   {doc("tenant-a/*", sopstest.Options{}), `bound to namespace "tenant-a"`},
		"other name":              {doc("tenant-b/web", sopstest.Options{}), "used as tenant-b/db"},
		"unbound":                 {doc("", sopstest.Options{}), `add the top-level key kseal.dev/scope with the value "tenant-b/db"`},
		"not a scope":             {doc("TENANT B!", sopstest.Options{}), "not a valid scope"},
		"readable, not MAC-bound": {doc("tenant-b/db", sopstest.Options{EncryptedRegex: "^password$", MACOnlyEncrypted: true}), "not covered by the document's MAC"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			out, err := d.DecryptBound("doc", tt.data, sops.FormatYAML, at)
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				if string(out) != "password: pw-canary\n" {
					t.Errorf("output %q, want the document without kseal.dev/scope", out)
				}
				return
			}
			if !errors.Is(err, sops.ErrScope) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrScope with %q", err, tt.want)
			}
			if out != nil || strings.Contains(err.Error(), "pw-canary") || strings.Contains(err.Error(), "TENANT") {
				t.Errorf("refusal leaks: %q %v", out, err)
			}
		})
	}
	// A readable scope edited to the attacker's namespace breaks the MAC.
	edited := bytes.Replace(doc("tenant-a/db", sopstest.Options{EncryptedRegex: "^password$"}), []byte("tenant-a/db"), []byte("tenant-b/db"), 1)
	if _, err := d.DecryptBound("doc", edited, sops.FormatYAML, at); !errors.Is(err, sops.ErrMACMismatch) {
		t.Errorf("edited scope: err = %v, want ErrMACMismatch", err)
	}
	// Without the MAC check a binding means nothing: refused.
	noMAC := newDecryptor(t, sops.Options{SkipMACCheck: true}, kp)
	if _, err := noMAC.DecryptBound("doc", doc("tenant-b/db", sopstest.Options{}), sops.FormatYAML, at); !errors.Is(err, sops.ErrScope) {
		t.Errorf("SkipMACCheck: err = %v, want ErrScope", err)
	}
	// dotenv.
	env := encrypt(t, "kseal.dev/scope=tenant-b/db\nTOKEN=pw-canary\n", sops.FormatDotenv, sopstest.Options{Recipients: []string{kp.recipient}})
	if out, err := d.DecryptBound("env", env, sops.FormatDotenv, at); err != nil || string(out) != "TOKEN=pw-canary\n" {
		t.Errorf("dotenv: %q %v", out, err)
	}
}

// TestDecryptor_dataKeyFailuresUniform: whatever an age stanza that opens
// holds (a v2 SealedSecret value moved into a SOPS document, under a key
// generation whose identity serves both), the error is the same one, so it
// tells nothing about that plaintext, not even its length.
func TestDecryptor_dataKeyFailuresUniform(t *testing.T) {
	kp := newHybrid(t)
	d := newDecryptor(t, sops.Options{}, kp)
	errorOf := func(wrapped []byte) string {
		data := encrypt(t, "a: pw-canary\nb: 2\n", sops.FormatYAML, sopstest.Options{Recipients: []string{kp.recipient}, WrappedKey: wrapped})
		_, err := d.Decrypt("doc", data, sops.FormatYAML)
		if err == nil {
			t.Fatalf("%d-byte wrapped key: decrypted", len(wrapped))
		}
		return err.Error()
	}
	want := errorOf(bytes.Repeat([]byte{1}, 32)) // a wrong data key of the right size
	if !strings.Contains(want, "do not decrypt with its data key") {
		t.Fatalf("wrong data key: %s", want)
	}
	for _, n := range []int{0, 1, 16, 24, 31, 33, 64, 1024, 1025, 4096} {
		wrapped := append([]byte("ns/name\x00"), bytes.Repeat([]byte{'v'}, n)...)[:n]
		if got := errorOf(wrapped); got != want {
			t.Errorf("%d-byte content: %q\nwant the same error as a wrong 32-byte key: %q", n, got, want)
		}
	}
	// A document without encrypted values still fails on its MAC, the same way.
	data := encrypt(t, "a: 1\n", sops.FormatYAML, sopstest.Options{Recipients: []string{kp.recipient}, EncryptedRegex: "^none$", WrappedKey: []byte("short")})
	if _, err := d.Decrypt("doc", data, sops.FormatYAML); err == nil || err.Error() != want {
		t.Errorf("no encrypted values: %v", err)
	}
}

func FuzzCheckScope(f *testing.F) {
	for _, s := range []string{"*", "ns/name", "ns/*", "ns", "/", "ns/", "*/name", "a/b/c"} {
		f.Add(s, "ns", "name")
	}
	f.Fuzz(func(t *testing.T, value, ns, name string) {
		err := sops.CheckScope(value, ns, name)
		if err == nil && value != "*" && value != ns+"/*" && value != ns+"/"+name {
			t.Fatalf("CheckScope(%q, %q, %q) accepted", value, ns, name)
		}
		if err != nil && !errors.Is(err, sops.ErrScope) {
			t.Fatalf("error %v is not ErrScope", err)
		}
	})
}
