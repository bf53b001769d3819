package controllers

import (
	"context"
	"errors"
	"fmt"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/providers"
	"github.com/kseal-dev/kseal/providers/vault"
)

// buildVault builds a Vault KV provider.
func (b *providerBuilder) buildVault(ctx context.Context, store *storeInfo, p *v1alpha1.VaultProvider, onCall func(string, error)) (providers.Provider, error) {
	if err := b.policy.checkServer(store, "spec.provider.vault.server", p.Server); err != nil {
		return nil, err
	}
	cfg := vault.Config{
		Server: p.Server, AllowHTTP: b.policy.VaultAllowHTTP, MountPath: p.Path, KVVersion: string(p.Version),
		Namespace: p.Namespace, CABundle: p.CABundle, OnCall: onCall,
	}
	if cfg.KVVersion == "" {
		cfg.KVVersion = vault.KVv2
	}
	if n := vaultAuthMethods(p.Auth); n != 1 {
		return nil, fmt.Errorf("%w: spec.provider.vault.auth needs exactly one login method (tokenSecretRef, appRole, kubernetes, jwt, userPass or cert), got %d", errInvalidStore, n)
	}
	conn, ca, err := b.vaultConnection(ctx, store, p)
	if err != nil {
		return nil, err
	}
	cfg.Connection = conn
	if len(ca) > 0 {
		cfg.CABundle = append(append(append([]byte(nil), cfg.CABundle...), '\n'), ca...)
	}
	if done, err := b.vaultMoreAuth(ctx, store, p.Auth.VaultMoreAuth, &cfg.Auth); done {
		if err != nil {
			return nil, err
		}
		return newVault(ctx, cfg)
	}
	aud := b.policy.VaultAudience
	switch auth := p.Auth; {
	case auth.TokenSecretRef != nil:
		tok, err := b.secretValue(ctx, store, *auth.TokenSecretRef)
		if err != nil {
			return nil, err
		}
		cfg.Auth.Token = string(tok)
	case auth.AppRole != nil:
		roleID := auth.AppRole.RoleID
		if auth.AppRole.RoleRef != nil {
			v, err := b.secretValue(ctx, store, *auth.AppRole.RoleRef)
			if err != nil {
				return nil, err
			}
			roleID = string(v)
		}
		secretID, err := b.secretValue(ctx, store, auth.AppRole.SecretRef)
		if err != nil {
			return nil, err
		}
		cfg.Auth.AppRole = &vault.AppRoleAuth{Path: auth.AppRole.Path, RoleID: roleID, SecretID: string(secretID)}
	case auth.Kubernetes != nil:
		k := auth.Kubernetes
		jwtFn, err := b.jwtSource(ctx, store, k.ServiceAccountRef, k.SecretRef, loginAudiences{provider: aud, kubernetes: true}, 0)
		if err != nil {
			return nil, err
		}
		cfg.Auth.Kubernetes = &vault.KubernetesAuth{MountPath: k.MountPath, Role: k.Role, JWT: jwtFn}
	case auth.JWT != nil:
		j, err := b.vaultJWT(ctx, store, auth.JWT, aud)
		if err != nil {
			return nil, err
		}
		cfg.Auth.JWT = j
	default:
		return nil, fmt.Errorf("%w: vault auth needs tokenSecretRef, appRole, kubernetes, jwt, userPass or cert", errInvalidStore)
	}
	return newVault(ctx, cfg)
}

// newVault builds the provider, marking configuration errors.
func newVault(ctx context.Context, cfg vault.Config) (providers.Provider, error) {
	prov, err := vault.New(ctx, cfg)
	if errors.Is(err, vault.ErrConfig) {
		return nil, fmt.Errorf("%w: %w", errInvalidStore, err)
	}
	return prov, err
}

// vaultAuthMethods counts the login methods a Vault auth names.
func vaultAuthMethods(a v1alpha1.VaultAuth) int {
	n := 0
	for _, set := range []bool{a.TokenSecretRef != nil, a.AppRole != nil, a.Kubernetes != nil, a.JWT != nil,
		a.UserPass != nil, a.Cert != nil, a.Ldap != nil, a.Iam != nil, a.GCP != nil} {
		if set {
			n++
		}
	}
	return n
}
