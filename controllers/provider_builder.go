package controllers

import (
	"context"
	"errors"
	"fmt"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/providers"
)

// storeInfo is a SecretStore or ClusterSecretStore, resolved for one use.
type storeInfo struct {
	// Kind is SecretStore or ClusterSecretStore.
	Kind string
	// Namespace is the store's namespace (SecretStore) or "" (cluster).
	Namespace string
	// Name is the store's name.
	Name string
	// Spec is the store's spec.
	Spec *v1alpha1.SecretStoreSpec
	// Generation is the store's metadata.generation.
	Generation int64
	// RefNamespace, for a ClusterSecretStore used by an ExternalSecret, is
	// that ExternalSecret's namespace: as in External Secrets Operator,
	// credential and service account references without a namespace are
	// read there.
	RefNamespace string
}

// key identifies the provider built for the store: a ClusterSecretStore
// whose references lack a namespace has one provider per namespace that
// uses it.
func (s *storeInfo) key() string {
	k := s.Kind + "/" + s.Namespace + "/" + s.Name
	if s.Kind == v1alpha1.ClusterSecretStoreKind && s.RefNamespace != "" && refsWithoutNamespace(s.Spec) {
		k += "@" + s.RefNamespace
	}
	return k
}

// refsWithoutNamespace reports whether any credential or service account
// reference of spec names no namespace.
func refsWithoutNamespace(spec *v1alpha1.SecretStoreSpec) bool {
	for _, r := range credentialRefs(&storeInfo{Spec: spec}) {
		if r.Namespace == "" {
			return true
		}
	}
	for _, sa := range serviceAccountRefs(spec) {
		if sa.Namespace == "" {
			return true
		}
	}
	return false
}

// serviceAccountRefs lists the service accounts a store's auth names.
func serviceAccountRefs(spec *v1alpha1.SecretStoreSpec) []v1alpha1.ServiceAccountSelector {
	var out []v1alpha1.ServiceAccountSelector
	p := spec.Provider
	if p.AWS != nil && p.AWS.Auth.JWT != nil {
		out = append(out, p.AWS.Auth.JWT.ServiceAccountRef)
	}
	if p.Vault != nil {
		if k := p.Vault.Auth.Kubernetes; k != nil && k.ServiceAccountRef != nil {
			out = append(out, *k.ServiceAccountRef)
		}
		if j := p.Vault.Auth.JWT; j != nil && j.KubernetesServiceAccountToken != nil {
			out = append(out, j.KubernetesServiceAccountToken.ServiceAccountRef)
		}
	}
	return out
}

// providerName names the store's provider for metrics.
func (s *storeInfo) providerName() string {
	switch {
	case s.Spec.Provider.AWS != nil:
		return "aws"
	case s.Spec.Provider.Vault != nil:
		return "vault"
	}
	return "unknown"
}

// providerFactory builds a provider client for a store. Setup uses
// buildProvider; tests may substitute endpoints through the store spec.
type providerFactory func(ctx context.Context, store *storeInfo) (providers.Provider, error)

// providerBuilder builds providers from store specs, resolving credentials
// from Secrets and service account tokens. It is the explicit provider
// registry: one switch on the spec.
type providerBuilder struct {
	client client.Client
	// tokens requests service account tokens (TokenRequest API).
	tokens corev1client.CoreV1Interface
	// awsBatchWindow is how long AWS reads wait to share a
	// BatchGetSecretValue call.
	awsBatchWindow time.Duration
	// ssmBatchWindow is the same for Parameter Store's GetParameters.
	ssmBatchWindow time.Duration
	// policy says what stores may do.
	policy *storePolicy
}

// credentialNamespace is where a store's Secret and service account
// references are read: a SecretStore's own namespace (a reference naming
// another one is refused, as External Secrets Operator does); for a
// ClusterSecretStore the namespace in the reference, or, as in External
// Secrets Operator, the namespace of the ExternalSecret that uses it.
func credentialNamespace(store *storeInfo, refNamespace string) (string, error) {
	if store.Kind == v1alpha1.SecretStoreKind {
		if refNamespace != "" && refNamespace != store.Namespace {
			return "", fmt.Errorf("%w: a SecretStore reads credentials from its own namespace %s only, and a reference names namespace %s (remove the namespace, or ask an admin for a ClusterSecretStore)", errInvalidStore, store.Namespace, refNamespace)
		}
		return store.Namespace, nil
	}
	if refNamespace != "" {
		return refNamespace, nil
	}
	if store.RefNamespace == "" {
		return "", errPerNamespace
	}
	return store.RefNamespace, nil
}

var errInvalidStore = errors.New("invalid store")

// errPerNamespace: a ClusterSecretStore reference without a namespace is
// read in each ExternalSecret's namespace, so the store alone cannot be
// validated.
var errPerNamespace = errors.New("a reference of this ClusterSecretStore names no namespace: it is read in the namespace of each ExternalSecret that uses the store")

// build implements providerFactory.
func (b *providerBuilder) build(ctx context.Context, store *storeInfo) (providers.Provider, error) {
	onCall := func(op string, err error) { countProviderCall(store.providerName(), op, err) }
	switch p := store.Spec.Provider; {
	case p.AWS != nil:
		return b.buildAWS(ctx, store, p.AWS, onCall)
	case p.Vault != nil:
		return b.buildVault(ctx, store, p.Vault, onCall)
	}
	return nil, fmt.Errorf("%w: spec.provider needs aws or vault", errInvalidStore)
}

// secretValue reads one key of a credential Secret.
func (b *providerBuilder) secretValue(ctx context.Context, store *storeInfo, sel v1alpha1.SecretKeySelector) ([]byte, error) {
	ns, err := credentialNamespace(store, sel.Namespace)
	if err != nil {
		return nil, err
	}
	var s corev1.Secret
	if err := b.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: sel.Name}, &s); err != nil {
		return nil, fmt.Errorf("credentials Secret %s/%s: %w", ns, sel.Name, err)
	}
	v, ok := s.Data[sel.Key]
	if !ok {
		return nil, fmt.Errorf("%w: credentials Secret %s/%s has no key %q", errInvalidStore, ns, sel.Name, sel.Key)
	}
	return v, nil
}

// jwtSource returns a JWT getter from a service account (TokenRequest) or
// a Secret.
func (b *providerBuilder) jwtSource(ctx context.Context, store *storeInfo, sa *v1alpha1.ServiceAccountSelector, sec *v1alpha1.SecretKeySelector, auds loginAudiences, expiry int64) (func(context.Context) (string, error), error) {
	switch {
	case sa != nil:
		return b.serviceAccountToken(store, *sa, auds, expiry)
	case sec != nil:
		v, err := b.secretValue(ctx, store, *sec)
		if err != nil {
			return nil, err
		}
		tok := string(v)
		return func(context.Context) (string, error) { return tok, nil }, nil
	}
	return nil, fmt.Errorf("%w: the login needs serviceAccountRef or secretRef", errInvalidStore)
}

// serviceAccountToken returns a getter that requests a short-lived token
// (expiry seconds, 10 minutes when 0) for a service account from the
// TokenRequest API, for the audiences the store policy grants (the
// provider's own, for a SecretStore).
func (b *providerBuilder) serviceAccountToken(store *storeInfo, sa v1alpha1.ServiceAccountSelector, auds loginAudiences, expiry int64) (func(context.Context) (string, error), error) {
	ns, err := credentialNamespace(store, sa.Namespace)
	if err != nil {
		return nil, err
	}
	audiences, err := b.policy.loginTokenAudiences(store, sa.Audiences, auds)
	if err != nil {
		return nil, err
	}
	if expiry <= 0 {
		expiry = int64((10 * time.Minute).Seconds())
	}
	if b.tokens == nil {
		return nil, errors.New("service account tokens are not available (no Kubernetes client)")
	}
	return func(ctx context.Context) (string, error) {
		tr, err := b.tokens.ServiceAccounts(ns).CreateToken(ctx, sa.Name, &authenticationv1.TokenRequest{
			Spec: authenticationv1.TokenRequestSpec{Audiences: audiences, ExpirationSeconds: &expiry},
		}, metav1CreateOptions)
		if err != nil {
			return "", fmt.Errorf("token for service account %s/%s: %w", ns, sa.Name, err)
		}
		return tr.Status.Token, nil
	}, nil
}

// credentialRefs lists the Secrets a store's credentials come from, so the
// cache can rebuild the provider when one changes.
func credentialRefs(store *storeInfo) []v1alpha1.SecretKeySelector {
	var out []v1alpha1.SecretKeySelector
	p := store.Spec.Provider
	if p.AWS != nil && p.AWS.Auth.SecretRef != nil {
		r := p.AWS.Auth.SecretRef
		out = append(out, r.AccessKeyID, r.SecretAccessKey)
		if r.SessionToken != nil {
			out = append(out, *r.SessionToken)
		}
	}
	if p.Vault != nil {
		a := p.Vault.Auth
		if a.TokenSecretRef != nil {
			out = append(out, *a.TokenSecretRef)
		}
		if a.AppRole != nil {
			out = append(out, a.AppRole.SecretRef)
			if a.AppRole.RoleRef != nil {
				out = append(out, *a.AppRole.RoleRef)
			}
		}
		if a.Kubernetes != nil && a.Kubernetes.SecretRef != nil {
			out = append(out, *a.Kubernetes.SecretRef)
		}
		if a.JWT != nil && a.JWT.SecretRef != nil {
			out = append(out, *a.JWT.SecretRef)
		}
		out = append(out, vaultMoreRefs(p.Vault)...)
	}
	return out
}

// vaultMoreRefs lists the Secrets of userPass, cert, tls and caProvider.
func vaultMoreRefs(v *v1alpha1.VaultProvider) []v1alpha1.SecretKeySelector {
	var out []v1alpha1.SecretKeySelector
	for _, r := range []*v1alpha1.SecretKeySelector{userPassRef(v.Auth.UserPass), certRef(v.Auth.Cert, true), certRef(v.Auth.Cert, false)} {
		if r != nil {
			out = append(out, *r)
		}
	}
	if t := v.ClientTLS; t != nil {
		for _, r := range []*v1alpha1.OptionalKeySelector{t.CertSecretRef, t.KeySecretRef} {
			if r != nil {
				out = append(out, withDefaultKey(*r, ""))
			}
		}
	}
	if cp := v.CAProvider; cp != nil && cp.Type == v1alpha1.CAProviderSecret {
		out = append(out, v1alpha1.SecretKeySelector{Name: cp.Name, Key: cp.Key, Namespace: ptrValue(cp.Namespace)})
	}
	return out
}

func userPassRef(u *v1alpha1.VaultUserPassAuth) *v1alpha1.SecretKeySelector {
	if u == nil {
		return nil
	}
	return u.SecretRef
}

func certRef(c *v1alpha1.VaultCertAuth, cert bool) *v1alpha1.SecretKeySelector {
	switch {
	case c == nil:
		return nil
	case cert:
		return c.ClientCert
	}
	return c.SecretRef
}

func ptrValue[T any](p *T) T {
	var zero T
	if p == nil {
		return zero
	}
	return *p
}
