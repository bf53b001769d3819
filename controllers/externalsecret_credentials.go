package controllers

import (
	"context"
	"maps"
	"slices"
	"strings"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// Field indexes of the credential watch.
const (
	// indexStoreCredentials indexes a SecretStore by the names of the
	// credential Secrets of its namespace it reads, and a
	// ClusterSecretStore by "namespace/name" of each credential Secret, or
	// "*/name" for a reference without namespace (read in each
	// ExternalSecret's namespace).
	indexStoreCredentials = "kseal.credentialSecrets"
	// indexExternalSecretStore indexes an ExternalSecret by "Kind/name" of
	// the store it references.
	indexExternalSecretStore = "kseal.secretStoreRef"
)

// credentialWatch refreshes, at once, the ExternalSecrets whose store's
// credentials Secret changed data: a rotated access key or token is used
// now, not at the next refresh interval. It is a handler of Secret events
// for the ExternalSecret controller; the reconciler asks it (take) whether
// an ExternalSecret must sync although its last sync still stands.
//
// Only a change of data counts (not labels, annotations or a resync), and
// a Secret counts only for the stores that can read it: a SecretStore's
// credentials are in its own namespace, so a Secret of the same name in
// another namespace refreshes nothing of it. The work of one event is a few
// indexed cache lookups and one queue entry per dependent ExternalSecret.
type credentialWatch struct {
	reader client.Reader // the manager's cache, with the indexes above
	api    client.Reader // uncached reads of credentials Secrets

	mu sync.Mutex
	// due holds the ExternalSecrets a credential change made due and that
	// have not been reconciled since. It holds at most one entry per
	// existing ExternalSecret: take and forget remove them.
	due map[types.NamespacedName]struct{}
	// seen holds the data hash of each credentials Secret some store
	// reads, as last read; a Secret no store reads is dropped.
	seen map[types.NamespacedName]string
	// deps, when set, replaces dependents (ESO's kinds: eso_credentials.go).
	deps func(ctx context.Context, namespace, name string) ([]types.NamespacedName, error)
}

var _ handler.EventHandler = &credentialWatch{}

// setupCredentialWatch registers the field indexes the watch reads.
func setupCredentialWatch(mgr ctrl.Manager) (*credentialWatch, error) {
	ctx := context.Background()
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &v1alpha1.SecretStore{}, indexStoreCredentials, func(o client.Object) []string {
		ss := o.(*v1alpha1.SecretStore)
		return storeCredentialKeys(&storeInfo{Kind: v1alpha1.SecretStoreKind, Namespace: ss.Namespace, Spec: &ss.Spec})
	}); err != nil {
		return nil, err
	}
	if err := idx.IndexField(ctx, &v1alpha1.ClusterSecretStore{}, indexStoreCredentials, func(o client.Object) []string {
		return storeCredentialKeys(&storeInfo{Kind: v1alpha1.ClusterSecretStoreKind, Spec: &o.(*v1alpha1.ClusterSecretStore).Spec})
	}); err != nil {
		return nil, err
	}
	if err := idx.IndexField(ctx, &v1alpha1.ExternalSecret{}, indexExternalSecretStore, func(o client.Object) []string {
		return []string{externalSecretStoreKey(o.(*v1alpha1.ExternalSecret))}
	}); err != nil {
		return nil, err
	}
	return newCredentialWatch(mgr.GetClient(), mgr.GetAPIReader()), nil
}

func newCredentialWatch(reader, api client.Reader) *credentialWatch {
	return &credentialWatch{reader: reader, api: api, due: map[types.NamespacedName]struct{}{}, seen: map[types.NamespacedName]string{}}
}

// storeCredentialKeys returns the index keys of a store's credential
// Secrets (see indexStoreCredentials). A SecretStore reference to another
// namespace is invalid (the store is refused) and indexed under nothing.
func storeCredentialKeys(store *storeInfo) []string {
	var keys []string
	for _, ref := range credentialRefs(store) {
		switch {
		case store.Kind == v1alpha1.SecretStoreKind && (ref.Namespace == "" || ref.Namespace == store.Namespace):
			keys = append(keys, ref.Name)
		case store.Kind == v1alpha1.ClusterSecretStoreKind && ref.Namespace != "":
			keys = append(keys, ref.Namespace+"/"+ref.Name)
		case store.Kind == v1alpha1.ClusterSecretStoreKind:
			keys = append(keys, "*/"+ref.Name)
		}
	}
	return keys
}

// externalSecretStoreKey is the index key of the store an ExternalSecret
// references; an empty kind means SecretStore, as in resolveStore.
func externalSecretStoreKey(es *v1alpha1.ExternalSecret) string {
	kind := es.Spec.SecretStoreRef.Kind
	if kind != v1alpha1.ClusterSecretStoreKind {
		kind = v1alpha1.SecretStoreKind
	}
	return kind + "/" + es.Spec.SecretStoreRef.Name
}

// dependents returns the ExternalSecrets whose store reads the credentials
// Secret namespace/name, without duplicates.
func (w *credentialWatch) dependents(ctx context.Context, namespace, name string) ([]types.NamespacedName, error) {
	if w.deps != nil {
		return w.deps(ctx, namespace, name)
	}
	seen := map[types.NamespacedName]struct{}{}
	users := func(storeKey string, opts ...client.ListOption) error {
		var list v1alpha1.ExternalSecretList
		if err := w.reader.List(ctx, &list, append(opts, client.MatchingFields{indexExternalSecretStore: storeKey})...); err != nil {
			return err
		}
		for i := range list.Items {
			seen[client.ObjectKeyFromObject(&list.Items[i])] = struct{}{}
		}
		return nil
	}
	var stores v1alpha1.SecretStoreList
	if err := w.reader.List(ctx, &stores, client.InNamespace(namespace), client.MatchingFields{indexStoreCredentials: name}); err != nil {
		return nil, err
	}
	for _, s := range stores.Items {
		if err := users(v1alpha1.SecretStoreKind+"/"+s.Name, client.InNamespace(namespace)); err != nil {
			return nil, err
		}
	}
	// A ClusterSecretStore names the namespace of its credentials (then
	// every ExternalSecret using it depends on them), or names none (then
	// only the ExternalSecrets of this namespace do).
	for key, opts := range map[string][]client.ListOption{namespace + "/" + name: nil, "*/" + name: {client.InNamespace(namespace)}} {
		var css v1alpha1.ClusterSecretStoreList
		if err := w.reader.List(ctx, &css, client.MatchingFields{indexStoreCredentials: key}); err != nil {
			return nil, err
		}
		for _, s := range css.Items {
			if err := users(v1alpha1.ClusterSecretStoreKind+"/"+s.Name, opts...); err != nil {
				return nil, err
			}
		}
	}
	return slices.Collect(maps.Keys(seen)), nil
}

// take reports whether a credential change made es due, and clears that.
// A nil watch never does.
func (w *credentialWatch) take(es *v1alpha1.ExternalSecret) bool {
	if w == nil {
		return false
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	key := client.ObjectKeyFromObject(es)
	_, ok := w.due[key]
	delete(w.due, key)
	return ok
}

// forget returns a function that drops the entry of a deleted
// ExternalSecret.
func (w *credentialWatch) forget(key types.NamespacedName) func() {
	if w == nil {
		return nil
	}
	return func() {
		w.mu.Lock()
		delete(w.due, key)
		w.mu.Unlock()
	}
}

// Update queues the dependents of a credentials Secret whose data changed.
// The event carries metadata only (see secretMetaCache): a new
// resourceVersion of a Secret some store reads makes the watch read the
// Secret and compare its data hash with the one it last saw.
func (w *credentialWatch) Update(ctx context.Context, e event.UpdateEvent, q workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	if e.ObjectOld.GetResourceVersion() == e.ObjectNew.GetResourceVersion() {
		return // a resync
	}
	key := client.ObjectKeyFromObject(e.ObjectNew)
	deps, changed, err := w.changed(ctx, key)
	if err != nil {
		logf.FromContext(ctx).Error(err, "find the ExternalSecrets of a changed credentials Secret", "namespace", key.Namespace, "secret", key.Name)
		return
	}
	if !changed {
		return
	}
	w.mu.Lock()
	for _, d := range deps {
		w.due[d] = struct{}{}
	}
	w.mu.Unlock()
	logf.FromContext(ctx).V(1).Info("credentials Secret changed; refreshing its ExternalSecrets", "namespace", key.Namespace, "secret", key.Name, "externalSecrets", len(deps))
	for _, d := range deps {
		q.Add(reconcile.Request{NamespacedName: d})
	}
}

// changed returns the dependents of the Secret key and whether its data
// differs from what the watch last saw (true when it saw none: a store
// created after the Secret). Only Secrets some store reads are read and
// remembered, as a hash.
func (w *credentialWatch) changed(ctx context.Context, key types.NamespacedName) ([]types.NamespacedName, bool, error) {
	deps, err := w.dependents(ctx, key.Namespace, key.Name)
	if err != nil || len(deps) == 0 {
		w.drop(key)
		return nil, false, err
	}
	var s corev1.Secret
	if err := w.api.Get(ctx, key, &s); err != nil {
		w.drop(key)
		return nil, false, client.IgnoreNotFound(err)
	}
	h := dataHash(&s, nil)
	w.mu.Lock()
	prev, known := w.seen[key]
	w.seen[key] = h
	w.mu.Unlock()
	return deps, !known || prev != h, nil
}

// remember records the data hash of the credentials Secrets of store that
// the watch has not seen yet: a store is usually created after its Secret,
// when the informer's first sighting found no store to remember it for. A
// hash already known is kept, so an update not yet handled still counts as a
// change. References read in each ExternalSecret's namespace are left out
// (their first update refreshes). A nil watch does nothing.
func (w *credentialWatch) remember(ctx context.Context, store *storeInfo) {
	if w == nil {
		return
	}
	for _, k := range storeCredentialKeys(store) {
		key := types.NamespacedName{Namespace: store.Namespace, Name: k}
		if ns, name, ok := strings.Cut(k, "/"); ok {
			if ns == "*" {
				continue
			}
			key = types.NamespacedName{Namespace: ns, Name: name}
		}
		w.mu.Lock()
		_, known := w.seen[key]
		w.mu.Unlock()
		if known {
			continue
		}
		var s corev1.Secret
		if err := w.api.Get(ctx, key, &s); err != nil {
			continue // missing credentials: the store reports it
		}
		w.mu.Lock()
		if _, known := w.seen[key]; !known {
			w.seen[key] = dataHash(&s, nil)
		}
		w.mu.Unlock()
	}
}

func (w *credentialWatch) drop(key types.NamespacedName) {
	w.mu.Lock()
	delete(w.seen, key)
	w.mu.Unlock()
}

// Create queues nothing: the informer's first list reports every Secret as
// created, and a controller start must not refresh every ExternalSecret (an
// ExternalSecret waiting for missing credentials retries on its own). It
// remembers the data hash of a Secret some store reads, so that its next
// update can be told from a metadata-only one.
func (w *credentialWatch) Create(ctx context.Context, e event.CreateEvent, _ workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	if _, _, err := w.changed(ctx, client.ObjectKeyFromObject(e.Object)); err != nil {
		logf.FromContext(ctx).Error(err, "read a credentials Secret", "namespace", e.Object.GetNamespace(), "secret", e.Object.GetName())
	}
}

// Delete forgets the Secret: without credentials a sync can only fail.
func (w *credentialWatch) Delete(_ context.Context, e event.DeleteEvent, _ workqueue.TypedRateLimitingInterface[reconcile.Request]) {
	w.drop(client.ObjectKeyFromObject(e.Object))
}

// Generic does nothing.
func (w *credentialWatch) Generic(context.Context, event.GenericEvent, workqueue.TypedRateLimitingInterface[reconcile.Request]) {
}
