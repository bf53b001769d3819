package controllers

import (
	"encoding/base64"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

func namespacedStore() *storeInfo {
	return &storeInfo{Kind: v1alpha1.SecretStoreKind, Namespace: "team-a", Name: "s", Spec: &v1alpha1.SecretStoreSpec{}}
}

func clusterStore() *storeInfo {
	return &storeInfo{Kind: v1alpha1.ClusterSecretStoreKind, Name: "c", Spec: &v1alpha1.SecretStoreSpec{}}
}

func TestStorePolicy_audiences(t *testing.T) {
	const issuer = "https://127.0.0.1:6443/"
	tests := []struct {
		name      string
		policy    StorePolicy
		store     *storeInfo
		requested []string
		want      []string
	}{
		{name: "namespaced default", store: namespacedStore(), want: []string{"vault"}},
		{name: "namespaced repeats its audience", store: namespacedStore(), requested: []string{"vault"}, want: []string{"vault"}},
		{name: "namespaced asks for the API server", store: namespacedStore(), requested: []string{issuer}},
		{name: "namespaced asks for the well-known API server audience", store: namespacedStore(), requested: []string{"https://kubernetes.default.svc"}},
		{name: "namespaced asks for another audience", store: namespacedStore(), requested: []string{"vault", "other"}},
		{name: "namespaced even when API audiences are allowed", policy: StorePolicy{AllowAPIServerAudiences: true}, store: namespacedStore(), requested: []string{issuer}},
		{name: "cluster default", store: clusterStore(), want: []string{"vault"}},
		{name: "cluster chooses", store: clusterStore(), requested: []string{"https://vault.example.com"}, want: []string{"https://vault.example.com"}},
		{name: "cluster asks for the discovered API server audience", store: clusterStore(), requested: []string{"HTTPS://127.0.0.1:6443"}},
		{name: "cluster asks for a flagged API server audience", policy: StorePolicy{APIServerAudiences: []string{"my-api"}}, store: clusterStore(), requested: []string{"my-api"}},
		{name: "cluster with the API audiences allowed", policy: StorePolicy{AllowAPIServerAudiences: true}, store: clusterStore(), requested: []string{issuer}, want: []string{issuer}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := newStorePolicy(tt.policy, []string{issuer})
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.audiences(tt.store, tt.requested, p.VaultAudience)
			if tt.want == nil {
				if !errors.Is(err, errInvalidStore) {
					t.Fatalf("audiences = %v, %v; want an invalid-store error", got, err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tt.want) {
				t.Fatalf("audiences = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
}

func TestNewStorePolicy(t *testing.T) {
	for _, p := range []StorePolicy{
		{AllowedServers: []string{"vault.example.com"}},
		{AllowedServers: []string{"ftp://vault.example.com"}},
		{AllowedServers: []string{"https://user@vault.example.com"}},
		{VaultAudience: "https://kubernetes.default.svc"},
	} {
		if _, err := newStorePolicy(p, nil); err == nil {
			t.Errorf("%+v accepted", p)
		}
	}
}

func TestStorePolicy_checkServer(t *testing.T) {
	p, err := newStorePolicy(StorePolicy{AllowedServers: []string{"https://vault.example.com:8200", "https://proxy.example.com/aws/", "http://vault.local"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		server string
		ok     bool
	}{
		{"", true},
		{"https://vault.example.com:8200", true},
		{"https://VAULT.example.com:8200/", true},
		{"https://proxy.example.com/aws", true},
		{"https://proxy.example.com/aws/eu", true},
		{"http://vault.local:80", true},
		{"https://vault.example.com", false},      // other port
		{"http://vault.example.com:8200", false},  // other scheme
		{"https://proxy.example.com/awsx", false}, // not a whole segment
		{"https://proxy.example.com/", false},     // above the prefix
		{"https://vault.example.com:8200@internal", false},
		{"https://internal-service/", false},
		{"https://vault.example.com.evil.io:8200", false},
	}
	for _, tt := range tests {
		err := p.checkServer(namespacedStore(), "server", tt.server)
		if (err == nil) != tt.ok {
			t.Errorf("%q: err = %v, want ok=%v", tt.server, err, tt.ok)
		}
		if err := p.checkServer(clusterStore(), "server", tt.server); err != nil {
			t.Errorf("%q: a ClusterSecretStore is not limited: %v", tt.server, err)
		}
	}
	open, _ := newStorePolicy(StorePolicy{}, nil)
	if err := open.checkServer(namespacedStore(), "server", "https://anything"); err != nil {
		t.Errorf("no allowlist: %v", err)
	}
}

func TestCredentialNamespace(t *testing.T) {
	if ns, err := credentialNamespace(namespacedStore(), ""); err != nil || ns != "team-a" {
		t.Errorf("own namespace: %q, %v", ns, err)
	}
	if ns, err := credentialNamespace(namespacedStore(), "team-a"); err != nil || ns != "team-a" {
		t.Errorf("own namespace named: %q, %v", ns, err)
	}
	if _, err := credentialNamespace(namespacedStore(), "team-b"); !errors.Is(err, errInvalidStore) {
		t.Errorf("another namespace: %v", err)
	}
	// As in External Secrets Operator: a ClusterSecretStore reference
	// without a namespace is read in the ExternalSecret's namespace.
	perNS := clusterStore()
	perNS.RefNamespace = "team-c"
	if ns, err := credentialNamespace(perNS, ""); err != nil || ns != "team-c" {
		t.Errorf("cluster store used from team-c, no namespace: %q, %v", ns, err)
	}
	if _, err := credentialNamespace(clusterStore(), ""); !errors.Is(err, errPerNamespace) {
		t.Errorf("cluster store without namespace: %v", err)
	}
	if ns, err := credentialNamespace(clusterStore(), "team-b"); err != nil || ns != "team-b" {
		t.Errorf("cluster store: %q, %v", ns, err)
	}
}

func TestTokenAudiences(t *testing.T) {
	jwt := func(payload string) string {
		return "e30." + base64.RawURLEncoding.EncodeToString([]byte(payload)) + ".sig"
	}
	tests := []struct {
		tok  string
		want []string
	}{
		{jwt(`{"aud":"https://kubernetes.default.svc"}`), []string{"https://kubernetes.default.svc"}},
		{jwt(`{"aud":["a","b"]}`), []string{"a", "b"}},
		{jwt(`{}`), nil},
		{"not-a-jwt", nil},
		{"a.!!!.c", nil},
		{"", nil},
	}
	for _, tt := range tests {
		if got := tokenAudiences(tt.tok); !slices.Equal(got, tt.want) {
			t.Errorf("%q: %v, want %v", tt.tok, got, tt.want)
		}
	}
}

func FuzzTokenAudiences(f *testing.F) {
	f.Add("e30.eyJhdWQiOiJhIn0.x")
	f.Add(strings.Repeat(".", 5))
	f.Fuzz(func(t *testing.T, tok string) {
		_ = tokenAudiences(tok)
	})
}

// TestStorePolicy_loginTokenAudiences: a ClusterSecretStore's Vault
// kubernetes login without audiences gets the API server's default audience
// (no audience in the TokenRequest), as in External Secrets Operator, only
// when the policy allows API server tokens; namespaced stores never.
func TestStorePolicy_loginTokenAudiences(t *testing.T) {
	kube := loginAudiences{provider: DefaultVaultAudience, kubernetes: true}
	tests := []struct {
		name   string
		policy StorePolicy
		store  *storeInfo
		want   loginAudiences
		aud    []string
	}{
		{"cluster kubernetes, allowed", StorePolicy{AllowAPIServerAudiences: true}, clusterStore(), kube, nil},
		{"cluster kubernetes, not allowed", StorePolicy{}, clusterStore(), kube, []string{"vault"}},
		{"namespaced kubernetes, allowed", StorePolicy{AllowAPIServerAudiences: true}, namespacedStore(), kube, []string{"vault"}},
		{"cluster jwt, allowed", StorePolicy{AllowAPIServerAudiences: true}, clusterStore(), loginAudiences{provider: DefaultVaultAudience}, []string{"vault"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := newStorePolicy(tt.policy, nil)
			if err != nil {
				t.Fatal(err)
			}
			got, err := p.loginTokenAudiences(tt.store, nil, tt.want)
			if err != nil || !slices.Equal(got, tt.aud) || (tt.aud == nil) != (got == nil) {
				t.Fatalf("audiences = %q, %v; want %q", got, err, tt.aud)
			}
		})
	}
}
