package controllers

import (
	"context"
	"fmt"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/providers"
)

var metav1CreateOptions = metav1.CreateOptions{}

// providerCache keeps one provider client per store and credentials, so
// tokens, connections and AWS request batching are shared by every
// ExternalSecret of a store. An entry is rebuilt when the store's spec or one
// of its credential Secrets changes.
type providerCache struct {
	client client.Client
	build  providerFactory

	mu      sync.Mutex
	entries map[string]*providerEntry
}

type providerEntry struct {
	fingerprint string
	provider    providers.Provider
}

func newProviderCache(c client.Client, build providerFactory) *providerCache {
	return &providerCache{client: c, build: build, entries: map[string]*providerEntry{}}
}

// get returns the provider for store, building it on first use or after a
// change.
func (pc *providerCache) get(ctx context.Context, store *storeInfo) (providers.Provider, error) {
	fp, err := pc.fingerprint(ctx, store)
	if err != nil {
		return nil, err
	}
	pc.mu.Lock()
	defer pc.mu.Unlock()
	if e, ok := pc.entries[store.key()]; ok && e.fingerprint == fp {
		return e.provider, nil
	}
	p, err := pc.build(ctx, store)
	if err != nil {
		return nil, err
	}
	if old, ok := pc.entries[store.key()]; ok {
		closeProvider(old.provider)
	}
	pc.entries[store.key()] = &providerEntry{fingerprint: fp, provider: p}
	return p, nil
}

// drop closes and forgets the providers of a deleted store (for a
// ClusterSecretStore, those of every namespace that used it).
func (pc *providerCache) drop(key string) {
	pc.mu.Lock()
	defer pc.mu.Unlock()
	for k, e := range pc.entries {
		if k == key || strings.HasPrefix(k, key+"@") {
			closeProvider(e.provider)
			delete(pc.entries, k)
		}
	}
}

func closeProvider(p providers.Provider) {
	if c, ok := p.(providers.Closer); ok {
		_ = c.Close()
	}
}

// fingerprint identifies the store generation and credential versions.
func (pc *providerCache) fingerprint(ctx context.Context, store *storeInfo) (string, error) {
	var b strings.Builder
	fmt.Fprintf(&b, "%s@%d", store.key(), store.Generation)
	for _, ref := range credentialRefs(store) {
		ns, err := credentialNamespace(store, ref.Namespace)
		if err != nil {
			return "", err
		}
		var s corev1.Secret
		if err := pc.client.Get(ctx, client.ObjectKey{Namespace: ns, Name: ref.Name}, &s); err != nil {
			return "", fmt.Errorf("credentials Secret %s/%s: %w", ns, ref.Name, err)
		}
		fmt.Fprintf(&b, ";%s/%s@%s", ns, ref.Name, s.ResourceVersion)
	}
	return b.String(), nil
}
