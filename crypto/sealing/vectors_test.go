package sealing_test

import (
	"bytes"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"os"
	"testing"

	"github.com/kseal-dev/kseal/crypto/sealing"
)

// TestOpen_kubesealRawVectors opens values sealed by kubeseal v0.40.0 with
// --raw (see testdata/kubeseal/README.md).
func TestOpen_kubesealRawVectors(t *testing.T) {
	keyPEM, err := os.ReadFile("testdata/kubeseal/key.pem")
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(keyPEM)
	priv, err := x509.ParsePKCS1PrivateKey(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile("testdata/kubeseal/raw-plaintext.txt")
	if err != nil {
		t.Fatal(err)
	}
	kr := sealing.NewKeyring(sealing.NewDecryptionKey("kubeseal", priv, nil))
	for file, label := range map[string]string{
		"raw-strict.txt":         "myns/mysecret",
		"raw-namespace-wide.txt": "myns",
		"raw-cluster-wide.txt":   "",
	} {
		raw, err := os.ReadFile("testdata/kubeseal/" + file)
		if err != nil {
			t.Fatal(err)
		}
		ct, err := base64.StdEncoding.DecodeString(string(bytes.TrimSpace(raw)))
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		got, _, err := kr.Open(ct, []byte(label), sealing.OpenOptions{})
		if err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s: got %q, want %q", file, got, want)
		}
	}
}
