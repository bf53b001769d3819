package template

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/sha256"
	"crypto/x509/pkix"
	"encoding/asn1"
	"encoding/hex"
	"strings"
	"testing"
)

// TestRC2_vectors: kseal's RC2 gives the test vectors of RFC 2268,
// section 5, both ways.
func TestRC2_vectors(t *testing.T) {
	for _, v := range []struct {
		key       string
		bits      int
		plain, ct string
	}{
		{"0000000000000000", 63, "0000000000000000", "ebb773f993278eff"},
		{"ffffffffffffffff", 64, "ffffffffffffffff", "278b27e42e2f0d49"},
		{"3000000000000000", 64, "1000000000000001", "30649edf9be7d2c2"},
		{"88", 64, "0000000000000000", "61a8a244adacccf0"},
		{"88bca90e90875a", 64, "0000000000000000", "6ccf4308974c267f"},
		{"88bca90e90875a7f0f79c384627bafb2", 64, "0000000000000000", "1a807d272bbe5db1"},
		{"88bca90e90875a7f0f79c384627bafb2", 128, "0000000000000000", "2269552ab0f85ca6"},
	} {
		key, _ := hex.DecodeString(v.key)
		plain, _ := hex.DecodeString(v.plain)
		want, _ := hex.DecodeString(v.ct)
		c := newRC2(key, v.bits)
		got := make([]byte, 8)
		c.Encrypt(got, plain)
		if !bytes.Equal(got, want) {
			t.Errorf("key %s/%d: encrypt %x, want %x", v.key, v.bits, got, want)
		}
		c.Decrypt(got, want)
		if !bytes.Equal(got, plain) {
			t.Errorf("key %s/%d: decrypt %x, want %x", v.key, v.bits, got, plain)
		}
	}
}

// pbes2Alg is a PBES2 algorithm identifier: PBKDF2-HMAC-SHA256 with
// iterations, AES-256-CBC with iv.
func pbes2Alg(t *testing.T, salt, iv []byte, iterations int) pkix.AlgorithmIdentifier {
	t.Helper()
	kdf, err := asn1.Marshal(struct {
		Salt       []byte
		Iterations int
		PRF        pkix.AlgorithmIdentifier
	}{salt, iterations, pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 2, 9}, Parameters: asn1.NullRawValue}})
	if err != nil {
		t.Fatal(err)
	}
	ivDER, _ := asn1.Marshal(iv)
	params, err := asn1.Marshal(p12PBES2Params{
		KDF:    pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 12}, Parameters: asn1.RawValue{FullBytes: kdf}},
		Scheme: pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{2, 16, 840, 1, 101, 3, 4, 1, 42}, Parameters: asn1.RawValue{FullBytes: ivDER}},
	})
	if err != nil {
		t.Fatal(err)
	}
	return pkix.AlgorithmIdentifier{Algorithm: asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 5, 13}, Parameters: asn1.RawValue{FullBytes: params}}
}

func explicit0(t *testing.T, v any) asn1.RawValue {
	t.Helper()
	b, err := asn1.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: b}
}

// hiddenArchive is an archive with no password and no MAC whose one
// container is encrypted (PBES2, 2,048 iterations) and holds an encrypted
// private key whose key derivation asks for keyIterations: a count only
// visible once the container is decrypted.
func hiddenArchive(t *testing.T, keyIterations int) []byte {
	t.Helper()
	salt, iv := []byte("saltsalt"), bytes.Repeat([]byte{7}, 16)
	shrouded, err := asn1.Marshal(p12ShroudedKey{Algorithm: pbes2Alg(t, salt, iv, keyIterations), Data: make([]byte, 64)})
	if err != nil {
		t.Fatal(err)
	}
	bag := struct {
		ID    asn1.ObjectIdentifier
		Value asn1.RawValue
	}{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 12, 10, 1, 2}, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: shrouded}}
	plain, err := asn1.Marshal([]any{bag})
	if err != nil {
		t.Fatal(err)
	}
	// Encrypt the safe contents as PBES2 does, with the empty password.
	key, _ := pbkdf2.Key(sha256.New, "", salt, 2048, 32)
	block, _ := aes.NewCipher(key)
	pad := 16 - len(plain)%16
	plain = append(plain, bytes.Repeat([]byte{byte(pad)}, pad)...)
	ct := make([]byte, len(plain))
	cipher.NewCBCEncrypter(block, iv).CryptBlocks(ct, plain)
	type encInfo struct {
		ContentType asn1.ObjectIdentifier
		Algorithm   pkix.AlgorithmIdentifier
		Content     []byte `asn1:"tag:0"`
	}
	ed, err := asn1.Marshal(struct {
		Version int
		Info    encInfo
	}{0, encInfo{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}, pbes2Alg(t, salt, iv, 2048), ct}})
	if err != nil {
		t.Fatal(err)
	}
	type ci struct {
		ContentType asn1.ObjectIdentifier
		Content     asn1.RawValue
	}
	authSafe, err := asn1.Marshal([]ci{{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 6}, asn1.RawValue{Class: asn1.ClassContextSpecific, Tag: 0, IsCompound: true, Bytes: ed}}})
	if err != nil {
		t.Fatal(err)
	}
	pfx, err := asn1.Marshal(struct {
		Version  int
		AuthSafe ci
	}{3, ci{asn1.ObjectIdentifier{1, 2, 840, 113549, 1, 7, 1}, explicit0(t, authSafe)}})
	if err != nil {
		t.Fatal(err)
	}
	return pfx
}

// TestScanPKCS12_hiddenIterations: an iteration count inside an
// encrypted container is checked once the pre-parse has decrypted the
// container, before the PKCS#12 library (which would run it) is called.
func TestScanPKCS12_hiddenIterations(t *testing.T) {
	r := &run{limits: DefaultLimits.withDefaults()}
	err := r.scanPKCS12("pkcs12key", hiddenArchive(t, 1<<30), "")
	if err == nil || !strings.Contains(err.Error(), "iteration count") {
		t.Fatalf("%v, want the iteration bound", err)
	}
	// Within the bound, the same archive passes the pre-parse (the
	// library then finds the key is not a key).
	r = &run{limits: DefaultLimits.withDefaults()}
	if err := r.scanPKCS12("pkcs12key", hiddenArchive(t, 2048), ""); err != nil {
		t.Fatal(err)
	}
	if r.work < 2*2048 {
		t.Errorf("work %d, want the key derivations charged", r.work)
	}
}

// TestScanPKCS12_workBudget: an archive whose key derivations together
// exceed the object's work budget is refused before they run.
func TestScanPKCS12_workBudget(t *testing.T) {
	r := &run{limits: Limits{MaxWork: 4096}.withDefaults()}
	err := r.scanPKCS12("pkcs12key", hiddenArchive(t, 2048), "")
	if fe, ok := err.(*funcError); !ok || fe.limit != LimitWork {
		t.Fatalf("%v, want the work limit", err)
	}
}
