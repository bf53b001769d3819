package controllers

import (
	"context"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/providers/vault"
)

// Vault login methods External Secrets Operator has and kseal refuses, with
// what to use instead.
var (
	errVaultLdap = fmt.Errorf("%w: spec.provider.vault.auth.ldap is not supported by kseal; use userPass with path set to the LDAP auth mount (Vault's LDAP and userpass methods take the same login), or appRole", errInvalidStore)
	errVaultIam  = fmt.Errorf("%w: spec.provider.vault.auth.iam (Vault's AWS method) is not supported by kseal; use kubernetes or jwt auth with a service account, or appRole", errInvalidStore)
	errVaultGCP  = fmt.Errorf("%w: spec.provider.vault.auth.gcp is not supported by kseal; use kubernetes or jwt auth with a service account, or appRole", errInvalidStore)
)

// vaultMoreAuth fills the login methods beyond token, appRole, kubernetes
// and jwt; done is false when none of them is set.
func (b *providerBuilder) vaultMoreAuth(ctx context.Context, store *storeInfo, a v1alpha1.VaultMoreAuth, out *vault.Auth) (done bool, err error) {
	switch {
	case a.Ldap != nil:
		return true, errVaultLdap
	case a.Iam != nil:
		return true, errVaultIam
	case a.GCP != nil:
		return true, errVaultGCP
	case a.UserPass != nil:
		u := a.UserPass
		if u.SecretRef == nil {
			return true, fmt.Errorf("%w: spec.provider.vault.auth.userPass needs secretRef (the password)", errInvalidStore)
		}
		pw, err := b.secretValue(ctx, store, *u.SecretRef)
		if err != nil {
			return true, err
		}
		out.UserPass = &vault.UserPassAuth{Path: u.Path, Username: u.Username, Password: string(pw)}
		return true, nil
	case a.Cert != nil:
		c := a.Cert
		if c.ClientCert == nil || c.SecretRef == nil {
			return true, fmt.Errorf("%w: spec.provider.vault.auth.cert needs clientCert (the PEM certificate) and secretRef (its private key)", errInvalidStore)
		}
		cert, err := b.secretValue(ctx, store, *c.ClientCert)
		if err != nil {
			return true, err
		}
		key, err := b.secretValue(ctx, store, *c.SecretRef)
		if err != nil {
			return true, err
		}
		out.Cert = &vault.CertAuth{Path: c.Path, Role: c.VaultRole, Cert: cert, Key: key}
		return true, nil
	}
	return false, nil
}

// vaultConnection reads the login namespace, client TLS, headers and
// consistency options, and returns the CA bundle of caProvider (nil when
// unset).
func (b *providerBuilder) vaultConnection(ctx context.Context, store *storeInfo, p *v1alpha1.VaultProvider) (vault.Connection, []byte, error) {
	conn := vault.Connection{
		AuthNamespace: p.Auth.Namespace, ReadYourWrites: p.ReadYourWrites,
		ForwardInconsistent: p.ForwardInconsistent, Headers: p.Headers,
	}
	if t := p.ClientTLS; t != nil && (t.CertSecretRef != nil || t.KeySecretRef != nil) {
		if t.CertSecretRef == nil || t.KeySecretRef == nil {
			return conn, nil, fmt.Errorf("%w: spec.provider.vault.tls needs both certSecretRef and keySecretRef", errInvalidStore)
		}
		var err error
		if conn.ClientCert, err = b.secretValue(ctx, store, withDefaultKey(*t.CertSecretRef, "tls.crt")); err != nil {
			return conn, nil, err
		}
		if conn.ClientKey, err = b.secretValue(ctx, store, withDefaultKey(*t.KeySecretRef, "tls.key")); err != nil {
			return conn, nil, err
		}
	}
	ca, err := b.caProviderBundle(ctx, store, p.CAProvider)
	return conn, ca, err
}

func withDefaultKey(s v1alpha1.OptionalKeySelector, key string) v1alpha1.SecretKeySelector {
	if s.Key != "" {
		key = s.Key
	}
	return v1alpha1.SecretKeySelector{Name: s.Name, Key: key, Namespace: s.Namespace}
}

// +kubebuilder:rbac:groups="",resources=configmaps,verbs=get

// caProviderBundle reads a caProvider's PEM bundle. A ClusterSecretStore
// must name its namespace, as in External Secrets Operator: the bundle
// decides which server receives the store's credentials, so it may not come
// from whichever namespace uses the store. ConfigMaps are read directly
// (not cached); a changed bundle applies when the provider is next built.
func (b *providerBuilder) caProviderBundle(ctx context.Context, store *storeInfo, cp *v1alpha1.CAProvider) ([]byte, error) {
	if cp == nil {
		return nil, nil
	}
	if cp.Key == "" {
		return nil, fmt.Errorf("%w: spec.provider.vault.caProvider needs key", errInvalidStore)
	}
	ns := ""
	if cp.Namespace != nil {
		ns = *cp.Namespace
	}
	if store.Kind == v1alpha1.ClusterSecretStoreKind && ns == "" {
		return nil, fmt.Errorf("%w: spec.provider.vault.caProvider of a ClusterSecretStore needs namespace", errInvalidStore)
	}
	if cp.Type == v1alpha1.CAProviderSecret {
		return b.secretValue(ctx, store, v1alpha1.SecretKeySelector{Name: cp.Name, Key: cp.Key, Namespace: ns})
	}
	ns, err := credentialNamespace(store, ns)
	if err != nil {
		return nil, err
	}
	if b.tokens == nil {
		return nil, errors.New("config maps are not available (no Kubernetes client)")
	}
	cm, err := b.tokens.ConfigMaps(ns).Get(ctx, cp.Name, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("caProvider ConfigMap %s/%s: %w", ns, cp.Name, err)
	}
	v, ok := cm.Data[cp.Key]
	if !ok {
		return nil, fmt.Errorf("%w: caProvider ConfigMap %s/%s has no key %q", errInvalidStore, ns, cp.Name, cp.Key)
	}
	return []byte(v), nil
}

// vaultJWT reads a jwt login: the JWT from a Secret, or a service account
// token for the audiences and lifetime External Secrets Operator requests.
func (b *providerBuilder) vaultJWT(ctx context.Context, store *storeInfo, j *v1alpha1.VaultJWTAuth, aud string) (*vault.JWTAuth, error) {
	var (
		sa     *v1alpha1.ServiceAccountSelector
		expiry int64
	)
	// As in External Secrets Operator, secretRef wins over
	// kubernetesServiceAccountToken (the kubernetes login prefers the
	// service account).
	if k := j.KubernetesServiceAccountToken; k != nil && j.SecretRef == nil {
		sel := k.ServiceAccountRef
		sel.Audiences = b.vaultJWTAudiences(k)
		sa = &sel
		if k.ExpirationSeconds != nil {
			expiry = *k.ExpirationSeconds
		}
	}
	jwtFn, err := b.jwtSource(ctx, store, sa, j.SecretRef, loginAudiences{provider: aud}, expiry)
	if err != nil {
		return nil, err
	}
	return &vault.JWTAuth{Path: j.Path, Role: j.Role, JWT: jwtFn}, nil
}

// vaultJWTAudiences are the audiences of a jwt login's service account
// token, as in External Secrets Operator: serviceAccountRef.audiences and
// the deprecated audiences, which default to the Vault audience.
func (b *providerBuilder) vaultJWTAudiences(k *v1alpha1.VaultKubernetesServiceAccountTokenAuth) []string {
	extra := []string{b.policy.VaultAudience}
	if k.Audiences != nil {
		extra = *k.Audiences
	}
	return append(append([]string(nil), k.ServiceAccountRef.Audiences...), extra...)
}
