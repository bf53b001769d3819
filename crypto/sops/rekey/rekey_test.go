package rekey_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/pgp"
	"github.com/getsops/sops/v3/stores/yaml"

	"github.com/kseal-dev/kseal/crypto/sops"
	"github.com/kseal-dev/kseal/crypto/sops/rekey"
	"github.com/kseal-dev/kseal/crypto/sops/sopstest"
)

// rekeyKeys are the keys of a Rekey test: two cluster generations and two
// keys of other people.
type rekeyKeys struct{ gen1, gen2, foreignA, foreignB keyPair }

func newRekeyKeys(t *testing.T) rekeyKeys {
	return rekeyKeys{gen1: newHybrid(t), gen2: newHybrid(t), foreignA: newX25519(t), foreignB: newHybrid(t)}
}

func (k rekeyKeys) opts(rotate bool) rekey.Options {
	return rekey.Options{To: k.gen2.recipient, Replace: []string{k.gen1.recipient}, RotateDataKey: rotate}
}

// opens reports whether a Decryptor holding kps decrypts doc to want.
func opens(t *testing.T, doc []byte, f sops.Format, want string, kps ...keyPair) bool {
	t.Helper()
	got, err := newDecryptor(t, sops.Options{}, kps...).Decrypt("doc", doc, f)
	if err != nil {
		return false
	}
	if !strings.Contains(string(got), want) {
		t.Fatalf("decrypted to %q, want it to hold %q", got, want)
	}
	return true
}

// TestDecryptor_Rekey: every format moves from generation 1 to 2, keeps the
// other recipients, and the MAC and values stay unless the data key is
// rotated.
func TestDecryptor_Rekey(t *testing.T) {
	k := newRekeyKeys(t)
	docs := map[sops.Format]string{
		sops.FormatYAML:   "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: pw-canary\n",
		sops.FormatJSON:   `{"password":"pw-canary"}`,
		sops.FormatDotenv: "PASSWORD=pw-canary\n",
	}
	for f, plain := range docs {
		for _, rotate := range []bool{false, true} {
			t.Run(f.String()+map[bool]string{false: "", true: "/rotate"}[rotate], func(t *testing.T) {
				in := encrypt(t, plain, f, sopstest.Options{Recipients: []string{k.gen1.recipient, k.foreignA.recipient}})
				d := newDecryptor(t, sops.Options{}, k.gen1)
				out, changed, err := rekey.Rekey(d, "doc", in, f, k.opts(rotate))
				if err != nil || !changed {
					t.Fatalf("Rekey = changed %v, %v", changed, err)
				}
				if !opens(t, out, f, "pw-canary", k.gen2) || !opens(t, out, f, "pw-canary", k.foreignA) {
					t.Fatal("generation 2 or the foreign key does not open the re-encrypted document")
				}
				if opens(t, out, f, "pw-canary", k.gen1) {
					t.Fatal("generation 1 still opens it")
				}
				mac1, _ := sops.MACOf(in, f)
				mac2, _ := sops.MACOf(out, f)
				if (mac1 == mac2) == rotate {
					t.Fatalf("rotate %v: MAC before %q, after %q", rotate, mac1, mac2)
				}
				// Up to date now: nothing to do, unless rotating again.
				again, changed, err := rekey.Rekey(newDecryptor(t, sops.Options{}, k.gen2), "doc", out, f, k.opts(rotate))
				if err != nil || changed != rotate || (again == nil) == rotate {
					t.Fatalf("second Rekey = changed %v, %v", changed, err)
				}
			})
		}
	}
}

// TestDecryptor_Rekey_keyGroups: with Shamir key groups, each group that
// held generation 1 gets generation 2 for its own part; the threshold and
// the other keys stay, and both ways of opening still work.
func TestDecryptor_Rekey_keyGroups(t *testing.T) {
	k := newRekeyKeys(t)
	in := encrypt(t, "password: pw-canary\n", sops.FormatYAML, sopstest.Options{
		KeyGroups: [][]string{{k.gen1.recipient, k.foreignA.recipient}, {k.foreignB.recipient, k.gen1.recipient}},
	})
	for _, rotate := range []bool{false, true} {
		out, changed, err := rekey.Rekey(newDecryptor(t, sops.Options{}, k.gen1), "doc", in, sops.FormatYAML, k.opts(rotate))
		if err != nil || !changed {
			t.Fatalf("rotate %v: Rekey = changed %v, %v", rotate, changed, err)
		}
		if !opens(t, out, sops.FormatYAML, "pw-canary", k.gen2) {
			t.Fatalf("rotate %v: generation 2 alone does not open both groups", rotate)
		}
		if !opens(t, out, sops.FormatYAML, "pw-canary", k.foreignA, k.foreignB) {
			t.Fatalf("rotate %v: the foreign keys of both groups no longer open it", rotate)
		}
		if opens(t, out, sops.FormatYAML, "pw-canary", k.foreignA) || opens(t, out, sops.FormatYAML, "pw-canary", k.gen1) {
			t.Fatalf("rotate %v: one group, or generation 1, opens it", rotate)
		}
		if n := strings.Count(string(out), "recipient:"); n != 4 {
			t.Fatalf("rotate %v: %d age keys, want 4:\n%s", rotate, n, out)
		}
	}
}

// TestDecryptor_Rekey_refused: a document not encrypted to the cluster, a
// changed one, and a rotation with keys kseal cannot encrypt to are
// refused with their cause and no value.
func TestDecryptor_Rekey_refused(t *testing.T) {
	k := newRekeyKeys(t)
	d := newDecryptor(t, sops.Options{}, k.gen1, k.foreignA)
	foreign := encrypt(t, "password: pw-canary\n", sops.FormatYAML, sopstest.Options{Recipients: []string{k.foreignA.recipient}})
	ours := encrypt(t, "password: pw-canary\nuser: admin\n", sops.FormatYAML, sopstest.Options{Recipients: []string{k.gen1.recipient}, EncryptedRegex: "^password$"})
	tampered := bytes.Replace(ours, []byte("user: admin"), []byte("user: root"), 1)
	tests := map[string]struct {
		doc    []byte
		rotate bool
		want   error
	}{
		"not ours":     {foreign, false, rekey.ErrNotOurs},
		"tampered":     {tampered, false, sops.ErrMACMismatch},
		"not SOPS":     {[]byte("password: pw-canary\n"), false, sops.ErrNotEncrypted},
		"pgp, rotate":  {withPGP(t, ours), true, rekey.ErrRotateForeign},
		"pgp, rewrap":  {withPGP(t, ours), false, nil},
		"tampered too": {tampered, true, sops.ErrMACMismatch},
		"other stanza": {withStanza(t, encrypt(t, "password: pw-canary\n", sops.FormatYAML, sopstest.Options{Recipients: []string{k.foreignA.recipient, k.gen1.recipient}}), k.gen1.recipient), false, sops.ErrCorrupt},
	}
	for name, tc := range tests {
		t.Run(name, func(t *testing.T) {
			out, _, err := rekey.Rekey(d, "doc", tc.doc, sops.FormatYAML, k.opts(tc.rotate))
			if !errors.Is(err, tc.want) {
				t.Fatalf("err = %v, want %v", err, tc.want)
			}
			if err != nil && (out != nil || strings.Contains(err.Error(), "pw-canary")) {
				t.Fatalf("refused with output or the value in %v", err)
			}
			if tc.want == nil && !bytes.Contains(out, []byte("fp: 0123456789ABCDEF")) {
				t.Fatalf("the PGP key was not kept:\n%s", out)
			}
		})
	}
}

// withPGP adds a PGP key to the first key group of doc (the MAC does not
// cover the metadata, so the document stays valid).
func withPGP(t *testing.T, doc []byte) []byte {
	t.Helper()
	st := yaml.NewStore(&config.YAMLStoreConfig{})
	tree, err := st.LoadEncryptedFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	mk := pgp.NewMasterKeyFromFingerprint("0123456789ABCDEF0123456789ABCDEF01234567")
	mk.EncryptedKey = "-----BEGIN PGP MESSAGE-----\nx\n-----END PGP MESSAGE-----"
	tree.Metadata.KeyGroups[0] = append(tree.Metadata.KeyGroups[0], mk)
	out, err := st.EmitEncryptedFile(tree)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// withStanza replaces the age stanza for recipient with one holding another
// key: the document still opens through its other recipients.
func withStanza(t *testing.T, doc []byte, recipient string) []byte {
	t.Helper()
	st := yaml.NewStore(&config.YAMLStoreConfig{})
	tree, err := st.LoadEncryptedFile(doc)
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range tree.Metadata.KeyGroups[0] {
		if ak, ok := k.(*sopsage.MasterKey); ok && ak.Recipient == recipient {
			if err := ak.Encrypt(bytes.Repeat([]byte{7}, 32)); err != nil {
				t.Fatal(err)
			}
		}
	}
	out, err := st.EmitEncryptedFile(tree)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// BenchmarkRekey100 moves 100 Secrets from one post-quantum recipient to
// another, as kseal reencrypt does after a renewal; one op is all 100.
func BenchmarkRekey100(b *testing.B) {
	gen1, gen2 := newHybrid(b), newHybrid(b)
	docs := benchSecrets(b, 100, gen1.recipient)
	d := newDecryptor(b, sops.Options{}, gen1, gen2)
	for _, rotate := range []bool{false, true} {
		b.Run(map[bool]string{false: "rewrap", true: "rotate"}[rotate], func(b *testing.B) {
			opts := rekey.Options{To: gen2.recipient, Replace: []string{gen1.recipient}, RotateDataKey: rotate}
			for b.Loop() {
				for i, doc := range docs {
					if _, _, err := rekey.Rekey(d, "secret.yaml", doc, sops.FormatYAML, opts); err != nil {
						b.Fatalf("document %d: %v", i, err)
					}
				}
			}
		})
	}
}
