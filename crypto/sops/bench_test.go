package sops_test

import (
	"fmt"
	"runtime"
	"sync"
	"testing"

	"github.com/getsops/sops/v3/cmd/sops/formats"
	"github.com/getsops/sops/v3/decrypt"

	"github.com/kseal-dev/kseal/crypto/sops"
	"github.com/kseal-dev/kseal/crypto/sops/sopstest"
)

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

// BenchmarkDecrypt1000 decrypts 1,000 SOPS-encrypted Secrets (X25519 age
// key) with kseal's Decryptor, and the same documents one at a time with
// sops's own decrypt package, which reads the key from $SOPS_AGE_KEY on
// every call. One op is all 1,000 documents.
func BenchmarkDecrypt1000(b *testing.B) {
	kp := newX25519(b)
	docs := benchSecrets(b, 1000, kp.recipient)
	b.Run("kseal", func(b *testing.B) {
		d := newDecryptor(b, sops.Options{}, kp)
		for b.Loop() {
			for i, doc := range docs {
				if _, err := d.Decrypt("secret.yaml", doc, sops.FormatYAML); err != nil {
					b.Fatalf("document %d: %v", i, err)
				}
			}
		}
	})
	// The Decryptor is safe for concurrent use; kseal render decrypts on
	// GOMAXPROCS goroutines.
	b.Run("kseal-parallel", func(b *testing.B) {
		d := newDecryptor(b, sops.Options{}, kp)
		for b.Loop() {
			var wg sync.WaitGroup
			next := make(chan int)
			for range runtime.GOMAXPROCS(0) {
				wg.Go(func() {
					for i := range next {
						if _, err := d.Decrypt("secret.yaml", docs[i], sops.FormatYAML); err != nil {
							b.Errorf("document %d: %v", i, err)
						}
					}
				})
			}
			for i := range docs {
				next <- i
			}
			close(next)
			wg.Wait()
		}
	})
	b.Run("sops-decrypt", func(b *testing.B) {
		// Keep the machine's own keys out: only $SOPS_AGE_KEY is found.
		home := b.TempDir()
		b.Setenv("HOME", home)
		b.Setenv("XDG_CONFIG_HOME", home)
		b.Setenv("SOPS_AGE_KEY_FILE", "")
		b.Setenv("SOPS_AGE_SSH_PRIVATE_KEY_FILE", "")
		b.Setenv("SOPS_AGE_KEY", kp.secret)
		for b.Loop() {
			for i, doc := range docs {
				if _, err := decrypt.DataWithFormat(doc, formats.Yaml); err != nil {
					b.Fatalf("document %d: %v", i, err)
				}
			}
		}
	})
}
