package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"net"
	"net/http"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	corev1client "k8s.io/client-go/kubernetes/typed/core/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	logf "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kseal-dev/kseal/api/esov1"
	"github.com/kseal-dev/kseal/api/esov1alpha1"
	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/httpapi"
)

// Options configures the controllers Setup registers.
type Options struct {
	// WatchNamespaces limits the watches kseal starts of its own (Secrets'
	// metadata) as --watch-namespaces limits the manager's cache; nil: all.
	WatchNamespaces []string
	// Keys configures the key manager.
	Keys KeyManagerOptions
	// Workers is the number of SealedSecrets reconciled in parallel.
	Workers int
	// APIAddress is the listen address of the HTTP API (":8080"); empty
	// disables it.
	APIAddress string
	// API bounds the HTTP API's verify and rotate requests (rate limits,
	// sizes, concurrency); the zero value gives the defaults. Setup sets its
	// Observe and Log.
	API httpapi.Options
	// SealedSecretSelector, when set, limits the SealedSecrets handled to
	// those with matching labels.
	SealedSecretSelector labels.Selector
	// DisableExternalSecrets turns off the ExternalSecret and store
	// controllers.
	DisableExternalSecrets bool
	// ExternalSecretWorkers is the number of ExternalSecrets synced in
	// parallel.
	ExternalSecretWorkers int
	// AWSBatchWindow is how long an AWS read waits for others to share one
	// BatchGetSecretValue call (the provider's default when zero).
	AWSBatchWindow time.Duration
	// SSMBatchWindow is how long a Parameter Store read waits for others to
	// share one GetParameters call (the provider's default when zero).
	SSMBatchWindow time.Duration
	// Stores says what SecretStores and ClusterSecretStores may do (server
	// allowlist, token audiences, default credentials, Vault over http).
	Stores StorePolicy
	// SkipNameValidation allows several managers in one process (tests that
	// restart the controller).
	SkipNameValidation bool
	// Reload configures rollout restarts of the workloads that use a
	// Secret whose data kseal changed (off by default).
	Reload ReloadOptions
	// ClusterExternalSecretNamespaceLimit is the most namespaces one
	// ClusterExternalSecret provisions (DefaultClusterExternalSecretNamespaceLimit
	// when zero).
	ClusterExternalSecretNamespaceLimit int
	// Shards splits the reconciling across replicas (off by default: the
	// elected leader reconciles everything).
	Shards ShardOptions
	// AdoptAPIs names the other controllers' APIs kseal reconciles in place
	// (--adopt-apis; docs/migrate.md).
	AdoptAPIs AdoptAPIs
	// AdoptIgnoreRunning takes over even while the other controller still
	// runs (--adopt-ignore-running).
	AdoptIgnoreRunning bool
	// ESORecheckInterval is how often a takeover of ESO's objects checks
	// again that ESO's controller is stopped (0: a minute); it stops the
	// controller when ESO runs again. Not with AdoptIgnoreRunning.
	ESORecheckInterval time.Duration
	// ESOEndpoints are the AWS endpoints ESO's controller took from its
	// environment, applied to the ESO stores taken over.
	ESOEndpoints ESOEndpoints
	// ESONamespace is where ESO's controller runs, checked before a
	// takeover (DefaultESONamespace when empty).
	ESONamespace string
}

// Controllers are the running pieces Setup created.
type Controllers struct {
	// KeyManager is the controller's keys.Source.
	KeyManager *KeyManager

	reload *reloader // nil with rollout restarts off
}

// Setup registers the key manager, the SealedSecret reconciler and the HTTP
// API with mgr.
func Setup(mgr ctrl.Manager, opts Options) (*Controllers, error) {
	if opts.SkipNameValidation {
		skipNameValidation = true
	}
	shards, err := newShardSet(mgr, opts.Shards)
	if err != nil {
		return nil, err
	}
	opts.Reload.everyReplica = shards != nil
	opts = adoptDefaults(opts)
	reload, err := setupReloader(mgr, opts.Reload)
	if err != nil {
		return nil, err
	}
	km := NewKeyManager(mgr.GetClient(), opts.Keys)
	if err := km.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("key manager: %w", err)
	}
	recorder := mgr.GetEventRecorderFor("kseal-controller") //nolint:staticcheck // core/v1 events, readable by kubectl describe
	c := newSecretClient(mgr)
	ssr := &sealedSecretReconciler{
		Client:    c,
		api:       mgr.GetAPIReader(),
		keysReady: km.Ready(),
		keys:      km,
		recorder:  recorder,
		workers:   opts.Workers,
		selector:  opts.SealedSecretSelector,
		retry:     newKeyRetry(sealedSecretMetaList),
		reload:    reload,
		shards:    shards,
	}
	sops := &sopsSecretReconciler{
		Client:    c,
		api:       mgr.GetAPIReader(),
		keysReady: km.Ready(),
		keys:      km,
		recorder:  recorder,
		retry:     newKeyRetry(func() client.ObjectList { return &v1alpha1.SopsSecretList{} }),
		reload:    reload,
		shards:    shards,
	}
	ssr.retry.everyReplica, sops.retry.everyReplica = shards != nil, shards != nil
	ssr.retry.pending = ssr.notReadyObjects
	km.onChange = func() {
		go sops.retry.queueNotReady(context.Background(), sops.Client, km)
		ssr.retry.queueNotReady(context.Background(), ssr.Client, km)
	}
	if err := ssr.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("sealedsecret controller: %w", err)
	}
	if err := sops.SetupWithManager(mgr); err != nil {
		return nil, fmt.Errorf("sopssecret controller: %w", err)
	}
	if opts.AdoptAPIs[AdoptBitnami] {
		if err := setupBitnamiAdoption(mgr, opts, ssr, km); err != nil {
			return nil, fmt.Errorf("bitnami.com SealedSecret takeover: %w", err)
		}
	}
	if !opts.DisableExternalSecrets {
		if err := setupExternalSecrets(mgr, opts, reload, shards); err != nil {
			return nil, err
		}
	}
	if opts.APIAddress != "" {
		apiOpts := opts.API
		apiOpts.Observe, apiOpts.Log = observeAPI, mgr.GetLogger().WithName("api")
		if err := mgr.Add(&apiServer{addr: opts.APIAddress, handler: httpapi.NewHandler(km, apiOpts)}); err != nil {
			return nil, err
		}
	}
	return &Controllers{KeyManager: km, reload: reload}, nil
}

// apiServer runs the HTTP API on every replica (not only the leader): it
// only reads keys.
type apiServer struct {
	addr    string
	handler http.Handler
}

func (s *apiServer) NeedLeaderElection() bool { return false }

func (s *apiServer) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", s.addr)
	if err != nil {
		return fmt.Errorf("HTTP API: %w", err)
	}
	srv := &http.Server{Handler: s.handler, ReadHeaderTimeout: 10 * time.Second, ReadTimeout: 30 * time.Second, WriteTimeout: 30 * time.Second}
	go func() {
		<-ctx.Done()
		shutdown, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = srv.Shutdown(shutdown)
	}()
	logf.FromContext(ctx).Info("serving HTTP API", "address", ln.Addr().String())
	if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// setupExternalSecrets registers the store and ExternalSecret reconcilers
// with one shared provider cache.
func setupExternalSecrets(mgr ctrl.Manager, opts Options, reload *reloader, shards *shardSet) error {
	// Only the core/v1 client: the whole clientset would link (and
	// initialise) every API group's client for three calls.
	tokens, err := corev1client.NewForConfig(mgr.GetConfig())
	if err != nil {
		return err
	}
	policy, err := newStorePolicy(opts.Stores, discoverAPIServerAudiences(mgr.GetConfig(), tokens))
	if err != nil {
		return err
	}
	c := newSecretClient(mgr) // store credentials and Merge targets are not cached
	builder := &providerBuilder{client: c, tokens: tokens, awsBatchWindow: opts.AWSBatchWindow, ssmBatchWindow: opts.SSMBatchWindow, policy: policy}
	cache := newProviderCache(c, builder.build)
	creds, err := setupCredentialWatch(mgr)
	if err != nil {
		return err
	}
	for _, kind := range []string{v1alpha1.SecretStoreKind, v1alpha1.ClusterSecretStoreKind} {
		if err := (&secretStoreReconciler{Client: c, kind: kind, providers: cache, credentials: creds}).SetupWithManager(mgr); err != nil {
			return fmt.Errorf("%s controller: %w", kind, err)
		}
	}
	secretMeta, err := newSecretMetaCache(mgr, opts.WatchNamespaces, shards != nil)
	if err != nil {
		return fmt.Errorf("secret metadata cache: %w", err)
	}
	esr := &externalSecretReconciler{
		Client:      c,
		providers:   cache,
		recorder:    mgr.GetEventRecorderFor("kseal-controller"), //nolint:staticcheck // core/v1 events
		workers:     max(opts.ExternalSecretWorkers, 1),
		reload:      reload,
		reader:      mgr.GetAPIReader(),
		credentials: creds,
		secretMeta:  secretMeta,
		shards:      shards,
	}
	if err := esr.SetupWithManager(mgr); err != nil {
		return fmt.Errorf("externalsecret controller: %w", err)
	}
	if opts.AdoptAPIs[AdoptExternalSecrets] {
		if err := setupAdoptedExternalSecrets(mgr, opts, esr, builder); err != nil {
			return err
		}
	}
	psr := &pushSecretReconciler{Client: c, providers: cache, recorder: esr.recorder, workers: esr.workers, secretMeta: secretMeta, shards: shards}
	if err := psr.SetupWithManager(context.Background(), mgr); err != nil {
		return fmt.Errorf("pushsecret controller: %w", err)
	}
	if err := setupClusterExternalSecrets(mgr, opts, esr.recorder); err != nil {
		return fmt.Errorf("clusterexternalsecret controller: %w", err)
	}
	if err := setupClusterPushSecrets(mgr, opts, esr.recorder); err != nil {
		return fmt.Errorf("clusterpushsecret controller: %w", err)
	}
	return nil
}

// CacheTransform trims objects before they enter the controller's cache:
// managed fields and kubectl's last-applied-configuration annotation (a
// second copy of every applied SealedSecret) are never read, and dropping
// them cuts the controller's memory.
func CacheTransform(obj any) (any, error) {
	o, ok := obj.(metav1.Object)
	if !ok {
		return obj, nil
	}
	o.SetManagedFields(nil)
	switch obj.(type) {
	case *esov1.ExternalSecret, *esov1alpha1.PushSecret:
		return obj, nil // ESO's syncedResourceVersion hashes every annotation
	}
	if a := o.GetAnnotations(); a != nil {
		if _, has := a[lastAppliedAnnotation]; has {
			a = maps.Clone(a)
			delete(a, lastAppliedAnnotation)
			o.SetAnnotations(a)
		}
	}
	return obj, nil
}

const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"
