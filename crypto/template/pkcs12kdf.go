package template

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/des"
	"crypto/pbkdf2"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"encoding/binary"
	"errors"
	"hash"
	"math/big"
	"math/bits"
)

// This file holds the password-based decryption a PKCS#12 pre-parse needs
// to look inside encrypted containers before the PKCS#12 library does:
// the PKCS#12 key derivation (RFC 7292 appendix B.2) with 3DES and RC2
// (RFC 2268), and PBES2 with PBKDF2 and AES-CBC (RFC 8018). Each function
// is called only after its iteration count was checked and charged.

// errUnreadable is a container the pre-parse could not decrypt: a wrong
// password, a corrupt archive, or an algorithm the library lacks too.
var errUnreadable = errors.New("cannot be decrypted")

// pkcs12KDF derives n bytes from salt and password (a BMPString) with the
// PKCS#12 key derivation for purpose id (1 key, 2 IV, 3 MAC), over SHA-1.
func pkcs12KDF(id byte, salt, password []byte, iterations, n int) []byte {
	const u, v = sha1.Size, 64
	d := make([]byte, v)
	for i := range d {
		d[i] = id
	}
	fill := func(s []byte) []byte {
		if len(s) == 0 {
			return nil
		}
		out := make([]byte, v*((len(s)+v-1)/v))
		for i := range out {
			out[i] = s[i%len(s)]
		}
		return out
	}
	in := append(fill(salt), fill(password)...)
	var out []byte
	one := big.NewInt(1)
	for len(out) < n {
		h := sha1.New()
		h.Write(d)
		h.Write(in)
		a := h.Sum(nil)
		for range iterations - 1 {
			s := sha1.Sum(a)
			a = s[:]
		}
		out = append(out, a...)
		if len(out) >= n {
			break
		}
		b := make([]byte, v)
		for i := range b {
			b[i] = a[i%u]
		}
		bb := new(big.Int).SetBytes(b)
		bb.Add(bb, one)
		for j := 0; j < len(in); j += v {
			ij := new(big.Int).SetBytes(in[j : j+v])
			ij.Add(ij, bb)
			raw := ij.Bytes()
			if len(raw) > v {
				raw = raw[len(raw)-v:]
			}
			block := in[j : j+v]
			clear(block)
			copy(block[v-len(raw):], raw)
		}
	}
	return out[:n]
}

// pbes1Decrypt opens data encrypted with one of PKCS#12's PBE algorithms:
// keyLen 24 is 3DES, otherwise RC2 with keyLen*8 effective bits.
func pbes1Decrypt(data, salt, password []byte, iterations, keyLen int) ([]byte, error) {
	key := pkcs12KDF(1, salt, password, iterations, keyLen)
	iv := pkcs12KDF(2, salt, password, iterations, 8)
	var block cipher.Block
	if keyLen == 24 {
		b, err := des.NewTripleDESCipher(key)
		if err != nil {
			return nil, errUnreadable
		}
		block = b
	} else {
		block = newRC2(key, keyLen*8)
	}
	return cbcOpen(block, iv, data)
}

// pbes2Decrypt opens data encrypted with PBES2: PBKDF2 with prf, then
// AES-CBC with a key of keyLen bytes.
func pbes2Decrypt(data, salt, password, iv []byte, iterations, keyLen int, prf func() hash.Hash) ([]byte, error) {
	key, err := pbkdf2.Key(prf, string(password), salt, iterations, keyLen)
	if err != nil {
		return nil, errUnreadable
	}
	block, err := aes.NewCipher(key)
	if err != nil || len(iv) != block.BlockSize() {
		return nil, errUnreadable
	}
	return cbcOpen(block, iv, data)
}

// cbcOpen decrypts CBC data and removes its PKCS#7 padding.
func cbcOpen(block cipher.Block, iv, data []byte) ([]byte, error) {
	bs := block.BlockSize()
	if len(data) == 0 || len(data)%bs != 0 {
		return nil, errUnreadable
	}
	out := make([]byte, len(data))
	cipher.NewCBCDecrypter(block, iv).CryptBlocks(out, data)
	p := int(out[len(out)-1])
	if p == 0 || p > bs {
		return nil, errUnreadable
	}
	for _, c := range out[len(out)-p:] {
		if int(c) != p {
			return nil, errUnreadable
		}
	}
	return out[:len(out)-p], nil
}

// prfFor is the PBKDF2 pseudo-random function an algorithm identifier
// names (HMAC-SHA-1 when absent).
func prfFor(oid string) (func() hash.Hash, int, bool) {
	switch oid {
	case "", "1.2.840.113549.2.7":
		return sha1.New, sha1.Size, true
	case "1.2.840.113549.2.9":
		return sha256.New, sha256.Size, true
	case "1.2.840.113549.2.11":
		return sha512.New, sha512.Size, true
	}
	return nil, 0, false
}

// rc2Table is the permutation PITABLE of RFC 2268, section 2.
var rc2Table = [256]byte{
	0xd9, 0x78, 0xf9, 0xc4, 0x19, 0xdd, 0xb5, 0xed, 0x28, 0xe9, 0xfd, 0x79, 0x4a, 0xa0, 0xd8, 0x9d,
	0xc6, 0x7e, 0x37, 0x83, 0x2b, 0x76, 0x53, 0x8e, 0x62, 0x4c, 0x64, 0x88, 0x44, 0x8b, 0xfb, 0xa2,
	0x17, 0x9a, 0x59, 0xf5, 0x87, 0xb3, 0x4f, 0x13, 0x61, 0x45, 0x6d, 0x8d, 0x09, 0x81, 0x7d, 0x32,
	0xbd, 0x8f, 0x40, 0xeb, 0x86, 0xb7, 0x7b, 0x0b, 0xf0, 0x95, 0x21, 0x22, 0x5c, 0x6b, 0x4e, 0x82,
	0x54, 0xd6, 0x65, 0x93, 0xce, 0x60, 0xb2, 0x1c, 0x73, 0x56, 0xc0, 0x14, 0xa7, 0x8c, 0xf1, 0xdc,
	0x12, 0x75, 0xca, 0x1f, 0x3b, 0xbe, 0xe4, 0xd1, 0x42, 0x3d, 0xd4, 0x30, 0xa3, 0x3c, 0xb6, 0x26,
	0x6f, 0xbf, 0x0e, 0xda, 0x46, 0x69, 0x07, 0x57, 0x27, 0xf2, 0x1d, 0x9b, 0xbc, 0x94, 0x43, 0x03,
	0xf8, 0x11, 0xc7, 0xf6, 0x90, 0xef, 0x3e, 0xe7, 0x06, 0xc3, 0xd5, 0x2f, 0xc8, 0x66, 0x1e, 0xd7,
	0x08, 0xe8, 0xea, 0xde, 0x80, 0x52, 0xee, 0xf7, 0x84, 0xaa, 0x72, 0xac, 0x35, 0x4d, 0x6a, 0x2a,
	0x96, 0x1a, 0xd2, 0x71, 0x5a, 0x15, 0x49, 0x74, 0x4b, 0x9f, 0xd0, 0x5e, 0x04, 0x18, 0xa4, 0xec,
	0xc2, 0xe0, 0x41, 0x6e, 0x0f, 0x51, 0xcb, 0xcc, 0x24, 0x91, 0xaf, 0x50, 0xa1, 0xf4, 0x70, 0x39,
	0x99, 0x7c, 0x3a, 0x85, 0x23, 0xb8, 0xb4, 0x7a, 0xfc, 0x02, 0x36, 0x5b, 0x25, 0x55, 0x97, 0x31,
	0x2d, 0x5d, 0xfa, 0x98, 0xe3, 0x8a, 0x92, 0xae, 0x05, 0xdf, 0x29, 0x10, 0x67, 0x6c, 0xba, 0xc9,
	0xd3, 0x00, 0xe6, 0xcf, 0xe1, 0x9e, 0xa8, 0x2c, 0x63, 0x16, 0x01, 0x3f, 0x58, 0xe2, 0x89, 0xa9,
	0x0d, 0x38, 0x34, 0x1b, 0xab, 0x33, 0xff, 0xb0, 0xbb, 0x48, 0x0c, 0x5f, 0xb9, 0xb1, 0xcd, 0x2e,
	0xc5, 0xf3, 0xdb, 0x47, 0xe5, 0xa5, 0x9c, 0x77, 0x0a, 0xa6, 0x20, 0x68, 0xfe, 0x7f, 0xc1, 0xad,
}

// rc2 is the RC2 block cipher (RFC 2268) with its 64 expanded key words.
type rc2 struct{ k [64]uint16 }

// newRC2 expands key (1 to 128 bytes) for an effective key length of
// effBits bits.
func newRC2(key []byte, effBits int) *rc2 {
	var l [128]byte
	t := copy(l[:], key)
	for i := t; i < 128; i++ {
		l[i] = rc2Table[l[i-1]+l[i-t]]
	}
	t8 := (effBits + 7) / 8
	tm := byte(255 >> (8*t8 - effBits))
	l[128-t8] = rc2Table[l[128-t8]&tm]
	for i := 127 - t8; i >= 0; i-- {
		l[i] = rc2Table[l[i+1]^l[i+t8]]
	}
	c := &rc2{}
	for i := range c.k {
		c.k[i] = uint16(l[2*i]) | uint16(l[2*i+1])<<8
	}
	return c
}

// rc2Shifts are the rotations of the four words in a mixing round.
var rc2Shifts = [4]int{1, 2, 3, 5}

func (c *rc2) BlockSize() int { return 8 }

// Encrypt is RFC 2268's encryption: 5 mixing rounds, a mashing round, 6
// mixing rounds, a mashing round, 5 mixing rounds.
func (c *rc2) Encrypt(dst, src []byte) {
	var r [4]uint16
	for i := range r {
		r[i] = binary.LittleEndian.Uint16(src[2*i:])
	}
	j := 0
	mix := func() {
		for i := range 4 {
			r[i] += c.k[j] + (r[(i+3)%4] & r[(i+2)%4]) + (^r[(i+3)%4] & r[(i+1)%4])
			j++
			r[i] = bits.RotateLeft16(r[i], rc2Shifts[i])
		}
	}
	mash := func() {
		for i := range 4 {
			r[i] += c.k[r[(i+3)%4]&63]
		}
	}
	for _, n := range []int{5, -1, 6, -1, 5} {
		if n < 0 {
			mash()
		}
		for range n {
			mix()
		}
	}
	for i := range r {
		binary.LittleEndian.PutUint16(dst[2*i:], r[i])
	}
}

// Decrypt undoes Encrypt, round by round in reverse.
func (c *rc2) Decrypt(dst, src []byte) {
	var r [4]uint16
	for i := range r {
		r[i] = binary.LittleEndian.Uint16(src[2*i:])
	}
	j := 63
	unmix := func() {
		for i := 3; i >= 0; i-- {
			r[i] = bits.RotateLeft16(r[i], -rc2Shifts[i])
			r[i] -= c.k[j] + (r[(i+3)%4] & r[(i+2)%4]) + (^r[(i+3)%4] & r[(i+1)%4])
			j--
		}
	}
	unmash := func() {
		for i := 3; i >= 0; i-- {
			r[i] -= c.k[r[(i+3)%4]&63]
		}
	}
	for _, n := range []int{5, -1, 6, -1, 5} {
		if n < 0 {
			unmash()
		}
		for range n {
			unmix()
		}
	}
	for i := range r {
		binary.LittleEndian.PutUint16(dst[2*i:], r[i])
	}
}
