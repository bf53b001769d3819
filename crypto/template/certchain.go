package template

import (
	"bytes"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/sha512"
	"crypto/x509"
	"errors"
	"hash"
	"reflect"
	"strings"
)

// maxChainCerts bounds the certificates of one chain or archive: ordering
// compares each with each.
const maxChainCerts = 64

// orderChain orders certificates leaf, intermediates, root, as ESO does:
// a certificate's issuer is the first other certificate whose subject key
// id equals its authority key id; the leaf is the one certificate that
// issued none of the others. It does not verify signatures or validity:
// the order is a formatting aid, not a proof of trust.
func orderChain(certs []*x509.Certificate) ([]*x509.Certificate, error) {
	issuer := make([]int, len(certs))
	issued := make([]bool, len(certs))
	for i, c := range certs {
		issuer[i] = -1
		for j, p := range certs {
			if i != j && bytes.Equal(c.AuthorityKeyId, p.SubjectKeyId) {
				issuer[i], issued[j] = j, true
				break
			}
		}
	}
	leaf := -1
	for i := range certs {
		if !issued[i] {
			if leaf >= 0 {
				return nil, errors.New("found multiple leaf or disjunct certificates")
			}
			leaf = i
		}
	}
	if leaf < 0 {
		return nil, errors.New("no leaf certificate found")
	}
	var out []*x509.Certificate
	for i := leaf; i >= 0; i = issuer[i] {
		if len(out) == len(certs) {
			return nil, errors.New("constructing chain resulted in cycle")
		}
		out = append(out, certs[i])
	}
	return out, nil
}

// isRoot: a certificate with no authority key id, or its own.
func isRoot(c *x509.Certificate) bool {
	return c.AuthorityKeyId == nil || bytes.Equal(c.AuthorityKeyId, c.SubjectKeyId)
}

// filterCertChain returns, from the chain of PEM certificates in input,
// the "leaf", the "intermediate" certificates or the "root", as PEM; ""
// when the chain has none of that kind (or certType is another word), as
// in ESO. Every PEM block must be a certificate.
func filterCertChain(certType, input string) (string, error) {
	const fn = "filterCertChain"
	blocks, err := pemBlocks(fn, input)
	if err != nil {
		return "", err
	}
	certs, err := parseCerts(fn, blocks)
	if err != nil {
		return "", err
	}
	chain, err := orderChain(certs)
	if err != nil {
		return "", pkcs12Error(fn, err.Error())
	}
	switch certType {
	case "leaf":
		if c := chain[0]; c.AuthorityKeyId != nil && !bytes.Equal(c.AuthorityKeyId, c.SubjectKeyId) {
			return pemString("CERTIFICATE", c.Raw), nil
		}
	case "intermediate":
		var b strings.Builder
		for _, c := range chain[1:] {
			if isRoot(c) {
				break
			}
			b.WriteString(pemString("CERTIFICATE", c.Raw))
		}
		return b.String(), nil
	case "root":
		if c := chain[len(chain)-1]; isRoot(c) {
			return pemString("CERTIFICATE", c.Raw), nil
		}
	}
	return "", nil
}

// costRSADecrypt is the work of one RSA private-key operation on a key of
// at most maxKeyDER bytes (8,192 bits), with parsing the key.
const costRSADecrypt = 128 << 10

// rsaDecryptBound bounds rsaDecrypt: the plaintext is shorter than the
// ciphertext.
func rsaDecryptBound(r *run, a []reflect.Value, m measured) (int, error) {
	for i := range a {
		if n := len(strArg(a, i)); n > maxKeyInput {
			return 0, usageError("rsaDecrypt: an argument is %d bytes, more than the %d kseal templates read", n, maxKeyInput)
		}
	}
	return len(strArg(a, 2)), r.charge(costRSADecrypt)
}

// rsaDecrypt decrypts ciphertext (binary) with the RSA private key in
// privateKey (PEM), as ESO does: scheme "None" returns the ciphertext as
// it is; "RSA-OAEP" uses OAEP with hash "SHA1", "SHA256" or "SHA512" (any
// other word means SHA-256) for both the digest and MGF1, and no label.
func rsaDecrypt(scheme, hashName, ciphertext, privateKey string) (string, error) {
	const fn = "rsaDecrypt"
	switch scheme {
	case "None":
		return ciphertext, nil
	case "RSA-OAEP":
	default:
		return "", pkcs12Error(fn, "the scheme must be \"RSA-OAEP\" or \"None\"")
	}
	key, err := parseKeyPEM(fn, privateKey)
	if err != nil {
		return "", err
	}
	rk, ok := key.(*rsa.PrivateKey)
	if !ok {
		return "", pkcs12Error(fn, "the key is not an RSA private key")
	}
	var h hash.Hash
	switch hashName {
	case "SHA1":
		h = sha1.New()
	case "SHA512":
		h = sha512.New()
	default:
		h = sha256.New()
	}
	out, err := rsa.DecryptOAEP(h, nil, rk, []byte(ciphertext), nil)
	if err != nil {
		return "", pkcs12Error(fn, "the ciphertext cannot be decrypted with this key and hash")
	}
	return string(out), nil
}
