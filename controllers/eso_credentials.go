package controllers

import (
	"context"
	"maps"
	"slices"

	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/esov1"
	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// setupESOCredentialWatch is setupCredentialWatch for ESO's kinds: a
// change of data of a credentials Secret an ESO store reads refreshes, at
// once, the ESO ExternalSecrets using that store, as for kseal's own.
func setupESOCredentialWatch(mgr ctrl.Manager) (*credentialWatch, error) {
	ctx := context.Background()
	idx := mgr.GetFieldIndexer()
	if err := idx.IndexField(ctx, &esov1.SecretStore{}, indexStoreCredentials, func(o client.Object) []string {
		ss := o.(*esov1.SecretStore)
		return storeCredentialKeys(&storeInfo{Kind: v1alpha1.SecretStoreKind, Namespace: ss.Namespace, Spec: &ss.Spec})
	}); err != nil {
		return nil, err
	}
	if err := idx.IndexField(ctx, &esov1.ClusterSecretStore{}, indexStoreCredentials, func(o client.Object) []string {
		return storeCredentialKeys(&storeInfo{Kind: v1alpha1.ClusterSecretStoreKind, Spec: &o.(*esov1.ClusterSecretStore).Spec})
	}); err != nil {
		return nil, err
	}
	if err := idx.IndexField(ctx, &esov1.ExternalSecret{}, indexExternalSecretStore, func(o client.Object) []string {
		es := o.(*esov1.ExternalSecret)
		return []string{externalSecretStoreKey(&v1alpha1.ExternalSecret{Spec: es.Spec})}
	}); err != nil {
		return nil, err
	}
	w := newCredentialWatch(mgr.GetClient(), mgr.GetAPIReader())
	w.deps = w.esoDependents
	return w, nil
}

// esoDependents is dependents over ESO's stores and ExternalSecrets.
func (w *credentialWatch) esoDependents(ctx context.Context, namespace, name string) ([]types.NamespacedName, error) {
	seen := map[types.NamespacedName]struct{}{}
	users := func(storeKey string, opts ...client.ListOption) error {
		var list esov1.ExternalSecretList
		if err := w.reader.List(ctx, &list, append(opts, client.MatchingFields{indexExternalSecretStore: storeKey})...); err != nil {
			return err
		}
		for i := range list.Items {
			seen[client.ObjectKeyFromObject(&list.Items[i])] = struct{}{}
		}
		return nil
	}
	var stores esov1.SecretStoreList
	if err := w.reader.List(ctx, &stores, client.InNamespace(namespace), client.MatchingFields{indexStoreCredentials: name}); err != nil {
		return nil, err
	}
	for _, s := range stores.Items {
		if err := users(v1alpha1.SecretStoreKind+"/"+s.Name, client.InNamespace(namespace)); err != nil {
			return nil, err
		}
	}
	for key, opts := range map[string][]client.ListOption{namespace + "/" + name: nil, "*/" + name: {client.InNamespace(namespace)}} {
		var css esov1.ClusterSecretStoreList
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
