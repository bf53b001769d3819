package sops_test

import (
	"strings"

	"filippo.io/age"
	"testing"

	"github.com/kseal-dev/kseal/crypto/sops"
	"github.com/kseal-dev/kseal/crypto/sops/sopstest"
)

// fuzzIdentity is a key made for this test only.
const fuzzIdentity = "AGE-SECRET-KEY-1F064ZQ7SLHU7PFH8KW3QWX2WWCJQS5MYF3JGLDFEJLQZ82U0JJ5SR8KJEX"

// FuzzDecrypt feeds arbitrary documents to a Decryptor holding the key the
// seeds are encrypted to. It must never panic, and no error may contain the
// seeds' plaintext.
func FuzzDecrypt(f *testing.F) {
	// A fixed key, so that the corpus the fuzzer saves replays: the seeds
	// are encrypted afresh on each run, but always to this recipient.
	id, err := age.ParseX25519Identity(fuzzIdentity)
	if err != nil {
		f.Fatal(err)
	}
	kp := keyPair{name: "fuzz", identity: id, secret: fuzzIdentity, recipient: id.Recipient().String()}
	opts := sopstest.Options{Recipients: []string{kp.recipient}}
	f.Add(encrypt(f, secretYAML, sops.FormatYAML, opts), uint8(sops.FormatYAML))
	f.Add(encrypt(f, secretYAML, sops.FormatYAML, sopstest.Options{Recipients: opts.Recipients, EncryptedRegex: sopstest.SecretsOnly}), uint8(sops.FormatYAML))
	f.Add(encrypt(f, `{"p":"`+secretValue+`","n":[1,{"x":true}]}`, sops.FormatJSON, opts), uint8(sops.FormatJSON))
	f.Add(encrypt(f, "P="+secretValue+"\n#c\n", sops.FormatDotenv, opts), uint8(sops.FormatDotenv))
	f.Add(encrypt(f, "[s]\np = "+secretValue+"\n", sops.FormatINI, opts), uint8(sops.FormatINI))
	f.Add(encrypt(f, secretValue, sops.FormatBinary, opts), uint8(sops.FormatBinary))
	f.Add([]byte("sops:\n  mac: x\n  version: y\n"), uint8(sops.FormatYAML))
	f.Add(encrypt(f, "kseal.dev/scope: ns/name\n"+secretYAML, sops.FormatYAML, opts), uint8(sops.FormatYAML))
	d := newDecryptor(f, sops.Options{}, kp)
	f.Fuzz(func(t *testing.T, data []byte, format uint8) {
		fm := sops.Format(format % 5)
		sops.IsEncrypted(data, fm)
		sops.DetectFormat(data)
		_, err := d.Decrypt("fuzz", data, fm)
		if err != nil && strings.Contains(err.Error(), secretValue) {
			t.Fatalf("error contains the plaintext: %v", err)
		}
		_, err = d.DecryptBound("fuzz", data, fm, sops.Target{Namespace: "ns", Name: "name"})
		if err != nil && strings.Contains(err.Error(), secretValue) {
			t.Fatalf("bound: error contains the plaintext: %v", err)
		}
	})
}
