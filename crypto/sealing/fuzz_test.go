package sealing_test

import (
	"bytes"
	"testing"

	"github.com/kseal-dev/kseal/crypto/sealing"
)

// FuzzKeyring_Open feeds arbitrary v1 and v2 envelopes to Open: it must never
// panic, and must only succeed on an input that is a valid sealing of a value
// under the expected label.
func FuzzKeyring_Open(f *testing.F) {
	a, _ := keys(f)
	kr := sealing.NewKeyring(a.decryption("a"))
	for _, v := range []sealing.Version{sealing.V1, sealing.V2} {
		ct, err := a.public().Seal(v, []byte("ns/n"), []byte("value"))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(ct)
		f.Add(ct[:len(ct)-1])
	}
	f.Add([]byte("KSL2"))
	f.Add([]byte{0x02, 0x00})
	f.Fuzz(func(t *testing.T, ct []byte) {
		pt, _, err := kr.Open(ct, []byte("ns/n"), sealing.OpenOptions{Alternatives: [][]byte{[]byte("ns"), nil}})
		if err == nil && !bytes.Equal(pt, []byte("value")) {
			// Only the seeds are valid, and they hold "value".
			t.Fatalf("opened an unexpected value of %d bytes", len(pt))
		}
	})
}

// FuzzParseV2 checks that the v2 framing parser never panics and that what
// it accepts splits back into the same bytes.
func FuzzParseV2(f *testing.F) {
	a, _ := keys(f)
	ct, err := sealing.SealV2(a.hybrid.Recipient(), nil, []byte("x"))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(ct)
	f.Add([]byte("KSL2\x00\x01\x02\x03\x04\x05\x06\x07age"))
	f.Fuzz(func(t *testing.T, in []byte) {
		id, file, err := sealing.ParseV2(in)
		if err != nil {
			return
		}
		joined := append(append([]byte("KSL2"), id[:]...), file...)
		if !bytes.Equal(joined, in) {
			t.Fatalf("ParseV2 did not split the input losslessly")
		}
	})
}
