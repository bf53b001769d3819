package rekey_test

import (
	"fmt"
	"testing"

	"filippo.io/age"

	"github.com/kseal-dev/kseal/crypto/sops"
	"github.com/kseal-dev/kseal/crypto/sops/sopstest"
)

// keyPair is a freshly generated age identity and its recipient.
type keyPair struct {
	name      string
	identity  age.Identity
	secret    string // the identity as text, as in a key file
	recipient string
}

func newX25519(t testing.TB) keyPair {
	t.Helper()
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	return keyPair{name: "x25519", identity: id, secret: id.String(), recipient: id.Recipient().String()}
}

func newHybrid(t testing.TB) keyPair {
	t.Helper()
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	return keyPair{name: "pq-hybrid", identity: id, secret: id.String(), recipient: id.Recipient().String()}
}

func newDecryptor(t testing.TB, opts sops.Options, kps ...keyPair) *sops.Decryptor {
	t.Helper()
	var ids []age.Identity
	for _, kp := range kps {
		ids = append(ids, kp.identity)
	}
	d, err := sops.New(ids, opts)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

func encrypt(t testing.TB, plain string, f sops.Format, opts sopstest.Options) []byte {
	t.Helper()
	out, err := sopstest.Encrypt([]byte(plain), f, opts)
	if err != nil {
		t.Fatalf("encrypt %v: %v", f, err)
	}
	return out
}

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

// fuzzIdentity is a key made for this test only.
const fuzzIdentity = "AGE-SECRET-KEY-1F064ZQ7SLHU7PFH8KW3QWX2WWCJQS5MYF3JGLDFEJLQZ82U0JJ5SR8KJEX"

// benchSecrets returns n Secrets encrypted to recipient as a user would
// commit them: metadata readable, data and stringData encrypted.
func benchSecrets(b *testing.B, n int, recipient string) [][]byte {
	b.Helper()
	docs := make([][]byte, n)
	for i := range docs {
		plain := fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: app-%d\n  namespace: shop\ntype: Opaque\nstringData:\n  username: app-%d\n  password: secret-value-%d\n  url: postgres://db-%d.shop.svc:5432/app\n", i, i, i, i)
		docs[i] = encrypt(b, plain, sops.FormatYAML, sopstest.Options{Recipients: []string{recipient}, EncryptedRegex: sopstest.SecretsOnly})
	}
	return docs
}
