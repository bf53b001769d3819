package vault

import (
	"context"
	"fmt"

	"github.com/hashicorp/vault/api"

	"github.com/kseal-dev/kseal/providers"
)

// checkTagQuery refuses tag queries Vault cannot answer as External Secrets
// Operator does: tags are KV v2 custom_metadata (KV v1 has none), and
// External Secrets Operator ignores tags when a name is given too, which
// kseal refuses rather than silently doing.
func (p *Provider) checkTagQuery(q providers.Query) error {
	if len(q.Tags) == 0 {
		return nil
	}
	if p.cfg.KVVersion == KVv1 {
		return fmt.Errorf("vault find: tags are KV v2 custom_metadata, and this store's engine is KV v1: %w", providers.ErrUnsupported)
	}
	if q.NameRegexp != nil {
		return fmt.Errorf("vault find: name and tags together (External Secrets Operator would ignore the tags): use one of them: %w", providers.ErrUnsupported)
	}
	return nil
}

// hasTags reports whether the custom_metadata of the KV v2 secret at key
// holds every tag with its value.
func (p *Provider) hasTags(ctx context.Context, key string, tags map[string]string) (bool, error) {
	path := p.cfg.MountPath + "/metadata/" + key
	var secret *api.Secret
	err := p.call(ctx, "read", path, func(c *api.Client) error {
		var err error
		secret, err = c.Logical().ReadWithContext(ctx, path)
		return err
	})
	if err != nil {
		return false, err
	}
	if secret == nil || secret.Data == nil {
		return false, nil
	}
	meta, _ := secret.Data["custom_metadata"].(map[string]any)
	for k, want := range tags {
		if got, ok := meta[k].(string); !ok || got != want {
			return false, nil
		}
	}
	return true, nil
}
