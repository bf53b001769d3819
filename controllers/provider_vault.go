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
		jwtFn, err := b.jwtSource(ctx, store, k.ServiceAccountRef, k.SecretRef, aud)
		if err != nil {
			return nil, err
		}
		cfg.Auth.Kubernetes = &vault.KubernetesAuth{MountPath: k.MountPath, Role: k.Role, JWT: jwtFn}
	case auth.JWT != nil:
		j := auth.JWT
		var sa *v1alpha1.ServiceAccountSelector
		if j.KubernetesServiceAccountToken != nil {
			sa = &j.KubernetesServiceAccountToken.ServiceAccountRef
		}
		jwtFn, err := b.jwtSource(ctx, store, sa, j.SecretRef, aud)
		if err != nil {
			return nil, err
		}
		cfg.Auth.JWT = &vault.JWTAuth{Path: j.Path, Role: j.Role, JWT: jwtFn}
	default:
		return nil, fmt.Errorf("%w: vault auth needs tokenSecretRef, appRole, kubernetes or jwt", errInvalidStore)
	}
	prov, err := vault.New(ctx, cfg)
	if errors.Is(err, vault.ErrConfig) {
		return nil, fmt.Errorf("%w: %w", errInvalidStore, err)
	}
	return prov, err
}
