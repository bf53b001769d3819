package template

import (
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"reflect"
	"strings"

	gopkcs12 "software.sslmate.com/src/go-pkcs12"
)

// This file holds External Secrets Operator's PKCS#12 template functions,
// with ESO's argument order and results: pkcs12key and pkcs12cert read an
// archive (the raw bytes, as a value decoded with decodingStrategy Base64
// holds them), pemToPkcs12, fullPemToPkcs12 and pemTruststoreToPKCS12
// write one (base64 text). Every archive read passes scanPKCS12 first;
// every PEM input is at most maxKeyInput bytes with at most maxChainCerts
// blocks, every key at most maxKeyDER bytes, each checked before parsing.

// costPKCS12Encode is the work of writing an archive the way ESO does
// (go-pkcs12's Modern encoder: PBKDF2 with 2,048 iterations for the key
// and the certificates, and a MAC with 2,048).
const costPKCS12Encode = 16 << 10

// costKeyParse is the work of parsing one private key of at most maxKeyDER
// bytes: Go checks an RSA key as it parses it (about 5 ms for 4,096 bits,
// eight times that for 8,192).
const costKeyParse = 96 << 10

// pkcs12Bound charges a PKCS#12 function's parsing (its input, and one
// private key) and bounds its result: PEM or base64 of at most its input,
// with a header per block.
func pkcs12Bound(r *run, a []reflect.Value, m measured) (int, error) {
	for i := range a {
		if n := len(strArg(a, i)); n > maxKeyInput {
			return 0, usageError("the archive, key or certificate is %d bytes, more than the %d kseal templates read", n, maxKeyInput)
		}
	}
	return 2*m.size + 64*maxChainCerts + 256, r.charge(costSmall + 8*m.size + costKeyParse)
}

// encodeBound is pkcs12Bound plus the fixed work of writing an archive.
func encodeBound(r *run, a []reflect.Value, m measured) (int, error) {
	n, err := pkcs12Bound(r, a, m)
	if err != nil {
		return 0, err
	}
	return n, r.charge(costPKCS12Encode)
}

// decodePKCS12 reads an archive as ESO does (go-pkcs12's DecodeChain:
// one private key, a leaf certificate first, then CA certificates), after
// the pre-parse.
func (r *run) decodePKCS12(fn, password, input string) (any, *x509.Certificate, []*x509.Certificate, error) {
	if err := r.scanPKCS12(fn, []byte(input), password); err != nil {
		return nil, nil, nil, err
	}
	key, cert, cas, err := gopkcs12.DecodeChain([]byte(input), password)
	if errors.Is(err, gopkcs12.ErrIncorrectPassword) {
		return nil, nil, nil, pkcs12Error(fn, "the password is wrong")
	}
	if err != nil {
		// The library's messages are not shown: they could quote what it
		// read.
		return nil, nil, nil, pkcs12Error(fn, "the archive cannot be read (it must hold one private key and at least one certificate)")
	}
	return key, cert, cas, nil
}

// pkcs12keyPass returns the private key of a password-protected archive as
// PEM PKCS#8 "PRIVATE KEY".
func (r *run) pkcs12keyPass(password, input string) (string, error) {
	return r.readKey("pkcs12keyPass", password, input)
}

// pkcs12key is pkcs12keyPass with an empty password.
func (r *run) pkcs12key(input string) (string, error) { return r.readKey("pkcs12key", "", input) }

func (r *run) readKey(fn, password, input string) (string, error) {
	key, _, _, err := r.decodePKCS12(fn, password, input)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return "", pkcs12Error(fn, "the archive's key type cannot be written as PKCS#8")
	}
	return pemString("PRIVATE KEY", der), nil
}

// pkcs12certPass returns the certificates of a password-protected archive
// as PEM, ordered leaf, intermediates, root when they form one chain, and
// in the archive's order otherwise.
func (r *run) pkcs12certPass(password, input string) (string, error) {
	return r.readCerts("pkcs12certPass", password, input)
}

// pkcs12cert is pkcs12certPass with an empty password.
func (r *run) pkcs12cert(input string) (string, error) { return r.readCerts("pkcs12cert", "", input) }

func (r *run) readCerts(fn, password, input string) (string, error) {
	_, cert, cas, err := r.decodePKCS12(fn, password, input)
	if err != nil {
		return "", err
	}
	certs := append([]*x509.Certificate{cert}, cas...)
	if ordered, err := orderChain(certs); err == nil {
		certs = ordered
	}
	var b strings.Builder
	for _, c := range certs {
		b.WriteString(pemString("CERTIFICATE", c.Raw))
	}
	return b.String(), nil
}

// pemBlocks decodes the PEM blocks of input (at most maxChainCerts), text
// before the first block skipped; trailing text that holds no block is
// ignored.
func pemBlocks(fn, input string) ([]*pem.Block, error) {
	if n := strings.Count(input, "-----BEGIN"); n > maxChainCerts {
		return nil, pkcs12Error(fn, "the input holds more than 64 PEM blocks")
	}
	data := []byte(trimJunk(input))
	var out []*pem.Block
	for {
		b, rest := pem.Decode(data)
		if b == nil {
			return out, nil
		}
		out = append(out, b)
		data = rest
	}
}

// parseCerts parses PEM blocks as certificates.
func parseCerts(fn string, blocks []*pem.Block) ([]*x509.Certificate, error) {
	var out []*x509.Certificate
	for _, b := range blocks {
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, pkcs12Error(fn, "a PEM block is not a valid certificate")
		}
		out = append(out, c)
	}
	return out, nil
}

// parseKeyPEM parses the first PEM block of key as a PKCS#1, PKCS#8 or EC
// private key, as ESO does.
func parseKeyPEM(fn, key string) (any, error) {
	b, _ := pem.Decode([]byte(trimJunk(key)))
	if b == nil {
		return nil, pkcs12Error(fn, "the key is not PEM")
	}
	if len(b.Bytes) > maxKeyDER {
		return nil, pkcs12Error(fn, "the key is larger than the 8 KiB kseal templates read")
	}
	if k, err := x509.ParsePKCS1PrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParsePKCS8PrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	if k, err := x509.ParseECPrivateKey(b.Bytes); err == nil {
		return k, nil
	}
	return nil, pkcs12Error(fn, "unable to parse private key type (PKCS#1, PKCS#8 or EC PEM expected)")
}

// encodePKCS12 writes key and certificates (the first is the leaf) as an
// archive, base64-encoded, with ESO's encoder.
func encodePKCS12(fn, certPEM, keyPEM, password string, chain bool) (string, error) {
	blocks, err := pemBlocks(fn, certPEM)
	if err != nil {
		return "", err
	}
	if len(blocks) == 0 {
		return "", pkcs12Error(fn, "the certificate is not PEM")
	}
	if !chain {
		blocks = blocks[:1]
	}
	certs, err := parseCerts(fn, blocks)
	if err != nil {
		return "", err
	}
	key, err := parseKeyPEM(fn, keyPEM)
	if err != nil {
		return "", err
	}
	pfx, err := gopkcs12.Modern.Encode(key, certs[0], certs[1:], password)
	if err != nil {
		return "", pkcs12Error(fn, "the key and certificate cannot be written as PKCS#12 (the key type is not supported)")
	}
	return base64.StdEncoding.EncodeToString(pfx), nil
}

// pemToPkcs12Pass writes the first certificate of cert and key as a
// password-protected archive.
func pemToPkcs12Pass(cert, key, password string) (string, error) {
	return encodePKCS12("pemToPkcs12Pass", cert, key, password, false)
}

// pemToPkcs12 is pemToPkcs12Pass with an empty password.
func pemToPkcs12(cert, key string) (string, error) {
	return encodePKCS12("pemToPkcs12", cert, key, "", false)
}

// fullPemToPkcs12Pass writes every certificate of cert (the first as the
// leaf) and key as a password-protected archive.
func fullPemToPkcs12Pass(cert, key, password string) (string, error) {
	return encodePKCS12("fullPemToPkcs12Pass", cert, key, password, true)
}

// fullPemToPkcs12 is fullPemToPkcs12Pass with an empty password.
func fullPemToPkcs12(cert, key string) (string, error) {
	return encodePKCS12("fullPemToPkcs12", cert, key, "", true)
}

// pemTruststoreToPKCS12Pass writes the certificates of cert as a Java
// trust store archive.
func pemTruststoreToPKCS12Pass(cert, password string) (string, error) {
	const fn = "pemTruststoreToPKCS12Pass"
	blocks, err := pemBlocks(fn, cert)
	if err != nil {
		return "", err
	}
	certs, err := parseCerts(fn, blocks)
	if err != nil {
		return "", err
	}
	pfx, err := gopkcs12.Modern.EncodeTrustStore(certs, password)
	if err != nil {
		return "", pkcs12Error(fn, "the certificates cannot be written as PKCS#12")
	}
	return base64.StdEncoding.EncodeToString(pfx), nil
}

// pemTruststoreToPKCS12 is pemTruststoreToPKCS12Pass with an empty
// password.
func pemTruststoreToPKCS12(cert string) (string, error) {
	return pemTruststoreToPKCS12Pass(cert, "")
}
