package controllers

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"strconv"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/providers"
)

// pushValue is one data entry with the value it pushes.
type pushValue struct {
	data  v1alpha1.PushSecretData
	value []byte
}

// pushValues picks the value of every data entry from the Secret, after
// the entry's key conversion. An entry without secretKey pushes the whole
// Secret as a JSON object of its keys, as External Secrets Operator does.
// A key the Secret lacks is a spec error (named, never a value).
func pushValues(ps *v1alpha1.PushSecret, s *corev1.Secret) ([]pushValue, error) {
	if len(ps.Spec.Data) == 0 {
		return nil, terminal(v1alpha1.ReasonInvalidSpec, errors.New("spec.data is empty: list the keys to push"))
	}
	seen := map[string]int{}
	out := make([]pushValue, 0, len(ps.Spec.Data))
	for i, d := range ps.Spec.Data {
		if d.Metadata != nil {
			return nil, terminal(v1alpha1.ReasonInvalidSpec, fmt.Errorf("spec.data[%d].metadata is not supported by kseal", i))
		}
		ref := statusRef(d)
		if j, dup := seen[ref]; dup {
			return nil, terminal(v1alpha1.ReasonInvalidSpec, fmt.Errorf("spec.data[%d] and spec.data[%d] push to the same remote key %s", j, i, ref))
		}
		seen[ref] = i
		data := pushConvertKeys(d.ConversionStrategy, s.Data)
		key := d.Match.SecretKey
		if key == "" {
			whole := make(map[string]string, len(data))
			for k, v := range data {
				whole[k] = string(v)
			}
			b, err := json.Marshal(whole)
			if err != nil {
				return nil, terminal(v1alpha1.ReasonInvalidSpec, fmt.Errorf("spec.data[%d]: encode the Secret as JSON: %w", i, err))
			}
			out = append(out, pushValue{data: d, value: b})
			continue
		}
		v, ok := data[key]
		if !ok {
			return nil, terminal(v1alpha1.ReasonInvalidSpec, fmt.Errorf("spec.data[%d]: Secret %s has no key %q", i, s.Name, key))
		}
		out = append(out, pushValue{data: d, value: v})
	}
	return out, nil
}

// unicodeEscape is an ExternalSecret's Unicode key conversion of one
// character ("_U0024_" for "$").
var unicodeEscape = regexp.MustCompile(`_U([0-9a-fA-F]{4})_`)

// pushConvertKeys applies a PushSecret conversion strategy to the Secret's keys.
func pushConvertKeys(strategy v1alpha1.PushSecretConversionStrategy, data map[string][]byte) map[string][]byte {
	if strategy != v1alpha1.PushSecretConversionReverseUnicode {
		return data
	}
	out := make(map[string][]byte, len(data))
	for k, v := range data {
		out[unicodeEscape.ReplaceAllStringFunc(k, func(m string) string {
			n, _ := strconv.ParseUint(m[2:6], 16, 32)
			return string(rune(n))
		})] = v
	}
	return out
}

// statusRef is an entry's key in status.syncedPushSecrets: the remote key,
// and "/property" when it has one.
func statusRef(d v1alpha1.PushSecretData) string {
	if p := d.Match.RemoteRef.Property; p != "" {
		return d.Match.RemoteRef.RemoteKey + "/" + p
	}
	return d.Match.RemoteRef.RemoteKey
}

// pushRef is where an entry goes, owned by ps.
func pushRef(ps *v1alpha1.PushSecret, d v1alpha1.PushSecretData) providers.PushRef {
	return providers.PushRef{Key: d.Match.RemoteRef.RemoteKey, Property: d.Match.RemoteRef.Property, Owner: ps.Namespace + "/" + ps.Name}
}

// storeKey names a store in status.syncedPushSecrets ("SecretStore/name").
func storeKey(ref v1alpha1.PushSecretStoreRef) string {
	kind := ref.Kind
	if kind == "" {
		kind = v1alpha1.SecretStoreKind
	}
	return kind + "/" + ref.Name
}

// pushAll pushes every value to every store and returns what was pushed
// (also when it fails part way).
func (r *pushSecretReconciler) pushAll(ctx context.Context, ps *v1alpha1.PushSecret, values []pushValue) (v1alpha1.SyncedPushSecretsMap, error) {
	synced := v1alpha1.SyncedPushSecretsMap{}
	for _, ref := range ps.Spec.SecretStoreRefs {
		if ref.LabelSelector != nil || ref.Name == "" {
			return synced, terminal(v1alpha1.ReasonInvalidSpec, errors.New("secretStoreRefs[] must name a store (labelSelector is not supported by kseal)"))
		}
		pusher, store, err := r.pusher(ctx, ps, ref)
		if err != nil {
			return synced, err
		}
		key := storeKey(ref)
		done := map[string]v1alpha1.PushSecretData{}
		synced[key] = done
		for _, v := range values {
			if err := pushOne(ctx, ps, pusher, v); err != nil {
				return synced, fmt.Errorf("store %s: %w", store, err)
			}
			done[statusRef(v.data)] = v.data
		}
	}
	return synced, nil
}

// pushOne pushes one value, honouring updatePolicy.
func pushOne(ctx context.Context, ps *v1alpha1.PushSecret, p providers.Pusher, v pushValue) error {
	ref := pushRef(ps, v.data)
	if ps.Spec.UpdatePolicy == v1alpha1.PushSecretUpdatePolicyIfNotExists {
		exists, err := p.SecretExists(ctx, ref)
		if err != nil {
			return pushError(err)
		}
		if exists {
			return nil
		}
	}
	return pushError(p.PushSecret(ctx, ref, v.value))
}

// pushError gives a provider error its Ready reason.
func pushError(err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, providers.ErrNotOwned):
		return terminal(v1alpha1.ReasonRemoteNotOwned, err)
	case providers.IsRetryable(err), errors.Is(err, providers.ErrAuth):
		return retryable(v1alpha1.ReasonProviderError, err)
	case errors.Is(err, providers.ErrUnsupported):
		return terminal(v1alpha1.ReasonInvalidSpec, err)
	}
	return retryable(v1alpha1.ReasonPushErrored, err)
}

// pusher resolves a store as an ExternalSecret in ps's namespace would
// (ClusterSecretStore conditions, credentials in this namespace) and
// returns its provider when it can push.
func (r *pushSecretReconciler) pusher(ctx context.Context, ps *v1alpha1.PushSecret, ref v1alpha1.PushSecretStoreRef) (providers.Pusher, string, error) {
	lookup := &externalSecretReconciler{Client: r.Client, adopt: r.adopt}
	store, err := lookup.resolveStoreRef(ctx, ps.Namespace, v1alpha1.SecretStoreRef{Name: ref.Name, Kind: ref.Kind})
	if err != nil {
		return nil, ref.Name, err
	}
	if aws := store.Spec.Provider.AWS; aws != nil && aws.Service == v1alpha1.AWSServiceParameterStore {
		return nil, store.Name, terminal(v1alpha1.ReasonInvalidSpec, fmt.Errorf("store %s: kseal pushes to AWS Secrets Manager and Vault KV v2, not to Parameter Store", store.Name))
	}
	p, err := r.providers.get(ctx, store)
	if err != nil {
		if errors.Is(err, errInvalidStore) {
			return nil, store.Name, terminal(v1alpha1.ReasonInvalidSpec, fmt.Errorf("store %s: %w", store.Name, err))
		}
		return nil, store.Name, retryable(v1alpha1.ReasonProviderError, fmt.Errorf("store %s: %w", store.Name, err))
	}
	pusher, ok := p.(providers.Pusher)
	if !ok {
		return nil, store.Name, terminal(v1alpha1.ReasonInvalidSpec, fmt.Errorf("store %s cannot be pushed to", store.Name))
	}
	return r.adopt.pusher(pusher, ps.Status.SyncedPushSecrets[storeKey(ref)]), store.Name, nil
}

// deleteRemoved deletes, in every store of old, the remote secrets that
// are not in keep (nil keeps none). It returns old without what it
// deleted.
func (r *pushSecretReconciler) deleteRemoved(ctx context.Context, ps *v1alpha1.PushSecret, old, keep v1alpha1.SyncedPushSecretsMap) (v1alpha1.SyncedPushSecretsMap, error) {
	left := v1alpha1.SyncedPushSecretsMap{}
	for k, m := range old {
		left[k] = maps.Clone(m)
	}
	for sk, entries := range old {
		var gone []string
		for ref := range entries {
			if _, ok := keep[sk][ref]; !ok {
				gone = append(gone, ref)
			}
		}
		if len(gone) == 0 {
			continue
		}
		kind, name, _ := strings.Cut(sk, "/")
		pusher, _, err := r.pusher(ctx, ps, v1alpha1.PushSecretStoreRef{Kind: kind, Name: name})
		if se := (*stepError)(nil); errors.As(err, &se) && se.reason == v1alpha1.ReasonStoreNotFound {
			// The store is gone: there is nothing left to delete from.
			delete(left, sk)
			continue
		}
		if err != nil {
			return left, fmt.Errorf("delete from %s: %w", sk, err)
		}
		for _, ref := range gone {
			if err := pusher.DeleteSecret(ctx, pushRef(ps, entries[ref])); err != nil {
				return left, fmt.Errorf("delete from %s: %w", sk, pushError(err))
			}
			delete(left[sk], ref)
		}
		if len(left[sk]) == 0 {
			delete(left, sk)
		}
	}
	return left, nil
}

// mergeSynced adds the entries of old that next lacks.
func mergeSynced(next, old v1alpha1.SyncedPushSecretsMap) v1alpha1.SyncedPushSecretsMap {
	out := v1alpha1.SyncedPushSecretsMap{}
	for k, m := range old {
		out[k] = maps.Clone(m)
	}
	for k, m := range next {
		if out[k] == nil {
			out[k] = map[string]v1alpha1.PushSecretData{}
		}
		maps.Copy(out[k], m)
	}
	return out
}
