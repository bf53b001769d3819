package controllers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"maps"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/selection"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// What the controller caches. Its memory is what its informer caches hold,
// so they hold only what a reconcile reads:
//
//   - kseal's SealedSecrets as metadata only (the reconciler watches them
//     with builder.OnlyMetadata): the sealed mark on their Secret says
//     whether anything changed (sealedmark.go), and a SealedSecret is read
//     whole from the API server only when it cannot. sealedSecretTransform
//     below only guards a typed informer that something might still start.
//   - SopsSecrets (and SealedSecrets in a typed cache) without their
//     ciphertexts: the cached
//     copy keeps the metadata, template metadata, status and (for patch
//     mode) the item names and template data, plus the fingerprint of the
//     full object, which is all "is the Secret up to date" needs. The ciphertexts are read from the
//     API server when something must be decrypted.
//   - Secrets only when kseal wrote them (LabelWrittenBy), and without their
//     data: the cached copy keeps the metadata and the digest of the data
//     (secretTransform), which is all "is the Secret intact" needs. Any
//     other Secret a reconcile reads (a Secret written before the label
//     existed, one patched in patch mode or by an ExternalSecret's Merge
//     policy, a store's credentials), and any Secret whose data is read, is
//     read from the API server, through secretClient.
//   - Key Secrets in a cache of their own (newKeyCache), namespaced to the
//     key namespaces.
//
// Managed fields and kubectl's last-applied annotation are dropped from
// everything (CacheTransform).

// LabelWrittenBy marks the Secrets kseal writes for SealedSecrets,
// SopsSecrets and ExternalSecrets (value "kseal"); the controller caches
// only Secrets with it. Patch-mode and Merge writes, into Secrets kseal does
// not own, do not set it.
const LabelWrittenBy = "kseal.dev/written-by"

// annotationCachedHash carries, in cached SealedSecrets and SopsSecrets
// only, the fingerprint of the full object: cacheMark followed by the hash.
// The mark is random per process, so a user's annotation of the same name
// can never pass for it.
const annotationCachedHash = "kseal.dev/cached-hash"

var cacheMark = func() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b) + ":"
}()

// CacheOptions returns base with what the controller's manager cache needs:
// the transforms above and the Secret label selector. base may set
// DefaultNamespaces (--watch-namespaces).
func CacheOptions(base cache.Options) cache.Options {
	base.DefaultTransform = CacheTransform
	if base.ByObject == nil {
		base.ByObject = map[client.Object]cache.ByObject{}
	}
	written, _ := labels.NewRequirement(LabelWrittenBy, selection.Exists, nil)
	base.ByObject[&corev1.Secret{}] = cache.ByObject{Label: labels.NewSelector().Add(*written), Transform: secretTransform}
	base.ByObject[&v1alpha1.SealedSecret{}] = cache.ByObject{Transform: sealedSecretTransform}
	base.ByObject[&v1alpha1.SopsSecret{}] = cache.ByObject{Transform: sopsSecretTransform}
	return base
}

// sealedSecretTransform keeps a SealedSecret without its ciphertexts.
func sealedSecretTransform(obj any) (any, error) {
	obj, _ = CacheTransform(obj)
	ss, ok := obj.(*v1alpha1.SealedSecret)
	if !ok || isCachedCopy(ss) {
		return obj, nil
	}
	hash := sealedHash(ss)
	if isPatchMode(ss) {
		// Patch mode checks the Secret's keys of the SealedSecret
		// (sealedSecretInput): the item names stay.
		names := make(map[string]string, len(ss.Spec.EncryptedData))
		for k := range ss.Spec.EncryptedData {
			names[k] = ""
		}
		ss.Spec.EncryptedData = names
	} else {
		// Otherwise nothing reads the spec before the object is read
		// whole to be decrypted: the fingerprint stands for it.
		ss.Spec.EncryptedData, ss.Spec.Template.Data = nil, nil
	}
	setCachedHash(ss, hash)
	return ss, nil
}

// sopsSecretTransform keeps a SopsSecret without its document.
func sopsSecretTransform(obj any) (any, error) {
	obj, _ = CacheTransform(obj)
	s, ok := obj.(*v1alpha1.SopsSecret)
	if !ok || isCachedCopy(s) {
		return obj, nil
	}
	hash := sopsHash(s)
	s.Spec.Sops = ""
	setCachedHash(s, hash)
	return s, nil
}

// secretTransform keeps a Secret without its data: the digest of the data
// (dataHash over every key) takes its place. The transform runs on every
// watch event, so an edit of the data changes the digest the cache holds;
// a user's annotation of the same name is overwritten (and could not carry
// the process's mark anyway).
func secretTransform(obj any) (any, error) {
	obj, _ = CacheTransform(obj)
	s, ok := obj.(*corev1.Secret)
	if !ok || isCachedCopy(s) {
		return obj, nil
	}
	digest := dataHash(s, nil)
	s.Data, s.StringData = nil, nil
	setCachedHash(s, digest)
	return s, nil
}

// isCachedCopy reports whether a transform already made o the cache's
// copy. client-go may hand an object to the transform twice (the
// watch-list's store, then the informer's queue), so the transforms must
// be idempotent: a second pass would fingerprint the stripped copy.
func isCachedCopy(o client.Object) bool {
	_, ok := cachedHash(o)
	return ok
}

func setCachedHash(o client.Object, hash string) {
	a := maps.Clone(o.GetAnnotations())
	if a == nil {
		a = map[string]string{}
	}
	a[annotationCachedHash] = cacheMark + hash
	o.SetAnnotations(a)
}

// cachedHash returns the fingerprint a cache transform recorded on o, and
// false when o is a full object (read from the API server).
func cachedHash(o client.Object) (string, bool) {
	return strings.CutPrefix(o.GetAnnotations()[annotationCachedHash], cacheMark)
}

// secretClient is the manager's client, except that a Secret the cache
// does not hold is read from the API server: the cache holds only the
// Secrets kseal wrote (LabelWrittenBy).
type secretClient struct {
	client.Client
	api client.Reader
}

// Get implements client.Reader. A Secret comes with its data: one the
// cache holds without it is read from the API server.
func (c secretClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if _, full := obj.(*v1alpha1.SealedSecret); full {
		// The cache holds SealedSecrets as metadata only; a typed read
		// from it would start a second informer holding every spec.
		return c.api.Get(ctx, key, obj, opts...)
	}
	s, ok := obj.(*corev1.Secret)
	if !ok {
		return c.Client.Get(ctx, key, obj, opts...)
	}
	if err := c.getSecretMeta(ctx, key, s); err != nil {
		return err
	}
	if _, stripped := cachedHash(s); !stripped {
		return nil
	}
	*s = corev1.Secret{}
	return c.getAPI(ctx, key, s)
}

// List implements client.Reader: SealedSecrets whole come from the API
// server (see Get), everything else from the cache.
func (c secretClient) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if _, full := list.(*v1alpha1.SealedSecretList); full {
		return c.api.List(ctx, list, opts...)
	}
	return c.Client.List(ctx, list, opts...)
}

// getSecretMeta reads a Secret as the cache holds it (metadata and the
// digest of the data, see secretTransform), or whole from the API server
// when the cache does not hold it.
func (c secretClient) getSecretMeta(ctx context.Context, key client.ObjectKey, s *corev1.Secret) error {
	err := c.Client.Get(ctx, key, s)
	if !apierrors.IsNotFound(err) {
		return err
	}
	return c.getAPI(ctx, key, s)
}

func (c secretClient) getAPI(ctx context.Context, key client.ObjectKey, s *corev1.Secret) error {
	if err := c.api.Get(ctx, key, s); err != nil {
		return err
	}
	_, _ = CacheTransform(s)
	return nil
}

// secretLookup says how a reconciler reads its target Secret.
type secretLookup int

const (
	// lookupData: the Secret with its data.
	lookupData secretLookup = iota
	// lookupMeta: the cache's copy without data will do (dataIntact
	// understands it); a Secret the cache does not hold is read from the
	// API server.
	lookupMeta
	// lookupCached: as lookupMeta, but a Secret the cache does not hold is
	// taken as absent, saving a read that finds nothing. For objects kseal
	// has not reconciled yet, whose Secret normally does not exist: a
	// create that finds one anyway must look again with lookupMeta.
	lookupCached
)

// getSecret reads the Secret key into s as how says; with c a plain client
// it is c.Get.
func getSecret(ctx context.Context, c client.Reader, key client.ObjectKey, s *corev1.Secret, how secretLookup) error {
	sc, ok := c.(secretClient)
	switch {
	case !ok || how == lookupData:
		return c.Get(ctx, key, s)
	case how == lookupCached:
		return sc.Client.Get(ctx, key, s)
	}
	return sc.getSecretMeta(ctx, key, s)
}

// withData returns s with its data: s itself when it has it, else s read
// from the API server through c (secretClient.Get).
func withData(ctx context.Context, c client.Reader, s *corev1.Secret) (*corev1.Secret, error) {
	if s == nil {
		return nil, nil
	}
	if _, stripped := cachedHash(s); !stripped {
		return s, nil
	}
	full := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKeyFromObject(s), full); err != nil {
		return nil, fmt.Errorf("read Secret %s/%s: %w", s.Namespace, s.Name, err)
	}
	if _, stripped := cachedHash(full); stripped {
		return nil, fmt.Errorf("read Secret %s/%s: only the cache's copy without data is available", s.Namespace, s.Name)
	}
	return full, nil
}

// keyCache is the key Secrets' own cache. GetCache makes the manager start
// it with its other caches, on every replica, before the controllers.
type keyCache struct{ cache.Cache }

func (k keyCache) GetCache() cache.Cache { return k.Cache }

// newKeyCache caches the Secrets of the key namespaces that carry a key
// label (kseal's in opts.Namespace, sealed-secrets' in
// opts.BitnamiNamespace).
func newKeyCache(mgr ctrl.Manager, opts KeyManagerOptions) (keyCache, error) {
	selector := func(label string) labels.Selector {
		r, _ := labels.NewRequirement(label, selection.Exists, nil)
		return labels.NewSelector().Add(*r)
	}
	namespaces := map[string]cache.Config{opts.Namespace: {LabelSelector: selector(v1alpha1.LabelSealingKey)}}
	if ns := opts.BitnamiNamespace; ns != "" {
		if ns == opts.Namespace {
			namespaces[ns] = cache.Config{} // both labels: every Secret of the one namespace
		} else {
			namespaces[ns] = cache.Config{LabelSelector: selector(v1alpha1.LabelBitnamiSealingKey)}
		}
	}
	c, err := cache.New(mgr.GetConfig(), cache.Options{
		Scheme:            mgr.GetScheme(),
		Mapper:            mgr.GetRESTMapper(),
		DefaultNamespaces: namespaces,
		DefaultTransform:  CacheTransform,
	})
	return keyCache{c}, err
}

// fullObject returns obj with what the cache left out, read from the API
// server (nil when it no longer exists); obj itself when it is not a cached
// copy.
func fullObject[T client.Object](ctx context.Context, api client.Reader, obj T) (T, error) {
	var zero T
	if _, cached := cachedHash(obj); !cached || api == nil {
		return obj, nil
	}
	full := reflect.New(reflect.TypeOf(obj).Elem()).Interface().(T)
	if err := api.Get(ctx, client.ObjectKeyFromObject(obj), full); err != nil {
		if apierrors.IsNotFound(err) {
			return zero, nil
		}
		return zero, fmt.Errorf("read %s %s/%s: %w", reflect.TypeOf(obj).Elem().Name(), obj.GetNamespace(), obj.GetName(), err)
	}
	_, _ = CacheTransform(full)
	return full, nil
}

// isReady reports whether obj's Ready condition is True.
func isReady(obj conditioned) bool {
	return apimeta.IsStatusConditionTrue(obj.GetConditions(), v1alpha1.ConditionReady)
}

// newSecretClient returns the manager's client with uncached reads of the
// Secrets its cache leaves out.
func newSecretClient(mgr ctrl.Manager) client.Client {
	return secretClient{Client: mgr.GetClient(), api: mgr.GetAPIReader()}
}
