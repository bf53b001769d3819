package controllers

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/manager"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// secretMetaCache watches every Secret (of the watched namespaces) as
// metadata only: name, namespace and resourceVersion. The manager's cache
// holds only the Secrets kseal writes (see CacheOptions), so the Secrets
// other objects read — a PushSecret's source, a store's credentials — are
// seen here, at the cost of a few hundred bytes per Secret and never their
// data; a handler that needs the data reads it from the API server.
type secretMetaCache struct {
	cache.Cache
}

// newSecretMetaCache builds the cache and adds it to the manager, which
// starts it. namespaces limits it as --watch-namespaces limits the
// manager's cache (nil: all). everyReplica starts it on every replica (with
// shards), not only on the leader.
func newSecretMetaCache(mgr ctrl.Manager, namespaces []string, everyReplica bool) (*secretMetaCache, error) {
	opts := cache.Options{
		Scheme:           mgr.GetScheme(),
		Mapper:           mgr.GetRESTMapper(),
		DefaultTransform: metadataOnly,
	}
	if len(namespaces) > 0 {
		opts.DefaultNamespaces = map[string]cache.Config{}
		for _, ns := range namespaces {
			opts.DefaultNamespaces[ns] = cache.Config{}
		}
	}
	c, err := cache.New(mgr.GetConfig(), opts)
	if err != nil {
		return nil, err
	}
	var run manager.Runnable = c
	if everyReplica {
		run = everyReplicaCache{c}
	}
	if err := mgr.Add(run); err != nil {
		return nil, err
	}
	return &secretMetaCache{c}, nil
}

// metadataOnly keeps an object's identity and resourceVersion.
func metadataOnly(obj any) (any, error) {
	m, ok := obj.(*metav1.PartialObjectMetadata)
	if !ok {
		return obj, nil
	}
	return &metav1.PartialObjectMetadata{TypeMeta: m.TypeMeta, ObjectMeta: metav1.ObjectMeta{
		Namespace: m.Namespace, Name: m.Name, UID: m.UID, ResourceVersion: m.ResourceVersion,
	}}, nil
}

// source returns a watch of Secrets' metadata for a controller.
func (c *secretMetaCache) source(h handler.EventHandler) source.Source {
	obj := &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"}}
	return source.Kind[client.Object](c.Cache, obj, h)
}
