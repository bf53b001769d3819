package vault

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"

	"github.com/hashicorp/vault/api"

	"github.com/kseal-dev/kseal/providers"
)

var _ providers.Pusher = (*Provider)(nil)

// maxPushSize bounds one pushed value (the most a Secret holds).
const maxPushSize = providers.MaxValueSize

// errPushKVv1 refuses pushes to KV v1, which has no metadata to record
// ownership in.
var errPushKVv1 = fmt.Errorf("pushing needs KV v2, where kseal records that it owns a secret in custom_metadata: %w", providers.ErrUnsupported)

// PushSecret writes value at ref.Key in a KV v2 mount. Without a property
// the value must be a JSON object, which becomes the secret's fields (as in
// External Secrets Operator); with ref.Property the value is that field,
// the others kept. A secret kseal creates gets custom_metadata
// managed-by=kseal and kseal.dev/push-secret=<ref.Owner>; an existing
// secret without them gives ErrNotOwned. A new
// secret is written with check-and-set 0 and an update with the version it
// was read at, so a concurrent writer is never overwritten. Nothing is
// written when the fields are already the ones to push.
func (p *Provider) PushSecret(ctx context.Context, ref providers.PushRef, value []byte) error {
	key, meta, err := p.pushPaths(ref)
	if err != nil {
		return err
	}
	if len(value) > maxPushSize {
		return fmt.Errorf("vault push %s: value of %d bytes is larger than %d", ref, len(value), maxPushSize)
	}
	if ref.Owner == "" {
		return fmt.Errorf("vault push %s: no owner to mark the secret with", ref)
	}
	marks, version, err := p.readOwner(ctx, meta)
	if err != nil {
		return fmt.Errorf("vault push %s: %w", ref, err)
	}
	owned := ref.Owns(marks)
	if (version > 0 || len(marks) > 0) && !owned {
		return fmt.Errorf("vault push %s: %w", ref, providers.NotOwned(ref))
	}
	cur := map[string]any{}
	if version > 0 {
		if cur, err = p.readFields(ctx, p.dataPath(key)); err != nil {
			return fmt.Errorf("vault push %s: %w", ref, err)
		}
	}
	next, err := pushedFields(cur, ref.Property, value)
	if err != nil {
		return fmt.Errorf("vault push %s: %w", ref, err)
	}
	if version > 0 && fieldsEqual(cur, next) {
		return nil
	}
	body := map[string]any{"data": next, "options": map[string]any{"cas": version}}
	path := p.dataPath(key)
	if err := p.call(ctx, "write", path, func(c *api.Client) error {
		_, err := c.Logical().WriteWithContext(ctx, path, body)
		return err
	}); err != nil {
		return fmt.Errorf("vault push %s: %w", ref, err)
	}
	if owned {
		return nil
	}
	mark := map[string]any{"custom_metadata": map[string]string{providers.ManagedByKey: ref.Mark(), providers.OwnerKey: ref.Owner}}
	return p.call(ctx, "write", meta, func(c *api.Client) error {
		_, err := c.Logical().WriteWithContext(ctx, meta, mark)
		return err
	})
}

// pushPaths checks ref and returns the key and its metadata path.
func (p *Provider) pushPaths(ref providers.PushRef) (key, meta string, err error) {
	if p.cfg.KVVersion != KVv2 {
		return "", "", fmt.Errorf("vault push %s: %w", ref, errPushKVv1)
	}
	if key, err = p.key(ref.Key); err != nil {
		return "", "", err
	}
	return key, p.cfg.MountPath + "/metadata/" + key, nil
}

// readOwner reads a secret's metadata: its custom_metadata and current
// version (0 when the secret does not exist).
func (p *Provider) readOwner(ctx context.Context, meta string) (marks map[string]string, version int64, err error) {
	var secret *api.Secret
	err = p.call(ctx, "read", meta, func(c *api.Client) error {
		var err error
		secret, err = c.Logical().ReadWithContext(ctx, meta)
		return err
	})
	if errors.Is(err, providers.ErrNotFound) || err == nil && (secret == nil || secret.Data == nil) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, err
	}
	marks = map[string]string{}
	if cm, ok := secret.Data["custom_metadata"].(map[string]any); ok {
		for k, v := range cm {
			if s, ok := v.(string); ok {
				marks[k] = s
			}
		}
	}
	switch v := secret.Data["current_version"].(type) {
	case json.Number:
		version, _ = v.Int64()
	case float64:
		version = int64(v)
	}
	return marks, version, nil
}

// readFields reads the current fields of a secret (none when its latest
// version is deleted).
func (p *Provider) readFields(ctx context.Context, path string) (map[string]any, error) {
	var secret *api.Secret
	err := p.call(ctx, "read", path, func(c *api.Client) error {
		var err error
		secret, err = c.Logical().ReadWithContext(ctx, path)
		return err
	})
	if errors.Is(err, providers.ErrNotFound) {
		return map[string]any{}, nil
	}
	if err != nil {
		return nil, err
	}
	if secret == nil || secret.Data == nil {
		return map[string]any{}, nil
	}
	inner, _ := secret.Data["data"].(map[string]any)
	if inner == nil {
		inner = map[string]any{}
	}
	return inner, nil
}

// pushedFields returns the fields to write.
func pushedFields(cur map[string]any, property string, value []byte) (map[string]any, error) {
	if property == "" {
		var obj map[string]any
		if err := json.Unmarshal(value, &obj); err != nil || obj == nil {
			// The decoder's message could quote the value.
			return nil, errors.New("without remoteRef.property the value must be a JSON object (its fields become the secret's); set remoteRef.property to push it as one field")
		}
		return obj, nil
	}
	out, err := providers.SetProperty(nil, property, value)
	if err != nil {
		return nil, err
	}
	next := maps.Clone(cur)
	if next == nil {
		next = map[string]any{}
	}
	var one map[string]any
	if err := json.Unmarshal(out, &one); err != nil {
		return nil, err
	}
	next[property] = one[property]
	return next, nil
}

// fieldsEqual compares two field sets by their JSON encoding.
func fieldsEqual(a, b map[string]any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

// SecretExists reports whether the secret (and, with ref.Property, that
// field) exists, whoever owns it.
func (p *Provider) SecretExists(ctx context.Context, ref providers.PushRef) (bool, error) {
	key, meta, err := p.pushPaths(ref)
	if err != nil {
		return false, err
	}
	_, version, err := p.readOwner(ctx, meta)
	if err != nil || version == 0 {
		return false, err
	}
	if ref.Property == "" {
		return true, nil
	}
	cur, err := p.readFields(ctx, p.dataPath(key))
	if err != nil {
		return false, err
	}
	_, ok := cur[ref.Property]
	return ok, nil
}

// DeleteSecret deletes the secret with all its versions and metadata, or
// with ref.Property removes that field (the secret going when none is
// left), when kseal owns it; other secrets and missing ones are left alone.
func (p *Provider) DeleteSecret(ctx context.Context, ref providers.PushRef) error {
	key, meta, err := p.pushPaths(ref)
	if err != nil {
		return err
	}
	marks, version, err := p.readOwner(ctx, meta)
	if err != nil {
		return fmt.Errorf("vault delete %s: %w", ref, err)
	}
	if !ref.Owns(marks) {
		return nil
	}
	if ref.Property != "" && version > 0 {
		cur, err := p.readFields(ctx, p.dataPath(key))
		if err != nil {
			return fmt.Errorf("vault delete %s: %w", ref, err)
		}
		if _, ok := cur[ref.Property]; !ok {
			return nil
		}
		delete(cur, ref.Property)
		if len(cur) > 0 {
			path := p.dataPath(key)
			body := map[string]any{"data": cur, "options": map[string]any{"cas": version}}
			return p.call(ctx, "write", path, func(c *api.Client) error {
				_, err := c.Logical().WriteWithContext(ctx, path, body)
				return err
			})
		}
	}
	err = p.call(ctx, "delete", meta, func(c *api.Client) error {
		_, err := c.Logical().DeleteWithContext(ctx, meta)
		return err
	})
	if errors.Is(err, providers.ErrNotFound) {
		return nil
	}
	return err
}
