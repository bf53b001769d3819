package template

import (
	"crypto/x509/pkix"
	"encoding/asn1"
	"unicode/utf16"
)

// This file is the pre-parse every PKCS#12 archive goes through before the
// PKCS#12 library reads it. It walks the archive's structure with the
// password, checks every size, count and key-derivation iteration count
// against a fixed bound, and charges each key derivation to the object's
// work budget before running it, including those of containers that are
// only visible once an outer container is decrypted. Only an archive that
// passes is handed to the library, whose work is then charged too.

// PKCS#12 bounds.
const (
	// maxPKCS12Input is the largest archive a template may read.
	maxPKCS12Input = 64 << 10
	// maxPKCS12Iterations bounds each key-derivation iteration count
	// (OpenSSL writes 2,048, Java's keytool 10,000).
	maxPKCS12Iterations = 100_000
	// maxPKCS12Bags bounds the safe bags of one archive.
	maxPKCS12Bags = 64
	// maxKeyDER bounds one private key's DER encoding: an RSA key of
	// 8,192 bits takes about 4.8 KiB.
	maxKeyDER = 8 << 10
	// maxPKCS12Password bounds the password.
	maxPKCS12Password = 1 << 10
)

var (
	oidData          = "1.2.840.113549.1.7.1"
	oidEncryptedData = "1.2.840.113549.1.7.6"
	oidKeyBag        = "1.2.840.113549.1.12.10.1.1"
	oidShroudedBag   = "1.2.840.113549.1.12.10.1.2"
	oidCertBag       = "1.2.840.113549.1.12.10.1.3"
	oidPBES2         = "1.2.840.113549.1.5.13"
	oidPBKDF2        = "1.2.840.113549.1.5.12"
	oidPBMAC1        = "1.2.840.113549.1.5.14"
)

// pbes1KeyLen is the key length of PKCS#12's PBE algorithms the library
// reads (3DES, 128-bit RC2, 40-bit RC2).
var pbes1KeyLen = map[string]int{
	"1.2.840.113549.1.12.1.3": 24,
	"1.2.840.113549.1.12.1.5": 16,
	"1.2.840.113549.1.12.1.6": 5,
}

// aesKeyLen is the key length of the PBES2 ciphers the library reads.
var aesKeyLen = map[string]int{
	"2.16.840.1.101.3.4.1.2":  16,
	"2.16.840.1.101.3.4.1.22": 24,
	"2.16.840.1.101.3.4.1.42": 32,
}

type p12PFX struct {
	Version  int
	AuthSafe p12ContentInfo
	MacData  p12MacData `asn1:"optional"`
}

type p12ContentInfo struct {
	ContentType asn1.ObjectIdentifier
	Content     asn1.RawValue `asn1:"tag:0,explicit,optional"`
}

type p12MacData struct {
	Mac struct {
		Algorithm pkix.AlgorithmIdentifier
		Digest    []byte
	}
	MacSalt    []byte
	Iterations int `asn1:"optional,default:1"`
}

type p12EncryptedData struct {
	Version int
	Info    struct {
		ContentType asn1.ObjectIdentifier
		Algorithm   pkix.AlgorithmIdentifier
		Content     []byte `asn1:"tag:0,optional"`
	}
}

type p12SafeBag struct {
	ID         asn1.ObjectIdentifier
	Value      asn1.RawValue `asn1:"tag:0,explicit"`
	Attributes asn1.RawValue `asn1:"optional"`
}

type p12ShroudedKey struct {
	Algorithm pkix.AlgorithmIdentifier
	Data      []byte
}

type p12PBEParams struct {
	Salt       []byte
	Iterations int
}

type p12PBES2Params struct {
	KDF    pkix.AlgorithmIdentifier
	Scheme pkix.AlgorithmIdentifier
}

type p12PBKDF2Params struct {
	Salt       []byte
	Iterations int
	KeyLength  int                      `asn1:"optional"`
	PRF        pkix.AlgorithmIdentifier `asn1:"optional"`
}

// pkcs12Scan is the pre-parse of one archive.
type pkcs12Scan struct {
	r *run
	// bmp and utf8 are the password as PKCS#12's PBE and as PBES2 take it.
	bmp, utf8 []byte
	// later is the work the library will do after the pre-parse (its
	// key derivations), charged before it starts.
	later int
	bags  int
}

// pkcs12Error is a pre-parse failure: kseal's own text, with no byte of
// the archive or the password.
func pkcs12Error(fn, why string) error {
	return usageError("%s: %s", fn, why)
}

// scanPKCS12 checks der, read with password, and charges what reading it
// costs (see the comment at the top of this file).
func (r *run) scanPKCS12(fn string, der []byte, password string) error {
	if len(der) > maxPKCS12Input {
		return pkcs12Error(fn, "the archive is larger than the 64 KiB kseal templates read")
	}
	if len(password) > maxPKCS12Password {
		return pkcs12Error(fn, "the password is longer than 1 KiB")
	}
	s := &pkcs12Scan{r: r, bmp: bmpString(password), utf8: []byte(password)}
	var pfx p12PFX
	if !unmarshalAll(der, &pfx) || pfx.Version != 3 || pfx.AuthSafe.ContentType.String() != oidData {
		return pkcs12Error(fn, "the value is not a PKCS#12 archive (version 3, password-protected)")
	}
	var authSafe []byte
	if !unmarshalAll(pfx.AuthSafe.Content.Bytes, &authSafe) {
		return pkcs12Error(fn, "the archive's contents cannot be read")
	}
	if err := s.checkMac(fn, &pfx.MacData, password == ""); err != nil {
		return err
	}
	var infos []p12ContentInfo
	if !unmarshalAll(authSafe, &infos) || len(infos) == 0 || len(infos) > 2 {
		return pkcs12Error(fn, "the archive must hold one or two containers")
	}
	for _, ci := range infos {
		if err := s.container(fn, ci, password == ""); err != nil {
			return err
		}
	}
	return r.charge(s.later)
}

// checkMac checks the MAC's key derivation; the library runs it (twice
// for an empty password, which has two encodings).
func (s *pkcs12Scan) checkMac(fn string, m *p12MacData, emptyPassword bool) error {
	alg := m.Mac.Algorithm.Algorithm.String()
	if len(m.Mac.Algorithm.Algorithm) == 0 {
		return nil
	}
	cost := 0
	if alg == oidPBMAC1 {
		var p struct{ KDF, MAC pkix.AlgorithmIdentifier }
		var kp p12PBKDF2Params
		if !unmarshalAll(m.Mac.Algorithm.Parameters.FullBytes, &p) || p.KDF.Algorithm.String() != oidPBKDF2 ||
			!unmarshalAll(p.KDF.Parameters.FullBytes, &kp) {
			return pkcs12Error(fn, "the archive's MAC parameters cannot be read")
		}
		if err := checkIterations(fn, kp.Iterations); err != nil {
			return err
		}
		if kp.KeyLength < 1 || kp.KeyLength > 64 {
			return pkcs12Error(fn, "the archive's MAC asks for a key length outside 1 to 64 bytes")
		}
		cost = 2 * kp.Iterations * (kp.KeyLength/20 + 1)
	} else {
		if err := checkIterations(fn, m.Iterations); err != nil {
			return err
		}
		cost = m.Iterations * 2
	}
	cost += len(m.MacSalt) + len(s.bmp)
	if emptyPassword {
		cost *= 2
	}
	s.later += cost
	return nil
}

func checkIterations(fn string, n int) error {
	if n < 1 || n > maxPKCS12Iterations {
		return pkcs12Error(fn, "the archive asks for a key-derivation iteration count outside 1 to 100,000, more than kseal templates run: re-export it with fewer iterations")
	}
	return nil
}

// container checks one ContentInfo of the authenticated safe, decrypting
// it when encrypted to check the bags inside.
func (s *pkcs12Scan) container(fn string, ci p12ContentInfo, emptyPassword bool) error {
	var data []byte
	switch ci.ContentType.String() {
	case oidData:
		if !unmarshalAll(ci.Content.Bytes, &data) {
			return pkcs12Error(fn, "a container of the archive cannot be read")
		}
	case oidEncryptedData:
		var ed p12EncryptedData
		if !unmarshalAll(ci.Content.Bytes, &ed) || ed.Version != 0 {
			return pkcs12Error(fn, "an encrypted container of the archive cannot be read")
		}
		var err error
		if data, err = s.decrypt(fn, ed.Info.Algorithm, ed.Info.Content); err != nil && emptyPassword {
			// As the library does, an empty password is also tried
			// encoded as no bytes at all.
			bmp := s.bmp
			s.bmp = nil
			data, err = s.decrypt(fn, ed.Info.Algorithm, ed.Info.Content)
			s.bmp = bmp
		}
		if err != nil {
			return err
		}
	default:
		return pkcs12Error(fn, "the archive holds a container of a type PKCS#12 readers do not support")
	}
	var bags []p12SafeBag
	if !unmarshalAll(data, &bags) {
		return pkcs12Error(fn, "a container of the archive does not hold safe bags (wrong password?)")
	}
	s.bags += len(bags)
	if s.bags > maxPKCS12Bags {
		return pkcs12Error(fn, "the archive holds more than 64 items")
	}
	for _, b := range bags {
		if err := s.bag(fn, b); err != nil {
			return err
		}
	}
	return nil
}

// bag checks one safe bag: the size of a key, and the key derivation of an
// encrypted key, which the library runs.
func (s *pkcs12Scan) bag(fn string, b p12SafeBag) error {
	switch b.ID.String() {
	case oidKeyBag:
		if len(b.Value.Bytes) > maxKeyDER {
			return pkcs12Error(fn, "a private key in the archive is larger than the 8 KiB kseal templates read")
		}
	case oidShroudedBag:
		var k p12ShroudedKey
		if !unmarshalAll(b.Value.Bytes, &k) {
			return pkcs12Error(fn, "an encrypted private key in the archive cannot be read")
		}
		if len(k.Data) > maxKeyDER+16 {
			return pkcs12Error(fn, "a private key in the archive is larger than the 8 KiB kseal templates read")
		}
		cost, err := s.deriveCost(fn, k.Algorithm)
		if err != nil {
			return err
		}
		s.later += cost + len(k.Data)
	case oidCertBag:
		s.later += len(b.Value.Bytes)
	}
	return nil
}

// deriveCost checks the key derivation an encryption algorithm asks for
// and returns its work.
func (s *pkcs12Scan) deriveCost(fn string, alg pkix.AlgorithmIdentifier) (int, error) {
	oid := alg.Algorithm.String()
	if keyLen, ok := pbes1KeyLen[oid]; ok {
		var p p12PBEParams
		if !unmarshalAll(alg.Parameters.FullBytes, &p) {
			return 0, pkcs12Error(fn, "the archive's encryption parameters cannot be read")
		}
		if err := checkIterations(fn, p.Iterations); err != nil {
			return 0, err
		}
		// Key and IV: one SHA-1 chain per 20 bytes.
		return p.Iterations*((keyLen+19)/20+1) + 2*(len(p.Salt)+len(s.bmp)), nil
	}
	if oid != oidPBES2 {
		return 0, pkcs12Error(fn, "the archive is encrypted with an algorithm PKCS#12 readers do not support")
	}
	kp, _, keyLen, prfSize, err := pbes2Params(fn, alg)
	if err != nil {
		return 0, err
	}
	return 2 * kp.Iterations * ((keyLen + prfSize - 1) / prfSize), nil
}

// pbes2Params reads PBES2 parameters the library supports.
func pbes2Params(fn string, alg pkix.AlgorithmIdentifier) (p12PBKDF2Params, []byte, int, int, error) {
	var p p12PBES2Params
	var kp p12PBKDF2Params
	var iv []byte
	if !unmarshalAll(alg.Parameters.FullBytes, &p) || p.KDF.Algorithm.String() != oidPBKDF2 ||
		!unmarshalAll(p.KDF.Parameters.FullBytes, &kp) || !unmarshalAll(p.Scheme.Parameters.FullBytes, &iv) {
		return kp, nil, 0, 0, pkcs12Error(fn, "the archive's PBES2 parameters cannot be read")
	}
	keyLen, ok := aesKeyLen[p.Scheme.Algorithm.String()]
	_, prfSize, okPRF := prfFor(prfOID(kp.PRF))
	if !ok || !okPRF {
		return kp, nil, 0, 0, pkcs12Error(fn, "the archive is encrypted with a PBES2 cipher PKCS#12 readers do not support")
	}
	if err := checkIterations(fn, kp.Iterations); err != nil {
		return kp, nil, 0, 0, err
	}
	return kp, iv, keyLen, prfSize, nil
}

func prfOID(a pkix.AlgorithmIdentifier) string {
	if len(a.Algorithm) == 0 {
		return ""
	}
	return a.Algorithm.String()
}

// decrypt opens an encrypted container after checking and charging its
// key derivation, twice: now, and when the library opens it again.
func (s *pkcs12Scan) decrypt(fn string, alg pkix.AlgorithmIdentifier, data []byte) ([]byte, error) {
	cost, err := s.deriveCost(fn, alg)
	if err != nil {
		return nil, err
	}
	if err := s.r.charge(cost + 2*len(data)); err != nil {
		return nil, err
	}
	s.later += cost + 2*len(data)
	var out []byte
	if keyLen, ok := pbes1KeyLen[alg.Algorithm.String()]; ok {
		var p p12PBEParams
		_ = unmarshalAll(alg.Parameters.FullBytes, &p) // read by deriveCost
		out, err = pbes1Decrypt(data, p.Salt, s.bmp, p.Iterations, keyLen)
	} else {
		kp, iv, keyLen, _, _ := pbes2Params(fn, alg)
		prf, _, _ := prfFor(prfOID(kp.PRF))
		out, err = pbes2Decrypt(data, kp.Salt, s.utf8, iv, kp.Iterations, keyLen, prf)
	}
	if err != nil {
		return nil, pkcs12Error(fn, "an encrypted container of the archive cannot be decrypted: the password is wrong, or the archive is corrupt")
	}
	return out, nil
}

// unmarshalAll reads exactly one DER value into v.
func unmarshalAll(der []byte, v any) bool {
	rest, err := asn1.Unmarshal(der, v)
	return err == nil && len(rest) == 0
}

// bmpString encodes a password as PKCS#12's PBE takes it: UTF-16
// big-endian with a terminating zero.
func bmpString(s string) []byte {
	u := utf16.Encode([]rune(s))
	out := make([]byte, 0, 2*len(u)+2)
	for _, c := range u {
		out = append(out, byte(c>>8), byte(c))
	}
	return append(out, 0, 0)
}
