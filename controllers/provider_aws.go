package controllers

import (
	"context"
	"errors"
	"fmt"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/providers"
	"github.com/kseal-dev/kseal/providers/aws"
)

// buildAWS builds an AWS Secrets Manager provider.
func (b *providerBuilder) buildAWS(ctx context.Context, store *storeInfo, p *v1alpha1.AWSProvider, onCall func(string, error)) (providers.Provider, error) {
	if err := b.policy.checkServer(store, "spec.provider.aws.endpoint", p.Endpoint); err != nil {
		return nil, err
	}
	if err := b.policy.checkServer(store, "spec.provider.aws.stsEndpoint", p.STSEndpoint); err != nil {
		return nil, err
	}
	cfg := aws.Config{Region: p.Region, Endpoint: p.Endpoint, STSEndpoint: p.STSEndpoint, Role: p.Role, OnCall: onCall, BatchWindow: b.awsBatchWindow}
	switch ref, jwt := p.Auth.SecretRef, p.Auth.JWT; {
	case ref != nil:
		id, err := b.secretValue(ctx, store, ref.AccessKeyID)
		if err != nil {
			return nil, err
		}
		key, err := b.secretValue(ctx, store, ref.SecretAccessKey)
		if err != nil {
			return nil, err
		}
		cfg.Static = &aws.StaticCredentials{AccessKeyID: string(id), SecretAccessKey: string(key)}
		if ref.SessionToken != nil {
			tok, err := b.secretValue(ctx, store, *ref.SessionToken)
			if err != nil {
				return nil, err
			}
			cfg.Static.SessionToken = string(tok)
		}
	case jwt != nil:
		tokenFn, err := b.serviceAccountToken(store, jwt.ServiceAccountRef, AWSAudience)
		if err != nil {
			return nil, err
		}
		cfg.WebIdentityToken = tokenFn
	case store.Kind == v1alpha1.SecretStoreKind && !b.policy.NamespacedDefaultCredentials:
		return nil, fmt.Errorf("%w: spec.provider.aws.auth is empty: a SecretStore must name its credentials (secretRef or jwt); the controller's own AWS credentials serve ClusterSecretStores only (controller flag --namespaced-stores-default-credentials)", errInvalidStore)
	}
	prov, err := aws.New(ctx, cfg)
	if errors.Is(err, aws.ErrConfig) {
		return nil, fmt.Errorf("%w: %w", errInvalidStore, err)
	}
	return prov, err
}
