package vault

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kseal-dev/kseal/providers"
)

// Config is everything New needs, as plain data: the controller reads the
// store spec and the referenced Secrets and service account tokens, and fills
// it in. Nothing here reads Kubernetes or the process environment (VAULT_ADDR,
// VAULT_TOKEN and friends are ignored).
type Config struct {
	// Server is Vault's address, for example https://vault.example.com:8200.
	// An http:// address is refused unless AllowHTTP is set.
	Server string
	// AllowHTTP accepts an http:// Server. Without TLS the Vault token and
	// every value cross the network in clear, so this is for a Vault on the
	// same host or in tests only.
	AllowHTTP bool
	// MountPath is the mount path of the KV secrets engine; "secret" when
	// empty.
	MountPath string
	// KVVersion is the KV engine version, "v1" or "v2"; "v2" when empty.
	KVVersion string
	// Namespace is a Vault Enterprise namespace, sent with every request
	// (including the login).
	Namespace string
	// CABundle is a PEM bundle of certificates that verify Vault's TLS
	// certificate; the system roots when empty. Use either CABundle or
	// HTTPClient.
	CABundle []byte
	// Auth selects how the provider gets its Vault token.
	Auth Auth
	// Connection holds the login namespace, client TLS, headers and the
	// consistency options.
	Connection
	// HTTPClient, when set, carries every request (its transport decides TLS
	// and proxies). Default: a client of its own with CABundle as roots.
	HTTPClient *http.Client
	// Timeout bounds one Vault HTTP call; 30s when zero. A deadline on the
	// caller's context applies as well.
	Timeout time.Duration
	// OnCall, when set, is called once per Vault HTTP call with the
	// operation ("login", "read", "list", "renew", "revoke" or "lookup" for
	// token self-lookups) and its outcome: nil, or an error classified like
	// those GetSecret returns (errors.Is ErrNotFound / ErrAuth,
	// providers.IsRetryable). It is the hook for metrics; it runs on the
	// calling goroutine (or the renewal goroutine) and must be fast and safe
	// for concurrent use.
	OnCall func(operation string, err error)
}

// Auth selects one login method: exactly one of Token, AppRole, Kubernetes
// or JWT.
type Auth struct {
	// Token is a Vault token used as is. It is neither renewed nor revoked:
	// its owner manages its lifetime.
	Token string
	// AppRole logs in with a role id and a secret id.
	AppRole *AppRoleAuth
	// Kubernetes logs in with a Kubernetes service account token.
	Kubernetes *KubernetesAuth
	// JWT logs in with a JWT (for example a service account token with a
	// Vault-specific audience).
	JWT *JWTAuth
	// UserPass logs in with a username and a password.
	UserPass *UserPassAuth
	// Cert logs in with the TLS client certificate it holds.
	Cert *CertAuth
}

// AppRoleAuth is Vault's AppRole login.
type AppRoleAuth struct {
	// Path is the auth mount path; "approle" when empty.
	Path string
	// RoleID is the role id.
	RoleID string
	// SecretID is the secret id.
	SecretID string
}

// KubernetesAuth is Vault's Kubernetes login.
type KubernetesAuth struct {
	// MountPath is the auth mount path; "kubernetes" when empty.
	MountPath string
	// Role is the Vault role.
	Role string
	// JWT returns the service account token to log in with. It is called for
	// every login, so it can request a fresh short-lived token each time.
	JWT func(ctx context.Context) (string, error)
}

// JWTAuth is Vault's JWT/OIDC login with a JWT.
type JWTAuth struct {
	// Path is the auth mount path; "jwt" when empty.
	Path string
	// Role is the Vault role; the mount's default role when empty.
	Role string
	// JWT returns the token to log in with; called for every login.
	JWT func(ctx context.Context) (string, error)
}

// KV engine versions for Config.KVVersion.
const (
	KVv1 = "v1"
	KVv2 = "v2"
)

const (
	defaultMount   = "secret"
	defaultTimeout = 30 * time.Second
)

// ErrConfig is wrapped by every error New returns for an unusable Config.
var ErrConfig = errors.New("invalid vault configuration")

func configErrorf(format string, args ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrConfig}, args...)...)
}

// normalize checks c and fills in defaults, returning the copy New uses.
func (c Config) normalize() (Config, error) {
	u, err := url.Parse(c.Server)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return c, configErrorf("server must be an http(s) URL, got %q", c.Server)
	}
	if u.Scheme == "http" && !c.AllowHTTP {
		return c, configErrorf("server %q is plain http: the Vault token and every value would cross the network unencrypted; use https (the controller flag --vault-allow-http accepts http)", c.Server)
	}
	c.MountPath = strings.Trim(c.MountPath, "/")
	if c.MountPath == "" {
		c.MountPath = defaultMount
	}
	if err := checkPath(c.MountPath); err != nil {
		return c, configErrorf("mount path %q: %v", c.MountPath, err)
	}
	switch c.KVVersion {
	case "":
		c.KVVersion = KVv2
	case KVv1, KVv2:
	default:
		return c, configErrorf("KV version must be %q or %q, got %q", KVv1, KVv2, c.KVVersion)
	}
	if len(c.CABundle) > 0 && c.HTTPClient != nil {
		return c, configErrorf("set CABundle or HTTPClient, not both")
	}
	if c.Timeout <= 0 {
		c.Timeout = defaultTimeout
	}
	if _, err := c.Auth.login(); err != nil {
		return c, err
	}
	if err := c.checkConnection(); err != nil {
		return c, err
	}
	return c, nil
}

// checkPath rejects paths that could step outside the mount they are given
// for ("..", "." or empty segments).
func checkPath(p string) error {
	if p == "" {
		return errors.New("empty path")
	}
	for seg := range strings.SplitSeq(p, "/") {
		switch seg {
		case "":
			return errors.New("empty path segment")
		case ".", "..":
			return fmt.Errorf("path segment %q", seg)
		}
	}
	return nil
}

// loginMethod describes one login: the Vault path to write to and the body,
// built fresh for each login (a JWT source may hand out a new token).
type loginMethod struct {
	// name is the method's name for messages ("approle", "kubernetes", ...).
	name string
	// path is the login endpoint, for example "auth/approle/login".
	path string
	// body returns the login request's JSON body.
	body func(ctx context.Context) (map[string]any, error)
}

// login returns the login method Auth selects, or nil for a static token.
func (a Auth) login() (*loginMethod, error) {
	n := 0
	for _, set := range []bool{a.Token != "", a.AppRole != nil, a.Kubernetes != nil, a.JWT != nil, a.UserPass != nil, a.Cert != nil} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, configErrorf("exactly one auth method (token, appRole, kubernetes, jwt, userPass or cert) must be set, got %d", n)
	}
	switch {
	case a.UserPass != nil:
		return a.UserPass.login()
	case a.Cert != nil:
		return a.Cert.login()
	case a.AppRole != nil:
		r := *a.AppRole
		if r.RoleID == "" || r.SecretID == "" {
			return nil, configErrorf("appRole needs a role id and a secret id")
		}
		return newLogin("approle", r.Path, "approle", func(context.Context) (map[string]any, error) {
			return map[string]any{"role_id": r.RoleID, "secret_id": r.SecretID}, nil
		})
	case a.Kubernetes != nil:
		k := *a.Kubernetes
		if k.Role == "" || k.JWT == nil {
			return nil, configErrorf("kubernetes auth needs a role and a token source")
		}
		return newLogin("kubernetes", k.MountPath, "kubernetes", jwtBody(k.Role, k.JWT))
	case a.JWT != nil:
		j := *a.JWT
		if j.JWT == nil {
			return nil, configErrorf("jwt auth needs a token source")
		}
		return newLogin("jwt", j.Path, "jwt", jwtBody(j.Role, j.JWT))
	}
	return nil, nil
}

func newLogin(name, mount, defaultMount string, body func(context.Context) (map[string]any, error)) (*loginMethod, error) {
	mount = strings.Trim(mount, "/")
	if mount == "" {
		mount = defaultMount
	}
	if err := checkPath(mount); err != nil {
		return nil, configErrorf("%s auth mount path %q: %v", name, mount, err)
	}
	return &loginMethod{name: name, path: "auth/" + mount + "/login", body: body}, nil
}

// jwtBody is the login body of the kubernetes and jwt methods, which take the
// same two fields.
func jwtBody(role string, source func(context.Context) (string, error)) func(context.Context) (map[string]any, error) {
	return func(ctx context.Context) (map[string]any, error) {
		jwt, err := source(ctx)
		if err != nil {
			return nil, fmt.Errorf("get token to log in with: %w", err)
		}
		if jwt == "" {
			return nil, errors.New("get token to log in with: empty token")
		}
		body := map[string]any{"jwt": jwt}
		if role != "" {
			body["role"] = role
		}
		return body, nil
	}
}

// httpClient returns the HTTP client for c: a copy of c.HTTPClient, or a new
// one trusting c.CABundle (system roots when empty). Either way response
// bodies are limited to providers.MaxResponseSize. Proxies come from the
// usual environment variables, as for any Go program.
func (c Config) httpClient() (*http.Client, error) {
	if c.HTTPClient != nil {
		hc := *c.HTTPClient
		hc.Transport = providers.LimitResponses(hc.Transport)
		return &hc, nil
	}
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12}
	if len(c.CABundle) > 0 {
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(c.CABundle) {
			return nil, configErrorf("CA bundle holds no PEM certificate")
		}
		tlsConfig.RootCAs = pool
	}
	if cert, err := c.clientCertificate(); err != nil {
		return nil, err
	} else if cert != nil {
		tlsConfig.Certificates = []tls.Certificate{*cert}
	}
	transport := http.DefaultTransport.(*http.Transport).Clone()
	transport.TLSClientConfig = tlsConfig
	transport.MaxIdleConnsPerHost = 16
	return &http.Client{
		Transport: providers.LimitResponses(transport),
		// Vault's client follows one redirect (a standby pointing at the
		// active node) itself, and refuses an https to http downgrade.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}, nil
}
