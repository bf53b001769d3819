package controllers

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"io"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"k8s.io/client-go/rest"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// StorePolicy is what the cluster admin lets SecretStores and
// ClusterSecretStores do (kseal-controller flags). A namespaced SecretStore
// is written by whoever may edit its namespace, so by default it may mint
// service account tokens only for the provider's own audience, read only
// its own namespace, and never borrow the controller's own credentials.
type StorePolicy struct {
	// AllowedServers lists URL prefixes ("https://vault.example.com:8200",
	// "https://secretsmanager.eu-west-1.amazonaws.com") that namespaced
	// SecretStores may name as Vault server, AWS endpoint or STS endpoint.
	// Empty allows any server.
	AllowedServers []string
	// NamespacedDefaultCredentials lets a namespaced SecretStore without
	// auth use the controller's own AWS credentials (the SDK default chain:
	// IRSA, instance profile, environment). Off by default: every namespace
	// editor would read whatever the controller's role can read.
	NamespacedDefaultCredentials bool
	// VaultAllowHTTP accepts http:// Vault servers (token and values in
	// clear on the network). Off by default.
	VaultAllowHTTP bool
	// VaultAudience is the audience of service account tokens sent to
	// Vault; DefaultVaultAudience when empty. Namespaced stores always get
	// it; ClusterSecretStores may ask for others.
	VaultAudience string
	// APIServerAudiences adds audiences the API server accepts to those
	// kseal finds itself (well-known names, the service account issuer, the
	// audiences of the controller's own token).
	APIServerAudiences []string
	// AllowAPIServerAudiences lets ClusterSecretStores request tokens for
	// the API server's own audiences. Such a token lets whoever receives it
	// act as the service account in this cluster. Namespaced stores never
	// get one.
	AllowAPIServerAudiences bool
}

// Token audiences kseal requests for each provider.
const (
	// DefaultVaultAudience is the audience of Vault tokens (as in External
	// Secrets Operator's Vault JWT auth). A Vault kubernetes or jwt role
	// must accept it (role parameter audience / bound_audiences).
	DefaultVaultAudience = "vault"
	// AWSAudience is the audience AssumeRoleWithWebIdentity expects.
	AWSAudience = "sts.amazonaws.com"
)

// wellKnownAPIServerAudiences are audiences Kubernetes distributions give
// their API servers by default.
var wellKnownAPIServerAudiences = []string{
	"https://kubernetes.default.svc", "https://kubernetes.default.svc.cluster.local",
	"kubernetes.default.svc", "kubernetes.default.svc.cluster.local",
	"https://kubernetes.default", "kubernetes.default", "kubernetes",
}

// storePolicy is a StorePolicy ready for use.
type storePolicy struct {
	StorePolicy
	// servers are the parsed AllowedServers.
	servers []*url.URL
	// apiServerAudiences are normalized (see normAudience).
	apiServerAudiences map[string]bool
}

// newStorePolicy checks p; discovered are API server audiences found at
// start.
func newStorePolicy(p StorePolicy, discovered []string) (*storePolicy, error) {
	sp := &storePolicy{StorePolicy: p, apiServerAudiences: map[string]bool{}}
	if sp.VaultAudience == "" {
		sp.VaultAudience = DefaultVaultAudience
	}
	for _, s := range p.AllowedServers {
		u, err := url.Parse(strings.TrimSpace(s))
		if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.User != nil {
			return nil, fmt.Errorf("allowed store server %q: want a URL such as https://vault.example.com:8200", s)
		}
		sp.servers = append(sp.servers, u)
	}
	for _, list := range [][]string{wellKnownAPIServerAudiences, discovered, p.APIServerAudiences} {
		for _, a := range list {
			if a = normAudience(a); a != "" {
				sp.apiServerAudiences[a] = true
			}
		}
	}
	if sp.isAPIServerAudience(sp.VaultAudience) {
		return nil, fmt.Errorf("vault token audience %q is an audience of the Kubernetes API server", sp.VaultAudience)
	}
	return sp, nil
}

func normAudience(a string) string {
	return strings.TrimSuffix(strings.ToLower(strings.TrimSpace(a)), "/")
}

func (p *storePolicy) isAPIServerAudience(a string) bool {
	return p.apiServerAudiences[normAudience(a)]
}

// audiences returns the audiences of a token kseal requests for store:
// providerAudience for a namespaced SecretStore (which may repeat it but ask
// for nothing else), requested or providerAudience for a ClusterSecretStore,
// and never an audience of the API server unless the policy allows it for
// ClusterSecretStores.
func (p *storePolicy) audiences(store *storeInfo, requested []string, providerAudience string) ([]string, error) {
	if store.Kind == v1alpha1.SecretStoreKind {
		for _, a := range requested {
			if a != providerAudience {
				return nil, fmt.Errorf("%w: serviceAccountRef.audiences: a SecretStore's tokens are for audience %q only, not %q (remove audiences, or ask an admin for a ClusterSecretStore)", errInvalidStore, providerAudience, a)
			}
		}
		return []string{providerAudience}, nil
	}
	auds := requested
	if len(auds) == 0 {
		auds = []string{providerAudience}
	}
	if !p.AllowAPIServerAudiences {
		for _, a := range auds {
			if p.isAPIServerAudience(a) {
				return nil, fmt.Errorf("%w: serviceAccountRef.audiences: %q is an audience of the Kubernetes API server; a token for it would let the store's server act as the service account in this cluster (controller flag --allow-apiserver-audience-tokens)", errInvalidStore, a)
			}
		}
	}
	return auds, nil
}

// loginAudiences says which audiences a provider's login wants.
type loginAudiences struct {
	// provider is the provider's own audience.
	provider string
	// kubernetes: Vault's kubernetes login, whose token External Secrets
	// Operator requests with no audience (the API server's) unless
	// serviceAccountRef.audiences names some.
	kubernetes bool
}

// loginTokenAudiences is audiences, except that a ClusterSecretStore's Vault
// kubernetes login without audiences gets a token with the API server's
// default audience, as in External Secrets Operator, when the policy lets
// ClusterSecretStores have API server tokens (otherwise the provider's
// audience: the Vault role must then set audience).
func (p *storePolicy) loginTokenAudiences(store *storeInfo, requested []string, want loginAudiences) ([]string, error) {
	if want.kubernetes && store.Kind == v1alpha1.ClusterSecretStoreKind && len(requested) == 0 && p.AllowAPIServerAudiences {
		return nil, nil
	}
	return p.audiences(store, requested, want.provider)
}

// checkServer refuses a server a namespaced SecretStore names when it is
// not in AllowedServers. field names the spec field for the message; an
// empty raw (the provider's default endpoint) passes.
func (p *storePolicy) checkServer(store *storeInfo, field, raw string) error {
	if store.Kind != v1alpha1.SecretStoreKind || raw == "" || len(p.servers) == 0 {
		return nil
	}
	u, err := url.Parse(raw)
	if err == nil && u.User == nil {
		for _, allowed := range p.servers {
			if serverMatches(allowed, u) {
				return nil
			}
		}
	}
	return fmt.Errorf("%w: %s %q is not a server SecretStores may name (controller flag --allowed-store-servers); use an allowed server or ask an admin for a ClusterSecretStore", errInvalidStore, field, raw)
}

// serverMatches reports whether u is allowed: same scheme, host and port,
// and a path under allowed's path (whole segments).
func serverMatches(allowed, u *url.URL) bool {
	if !strings.EqualFold(allowed.Scheme, u.Scheme) || hostPort(allowed) != hostPort(u) {
		return false
	}
	prefix := strings.TrimSuffix(allowed.EscapedPath(), "/")
	path := u.EscapedPath()
	return prefix == "" || path == prefix || strings.HasPrefix(path, prefix+"/")
}

func hostPort(u *url.URL) string {
	port := u.Port()
	if port == "" {
		port = map[string]string{"https": "443", "http": "80"}[strings.ToLower(u.Scheme)]
	}
	return strings.ToLower(u.Hostname()) + ":" + port
}

// +kubebuilder:rbac:urls=/.well-known/openid-configuration,verbs=get

// discoverAPIServerAudiences finds audiences the API server accepts: the
// service account issuer from its OIDC discovery document (by default the
// API server's audience), and the audiences of the controller's own token.
// Both are best effort; StorePolicy.APIServerAudiences adds what they miss.
func discoverAPIServerAudiences(cfg *rest.Config, kube corev1client.CoreV1Interface) []string {
	var out []string
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if raw, err := kube.RESTClient().Get().AbsPath("/.well-known/openid-configuration").DoRaw(ctx); err == nil {
		var doc struct {
			Issuer string `json:"issuer"`
		}
		if json.Unmarshal(raw, &doc) == nil && doc.Issuer != "" {
			out = append(out, doc.Issuer)
		}
	}
	tok := cfg.BearerToken
	if tok == "" && cfg.BearerTokenFile != "" {
		if f, err := os.Open(cfg.BearerTokenFile); err == nil {
			b, _ := io.ReadAll(io.LimitReader(f, 64<<10))
			f.Close()
			tok = strings.TrimSpace(string(b))
		}
	}
	return append(out, tokenAudiences(tok)...)
}

// tokenAudiences returns the aud claim of a JWT (unverified: it is the
// controller's own token); none when tok is not a JWT.
func tokenAudiences(tok string) []string {
	parts := strings.Split(tok, ".")
	if len(parts) != 3 {
		return nil
	}
	payload, err := base64.RawURLEncoding.DecodeString(parts[1])
	if err != nil {
		return nil
	}
	var claims struct {
		Aud json.RawMessage `json:"aud"`
	}
	if json.Unmarshal(payload, &claims) != nil {
		return nil
	}
	var one string
	if json.Unmarshal(claims.Aud, &one) == nil {
		return []string{one}
	}
	var many []string
	_ = json.Unmarshal(claims.Aud, &many)
	return slices.DeleteFunc(many, func(s string) bool { return s == "" })
}
