package rekey_test

import (
	"strings"
	"testing"

	"filippo.io/age"

	"github.com/kseal-dev/kseal/crypto/sops"
	"github.com/kseal-dev/kseal/crypto/sops/rekey"
	"github.com/kseal-dev/kseal/crypto/sops/sopstest"
)

// FuzzRekey feeds arbitrary documents to Rekey, with and without a new data
// key. It must never panic, no error may contain the seeds' plaintext, and
// a document it rewrites must still open with the new recipient's key.
func FuzzRekey(f *testing.F) {
	id, err := age.ParseX25519Identity(fuzzIdentity)
	if err != nil {
		f.Fatal(err)
	}
	old := keyPair{name: "fuzz", identity: id, secret: fuzzIdentity, recipient: id.Recipient().String()}
	next, err := age.ParseX25519Identity(fuzzIdentityNext)
	if err != nil {
		f.Fatal(err)
	}
	opts := sopstest.Options{Recipients: []string{old.recipient}}
	f.Add(encrypt(f, secretYAML, sops.FormatYAML, opts), uint8(sops.FormatYAML), false)
	f.Add(encrypt(f, secretYAML, sops.FormatYAML, sopstest.Options{KeyGroups: [][]string{{old.recipient}, {old.recipient}}}), uint8(sops.FormatYAML), true)
	f.Add(encrypt(f, `{"p":"`+secretValue+`"}`, sops.FormatJSON, opts), uint8(sops.FormatJSON), true)
	f.Add(encrypt(f, "P="+secretValue+"\n", sops.FormatDotenv, opts), uint8(sops.FormatDotenv), false)
	d := newDecryptor(f, sops.Options{}, old)
	after := newDecryptor(f, sops.Options{}, keyPair{identity: next})
	f.Fuzz(func(t *testing.T, data []byte, format uint8, rotate bool) {
		fm := sops.Format(format % 5)
		ro := rekey.Options{To: next.Recipient().String(), Replace: []string{old.recipient}, RotateDataKey: rotate}
		out, changed, err := rekey.Rekey(d, "fuzz", data, fm, ro)
		if err != nil {
			if strings.Contains(err.Error(), secretValue) {
				t.Fatalf("error contains the plaintext: %v", err)
			}
			return
		}
		if changed {
			if err := after.Verify("fuzz", out, fm); err != nil {
				t.Fatalf("the rewritten document does not open with the new key: %v", err)
			}
		}
	})
}

// fuzzIdentityNext is the key FuzzRekey moves documents to.
const fuzzIdentityNext = "AGE-SECRET-KEY-1S8GRHKRKL6TY5GJRJP42PA26C85NFAFPA3HJNQEN2YZFKDZPJF9SEG7S4Y"
