package controllers

import (
	"fmt"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/providers/aws"
)

// awsRoleChain reads the role chain of an AWS store (additionalRoles,
// externalID, session tags) and refuses what kseal does not do: External
// Secrets Operator's automatic session tags (sessionTagsPolicy Simple or
// Custom), and session tags a namespaced SecretStore would put on the
// controller's own credentials.
func awsRoleChain(store *storeInfo, p *v1alpha1.AWSProvider, policy *storePolicy) (aws.RoleChain, error) {
	c := p.AWSRoleChain
	if c.SessionTagsPolicy != "" && c.SessionTagsPolicy != "None" {
		return aws.RoleChain{}, fmt.Errorf("%w: spec.provider.aws.sessionTagsPolicy %s is not supported by kseal; list the tags in sessionTags instead (for example key: namespace, value: <the store's namespace>)", errInvalidStore, c.SessionTagsPolicy)
	}
	if len(c.CustomSessionTags) > 0 {
		return aws.RoleChain{}, fmt.Errorf("%w: spec.provider.aws.customSessionTags goes with sessionTagsPolicy Custom, which kseal does not support; list the tags in sessionTags instead", errInvalidStore)
	}
	if sm := p.SecretsManager; sm != nil && sm.ForceDeleteWithoutRecovery && sm.RecoveryWindowInDays != 0 {
		return aws.RoleChain{}, fmt.Errorf("%w: spec.provider.aws.secretsManager: set forceDeleteWithoutRecovery or recoveryWindowInDays, not both (AWS refuses both)", errInvalidStore)
	}
	// A SecretStore on the controller's own credentials: tags chosen by a
	// namespace editor must not decide what the controller's sessions may
	// read (attribute-based access control on session tags).
	if store.Kind == v1alpha1.SecretStoreKind && p.Auth.SecretRef == nil && p.Auth.JWT == nil && (len(c.SessionTags) > 0 || len(c.TransitiveTagKeys) > 0) {
		return aws.RoleChain{}, fmt.Errorf("%w: spec.provider.aws.sessionTags: a SecretStore on the controller's own credentials may not set session tags; name credentials in auth, or ask an admin for a ClusterSecretStore", errInvalidStore)
	}
	out := aws.RoleChain{AdditionalRoles: c.AdditionalRoles, ExternalID: c.ExternalID, TransitiveTagKeys: c.TransitiveTagKeys}
	for i, t := range c.SessionTags {
		if t == nil {
			return aws.RoleChain{}, fmt.Errorf("%w: spec.provider.aws.sessionTags[%d] is empty", errInvalidStore, i)
		}
		out.SessionTags = append(out.SessionTags, aws.Tag{Key: t.Key, Value: t.Value})
	}
	_ = policy
	return out, nil
}
