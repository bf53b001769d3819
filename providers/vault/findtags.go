package vault

import (
	"context"
	"encoding/json"
	"errors"
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

// metadataValue reads the KV v2 custom_metadata of the secret at key
// (remoteRef.metadataPolicy Fetch), as External Secrets Operator does: the
// whole map as a JSON object, or with ref.Property the value of that key.
// A secret without custom_metadata gives an empty value; ref.Version is not
// used (metadata are not versioned).
func (p *Provider) metadataValue(ctx context.Context, key string, ref providers.Ref) ([]byte, error) {
	if p.cfg.KVVersion == KVv1 {
		return nil, fmt.Errorf("vault %s: metadataPolicy Fetch reads KV v2 custom_metadata, and this store's engine is KV v1: %w", ref, providers.ErrUnsupported)
	}
	meta, err := p.customMetadata(ctx, key)
	if err != nil {
		return nil, fmt.Errorf("vault %s: %w", ref, err)
	}
	if len(meta) == 0 && ref.Property == "" {
		return []byte{}, nil
	}
	b, err := json.Marshal(meta)
	if err != nil {
		return nil, fmt.Errorf("vault %s: encode custom_metadata: %w", ref, err)
	}
	if ref.Property == "" {
		return b, nil
	}
	v, err := extractProperty(b, ref.Property)
	if err != nil {
		return nil, fmt.Errorf("vault %s: %w", ref, err)
	}
	return v, nil
}

// customMetadata returns the custom_metadata of the KV v2 secret at key;
// ErrNotFound when there is no such secret.
func (p *Provider) customMetadata(ctx context.Context, key string) (map[string]any, error) {
	path := p.cfg.MountPath + "/metadata/" + key
	var secret *api.Secret
	err := p.call(ctx, "read", path, func(c *api.Client) error {
		var err error
		secret, err = c.Logical().ReadWithContext(ctx, path)
		return err
	})
	if err != nil {
		return nil, err
	}
	if secret == nil || secret.Data == nil {
		return nil, providers.ErrNotFound
	}
	meta, _ := secret.Data["custom_metadata"].(map[string]any)
	return meta, nil
}

// hasTags reports whether the custom_metadata of the KV v2 secret at key
// holds every tag with its value.
func (p *Provider) hasTags(ctx context.Context, key string, tags map[string]string) (bool, error) {
	meta, err := p.customMetadata(ctx, key)
	if errors.Is(err, providers.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	for k, want := range tags {
		if got, ok := meta[k].(string); !ok || got != want {
			return false, nil
		}
	}
	return true, nil
}
