package controllers

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	logf "sigs.k8s.io/controller-runtime/pkg/log"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sealing"
)

// KeyManagerOptions configures the key manager.
type KeyManagerOptions struct {
	// Namespace holds kseal's key Secrets.
	Namespace string
	// RenewPeriod is how old the newest generation may get before a new one
	// is made; zero disables renewal.
	RenewPeriod time.Duration
	// CutoffTime forces a new generation when the newest is older than it.
	CutoffTime time.Time
	// BitnamiNamespace, when set, is a namespace whose sealed-secrets key
	// Secrets are loaded as extra decryption keys (for migration).
	BitnamiNamespace string
	// RSABits overrides the RSA key size of new generations (tests).
	RSABits int
	// Now is the clock; time.Now when nil.
	Now func() time.Time
}

// KeyManager keeps the cluster's key generations: it loads every active key
// Secret, creates the first generation and renews it on schedule, and picks up
// key Secrets created, relabelled or deleted by hand without a restart. It is
// the controller's keys.Source.
type KeyManager struct {
	client client.Client
	// reader lists key Secrets: the key Secrets' own cache once
	// SetupWithManager ran, else client.
	reader client.Reader
	opts   KeyManagerOptions
	snap   atomic.Pointer[keys.Set]
	// ready is closed after the first successful load.
	ready chan struct{}
	once  atomicOnce
	// elected is closed when this replica becomes the leader; only the
	// leader creates generations, every replica loads them.
	elected <-chan struct{}
	// onChange is called (in its own goroutine) when the set of keys
	// changes, so failed SealedSecrets can be retried.
	onChange func()
}

var _ keys.Source = &KeyManager{}

// NewKeyManager returns a KeyManager; SetupWithManager starts it.
func NewKeyManager(c client.Client, opts KeyManagerOptions) *KeyManager {
	if opts.Now == nil {
		opts.Now = time.Now
	}
	km := &KeyManager{client: c, reader: c, opts: opts, ready: make(chan struct{})}
	km.snap.Store(keys.NewSet())
	return km
}

// Keyring implements keys.Source.
func (km *KeyManager) Keyring() *sealing.Keyring { return km.snap.Load().Keyring() }

// Newest implements keys.Source.
func (km *KeyManager) Newest() *keys.Generation { return km.snap.Load().Newest() }

// Generations returns the loaded generations, newest first.
func (km *KeyManager) Generations() []*keys.Generation { return km.snap.Load().Generations() }

// Ready is closed once keys have been loaded for the first time.
func (km *KeyManager) Ready() <-chan struct{} { return km.ready }

// keyManagerRequest is the single reconcile request of the key manager: all
// key Secrets are reloaded together.
var keyManagerRequest = reconcile.Request{NamespacedName: types.NamespacedName{Name: "kseal-keys"}}

// SetupWithManager registers the key manager: it reloads on any change to a
// key Secret and on its renewal timer. Key Secrets have their own cache,
// limited to the key namespaces and labels.
func (km *KeyManager) SetupWithManager(mgr ctrl.Manager) error {
	km.elected = mgr.Elected()
	kc, err := newKeyCache(mgr, km.opts)
	if err != nil {
		return fmt.Errorf("key Secret cache: %w", err)
	}
	if err := mgr.Add(kc); err != nil {
		return err
	}
	km.reader = kc
	toSingleRequest := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{keyManagerRequest}
	})
	return ctrl.NewControllerManagedBy(mgr).
		Named("keymanager").
		WatchesRawSource(startupSource()).
		WatchesRawSource(source.Kind[client.Object](kc, &corev1.Secret{}, toSingleRequest)).
		WithOptions(keyManagerControllerOptions()).
		Complete(km)
}

// +kubebuilder:rbac:groups=coordination.k8s.io,resources=leases,verbs=get;list;watch;create;update;patch;delete,namespace=kseal-system
// +kubebuilder:rbac:groups="",resources=secrets,verbs=get;list;watch;create,namespace=kseal-system

// Reconcile loads the key generations, makes a new one when needed, and
// schedules the next renewal.
func (km *KeyManager) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	log := logf.FromContext(ctx)
	gens, err := km.load(ctx)
	if err != nil {
		return reconcile.Result{}, err
	}
	snap := keys.NewSet(gens...)
	now := km.opts.Now()
	if reason := km.needsNewGeneration(snap.Newest(), now); reason != "" {
		if !km.isLeader() {
			// The leader makes it; the watch brings it here.
			km.store(snap)
			return reconcile.Result{RequeueAfter: 5 * time.Second}, nil
		}
		g, err := km.create(ctx, now)
		if err != nil {
			return reconcile.Result{}, fmt.Errorf("create key generation (%s): %w", reason, err)
		}
		log.Info("created key generation", "secret", km.opts.Namespace+"/"+g.Name, "reason", reason)
		snap = keys.NewSet(append(gens, g)...)
	}
	km.store(snap)
	if km.opts.RenewPeriod > 0 && snap.Newest() != nil {
		next := snap.Newest().Created().Add(km.opts.RenewPeriod).Sub(now)
		if next < time.Second {
			next = time.Second
		}
		return reconcile.Result{RequeueAfter: next}, nil
	}
	return reconcile.Result{}, nil
}

// store publishes snap and reports a change of the key set.
func (km *KeyManager) store(snap *keys.Set) {
	old := km.snap.Swap(snap)
	keysLoaded.Set(float64(len(snap.Generations())))
	if g := snap.Newest(); g != nil {
		newestKeyCreated.Set(float64(g.Created().Unix()))
	}
	if len(snap.Generations()) > 0 {
		km.once.Do(func() { close(km.ready) })
	}
	if km.onChange != nil && keySetID(old) != keySetID(snap) {
		go km.onChange()
	}
}

func (km *KeyManager) isLeader() bool {
	if km.elected == nil {
		return true
	}
	select {
	case <-km.elected:
		return true
	default:
		return false
	}
}

// keySetID identifies the set of loaded keys.
func keySetID(s *keys.Set) string {
	if s == nil {
		return ""
	}
	var b strings.Builder
	for _, g := range s.Generations() {
		b.WriteString(g.Name)
		b.WriteByte(0)
	}
	return b.String()
}

// needsNewGeneration says why a new generation is needed, or "".
func (km *KeyManager) needsNewGeneration(newest *keys.Generation, now time.Time) string {
	switch {
	case newest == nil || newest.Hybrid == nil:
		return "no kseal key generation"
	case newest.Sops == nil:
		return "newest generation has one identity for both v2 and SOPS (made by an older kseal)"
	case !km.opts.CutoffTime.IsZero() && newest.Created().Before(km.opts.CutoffTime) && !now.Before(km.opts.CutoffTime):
		return "newest generation is older than the key cutoff time"
	case km.opts.RenewPeriod > 0 && !now.Before(newest.Created().Add(km.opts.RenewPeriod)):
		return "renew period elapsed"
	}
	return ""
}

// load reads every active key Secret. A Secret that cannot be read is logged
// and skipped: one damaged Secret must not stop the others from working.
func (km *KeyManager) load(ctx context.Context) ([]*keys.Generation, error) {
	log := logf.FromContext(ctx)
	var gens []*keys.Generation
	sources := []struct{ namespace, label string }{{km.opts.Namespace, v1alpha1.LabelSealingKey}}
	if km.opts.BitnamiNamespace != "" {
		sources = append(sources, struct{ namespace, label string }{km.opts.BitnamiNamespace, v1alpha1.LabelBitnamiSealingKey})
	}
	for _, src := range sources {
		var list corev1.SecretList
		sel := labels.SelectorFromSet(labels.Set{src.label: "active"})
		if err := km.reader.List(ctx, &list, client.InNamespace(src.namespace), client.MatchingLabelsSelector{Selector: sel}); err != nil {
			return nil, fmt.Errorf("list key Secrets in %s: %w", src.namespace, err)
		}
		for i := range list.Items {
			g, err := keys.FromSecret(&list.Items[i])
			if err != nil {
				log.Error(err, "skipping unreadable key Secret")
				continue
			}
			if src.label == v1alpha1.LabelBitnamiSealingKey {
				g.Name = "bitnami:" + g.Name
			}
			gens = append(gens, g)
		}
	}
	return gens, nil
}

func (km *KeyManager) create(ctx context.Context, now time.Time) (*keys.Generation, error) {
	suffix := make([]byte, 4)
	if _, err := rand.Read(suffix); err != nil {
		return nil, err
	}
	g, err := keys.Generate(keys.GenerateOptions{
		Name:    "kseal-key-" + hex.EncodeToString(suffix),
		Now:     now,
		RSABits: km.opts.RSABits,
	})
	if err != nil {
		return nil, err
	}
	if err := km.client.Create(ctx, g.Secret(km.opts.Namespace)); err != nil && !apierrors.IsAlreadyExists(err) {
		return nil, err
	}
	return g, nil
}

// atomicOnce is sync.Once without copying concerns in a struct with atomics.
type atomicOnce struct{ done atomic.Bool }

func (o *atomicOnce) Do(f func()) {
	if o.done.CompareAndSwap(false, true) {
		f()
	}
}
