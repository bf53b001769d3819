package sops_test

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"

	"filippo.io/age"
	"go.yaml.in/yaml/v3"

	"github.com/kseal-dev/kseal/crypto/sops"
	"github.com/kseal-dev/kseal/crypto/sops/sopstest"
)

// diffDocs are plaintexts in every format, with the shapes and types the
// formats hold: nesting, lists, comments (head, inline, foot, in lists),
// numbers, booleans, nulls, multi-line strings, anchors, several YAML
// documents, keys that the rules below leave in the clear.
var diffDocs = map[sops.Format][]string{
	sops.FormatYAML: {
		secretYAML,
		"# top comment\napiVersion: v1 # inline\nkind: Secret\n# before data\ndata:\n    # in data\n    a: YQ== # trailing\n    b_unencrypted: clear\n# foot\n",
		"list:\n    - one\n    # between\n    - 2\n    - 3.5\n    - true\n    - null\n    - {x: 1, y: [a, b]}\n    - - nested\n      - list # inline in list\nnum: 12345678901\nneg: -7\nfloat: 1e3\nzero: 0.0\nbig: 1.7976931348623157e308\n",
		"multi: |\n    line one\n    line two\ntext: \"<html>&amp;</html>\"\nunicode: \"h\u00e9llo \u2603\"\nempty: \"\"\nquoted: 'single'\nts: 2024-01-02T03:04:05Z\nbin: !!binary aGVsbG8=\n",
		"base: &b\n    user: u\n    pass: p\nother: *b\nsecret_enc: yes\nplain_enc_suffix_not: no\n",
		"a: 1\n---\nb: 2\n# second doc comment\n---\nc: [x]\n",
		"kseal.dev/scope: ns/name\nstringData:\n    password: " + secretValue + "\n    port: \"5432\"\n",
		"# comment only before\n# encrypt-next\nsecret: s1\nplain: p1\n#   sops:enc\nnested:\n    # encrypt-next\n    deep: d\n    shallow: s\n",
	},
	sops.FormatJSON: {
		`{"p":"` + secretValue + `","n":[1,{"x":true}],"f":1.5,"z":null,"e":"","html":"<a>&</a>","u":"\u00e9\u2603"}`,
		`{"nested":{"a":{"b":{"c":[1,2,[3,4],{"d":"e"}]}},"k_unencrypted":"clear"},"big":12345678901234,"exp":1e400,"neg":-0.0}`,
		`{"dup":1,"dup":2,"empty":{},"emptylist":[]}`,
		`{"kseal.dev/scope":"*","password":"` + secretValue + `"}`,
	},
	sops.FormatDotenv: {
		"PASSWORD=" + secretValue + "\nUSER=app\n",
		"#comment\nA=1\nB=multi\\nline\nC=\n#   another = comment\nD==x=y\nE_unencrypted=clear\n",
		"kseal.dev/scope=ns/*\nKEY=value\n",
	},
	sops.FormatINI: {
		"[s]\np = " + secretValue + "\n",
		"; head\n[db]\n; key comment\nuser = app\npass = secret # not a comment\n\n[other]\nx = 1\ny_unencrypted = clear\n",
	},
	sops.FormatBinary: {
		secretValue,
		"\x00\x01binary\xff bytes\n",
		"",
	},
}

// diffOptions are the ways sops --encrypt can be told to encrypt: the
// default, the MAC over encrypted values only, and each rule.
func diffOptions(r []string) map[string]sopstest.Options {
	return map[string]sopstest.Options{
		"default":           {Recipients: r},
		"mac-only":          {Recipients: r, MACOnlyEncrypted: true},
		"encrypted-regex":   {Recipients: r, EncryptedRegex: "^(data|stringData|p|password|secret|PASSWORD|list|multi|nested)$"},
		"mac-only+regex":    {Recipients: r, EncryptedRegex: "^(data|p|pass|list)$", MACOnlyEncrypted: true},
		"unencrypted-regex": {Recipients: r, UnencryptedRegex: "^(apiVersion|kind|USER|user|a)$"},
		"encrypted-suffix":  {Recipients: r, EncryptedSuffix: "_enc"},
		"unencrypted-suff":  {Recipients: r, UnencryptedSuffix: "_clear"},
		"enc-comment":       {Recipients: r, EncryptedCommentRegex: "encrypt-next|sops:enc"},
		"unenc-comment":     {Recipients: r, UnencryptedCommentRegex: "in data|between|encrypt-next"},
		"bad-regex":         {Recipients: r, EncryptedRegex: "(unclosed"},
	}
}

// TestDecryptor_matchesSopsLibrary encrypts every document of diffDocs with
// the sops library under every option and key setup, and requires kseal's
// decryptor to write exactly what the library writes, in the document's
// own format and across formats.
func TestDecryptor_matchesSopsLibrary(t *testing.T) {
	x, pq, other := newX25519(t), newHybrid(t), newX25519(t)
	setups := map[string]func(sopstest.Options) sopstest.Options{
		"x25519": func(o sopstest.Options) sopstest.Options { return o },
		"pq+other": func(o sopstest.Options) sopstest.Options {
			o.Recipients = []string{other.recipient, pq.recipient, x.recipient}
			return o
		},
		"shamir-2-of-3": func(o sopstest.Options) sopstest.Options {
			o.Recipients = nil
			o.KeyGroups = [][]string{{x.recipient}, {other.recipient, x.recipient}, {pq.recipient}}
			o.ShamirThreshold = 2
			return o
		},
	}
	d := newDecryptor(t, sops.Options{}, x)
	compared := 0
	for f, docs := range diffDocs {
		for i, plain := range docs {
			for oname, opts := range diffOptions([]string{x.recipient}) {
				for sname, setup := range setups {
					if sname != "x25519" && oname != "default" && oname != "mac-only" {
						continue // key setups do not change how values decrypt
					}
					name := fmt.Sprintf("%s/%d/%s/%s", f, i, oname, sname)
					enc, err := sopstest.Encrypt([]byte(plain), f, setup(opts))
					if err != nil {
						// A rule sops refuses for this document (an encrypted
						// comment that matches its own unencrypted rule).
						continue
					}
					for _, out := range outFormats(f) {
						compareDecrypt(t, d, name+"->"+out.String(), enc, f, out, x)
						compared++
					}
				}
			}
		}
	}
	if compared < 400 {
		t.Fatalf("only %d comparisons made", compared)
	}
}

// outFormats are the formats a document in f is also written as.
func outFormats(f sops.Format) []sops.Format {
	switch f {
	case sops.FormatYAML, sops.FormatJSON:
		return []sops.Format{f, sops.FormatYAML, sops.FormatJSON}
	case sops.FormatDotenv:
		return []sops.Format{f, sops.FormatJSON, sops.FormatYAML}
	case sops.FormatINI:
		return []sops.Format{f, sops.FormatJSON}
	}
	return []sops.Format{f}
}

// compareDecrypt requires both decryptors to agree on one document: the
// same bytes, or both refusing.
func compareDecrypt(t *testing.T, d *sops.Decryptor, name string, enc []byte, in, out sops.Format, kp keyPair) {
	t.Helper()
	want, wantErr := sopstest.LibraryDecrypt(enc, in, out, kp.identity)
	got, err := d.DecryptTo(name, enc, in, out)
	switch {
	case wantErr != nil && err == nil:
		t.Errorf("%s: the library refuses (%v), kseal decrypts", name, wantErr)
	case wantErr == nil && err != nil:
		t.Errorf("%s: the library decrypts, kseal refuses: %v", name, err)
	case err == nil && !bytes.Equal(got, want):
		t.Errorf("%s: output differs\nkseal:   %q\nlibrary: %q", name, got, want)
	}
	if err != nil {
		checkNoSecret(t, err)
	}
}

// TestDecryptor_tamperedLikeLibrary changes encrypted documents of every
// format the ways an attacker who can edit them would, and requires both
// the library and kseal's decryptor to refuse each, kseal without any
// plaintext in the error.
func TestDecryptor_tamperedLikeLibrary(t *testing.T) {
	kp, stranger := newX25519(t), newX25519(t)
	d := newDecryptor(t, sops.Options{}, kp)
	docs := map[sops.Format]string{
		sops.FormatYAML:   "a: " + secretValue + "\nb: second-value-xyz\n",
		sops.FormatJSON:   `{"a":"` + secretValue + `","b":"second-value-xyz"}`,
		sops.FormatDotenv: "a=" + secretValue + "\nb=second-value-xyz\n",
		sops.FormatINI:    "[s]\na = " + secretValue + "\nb = second-value-xyz\n",
		sops.FormatBinary: secretValue,
	}
	for f, plain := range docs {
		enc := encrypt(t, plain, f, sopstest.Options{Recipients: []string{kp.recipient}})
		other := encrypt(t, plain, f, sopstest.Options{Recipients: []string{kp.recipient}})
		values := encValues(enc)
		cases := map[string][]byte{
			"flipped ciphertext byte":       flipData(enc, values[0]),
			"mac of another encryption":     bytes.Replace(enc, []byte(macValue(enc, values)), []byte(macValue(other, encValues(other))), 1),
			"value from another encryption": bytes.Replace(enc, []byte(values[0]), []byte(encValues(other)[0]), 1),
			"wrong age key":                 encrypt(t, plain, f, sopstest.Options{Recipients: []string{stranger.recipient}}),
		}
		if len(values) >= 3 {
			cases["values swapped between paths"] = swap(enc, values[0], values[1])
		}
		for name, doc := range cases {
			t.Run(f.String()+"/"+name, func(t *testing.T) {
				if bytes.Equal(doc, enc) {
					t.Fatalf("fixture not changed:\n%s", enc)
				}
				if _, err := sopstest.LibraryDecrypt(doc, f, f, kp.identity); err == nil {
					t.Fatalf("the library decrypts it")
				}
				_, err := d.Decrypt("doc", doc, f)
				if err == nil {
					t.Fatalf("kseal decrypts it")
				}
				checkNoSecret(t, err)
				var ke *sops.KeyError
				if name == "wrong age key" && !errors.As(err, &ke) {
					t.Errorf("err = %v, want a KeyError", err)
				}
			})
		}
	}
}

// encValues returns the ENC[...] values of a document, in order; the MAC
// is the last.
func encValues(doc []byte) []string {
	var out []string
	s := string(doc)
	for {
		i := strings.Index(s, "ENC[AES256_GCM,")
		if i < 0 {
			return out
		}
		j := strings.Index(s[i:], "]")
		out = append(out, s[i:i+j+1])
		s = s[i+j+1:]
	}
}

func macValue(_ []byte, values []string) string { return values[len(values)-1] }

// flipData changes one base64 character of a value's data.
func flipData(doc []byte, value string) []byte {
	i := strings.Index(value, "data:") + len("data:")
	b := []byte(value)
	if b[i] == 'A' {
		b[i] = 'B'
	} else {
		b[i] = 'A'
	}
	return bytes.Replace(doc, []byte(value), b, 1)
}

func swap(doc []byte, a, b string) []byte {
	s := strings.Replace(string(doc), a, "\x00SWAP\x00", 1)
	s = strings.Replace(s, b, a, 1)
	return []byte(strings.Replace(s, "\x00SWAP\x00", b, 1))
}

// FuzzMatchesLibrary encrypts arbitrary plaintexts with the sops library
// (under one of the rules) and requires kseal's decryptor to write what
// the library writes whenever the library decrypts the result.
func FuzzMatchesLibrary(f *testing.F) {
	id, err := age.ParseX25519Identity(fuzzIdentity)
	if err != nil {
		f.Fatal(err)
	}
	kp := keyPair{name: "fuzz", identity: id, secret: fuzzIdentity, recipient: id.Recipient().String()}
	for fm, docs := range diffDocs {
		for _, doc := range docs {
			f.Add([]byte(doc), uint8(fm), uint8(0))
		}
	}
	f.Add([]byte("# c\na: 1 # i\n"), uint8(sops.FormatYAML), uint8(7))
	rules := []string{"default", "mac-only", "encrypted-regex", "mac-only+regex", "unencrypted-regex", "encrypted-suffix", "unencrypted-suff", "enc-comment", "unenc-comment"}
	opts := diffOptions([]string{kp.recipient})
	d := newDecryptor(f, sops.Options{}, kp)
	f.Fuzz(func(t *testing.T, plain []byte, format, rule uint8) {
		if len(plain) > 4<<10 {
			return
		}
		fm := sops.Format(format % 5)
		want, ok := libraryRoundTrip(plain, fm, opts[rules[int(rule)%len(rules)]], kp)
		if !ok {
			return
		}
		got, err := d.Decrypt("fuzz", want.enc, fm)
		if err != nil {
			t.Fatalf("the library decrypts, kseal refuses: %v\n%q", err, want.enc)
		}
		if !bytes.Equal(got, want.plain) {
			t.Fatalf("output differs\nkseal:   %q\nlibrary: %q\ndocument: %q", got, want.plain, want.enc)
		}
	})
}

type roundTrip struct{ enc, plain []byte }

// libraryRoundTrip encrypts and decrypts plain with the library; false
// when either step fails (or the library panics).
func libraryRoundTrip(plain []byte, f sops.Format, opts sopstest.Options, kp keyPair) (rt roundTrip, ok bool) {
	defer func() {
		if recover() != nil {
			ok = false
		}
	}()
	if f == sops.FormatYAML && !aliasesBounded(plain) {
		return rt, false // the library would expand them without bound
	}
	enc, err := sopstest.Encrypt(plain, f, opts)
	if err != nil {
		return rt, false
	}
	out, err := sopstest.LibraryDecrypt(enc, f, f, kp.identity)
	if err != nil {
		return rt, false
	}
	return roundTrip{enc: enc, plain: out}, true
}

// aliasesBounded reports whether every document of a YAML stream decodes
// within the YAML decoder's bound on alias expansion.
func aliasesBounded(data []byte) bool {
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var v any
		err := dec.Decode(&v)
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
	}
}
