package vault

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/kseal-dev/kseal/providers"
	"github.com/kseal-dev/kseal/providers/vault/vaulttest"
)

func TestAuth_UserPass(t *testing.T) {
	s := needVault(t)
	root := rootClient(t, s)
	key := uniqueName(t)
	putKV2(t, root, key, map[string]any{"k": "v"})
	mount := uniqueName(t) + "-userpass"
	if err := root.Sys().EnableAuthWithOptions(mount, &api.EnableAuthOptions{Type: "userpass"}); err != nil {
		t.Fatal(err)
	}
	write(t, root, "auth/"+mount+"/users/app", map[string]any{"password": "pw-1", "token_policies": readerPolicy(t, root)})

	p, counts := newProvider(t, s, Auth{UserPass: &UserPassAuth{Path: mount, Username: "app", Password: "pw-1"}})
	if counts.count("login") != 1 {
		t.Errorf("logins = %d, want 1", counts.count("login"))
	}
	got, err := p.GetSecret(context.Background(), providers.Ref{Key: key, Property: "k"})
	if err != nil || string(got) != "v" {
		t.Fatalf("GetSecret = %q, %v", got, err)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err = New(ctx, Config{Server: s.Addr, AllowHTTP: true, Auth: Auth{UserPass: &UserPassAuth{Path: mount, Username: "app", Password: "wrong"}}})
	if !errors.Is(err, providers.ErrAuth) || strings.Contains(err.Error(), "wrong") {
		t.Errorf("wrong password: %v, want ErrAuth without the password", err)
	}
}

// testCert is a self-signed client certificate and its key, in PEM.
func testCert(t *testing.T, cn string) (certPEM, keyPEM []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: cn},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	kder, err := x509.MarshalECPrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}), pem.EncodeToMemory(&pem.Block{Type: "EC PRIVATE KEY", Bytes: kder})
}

func TestAuth_Cert(t *testing.T) {
	needVault(t)
	s, err := startTLSVault(t)
	if err != nil {
		t.Fatal(err)
	}
	root := rootClient(t, s)
	key := uniqueName(t)
	putKV2(t, root, key, map[string]any{"k": "v"})
	if err := root.Sys().EnableAuthWithOptions("cert", &api.EnableAuthOptions{Type: "cert"}); err != nil {
		t.Fatal(err)
	}
	certPEM, keyPEM := testCert(t, "kseal-app")
	write(t, root, "auth/cert/certs/app", map[string]any{"certificate": string(certPEM), "token_policies": readerPolicy(t, root)})
	otherCert, otherKey := testCert(t, "someone-else")

	cfg := func(c, k []byte) Config {
		return Config{Server: s.Addr, CABundle: s.CACert, Auth: Auth{Cert: &CertAuth{Role: "app", Cert: c, Key: k}}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	p, err := New(ctx, cfg(certPEM, keyPEM))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	defer p.Close()
	got, err := p.GetSecret(ctx, providers.Ref{Key: key, Property: "k"})
	if err != nil || string(got) != "v" {
		t.Fatalf("GetSecret = %q, %v", got, err)
	}

	_, err = New(ctx, cfg(otherCert, otherKey))
	if !errors.Is(err, providers.ErrAuth) {
		t.Errorf("untrusted certificate: %v, want ErrAuth", err)
	}
	_, err = New(ctx, cfg(certPEM, otherKey))
	if !errors.Is(err, ErrConfig) || strings.Contains(err.Error(), "PRIVATE") {
		t.Errorf("mismatched key: %v, want ErrConfig without key material", err)
	}
}

// startTLSVault starts a dev server with TLS of the test's own.
func startTLSVault(t *testing.T) (*vaulttest.Server, error) {
	t.Helper()
	s, err := vaulttest.StartTLS()
	if err != nil {
		return nil, err
	}
	t.Cleanup(func() { _ = s.Stop() })
	return s, nil
}

func TestConfig_checkConnection(t *testing.T) {
	certPEM, keyPEM := testCert(t, "x")
	https := "https://vault.example.com:8200"
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"token header", Config{Server: https, Connection: Connection{Headers: map[string]string{"x-vault-token": "t"}}}, "set by kseal"},
		{"namespace header", Config{Server: https, Connection: Connection{Headers: map[string]string{"X-Vault-Namespace": "a"}}}, "set by kseal"},
		{"bad name", Config{Server: https, Connection: Connection{Headers: map[string]string{"a b": "x"}}}, "header name"},
		{"newline", Config{Server: https, Connection: Connection{Headers: map[string]string{"X-A": "a\r\nX-Vault-Token: t"}}}, "control characters"},
		{"cert over http", Config{Server: "http://127.0.0.1:8200", Auth: Auth{Cert: &CertAuth{Cert: certPEM, Key: keyPEM}}}, "needs an https server"},
		{"cert and tls", Config{Server: https, Auth: Auth{Cert: &CertAuth{Cert: certPEM, Key: keyPEM}}, Connection: Connection{ClientCert: certPEM, ClientKey: keyPEM}}, "remove tls"},
		{"tls without key", Config{Server: https, Connection: Connection{ClientCert: certPEM}}, "both a client certificate"},
		{"ok", Config{Server: https, Connection: Connection{ClientCert: certPEM, ClientKey: keyPEM, Headers: map[string]string{"X-Team": "a"}}}, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.checkConnection()
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			if !errors.Is(err, ErrConfig) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want ErrConfig containing %q", err, tt.want)
			}
		})
	}
	if _, err := (UserPassAuth{Username: "../sys", Password: "p"}).login(); !errors.Is(err, ErrConfig) {
		t.Errorf("username with a slash: %v, want ErrConfig", err)
	}
}

// headerLog records the namespace and consistency headers of each request.
type headerLog struct {
	mu   sync.Mutex
	next http.RoundTripper
	reqs []string
}

func (h *headerLog) RoundTrip(r *http.Request) (*http.Response, error) {
	h.mu.Lock()
	h.reqs = append(h.reqs, r.URL.Path+" ns="+r.Header.Get("X-Vault-Namespace")+" inc="+r.Header.Get("X-Vault-Inconsistent")+" team="+r.Header.Get("X-Team"))
	h.mu.Unlock()
	// Vault OSS has no namespaces and refuses forwarding by header:
	// forward without those headers.
	r = r.Clone(r.Context())
	r.Header.Del("X-Vault-Namespace")
	r.Header.Del("X-Vault-Inconsistent")
	return h.next.RoundTrip(r)
}

func (h *headerLog) find(prefix string) string {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.reqs {
		if strings.HasPrefix(r, prefix) {
			return r
		}
	}
	return ""
}

// TestConnection_headers checks what Vault is sent: the login goes to the
// auth namespace, reads to the provider's, with the configured headers.
// (The dev server is Vault OSS, which ignores namespaces in the root.)
func TestConnection_headers(t *testing.T) {
	s := needVault(t)
	root := rootClient(t, s)
	key := uniqueName(t)
	putKV2(t, root, key, map[string]any{"k": "v"})
	log := &headerLog{next: http.DefaultTransport}
	authNS := ""
	p, _ := newProvider(t, s, Auth{AppRole: appRole(t, root, map[string]any{"token_policies": readerPolicy(t, root)})}, func(c *Config) {
		c.HTTPClient = &http.Client{Transport: log}
		c.Namespace = "team-a"
		c.AuthNamespace = &authNS
		c.ReadYourWrites, c.ForwardInconsistent = true, true
		c.Headers = map[string]string{"X-Team": "a"}
	})
	if _, err := p.GetSecret(context.Background(), providers.Ref{Key: key}); err != nil {
		t.Fatal(err)
	}
	if got := log.find("/v1/auth/"); !strings.HasSuffix(got, " ns= inc=forward-active-node team=a") {
		t.Errorf("login request %q, want the root namespace, forward-active-node and X-Team", got)
	}
	if got := log.find("/v1/secret/data/"); !strings.HasSuffix(got, " ns=team-a inc=forward-active-node team=a") {
		t.Errorf("read request %q, want namespace team-a", got)
	}
}

// FuzzConnection: headers and userpass usernames from a store never panic,
// and what is accepted cannot split a request line or leave the login path.
func FuzzConnection(f *testing.F) {
	f.Add("X-Team", "a", "app")
	f.Add("x-vault-token", "t", "../sys")
	f.Add("X-A", "a\r\nHost: x", "a/b")
	f.Add("X-B", "b", "..")
	f.Fuzz(func(t *testing.T, name, value, user string) {
		cfg := Config{Server: "https://vault.example.com", Connection: Connection{Headers: map[string]string{name: value}}}
		if cfg.checkConnection() == nil && strings.ContainsAny(name+value, "\r\n\x00") {
			t.Fatalf("accepted header %q: %q", name, value)
		}
		m, err := UserPassAuth{Username: user, Password: "p"}.login()
		if err == nil && (strings.Count(m.path, "/") != 3 || checkPath(m.path) != nil || strings.ContainsAny(m.path, "?#%")) {
			t.Fatalf("username %q gives login path %q", user, m.path)
		}
	})
}
