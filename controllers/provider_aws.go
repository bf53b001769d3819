package controllers

import (
	"context"
	"errors"
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/providers"
	"github.com/kseal-dev/kseal/providers/aws"
)

// buildAWS builds an AWS Secrets Manager or Parameter Store provider.
func (b *providerBuilder) buildAWS(ctx context.Context, store *storeInfo, p *v1alpha1.AWSProvider, onCall func(string, error)) (providers.Provider, error) {
	if err := b.policy.checkServer(store, "spec.provider.aws.endpoint", p.Endpoint); err != nil {
		return nil, err
	}
	if err := b.policy.checkServer(store, "spec.provider.aws.stsEndpoint", p.STSEndpoint); err != nil {
		return nil, err
	}
	cfg := aws.Config{Region: p.Region, Endpoint: p.Endpoint, STSEndpoint: p.STSEndpoint, Role: p.Role, OnCall: onCall, BatchWindow: b.awsBatchWindow, Prefix: p.Prefix}
	chain, err := awsRoleChain(store, p, b.policy)
	if err != nil {
		return nil, err
	}
	cfg.RoleChain = chain
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
		tokenFn, err := b.serviceAccountToken(store, jwt.ServiceAccountRef, loginAudiences{provider: AWSAudience}, 0)
		if err != nil {
			return nil, err
		}
		cfg.WebIdentityToken = tokenFn
		// As in EKS (IRSA) and External Secrets Operator: the service
		// account's role is assumed with its token, and the store's role,
		// if any, on top of it.
		if cfg.WebIdentityRole, err = b.serviceAccountRole(ctx, store, jwt.ServiceAccountRef); err != nil {
			return nil, err
		}
	case store.Kind == v1alpha1.SecretStoreKind && !b.policy.NamespacedDefaultCredentials:
		return nil, fmt.Errorf("%w: spec.provider.aws.auth is empty: a SecretStore must name its credentials (secretRef or jwt); the controller's own AWS credentials serve ClusterSecretStores only (controller flag --namespaced-stores-default-credentials)", errInvalidStore)
	}
	if p.Service == v1alpha1.AWSServiceParameterStore {
		cfg.BatchWindow = b.ssmBatchWindow
		return awsProvider(aws.NewParameterStore(ctx, cfg))
	}
	return awsProvider(aws.New(ctx, cfg))
}

// awsProvider returns prov, or the error with configuration mistakes
// marked as an invalid store.
func awsProvider[P providers.Provider](prov P, err error) (providers.Provider, error) {
	if errors.Is(err, aws.ErrConfig) {
		return nil, fmt.Errorf("%w: %w", errInvalidStore, err)
	}
	if err != nil {
		return nil, err
	}
	return prov, nil
}

// +kubebuilder:rbac:groups="",resources=serviceaccounts,verbs=get

// AnnotationIRSARole is the EKS annotation naming a service account's IAM
// role.
const AnnotationIRSARole = "eks.amazonaws.com/role-arn"

// serviceAccountRole returns the IAM role a service account is annotated
// with (IRSA), or "" when it has none. It is read from the API server when
// the provider is built (service accounts are not cached), so a changed
// annotation applies when the store or its credentials change.
func (b *providerBuilder) serviceAccountRole(ctx context.Context, store *storeInfo, sel v1alpha1.ServiceAccountSelector) (string, error) {
	ns, err := credentialNamespace(store, sel.Namespace)
	if err != nil {
		return "", err
	}
	if b.tokens == nil {
		return "", errors.New("service accounts are not available (no Kubernetes client)")
	}
	sa, err := b.tokens.ServiceAccounts(ns).Get(ctx, sel.Name, metav1.GetOptions{})
	if err != nil {
		return "", fmt.Errorf("service account %s/%s: %w", ns, sel.Name, err)
	}
	return sa.Annotations[AnnotationIRSARole], nil
}
