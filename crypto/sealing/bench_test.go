package sealing_test

import (
	"crypto/rand"
	"crypto/rsa"
	"sync"
	"testing"

	"filippo.io/age"

	"github.com/kseal-dev/kseal/crypto/sealing"
)

var (
	benchOnce sync.Once
	benchKey  testKey
)

// fullSizeKey is an RSA-4096 generation, the size the controller makes, so
// benchmark figures match production.
func fullSizeKey(b *testing.B) testKey {
	benchOnce.Do(func() {
		r, err := rsa.GenerateKey(rand.Reader, 4096)
		if err != nil {
			panic(err)
		}
		h, err := age.GenerateHybridIdentity()
		if err != nil {
			panic(err)
		}
		benchKey = testKey{r, h}
	})
	return benchKey
}

// benchValue is a typical Secret value: a 64-byte token.
var benchValue = []byte("0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef")

func BenchmarkSeal(b *testing.B) {
	k := fullSizeKey(b)
	pk := k.public()
	for _, v := range []sealing.Version{sealing.V1, sealing.V2} {
		b.Run(v.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := pk.Seal(v, []byte("ns/name"), benchValue); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkOpen(b *testing.B) {
	k := fullSizeKey(b)
	kr := sealing.NewKeyring(k.decryption("k"))
	for _, v := range []sealing.Version{sealing.V1, sealing.V2} {
		ct, err := k.public().Seal(v, []byte("ns/name"), benchValue)
		if err != nil {
			b.Fatal(err)
		}
		b.Run(v.String(), func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, _, err := kr.Open(ct, []byte("ns/name"), sealing.OpenOptions{}); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
