package sops_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"

	"filippo.io/age"
	"sigs.k8s.io/yaml"

	"github.com/kseal-dev/kseal/crypto/sops"
	"github.com/kseal-dev/kseal/crypto/sops/sopstest"
)

// secretValue is the plaintext the tests look for in every error message.
const secretValue = "correct-horse-battery-staple"

const secretYAML = `apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: prod
type: Opaque
stringData:
  password: ` + secretValue + `
  port: "5432"
`

// sameDocument compares two YAML or JSON documents by content.
func sameDocument(t *testing.T, got, want []byte) {
	t.Helper()
	var g, w any
	if err := yaml.Unmarshal(got, &g); err != nil {
		t.Fatalf("decrypted document does not parse: %v", err)
	}
	if err := yaml.Unmarshal(want, &w); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(g, w) {
		t.Errorf("decrypted document differs:\n got: %s\nwant: %s", got, want)
	}
}

func TestDecryptor_Decrypt_formats(t *testing.T) {
	binary := []byte("\x00\x01 binary " + secretValue + "\xff\n")
	cases := []struct {
		format sops.Format
		plain  string
		// exact: the output must equal plain byte for byte.
		exact bool
	}{
		{sops.FormatYAML, secretYAML, false},
		{sops.FormatJSON, `{"user":"app","password":"` + secretValue + `","nested":{"n":1,"list":["a","b"]}}`, false},
		{sops.FormatDotenv, "USER=app\nPASSWORD=" + secretValue + "\n", true},
		{sops.FormatINI, "[db]\npassword = " + secretValue + "\n", false},
		{sops.FormatBinary, string(binary), true},
	}
	for _, gen := range []func(testing.TB) keyPair{newX25519, newHybrid} {
		kp := gen(t)
		d := newDecryptor(t, sops.Options{}, kp)
		for _, c := range cases {
			t.Run(kp.name+"/"+c.format.String(), func(t *testing.T) {
				enc := encrypt(t, c.plain, c.format, sopstest.Options{Recipients: []string{kp.recipient}})
				if bytes.Contains(enc, []byte(secretValue)) {
					t.Fatal("the fixture is not encrypted")
				}
				stored := c.format
				if stored == sops.FormatBinary {
					stored = sops.FormatJSON
				}
				if f, ok := sops.DetectFormat(enc); !ok || f != stored {
					t.Errorf("DetectFormat = %v, %v; want %v, true", f, ok, stored)
				}
				if !sops.IsEncrypted(enc, c.format) {
					t.Error("IsEncrypted = false for an encrypted document")
				}
				got, err := d.Decrypt("secret."+c.format.String(), enc, c.format)
				if err != nil {
					t.Fatal(err)
				}
				switch {
				case c.exact:
					if !bytes.Equal(got, []byte(c.plain)) {
						t.Errorf("got %q, want %q", got, c.plain)
					}
				case c.format == sops.FormatINI:
					if !strings.Contains(string(got), "password = "+secretValue) {
						t.Errorf("got %q", got)
					}
				default:
					sameDocument(t, got, []byte(c.plain))
				}
			})
		}
	}
}

func TestDecryptor_DecryptTo(t *testing.T) {
	kp := newX25519(t)
	d := newDecryptor(t, sops.Options{}, kp)
	enc := encrypt(t, `{"a":"`+secretValue+`"}`, sops.FormatJSON, sopstest.Options{Recipients: []string{kp.recipient}})
	got, err := d.DecryptTo("a.json", enc, sops.FormatJSON, sops.FormatYAML)
	if err != nil {
		t.Fatal(err)
	}
	sameDocument(t, got, []byte("a: "+secretValue))
}

func TestDecryptor_Decrypt_partialAndMACOnlyEncrypted(t *testing.T) {
	kp := newHybrid(t)
	d := newDecryptor(t, sops.Options{}, kp)
	enc := encrypt(t, secretYAML, sops.FormatYAML, sopstest.Options{Recipients: []string{kp.recipient}, EncryptedRegex: sopstest.SecretsOnly})
	if !bytes.Contains(enc, []byte("name: db")) || bytes.Contains(enc, []byte(secretValue)) {
		t.Fatalf("expected metadata in the clear and values encrypted:\n%s", enc)
	}
	// Changing a readable field breaks the MAC...
	moved := bytes.Replace(enc, []byte("namespace: prod"), []byte("namespace: staging"), 1)
	_, err := d.Decrypt("secret.yaml", moved, sops.FormatYAML)
	if !errors.Is(err, sops.ErrMACMismatch) {
		t.Fatalf("err = %v, want ErrMACMismatch", err)
	}
	// ...unless the check is skipped explicitly...
	skip := newDecryptor(t, sops.Options{SkipMACCheck: true}, kp)
	got, err := skip.Decrypt("secret.yaml", moved, sops.FormatYAML)
	if err != nil {
		t.Fatal(err)
	}
	sameDocument(t, got, []byte(strings.Replace(secretYAML, "namespace: prod", "namespace: staging", 1)))

	// ...or the MAC covers the encrypted values only.
	macOnly := encrypt(t, secretYAML, sops.FormatYAML, sopstest.Options{Recipients: []string{kp.recipient}, EncryptedRegex: sopstest.SecretsOnly, MACOnlyEncrypted: true})
	moved = bytes.Replace(macOnly, []byte("namespace: prod"), []byte("namespace: staging"), 1)
	if _, err := d.Decrypt("secret.yaml", moved, sops.FormatYAML); err != nil {
		t.Fatalf("mac_only_encrypted document with a changed namespace: %v", err)
	}
}

// checkNoSecret fails when an error message holds the plaintext.
func checkNoSecret(t *testing.T, err error) {
	t.Helper()
	if err == nil {
		t.Fatal("expected an error")
	}
	t.Logf("error: %v", err)
	if strings.Contains(err.Error(), secretValue) {
		t.Fatalf("error contains the plaintext: %v", err)
	}
	var e *sops.Error
	if !errors.As(err, &e) {
		t.Fatalf("error is %T, want *sops.Error", err)
	}
}

func TestDecryptor_Decrypt_tampered(t *testing.T) {
	kp := newX25519(t)
	d := newDecryptor(t, sops.Options{}, kp)
	opts := sopstest.Options{Recipients: []string{kp.recipient}, EncryptedRegex: sopstest.SecretsOnly}
	enc := encrypt(t, secretYAML, sops.FormatYAML, opts)

	t.Run("value swapped between keys", func(t *testing.T) {
		var doc map[string]any
		if err := yaml.Unmarshal(enc, &doc); err != nil {
			t.Fatal(err)
		}
		sd := doc["stringData"].(map[string]any)
		sd["password"], sd["port"] = sd["port"], sd["password"]
		swapped, err := yaml.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		_, err = d.Decrypt("secret.yaml", swapped, sops.FormatYAML)
		checkNoSecret(t, err)
		if !errors.Is(err, sops.ErrCorrupt) {
			t.Errorf("err = %v, want ErrCorrupt", err)
		}
	})
	t.Run("plaintext value added", func(t *testing.T) {
		added := bytes.Replace(enc, []byte("stringData:\n"), []byte("stringData:\n    extra: "+secretValue+"\n"), 1)
		if !bytes.Contains(added, []byte("extra: ")) {
			t.Fatalf("fixture not changed:\n%s", enc)
		}
		_, err := d.Decrypt("secret.yaml", added, sops.FormatYAML)
		checkNoSecret(t, err)
		if !errors.Is(err, sops.ErrMalformed) || !strings.Contains(err.Error(), "ENC[...]") {
			t.Errorf("err = %v, want ErrMalformed about ENC[...]", err)
		}
	})
	t.Run("value deleted", func(t *testing.T) {
		var doc map[string]any
		if err := yaml.Unmarshal(enc, &doc); err != nil {
			t.Fatal(err)
		}
		delete(doc["stringData"].(map[string]any), "port")
		cut, err := yaml.Marshal(doc)
		if err != nil {
			t.Fatal(err)
		}
		_, err = d.Decrypt("secret.yaml", cut, sops.FormatYAML)
		checkNoSecret(t, err)
		if !errors.Is(err, sops.ErrMACMismatch) {
			t.Errorf("err = %v, want ErrMACMismatch", err)
		}
	})
	t.Run("dotenv value moved", func(t *testing.T) {
		env := encrypt(t, "PASSWORD="+secretValue+"\nUSER=app\n", sops.FormatDotenv, sopstest.Options{Recipients: []string{kp.recipient}})
		lines := strings.Split(string(env), "\n")
		var password string
		for _, l := range lines {
			if v, ok := strings.CutPrefix(l, "PASSWORD="); ok {
				password = v
			}
		}
		for i, l := range lines {
			if strings.HasPrefix(l, "USER=") {
				lines[i] = "USER=" + password
			}
		}
		_, err := d.Decrypt("app.env", []byte(strings.Join(lines, "\n")), sops.FormatDotenv)
		checkNoSecret(t, err)
		if !errors.Is(err, sops.ErrCorrupt) {
			t.Errorf("err = %v, want ErrCorrupt", err)
		}
	})
}

func TestDecryptor_Decrypt_wrongKey(t *testing.T) {
	owner, other, pq := newX25519(t), newX25519(t), newHybrid(t)
	enc := encrypt(t, secretYAML, sops.FormatYAML, sopstest.Options{Recipients: []string{owner.recipient}})
	d := newDecryptor(t, sops.Options{}, other, pq)
	_, err := d.Decrypt("overlays/prod/secret.enc.yaml", enc, sops.FormatYAML)
	checkNoSecret(t, err)
	var ke *sops.KeyError
	if !errors.As(err, &ke) {
		t.Fatalf("err = %v, want *KeyError", err)
	}
	if !reflect.DeepEqual(ke.Recipients, []string{owner.recipient}) {
		t.Errorf("Recipients = %v", ke.Recipients)
	}
	if !reflect.DeepEqual(ke.Held, []string{other.recipient, pq.recipient}) {
		t.Errorf("Held = %v", ke.Held)
	}
	msg := err.Error()
	for _, want := range []string{"overlays/prod/secret.enc.yaml", owner.recipient, other.recipient, pq.recipient[:20], "no identity held opens it"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message %q lacks %q", msg, want)
		}
	}
	if strings.Contains(msg, pq.recipient) {
		t.Errorf("a post-quantum recipient should be abbreviated: %q", msg)
	}
	// The held identities' secret keys never appear.
	if strings.Contains(msg, "AGE-SECRET-KEY") {
		t.Errorf("message names a secret key: %q", msg)
	}
}

// TestDecryptor_Decrypt_severalRecipients: each recipient of a SOPS file gets
// its own age file of the data key, so post-quantum and X25519 recipients
// mix (unlike recipients of one age file).
func TestDecryptor_Decrypt_severalRecipients(t *testing.T) {
	a, b, x := newHybrid(t), newHybrid(t), newX25519(t)
	enc := encrypt(t, secretYAML, sops.FormatYAML, sopstest.Options{Recipients: []string{a.recipient, b.recipient, x.recipient}})
	for _, kp := range []keyPair{a, b, x} {
		if _, err := newDecryptor(t, sops.Options{}, kp).Decrypt("s.yaml", enc, sops.FormatYAML); err != nil {
			t.Error(err)
		}
	}
}

func TestDecryptor_Decrypt_tooLarge(t *testing.T) {
	kp := newX25519(t)
	d := newDecryptor(t, sops.Options{MaxSize: 1024}, kp)
	enc := encrypt(t, "big: "+strings.Repeat("x", 2048)+"\n", sops.FormatYAML, sopstest.Options{Recipients: []string{kp.recipient}})
	_, err := d.Decrypt("big.yaml", enc, sops.FormatYAML)
	if !errors.Is(err, sops.ErrTooLarge) || !strings.Contains(err.Error(), "big.yaml") || !strings.Contains(err.Error(), "limit is 1024") {
		t.Fatalf("err = %v, want ErrTooLarge naming the file and limit", err)
	}
	def := newDecryptor(t, sops.Options{}, kp)
	_, err = def.Decrypt("huge.yaml", bytes.Repeat([]byte("a"), sops.DefaultMaxSize+1), sops.FormatYAML)
	if !errors.Is(err, sops.ErrTooLarge) {
		t.Fatalf("err = %v, want ErrTooLarge at the default limit", err)
	}
}

func TestDecryptor_Decrypt_malformed(t *testing.T) {
	kp := newX25519(t)
	d := newDecryptor(t, sops.Options{}, kp)
	enc := string(encrypt(t, secretYAML, sops.FormatYAML, sopstest.Options{Recipients: []string{kp.recipient}, EncryptedRegex: sopstest.SecretsOnly}))
	cases := []struct {
		name string
		doc  string
		want error
	}{
		{"no metadata", secretYAML, sops.ErrNotEncrypted},
		{"metadata not a mapping", "a: b\nsops: " + secretValue + "\n", sops.ErrMalformed},
		{"not yaml", "password: " + secretValue + "\nother: [\n", sops.ErrMalformed},
		{"garbled age stanza", replaceBetween(enc, "-----BEGIN AGE ENCRYPTED FILE-----", "-----END AGE ENCRYPTED FILE-----", "\n            AAAA\n            "), nil},
		{"bad lastmodified", replaceLine(enc, "lastmodified:", "    lastmodified: yesterday"), sops.ErrMalformed},
		{"duplicate keys", secretYAML + "stringData: {}\n", sops.ErrMalformed},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			_, err := d.Decrypt("bad.yaml", []byte(c.doc), sops.FormatYAML)
			checkNoSecret(t, err)
			if c.want != nil && !errors.Is(err, c.want) {
				t.Errorf("err = %v, want %v", err, c.want)
			}
			if !strings.HasPrefix(err.Error(), "bad.yaml: ") {
				t.Errorf("error does not name the document: %v", err)
			}
		})
	}
	t.Run("dotenv line without =", func(t *testing.T) {
		_, err := d.Decrypt("bad.env", []byte("sops_mac=x\nsops_version=3\n"+secretValue+"\n"), sops.FormatDotenv)
		checkNoSecret(t, err)
		if !errors.Is(err, sops.ErrMalformed) {
			t.Errorf("err = %v", err)
		}
	})
}

func replaceBetween(s, start, end, with string) string {
	i, j := strings.Index(s, start), strings.Index(s, end)
	if i < 0 || j < i {
		return s
	}
	return s[:i+len(start)] + with + s[j:]
}

func replaceLine(s, prefix, with string) string {
	lines := strings.Split(s, "\n")
	for i, l := range lines {
		if strings.HasPrefix(strings.TrimSpace(l), prefix) {
			lines[i] = with
		}
	}
	return strings.Join(lines, "\n")
}

func TestDecryptor_Decrypt_otherKeyTypes(t *testing.T) {
	kp := newX25519(t)
	enc := encrypt(t, `{"a":"b"}`, sops.FormatJSON, sopstest.Options{Recipients: []string{kp.recipient}})
	// Replace the age key group by a PGP one: kseal must not try GnuPG.
	var doc map[string]any
	if err := json.Unmarshal(enc, &doc); err != nil {
		t.Fatal(err)
	}
	md := doc["sops"].(map[string]any)
	delete(md, "age")
	md["pgp"] = []any{map[string]any{"fp": "85D77543B3D624B63CEA9E6DBC17301B491B3F21", "enc": "x", "created_at": "2024-01-01T00:00:00Z"}}
	pgp, _ := json.Marshal(doc)
	_, err := newDecryptor(t, sops.Options{}, kp).Decrypt("pgp.json", pgp, sops.FormatJSON)
	var ke *sops.KeyError
	if !errors.As(err, &ke) || len(ke.OtherKeys) != 1 || !strings.Contains(err.Error(), "85D77543B3D624B63CEA9E6DBC17301B491B3F21") {
		t.Fatalf("err = %v, want a KeyError naming the PGP key", err)
	}
}

func TestNew(t *testing.T) {
	if _, err := sops.New(nil, sops.Options{}); err == nil {
		t.Error("New without identities succeeded")
	}
	scrypt, err := age.NewScryptIdentity("passphrase")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sops.New([]age.Identity{scrypt}, sops.Options{}); err == nil || !strings.Contains(err.Error(), "only age X25519 and post-quantum") {
		t.Errorf("New with a passphrase identity: %v", err)
	}
}

func TestDecryptor_Verify(t *testing.T) {
	kp := newHybrid(t)
	d := newDecryptor(t, sops.Options{}, kp)
	enc := encrypt(t, secretYAML, sops.FormatYAML, sopstest.Options{Recipients: []string{kp.recipient}, EncryptedRegex: sopstest.SecretsOnly})
	if err := d.Verify("s.yaml", enc, sops.FormatYAML); err != nil {
		t.Fatal(err)
	}
	err := d.Verify("s.yaml", bytes.Replace(enc, []byte("name: db"), []byte("name: other"), 1), sops.FormatYAML)
	if !errors.Is(err, sops.ErrMACMismatch) {
		t.Fatalf("err = %v, want ErrMACMismatch", err)
	}
	// Decrypting again after a Verify uses the cached data key and gives
	// the same result.
	for range 2 {
		got, err := d.Decrypt("s.yaml", enc, sops.FormatYAML)
		if err != nil {
			t.Fatal(err)
		}
		sameDocument(t, got, []byte(secretYAML))
	}
}

// TestDecryptor_Decrypt_aliasBombInLaterDocument: a YAML stream whose
// second document expands its aliases exponentially is refused before the
// expansion, like one whose first document does.
func TestDecryptor_Decrypt_aliasBombInLaterDocument(t *testing.T) {
	kp := newX25519(t)
	d := newDecryptor(t, sops.Options{}, kp)
	enc := encrypt(t, "a: b\n", sops.FormatYAML, sopstest.Options{Recipients: []string{kp.recipient}})
	bomb := "l0: &l0 [x, x, x, x, x, x, x, x, x, x]\n"
	for i := 1; i < 10; i++ {
		bomb += fmt.Sprintf("l%d: &l%d [*l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d, *l%d]\n", i, i, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1, i-1)
	}
	_, err := d.Decrypt("bomb.yaml", append(enc, []byte("---\n"+bomb)...), sops.FormatYAML)
	if !errors.Is(err, sops.ErrMalformed) {
		t.Fatalf("err = %v, want ErrMalformed", err)
	}
}
