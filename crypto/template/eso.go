package template

import (
	"bytes"
	"crypto/sha1"
	"crypto/x509"
	"encoding/base64"
	"encoding/pem"
	"errors"
	"reflect"
	"strings"
	gotemplate "text/template"

	"github.com/go-jose/go-jose/v4"
	yamlv3 "go.yaml.in/yaml/v3"
	"golang.org/x/crypto/bcrypt"
	"sigs.k8s.io/yaml"
)

// This file holds External Secrets Operator's own template functions (the
// ones its v2 engine adds to Sprig), written for kseal and bounded through
// the same wrapper as Sprig's.

// maxKeyInput bounds the JWK and PEM inputs whose parsing does work beyond
// reading them (RSA key checks); 64 KiB holds any real key or chain.
const maxKeyInput = 64 << 10

// esoFuncs returns ESO's functions, bounded and charged to r.
func (r *run) esoFuncs() gotemplate.FuncMap {
	out := gotemplate.FuncMap{
		"toYaml":           r.wrap("toYaml", toYAML),
		"fromYaml":         r.wrap("fromYaml", r.fromYAML),
		"filterPEM":        r.wrap("filterPEM", filterPEM),
		"certSANs":         r.wrap("certSANs", certSANs),
		"jwkPublicKeyPem":  r.wrap("jwkPublicKeyPem", jwkPublicKeyPem),
		"jwkPrivateKeyPem": r.wrap("jwkPrivateKeyPem", jwkPrivateKeyPem),
		"htpasswd":         r.wrap("htpasswd", htpasswd),
		"filterCertChain":  r.wrap("filterCertChain", filterCertChain),
		"rsaDecrypt":       r.wrap("rsaDecrypt", rsaDecrypt),

		"pkcs12key":                 r.wrap("pkcs12key", r.pkcs12key),
		"pkcs12keyPass":             r.wrap("pkcs12keyPass", r.pkcs12keyPass),
		"pkcs12cert":                r.wrap("pkcs12cert", r.pkcs12cert),
		"pkcs12certPass":            r.wrap("pkcs12certPass", r.pkcs12certPass),
		"pemToPkcs12":               r.wrap("pemToPkcs12", pemToPkcs12),
		"pemToPkcs12Pass":           r.wrap("pemToPkcs12Pass", pemToPkcs12Pass),
		"fullPemToPkcs12":           r.wrap("fullPemToPkcs12", fullPemToPkcs12),
		"fullPemToPkcs12Pass":       r.wrap("fullPemToPkcs12Pass", fullPemToPkcs12Pass),
		"pemTruststoreToPKCS12":     r.wrap("pemTruststoreToPKCS12", pemTruststoreToPKCS12),
		"pemTruststoreToPKCS12Pass": r.wrap("pemTruststoreToPKCS12Pass", pemTruststoreToPKCS12Pass),
	}
	return out
}

// keyBound limits a key or certificate input and charges its parsing.
func keyBound(r *run, a []reflect.Value, m measured) (int, error) {
	for i := range a {
		if n := len(strArg(a, i)); n > maxKeyInput {
			return 0, usageError("the key or certificate is %d bytes, more than the %d kseal templates parse", n, maxKeyInput)
		}
	}
	return 2*m.size + 256, r.charge(costSmall + 8*m.size)
}

// toYAML writes v as YAML, without the final newline; an error gives "".
func toYAML(v any) string {
	b, err := yaml.Marshal(v)
	if err != nil {
		return ""
	}
	return strings.TrimSuffix(string(b), "\n")
}

// maxYAMLNodes bounds the nodes of a YAML document with its aliases
// expanded, so that an alias bomb is refused before it is expanded.
const maxYAMLNodes = 64 << 10

// fromYAML reads a YAML document into a map; as in ESO, an error is put in
// the map under "Error".
func (r *run) fromYAML(s string) (map[string]any, error) {
	m := map[string]any{}
	var doc yamlv3.Node
	if err := yamlv3.Unmarshal([]byte(s), &doc); err != nil {
		m["Error"] = "error converting YAML to JSON: the document is not valid YAML"
		return m, nil
	}
	if expanded(&doc, map[*yamlv3.Node]int{}, 0) > maxYAMLNodes {
		return nil, usageError("fromYaml: the document has more than %d nodes with its aliases expanded", maxYAMLNodes)
	}
	if err := yaml.Unmarshal([]byte(s), &m); err != nil {
		m["Error"] = err.Error()
	}
	return m, nil
}

// expanded counts the nodes of n with aliases expanded, each anchor's
// count computed once.
func expanded(n *yamlv3.Node, memo map[*yamlv3.Node]int, depth int) int {
	if n == nil {
		return 0
	}
	if c, ok := memo[n]; ok {
		return c
	}
	if depth > 1000 {
		return maxYAMLNodes + 1
	}
	memo[n] = maxYAMLNodes + 1 // an alias cycle counts as too many
	c := 1
	if n.Kind == yamlv3.AliasNode {
		c += expanded(n.Alias, memo, depth+1)
	}
	for _, k := range n.Content {
		c += expanded(k, memo, depth+1)
		if c > maxYAMLNodes {
			break
		}
	}
	memo[n] = c
	return c
}

// filterPEM returns the PEM blocks of type pemType (any case) in input,
// re-encoded; text before the first block is skipped.
func filterPEM(pemType, input string) (string, error) {
	data := []byte(trimJunk(input))
	var out []byte
	for {
		block, rest := pem.Decode(data)
		if block == nil {
			if len(out) == 0 && len(rest) != 0 {
				return "", errors.New("error filtering pem: found junk")
			}
			return string(out), nil
		}
		data = rest
		if strings.EqualFold(block.Type, pemType) {
			out = append(out, pem.EncodeToMemory(block)...)
		}
	}
}

func trimJunk(input string) string {
	if i := strings.Index(input, "-----BEGIN"); i >= 0 {
		return input[i:]
	}
	return input
}

// certSANs lists the subject alternative names of the first certificate
// in input: DNS names, IP addresses, email addresses, then URIs.
func certSANs(input string) ([]string, error) {
	block, _ := pem.Decode([]byte(trimJunk(input)))
	if block == nil {
		return nil, errors.New("certSANs: no PEM block")
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		return nil, errors.New("certSANs: not a valid certificate")
	}
	sans := append([]string{}, cert.DNSNames...)
	for _, ip := range cert.IPAddresses {
		sans = append(sans, ip.String())
	}
	sans = append(sans, cert.EmailAddresses...)
	for _, u := range cert.URIs {
		sans = append(sans, u.String())
	}
	return sans, nil
}

func parseJWK(s string) (*jose.JSONWebKey, error) {
	var k jose.JSONWebKey
	if err := k.UnmarshalJSON([]byte(s)); err != nil {
		return nil, errors.New("not a valid JWK")
	}
	return &k, nil
}

// jwkPublicKeyPem returns the public key of a JWK as a PEM "PUBLIC KEY".
func jwkPublicKeyPem(s string) (string, error) {
	k, err := parseJWK(s)
	if err != nil {
		return "", err
	}
	der, err := x509.MarshalPKIXPublicKey(k.Public().Key)
	if err != nil {
		return "", errors.New("the JWK's key type cannot be written as PEM")
	}
	return pemString("PUBLIC KEY", der), nil
}

// jwkPrivateKeyPem returns the private key of a JWK as a PEM PKCS#8
// "PRIVATE KEY".
func jwkPrivateKeyPem(s string) (string, error) {
	k, err := parseJWK(s)
	if err != nil {
		return "", err
	}
	if k.IsPublic() {
		return "", errors.New("the JWK holds no private key")
	}
	der, err := x509.MarshalPKCS8PrivateKey(k.Key)
	if err != nil {
		return "", errors.New("the JWK's key type cannot be written as PEM")
	}
	return pemString("PRIVATE KEY", der), nil
}

func pemString(typ string, der []byte) string {
	var b bytes.Buffer
	_ = pem.Encode(&b, &pem.Block{Type: typ, Bytes: der})
	return b.String()
}

// htpasswd writes an htpasswd line, as ESO's version of Sprig's htpasswd
// does: with bcrypt, or with {SHA} when the third argument is "sha" (the
// argument may be left out, as in Sprig).
func htpasswd(user, password string, algorithm ...string) (string, error) {
	if strings.Contains(user, ":") {
		return "", errors.New("htpasswd: the user name contains ':'")
	}
	if len(algorithm) > 0 && algorithm[0] == "sha" {
		sum := sha1.Sum([]byte(password))
		return user + ":{SHA}" + base64.StdEncoding.EncodeToString(sum[:]), nil
	}
	h, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return "", errors.New("htpasswd: the password cannot be hashed with bcrypt (at most 72 bytes)")
	}
	return user + ":" + string(h), nil
}
