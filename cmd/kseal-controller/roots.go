package main

import (
	"crypto/x509"
	"encoding/pem"
	"io"
	"os"

	"golang.org/x/crypto/x509roots/fallback/bundle"
)

// systemCAFiles are the CA bundles Go's crypto/x509 reads on Linux, in its
// order; it uses the first it can read.
var systemCAFiles = []string{
	"/etc/ssl/certs/ca-certificates.crt",
	"/etc/pki/tls/certs/ca-bundle.crt",
	"/etc/ssl/ca-bundle.pem",
	"/etc/pki/tls/cacert.pem",
	"/etc/pki/ca-trust/extracted/pem/tls-ca-bundle.pem",
	"/etc/ssl/cert.pem",
}

// maxCABundle bounds how much of a CA bundle is read to find a certificate.
const maxCABundle = 16 << 20

// installFallbackRoots gives crypto/x509 Mozilla's CA roots
// (golang.org/x/crypto/x509roots/fallback/bundle) unless the system has
// its own, for the scratch-based image. Go uses fallback roots only when it
// finds no system roots, so where the system bundle has a certificate
// parsing the fallback (0.7 MB of allocations, about 1 MB of heap held for
// the life of the process) would buy nothing. With SSL_CERT_FILE,
// SSL_CERT_DIR or GODEBUG set, the fallback is installed as before.
func installFallbackRoots() {
	if os.Getenv("SSL_CERT_FILE") == "" && os.Getenv("SSL_CERT_DIR") == "" && os.Getenv("GODEBUG") == "" &&
		firstCABundleHasCert(systemCAFiles) {
		return
	}
	p := x509.NewCertPool()
	for r := range bundle.Roots() {
		c, err := x509.ParseCertificate(r.Certificate)
		if err != nil {
			continue // the bundle's own tests parse every root
		}
		if r.Constraint == nil {
			p.AddCert(c)
		} else {
			p.AddCertWithConstraint(c, r.Constraint)
		}
	}
	x509.SetFallbackRoots(p)
}

// firstCABundleHasCert reports whether the first readable file of files —
// the one crypto/x509 would use — holds a certificate it can parse.
func firstCABundleHasCert(files []string) bool {
	for _, f := range files {
		data, err := readAtMost(f, maxCABundle)
		if err != nil {
			continue
		}
		for len(data) > 0 {
			var b *pem.Block
			if b, data = pem.Decode(data); b == nil {
				return false
			}
			if b.Type != "CERTIFICATE" || len(b.Headers) != 0 {
				continue
			}
			if _, err := x509.ParseCertificate(b.Bytes); err == nil {
				return true
			}
		}
		return false
	}
	return false
}

// readAtMost reads up to limit bytes of the file name: a certificate
// near its start is enough.
func readAtMost(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return io.ReadAll(io.LimitReader(f, limit))
}
