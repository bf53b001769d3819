package vault

import (
	"context"
	"crypto/tls"
	"net/http"
	"net/url"
	"regexp"
	"strings"

	"github.com/hashicorp/vault/api"
)

// Connection holds how the provider talks to Vault beyond the server
// address, with External Secrets Operator's meaning for each field.
type Connection struct {
	// AuthNamespace, when set, is the Vault Enterprise namespace of the
	// login request ("" is the root namespace); Namespace otherwise. Reads
	// and token calls use Namespace.
	AuthNamespace *string
	// ClientCert and ClientKey are a PEM client certificate and key
	// presented to servers that require mutual TLS. Cert auth brings its
	// own and must not be combined with them.
	ClientCert, ClientKey []byte
	// ReadYourWrites sends the replication state of earlier answers with
	// each request (Vault Enterprise read-after-write consistency).
	ReadYourWrites bool
	// ForwardInconsistent, with ReadYourWrites, asks a standby node to
	// forward requests it cannot serve consistently to the active node
	// (header X-Vault-Inconsistent: forward-active-node). Alone it enables
	// ReadYourWrites, as in External Secrets Operator.
	ForwardInconsistent bool
	// Headers are added to every request. X-Vault-Token and
	// X-Vault-Namespace are refused (auth and the namespace fields set
	// them), as are hop-by-hop and framing headers.
	Headers map[string]string
}

// UserPassAuth is Vault's userpass login (and the LDAP method, which takes
// the same request).
type UserPassAuth struct {
	// Path is the auth mount path; "userpass" when empty.
	Path string
	// Username is the user; it becomes one segment of the login path.
	Username string
	// Password is the user's password.
	Password string
}

// CertAuth is Vault's TLS certificate login: the client certificate is
// presented on every connection and the login names the certificate role.
type CertAuth struct {
	// Path is the auth mount path; "cert" when empty.
	Path string
	// Role is the certificate role; Vault tries every role when empty.
	Role string
	// Cert and Key are the PEM client certificate and private key.
	Cert, Key []byte
}

// maxHeaders bounds Connection.Headers.
const maxHeaders = 32

var (
	// headerName is an HTTP header name kseal forwards; at most
	// maxHeaderName characters, checked apart by isHeaderName (a bounded
	// repetition would compile to one instruction per character).
	headerName = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9-]*$`)
	// refusedHeaders are set by the provider or the HTTP stack.
	refusedHeaders = map[string]bool{
		"X-Vault-Token": true, "X-Vault-Namespace": true, "X-Vault-Index": true, "X-Vault-Inconsistent": true,
		"Authorization": true, "Host": true, "Content-Length": true, "Transfer-Encoding": true,
		"Connection": true, "Upgrade": true, "Te": true, "Trailer": true, "Keep-Alive": true,
		"Proxy-Authorization": true, "Proxy-Connection": true,
	}
)

// checkConnection checks the fields of Connection and the login methods
// that depend on the transport.
func (c Config) checkConnection() error {
	if len(c.Headers) > maxHeaders {
		return configErrorf("%d headers, at most %d", len(c.Headers), maxHeaders)
	}
	for k, v := range c.Headers {
		if !isHeaderName(k) {
			return configErrorf("header name %q: letters, digits and dashes only", k)
		}
		if refusedHeaders[http.CanonicalHeaderKey(k)] {
			return configErrorf("header %q is set by kseal itself (auth and namespace fields); remove it from headers", k)
		}
		if len(v) > 4096 || strings.ContainsFunc(v, func(r rune) bool { return r < 0x20 && r != '\t' || r == 0x7f }) {
			return configErrorf("header %q: the value must be at most 4096 bytes without control characters", k)
		}
	}
	hasTLS := len(c.ClientCert) > 0 || len(c.ClientKey) > 0
	if hasTLS && c.Auth.Cert != nil {
		return configErrorf("cert auth presents its own client certificate: remove tls (the client TLS settings)")
	}
	if (hasTLS || c.Auth.Cert != nil) && c.HTTPClient != nil {
		return configErrorf("a client certificate needs the provider's own HTTP client: set HTTPClient or a client certificate, not both")
	}
	if u, err := url.Parse(c.Server); err == nil && u.Scheme != "https" && (hasTLS || c.Auth.Cert != nil) {
		return configErrorf("a client certificate (tls or cert auth) needs an https server, got %q", c.Server)
	}
	_, err := c.clientCertificate()
	return err
}

// clientCertificate parses the client certificate of cert auth or of
// Connection; nil when there is none.
func (c Config) clientCertificate() (*tls.Certificate, error) {
	certPEM, keyPEM, what := c.ClientCert, c.ClientKey, "tls"
	if c.Auth.Cert != nil {
		certPEM, keyPEM, what = c.Auth.Cert.Cert, c.Auth.Cert.Key, "cert auth"
	}
	if len(certPEM) == 0 && len(keyPEM) == 0 {
		return nil, nil
	}
	if len(certPEM) == 0 || len(keyPEM) == 0 {
		return nil, configErrorf("%s needs both a client certificate and its private key", what)
	}
	cert, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		// The parser's message may quote key material; say only what to do.
		return nil, configErrorf("%s: the client certificate and key are not a matching PEM certificate and private key", what)
	}
	return &cert, nil
}

// configure applies headers and consistency options to a new client.
func (c Config) configure(cl *api.Client) {
	for k, v := range c.Headers {
		cl.AddHeader(k, v)
	}
	if c.ReadYourWrites || c.ForwardInconsistent {
		cl.SetReadYourWrites(true)
	}
	if c.ReadYourWrites && c.ForwardInconsistent {
		cl.AddHeader("X-Vault-Inconsistent", "forward-active-node")
	}
}

// setNamespace sets the client's namespace; none for "".
func setNamespace(cl *api.Client, ns string) {
	if ns == "" {
		cl.ClearNamespace()
	} else {
		cl.SetNamespace(ns)
	}
}

// validUsername keeps a username to one path segment of the login URL;
// isUsername bounds its length apart (see headerName).
var validUsername = regexp.MustCompile(`^[A-Za-z0-9@._+=,-]+$`)

// Longest header name and userPass username kseal accepts.
const (
	maxHeaderName = 128
	maxUsername   = 256
)

func isHeaderName(s string) bool { return len(s) <= maxHeaderName && headerName.MatchString(s) }

func isUsername(s string) bool { return len(s) <= maxUsername && validUsername.MatchString(s) }

func (u UserPassAuth) login() (*loginMethod, error) {
	if !isUsername(u.Username) || u.Username == "." || u.Username == ".." {
		return nil, configErrorf("userPass username %q: 1 to 256 letters, digits or @._+=,- characters", u.Username)
	}
	if u.Password == "" {
		return nil, configErrorf("userPass needs a password (secretRef)")
	}
	m, err := newLogin("userpass", u.Path, "userpass", func(context.Context) (map[string]any, error) {
		return map[string]any{"password": u.Password}, nil
	})
	if err != nil {
		return nil, err
	}
	m.path += "/" + u.Username
	return m, nil
}

func (c CertAuth) login() (*loginMethod, error) {
	if len(c.Cert) == 0 || len(c.Key) == 0 {
		return nil, configErrorf("cert auth needs a client certificate (clientCert) and its private key (secretRef)")
	}
	return newLogin("cert", c.Path, "cert", func(context.Context) (map[string]any, error) {
		body := map[string]any{}
		if c.Role != "" {
			body["name"] = c.Role
		}
		return body, nil
	})
}
