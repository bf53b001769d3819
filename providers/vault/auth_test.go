package vault

import (
	"context"
	"crypto"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/vault/api"

	"github.com/kseal-dev/kseal/providers"
)

func TestAuth_Token(t *testing.T) {
	s := needVault(t)
	root := rootClient(t, s)
	key := uniqueName(t)
	putKV2(t, root, key, map[string]any{"k": "v"})
	tok, err := root.Auth().Token().Create(&api.TokenCreateRequest{Policies: []string{readerPolicy(t, root)}})
	if err != nil {
		t.Fatal(err)
	}
	p, counts := newProvider(t, s, Auth{Token: tok.Auth.ClientToken})
	if counts.count("login") != 0 {
		t.Errorf("a static token should need no login")
	}
	if err := p.Validate(context.Background()); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	got, err := p.GetSecret(context.Background(), providers.Ref{Key: key, Property: "k"})
	if err != nil || string(got) != "v" {
		t.Fatalf("GetSecret = %q, %v", got, err)
	}

	_, err = p.GetSecret(context.Background(), providers.Ref{Key: "x"})
	if !errors.Is(err, providers.ErrNotFound) {
		t.Fatalf("missing key: %v", err)
	}

	// Close leaves a token it did not create alone.
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Auth().Token().Lookup(tok.Auth.ClientToken); err != nil {
		t.Errorf("static token no longer valid after Close: %v", err)
	}
	if counts.count("revoke") != 0 {
		t.Errorf("Close revoked a static token")
	}
	if _, err := p.GetSecret(context.Background(), providers.Ref{Key: key}); err == nil {
		t.Errorf("GetSecret after Close succeeded")
	}
}

func TestAuth_TokenWrong(t *testing.T) {
	s := needVault(t)
	p, _ := newProvider(t, s, Auth{Token: "hvs.not-a-token"})
	err := p.Validate(context.Background())
	if !errors.Is(err, providers.ErrAuth) || providers.IsRetryable(err) {
		t.Errorf("Validate with a wrong token: %v, want ErrAuth", err)
	}
	_, err = p.GetSecret(context.Background(), providers.Ref{Key: "anything"})
	if !errors.Is(err, providers.ErrAuth) {
		t.Errorf("GetSecret with a wrong token: %v, want ErrAuth", err)
	}
}

func TestAuth_AppRole(t *testing.T) {
	s := needVault(t)
	root := rootClient(t, s)
	key := uniqueName(t)
	putKV2(t, root, key, map[string]any{"k": "v"})
	role := appRole(t, root, map[string]any{"token_policies": readerPolicy(t, root), "token_ttl": "1h"})
	p, counts := newProvider(t, s, Auth{AppRole: role})

	for i := range 20 {
		got, err := p.GetSecret(context.Background(), providers.Ref{Key: key, Property: "k"})
		if err != nil || string(got) != "v" {
			t.Fatalf("read %d: %q, %v", i, got, err)
		}
	}
	if err := p.Validate(context.Background()); err != nil {
		t.Fatal(err)
	}
	if n := counts.count("login"); n != 1 {
		t.Errorf("%d logins for 20 reads, want 1", n)
	}
	if n := counts.count("read"); n != 20 {
		t.Errorf("OnCall saw %d reads, want 20", n)
	}

	// A mount outside the policy: ErrAuth, found out with one self-lookup
	// and without logging in again.
	other := key + "-other"
	if err := root.Sys().Mount(other, &api.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
		t.Fatal(err)
	}
	denied, deniedCounts := newProvider(t, s, Auth{AppRole: role}, func(c *Config) { c.MountPath = other })
	for range 3 {
		_, err := denied.GetSecret(context.Background(), providers.Ref{Key: "x"})
		if !errors.Is(err, providers.ErrAuth) || providers.IsRetryable(err) {
			t.Errorf("read outside the policy: %v, want ErrAuth", err)
		}
	}
	if n := deniedCounts.count("login"); n != 1 {
		t.Errorf("%d logins after denied reads, want 1", n)
	}
	if n := deniedCounts.count("lookup"); n != 3 {
		t.Errorf("%d self-lookups after 3 denied reads, want 3", n)
	}
}

func TestAuth_AppRoleWrongSecretID(t *testing.T) {
	s := needVault(t)
	root := rootClient(t, s)
	role := appRole(t, root, map[string]any{"token_policies": "default"})
	role.SecretID = "00000000-0000-0000-0000-000000000000"
	_, err := New(context.Background(), Config{Server: s.Addr, AllowHTTP: true, Auth: Auth{AppRole: role}})
	if !errors.Is(err, providers.ErrAuth) || providers.IsRetryable(err) {
		t.Errorf("New with a wrong secret id: %v, want ErrAuth", err)
	}
	if err != nil && strings.Contains(err.Error(), role.SecretID) {
		t.Errorf("error carries the secret id: %v", err)
	}
}

// rsaKey is a signing key for test JWTs and its public key in PEM.
type rsaKey struct {
	priv   *rsa.PrivateKey
	pubPEM string
}

func newRSAKey(t *testing.T) rsaKey {
	t.Helper()
	priv, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	der, err := x509.MarshalPKIXPublicKey(&priv.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	return rsaKey{priv: priv, pubPEM: string(pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der}))}
}

// sign returns an RS256 JWT with claims.
func (k rsaKey) sign(t *testing.T, claims map[string]any) string {
	t.Helper()
	enc := func(v any) string {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		return base64.RawURLEncoding.EncodeToString(b)
	}
	signed := enc(map[string]string{"alg": "RS256", "typ": "JWT"}) + "." + enc(claims)
	sum := sha256.Sum256([]byte(signed))
	sig, err := rsa.SignPKCS1v15(rand.Reader, k.priv, crypto.SHA256, sum[:])
	if err != nil {
		t.Fatal(err)
	}
	return signed + "." + base64.RawURLEncoding.EncodeToString(sig)
}

func TestAuth_JWT(t *testing.T) {
	s := needVault(t)
	root := rootClient(t, s)
	key := uniqueName(t)
	putKV2(t, root, key, map[string]any{"k": "jwt"})
	mount := key + "-jwt"
	if err := root.Sys().EnableAuthWithOptions(mount, &api.EnableAuthOptions{Type: "jwt"}); err != nil {
		t.Fatal(err)
	}
	signer := newRSAKey(t)
	write(t, root, "auth/"+mount+"/config", map[string]any{"jwt_validation_pubkeys": []string{signer.pubPEM}})
	write(t, root, "auth/"+mount+"/role/kseal", map[string]any{
		"role_type":       "jwt",
		"bound_audiences": []string{"vault.kseal.dev"},
		"user_claim":      "sub",
		"token_policies":  readerPolicy(t, root),
		"token_ttl":       "1h",
	})
	var issued atomic.Int32
	source := func(signer rsaKey) func(context.Context) (string, error) {
		return func(context.Context) (string, error) {
			issued.Add(1)
			now := time.Now()
			return signer.sign(t, map[string]any{
				"sub": "system:serviceaccount:kseal-system:kseal-controller",
				"aud": "vault.kseal.dev",
				"iat": now.Unix(),
				"exp": now.Add(10 * time.Minute).Unix(),
			}), nil
		}
	}

	p, counts := newProvider(t, s, Auth{JWT: &JWTAuth{Path: mount, Role: "kseal", JWT: source(signer)}})
	for range 5 {
		got, err := p.GetSecret(context.Background(), providers.Ref{Key: key, Property: "k"})
		if err != nil || string(got) != "jwt" {
			t.Fatalf("GetSecret = %q, %v", got, err)
		}
	}
	if n := counts.count("login"); n != 1 || issued.Load() != 1 {
		t.Errorf("%d logins with %d JWTs for 5 reads, want 1", n, issued.Load())
	}

	// A JWT signed by a key Vault does not trust.
	_, err := New(context.Background(), Config{Server: s.Addr, AllowHTTP: true, Auth: Auth{JWT: &JWTAuth{Path: mount, Role: "kseal", JWT: source(newRSAKey(t))}}})
	if !errors.Is(err, providers.ErrAuth) {
		t.Errorf("login with an untrusted JWT: %v, want ErrAuth", err)
	}

	// The token source failing.
	boom := errors.New("token request refused")
	_, err = New(context.Background(), Config{Server: s.Addr, AllowHTTP: true, Auth: Auth{JWT: &JWTAuth{Path: mount, JWT: func(context.Context) (string, error) { return "", boom }}}})
	if !errors.Is(err, boom) {
		t.Errorf("login with a failing token source: %v", err)
	}
}

// TestAuth_Kubernetes logs in through Vault's kubernetes auth method. Vault
// checks the service account token with the Kubernetes TokenReview API; a
// small handler stands in for kube-apiserver's /apis/authentication.k8s.io/v1/tokenreviews,
// accepting exactly the token the test issued.
func TestAuth_Kubernetes(t *testing.T) {
	s := needVault(t)
	root := rootClient(t, s)
	key := uniqueName(t)
	putKV2(t, root, key, map[string]any{"k": "k8s"})

	signer := newRSAKey(t)
	const (
		namespace = "kseal-system"
		account   = "kseal-controller"
		uid       = "4c0d2f8e-7e0b-4d4c-9c8b-6a1f0b1e2d3c"
	)
	now := time.Now()
	saToken := signer.sign(t, map[string]any{
		"iss": "https://kubernetes.default.svc",
		"sub": "system:serviceaccount:" + namespace + ":" + account,
		"aud": []string{"vault"},
		"iat": now.Unix(),
		"exp": now.Add(time.Hour).Unix(),
		"kubernetes.io": map[string]any{
			"namespace":      namespace,
			"serviceaccount": map[string]any{"name": account, "uid": uid},
		},
	})
	var reviews atomic.Int32
	apiserver := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var review struct {
			Spec struct {
				Token string `json:"token"`
			} `json:"spec"`
		}
		if r.Method != http.MethodPost || r.URL.Path != "/apis/authentication.k8s.io/v1/tokenreviews" ||
			json.NewDecoder(r.Body).Decode(&review) != nil {
			http.Error(w, "unexpected request", http.StatusBadRequest)
			return
		}
		reviews.Add(1)
		status := map[string]any{"authenticated": false}
		if review.Spec.Token == saToken {
			status = map[string]any{
				"authenticated": true,
				"user":          map[string]any{"username": "system:serviceaccount:" + namespace + ":" + account, "uid": uid},
				"audiences":     []string{"vault"},
			}
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "status": status,
		})
	}))
	t.Cleanup(apiserver.Close)

	mount := key + "-k8s"
	if err := root.Sys().EnableAuthWithOptions(mount, &api.EnableAuthOptions{Type: "kubernetes"}); err != nil {
		t.Fatal(err)
	}
	caPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: apiserver.Certificate().Raw})
	write(t, root, "auth/"+mount+"/config", map[string]any{
		"kubernetes_host":      apiserver.URL,
		"kubernetes_ca_cert":   string(caPEM),
		"disable_local_ca_jwt": true,
	})
	write(t, root, "auth/"+mount+"/role/kseal", map[string]any{
		"bound_service_account_names":      []string{account},
		"bound_service_account_namespaces": []string{namespace},
		"token_policies":                   readerPolicy(t, root),
		"token_ttl":                        "1h",
	})

	source := func(tok string) func(context.Context) (string, error) {
		return func(context.Context) (string, error) { return tok, nil }
	}
	p, counts := newProvider(t, s, Auth{Kubernetes: &KubernetesAuth{MountPath: mount, Role: "kseal", JWT: source(saToken)}})
	for range 3 {
		got, err := p.GetSecret(context.Background(), providers.Ref{Key: key, Property: "k"})
		if err != nil || string(got) != "k8s" {
			t.Fatalf("GetSecret = %q, %v", got, err)
		}
	}
	if counts.count("login") != 1 || reviews.Load() != 1 {
		t.Errorf("%d logins and %d token reviews for 3 reads, want 1", counts.count("login"), reviews.Load())
	}

	// A token the API server does not accept.
	forged := newRSAKey(t).sign(t, map[string]any{
		"iss": "https://kubernetes.default.svc",
		"sub": "system:serviceaccount:" + namespace + ":" + account,
		"kubernetes.io": map[string]any{
			"namespace":      namespace,
			"serviceaccount": map[string]any{"name": account, "uid": uid},
		},
	})
	_, err := New(context.Background(), Config{Server: s.Addr, AllowHTTP: true, Auth: Auth{Kubernetes: &KubernetesAuth{MountPath: mount, Role: "kseal", JWT: source(forged)}}})
	if !errors.Is(err, providers.ErrAuth) {
		t.Errorf("login with a token the API server refuses: %v, want ErrAuth", err)
	}
}
