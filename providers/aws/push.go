package aws

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/kseal-dev/kseal/providers"
)

// MaxPushSize is the largest value Secrets Manager stores (64 KiB).
const MaxPushSize = 65536

// maxTagValue is the longest tag value AWS accepts.
const maxTagValue = 256

var _ providers.Pusher = (*Provider)(nil)

// PushSecret writes value to the secret ref.Key (as SecretBinary, as
// External Secrets Operator does by default), creating it tagged
// managed-by=kseal and kseal.dev/push-secret=<ref.Owner> when it does not
// exist. An existing secret without those tags is refused with ErrNotOwned. With ref.Property the value becomes that
// field of the secret's JSON object. No version is written when the current
// value is already the one to push: a push that changes nothing costs a
// DescribeSecret and a GetSecretValue.
func (p *Provider) PushSecret(ctx context.Context, ref providers.PushRef, value []byte) error {
	if err := checkPush(ref, value); err != nil {
		return err
	}
	owned, err := p.owned(ctx, ref)
	switch {
	case errors.Is(err, providers.ErrNotFound):
		return p.create(ctx, ref, value)
	case err != nil:
		return fmt.Errorf("secretsmanager push %s: %w", ref, err)
	case !owned:
		return fmt.Errorf("secretsmanager push %s: %w", ref, providers.NotOwned(ref))
	}
	cur, err := p.getOne(ctx, ref.Key, "")
	if err != nil && !errors.Is(err, providers.ErrNotFound) {
		return fmt.Errorf("secretsmanager push %s: %w", ref, err)
	}
	next, err := providers.SetProperty(cur, ref.Property, value)
	if err != nil {
		return fmt.Errorf("secretsmanager push %s: %w", ref, err)
	}
	if cur != nil && bytes.Equal(cur, next) {
		return nil
	}
	err = p.client.jsonCall(ctx, "PutSecretValue", putSecretValueInput{SecretID: ref.Key, SecretBinary: next, ClientRequestToken: idempotencyToken()}, nil)
	if err != nil {
		return fmt.Errorf("secretsmanager push %s: %w", ref, classify(err))
	}
	return nil
}

// checkPush bounds a push before any call.
func checkPush(ref providers.PushRef, value []byte) error {
	switch {
	case ref.Key == "" || len(ref.Key) > 512:
		return fmt.Errorf("secretsmanager push: the secret name must have 1 to 512 characters")
	case ref.Owner == "":
		return fmt.Errorf("secretsmanager push %s: no owner to tag the secret with", ref)
	case len(ref.Owner) > maxTagValue:
		return fmt.Errorf("secretsmanager push %s: the owner tag %s would be %d characters, more than AWS allows (%d): shorten the PushSecret's name", ref, providers.OwnerKey, len(ref.Owner), maxTagValue)
	case len(value) > MaxPushSize:
		return fmt.Errorf("secretsmanager push %s: value of %d bytes is larger than Secrets Manager stores (%d)", ref, len(value), MaxPushSize)
	}
	return nil
}

// create makes the secret with kseal's tag.
func (p *Provider) create(ctx context.Context, ref providers.PushRef, value []byte) error {
	v, err := providers.SetProperty(nil, ref.Property, value)
	if err != nil {
		return fmt.Errorf("secretsmanager push %s: %w", ref, err)
	}
	err = p.client.jsonCall(ctx, "CreateSecret", createSecretInput{
		Name: ref.Key, SecretBinary: v, ClientRequestToken: idempotencyToken(),
		Tags: []tag{
			{Key: str(providers.ManagedByKey), Value: str(ref.Mark())},
			{Key: str(providers.OwnerKey), Value: str(ref.Owner)},
		},
	}, nil)
	if err != nil {
		return fmt.Errorf("secretsmanager push %s: create: %w", ref, classify(err))
	}
	return nil
}

// owned reports whether the secret carries ref.Owner's tags; ErrNotFound
// when it does not exist.
func (p *Provider) owned(ctx context.Context, ref providers.PushRef) (bool, error) {
	if p.ctx.Err() != nil {
		return false, providers.Retryable(errClosed)
	}
	var out describeSecretOutput
	if err := p.client.jsonCall(ctx, "DescribeSecret", secretIDInput{SecretID: ref.Key}, &out); err != nil {
		return false, classify(err)
	}
	tags := make(map[string]string, len(out.Tags))
	for _, t := range out.Tags {
		tags[deref(t.Key)] = deref(t.Value)
	}
	return ref.Owns(tags), nil
}

// SecretExists reports whether the secret (and, with ref.Property, that
// field) exists, whoever owns it.
func (p *Provider) SecretExists(ctx context.Context, ref providers.PushRef) (bool, error) {
	cur, err := p.getOne(ctx, ref.Key, "")
	switch {
	case errors.Is(err, providers.ErrNotFound):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("secretsmanager exists %s: %w", ref, err)
	case ref.Property == "":
		return true, nil
	}
	return providers.HasProperty(cur, ref.Property), nil
}

// DeleteSecret deletes the secret (with Secrets Manager's default recovery
// window) or, with ref.Property, removes that field, the secret going when
// no field is left. Secrets kseal does not own, and missing ones, are left
// alone.
func (p *Provider) DeleteSecret(ctx context.Context, ref providers.PushRef) error {
	owned, err := p.owned(ctx, ref)
	switch {
	case errors.Is(err, providers.ErrNotFound):
		return nil
	case err != nil:
		return fmt.Errorf("secretsmanager delete %s: %w", ref, err)
	case !owned:
		return nil
	}
	if ref.Property != "" {
		cur, err := p.getOne(ctx, ref.Key, "")
		if err != nil && !errors.Is(err, providers.ErrNotFound) {
			return fmt.Errorf("secretsmanager delete %s: %w", ref, err)
		}
		rest, empty, err := providers.RemoveProperty(cur, ref.Property)
		if err != nil {
			return fmt.Errorf("secretsmanager delete %s: %w", ref, err)
		}
		if !empty {
			if bytes.Equal(rest, cur) {
				return nil
			}
			err = p.client.jsonCall(ctx, "PutSecretValue", putSecretValueInput{SecretID: ref.Key, SecretBinary: rest, ClientRequestToken: idempotencyToken()}, nil)
			if err != nil {
				return fmt.Errorf("secretsmanager delete %s: %w", ref, classify(err))
			}
			return nil
		}
	}
	err = p.client.jsonCall(ctx, "DeleteSecret", secretIDInput{SecretID: ref.Key}, nil)
	if err != nil && !errors.Is(classify(err), providers.ErrNotFound) {
		return fmt.Errorf("secretsmanager delete %s: %w", ref, classify(err))
	}
	return nil
}

// tagsJSON returns the tags of secret id as one JSON object of tag keys to
// values, as External Secrets Operator returns them for metadataPolicy
// Fetch; "{}" when it has none.
func (p *Provider) tagsJSON(ctx context.Context, id string) ([]byte, error) {
	if p.ctx.Err() != nil {
		return nil, providers.Retryable(errClosed)
	}
	var out describeSecretOutput
	if err := p.client.jsonCall(ctx, "DescribeSecret", secretIDInput{SecretID: id}, &out); err != nil {
		return nil, classify(err)
	}
	tags := make(map[string]string, len(out.Tags))
	for _, t := range out.Tags {
		tags[deref(t.Key)] = deref(t.Value)
	}
	return json.Marshal(tags)
}
