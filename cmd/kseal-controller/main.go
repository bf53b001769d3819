// Command kseal-controller runs kseal in a cluster: it holds the sealing
// keys, turns SealedSecrets into Secrets and serves the HTTP API the CLI uses.
package main

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"net/http"
	"os"
	"runtime/debug"
	"slices"
	"strings"
	"time"

	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/healthz"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kseal-dev/kseal/api/esov1"
	"github.com/kseal-dev/kseal/api/esov1alpha1"
	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/httpapi"
	"github.com/kseal-dev/kseal/internal/version"
)

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

func run() error {
	var (
		namespace        = flag.String("namespace", envOr("POD_NAMESPACE", "kseal-system"), "namespace of the controller and its key Secrets")
		renewPeriod      = flag.Duration("key-renew-period", 720*time.Hour, "make a new key generation this often (0 disables renewal)")
		cutoff           = flag.String("key-cutoff-time", "", "RFC 3339 time: make a new key generation at start if the newest is older")
		workers          = flag.Int("workers", 4, "SealedSecrets reconciled in parallel")
		esWorkers        = flag.Int("external-secret-workers", 40, "ExternalSecrets synced in parallel (their provider calls overlap and are batched)")
		awsBatchWindow   = flag.Duration("aws-batch-window", 100*time.Millisecond, "how long an AWS read waits for others to share one BatchGetSecretValue call (up to 20 secrets)")
		ssmBatchWindow   = flag.Duration("parameter-store-batch-window", 500*time.Millisecond, "how long a Parameter Store read waits for others to share one GetParameters call (up to 10 names)")
		qps              = flag.Float64("kube-api-qps", 500, "Kubernetes client queries per second")
		burst            = flag.Int("kube-api-burst", 1000, "Kubernetes client burst")
		metricsAddr      = flag.String("metrics-bind-address", ":8081", "metrics address (0 disables)")
		probeAddr        = flag.String("health-probe-bind-address", ":8082", "health probe address")
		apiAddr          = flag.String("listen-addr", ":8080", "HTTP API address")
		leaderElect      = flag.Bool("leader-elect", true, "elect a leader so only one replica reconciles")
		watchNamespaces  = flag.String("watch-namespaces", "", "comma-separated namespaces to watch (default all)")
		labelSelector    = flag.String("label-selector", "", "handle only SealedSecrets matching this label selector")
		bitnamiNamespace = flag.String("bitnami-key-namespace", "", "namespace whose sealed-secrets key Secrets are loaded as extra decryption keys")

		allowedServers   = flag.String("allowed-store-servers", "", "comma-separated URL prefixes (https://vault.example.com:8200) that namespaced SecretStores may name as Vault server or AWS endpoint (default any)")
		nsDefaultCreds   = flag.Bool("namespaced-stores-default-credentials", false, "let namespaced SecretStores without auth use the controller's own AWS credentials (SDK default chain)")
		vaultAllowHTTP   = flag.Bool("vault-allow-http", false, "accept http:// Vault servers (token and values unencrypted on the network)")
		vaultAudience    = flag.String("vault-token-audience", controllers.DefaultVaultAudience, "audience of the service account tokens kseal sends to Vault")
		apiAudiences     = flag.String("apiserver-audiences", "", "comma-separated extra audiences of the Kubernetes API server, never requested for a store")
		rolloutRestarts  = flag.Bool("rollout-restarts", false, "restart (as kubectl rollout restart) the Deployments, StatefulSets and DaemonSets that opted in when the data of a Secret they use changes; needs config/rbac/reload")
		restartDebounce  = flag.Duration("rollout-restart-debounce", controllers.DefaultRolloutRestartDebounce, "wait this long after a Secret change before restarting, so changes together cause one restart per workload")
		restartRate      = flag.Float64("rollout-restart-rate", controllers.DefaultRolloutRestartRate, "rollout restarts per second per namespace")
		restartBurst     = flag.Int("rollout-restart-burst", controllers.DefaultRolloutRestartBurst, "burst of --rollout-restart-rate")
		allowAPIAudience = flag.Bool("allow-apiserver-audience-tokens", false, "let ClusterSecretStores request service account tokens for the API server's own audiences")
	)
	showVersion := flag.Bool("version", false, "print the version, commit and Go version, and exit")
	readAPIFlags := apiFlags(flag.CommandLine)
	readLeaseFlags := leaseFlags(flag.CommandLine)
	readShardFlags := shardFlags(flag.CommandLine)
	readAdoptFlags := adoptFlags(flag.CommandLine)
	esoNamespace := esoAdoptFlags(flag.CommandLine)
	zapOpts := zap.Options{}
	zapOpts.BindFlags(flag.CommandLine)
	flag.Parse()
	build := version.Get()
	if *showVersion {
		fmt.Println(build.Line("kseal-controller"))
		return nil
	}
	ctrl.SetLogger(zap.New(zap.UseFlagOptions(&zapOpts)))
	setGCPercent()
	installFallbackRoots()
	ctrl.Log.Info("starting kseal-controller", "version", build.Version, "commit", build.Commit, "go", build.GoVersion)

	var cutoffTime time.Time
	if *cutoff != "" {
		t, err := time.Parse(time.RFC3339, *cutoff)
		if err != nil {
			return fmt.Errorf("--key-cutoff-time: %w", err)
		}
		cutoffTime = t
	}
	apiOpts, err := readAPIFlags()
	if err != nil {
		return err
	}
	lease, err := readLeaseFlags()
	if err != nil {
		return err
	}
	shards, err := readShardFlags(*namespace)
	if err != nil {
		return err
	}
	adopt, adoptIgnoreRunning, err := readAdoptFlags()
	if err != nil {
		return err
	}
	if adopt[controllers.AdoptBitnami] && *bitnamiNamespace == "" {
		*bitnamiNamespace = controllers.DefaultBitnamiNamespace // sealed-secrets' keys are imported
	}
	selector, err := labels.Parse(*labelSelector)
	if err != nil {
		return fmt.Errorf("--label-selector: %w", err)
	}
	scheme := runtime.NewScheme()
	if err := controllers.AddBuiltinToScheme(scheme); err != nil {
		return err
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	if err := esov1.AddToScheme(scheme); err != nil {
		return err
	}
	if err := esov1alpha1.AddToScheme(scheme); err != nil {
		return err
	}
	cfg, err := ctrl.GetConfig()
	if err != nil {
		return err
	}
	cfg.QPS, cfg.Burst = float32(*qps), *burst
	cacheOpts := cache.Options{}
	if *watchNamespaces != "" {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{*namespace: {}}
		if *bitnamiNamespace != "" {
			cacheOpts.DefaultNamespaces[*bitnamiNamespace] = cache.Config{}
		}
		for _, ns := range strings.Split(*watchNamespaces, ",") {
			cacheOpts.DefaultNamespaces[strings.TrimSpace(ns)] = cache.Config{}
		}
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Cache:                   controllers.CacheOptions(cacheOpts),
		Metrics:                 metricsserver.Options{BindAddress: *metricsAddr},
		HealthProbeBindAddress:  *probeAddr,
		LeaderElection:          *leaderElect,
		LeaderElectionID:        "kseal-controller.kseal.dev",
		LeaderElectionNamespace: *namespace,
		LeaseDuration:           &lease.duration,
		RenewDeadline:           &lease.renewDeadline,
		RetryPeriod:             &lease.retryPeriod,
	})
	if err != nil {
		return err
	}
	c, err := controllers.Setup(mgr, controllers.Options{
		WatchNamespaces: slices.Collect(maps.Keys(cacheOpts.DefaultNamespaces)),
		Keys: controllers.KeyManagerOptions{
			Namespace:        *namespace,
			RenewPeriod:      *renewPeriod,
			CutoffTime:       cutoffTime,
			BitnamiNamespace: *bitnamiNamespace,
		},
		Workers:               *workers,
		ExternalSecretWorkers: *esWorkers,
		AWSBatchWindow:        *awsBatchWindow,
		SSMBatchWindow:        *ssmBatchWindow,
		Stores: controllers.StorePolicy{
			AllowedServers:               splitList(*allowedServers),
			NamespacedDefaultCredentials: *nsDefaultCreds,
			VaultAllowHTTP:               *vaultAllowHTTP,
			VaultAudience:                *vaultAudience,
			APIServerAudiences:           splitList(*apiAudiences),
			AllowAPIServerAudiences:      *allowAPIAudience,
		},
		APIAddress:           *apiAddr,
		API:                  apiOpts,
		SealedSecretSelector: selector,
		Reload:               controllers.ReloadOptions{Enabled: *rolloutRestarts, Debounce: *restartDebounce, RatePerSecond: *restartRate, Burst: *restartBurst},
		Shards:               shards,
		AdoptAPIs:            adopt,
		AdoptIgnoreRunning:   adoptIgnoreRunning,
		ESOEndpoints:         controllers.ESOEndpointsFromEnv(os.Getenv),
		ESONamespace:         *esoNamespace,
	})
	if err != nil {
		return err
	}
	if err := mgr.AddHealthzCheck("healthz", healthz.Ping); err != nil {
		return err
	}
	if err := mgr.AddReadyzCheck("keys", func(_ *http.Request) error {
		if len(c.KeyManager.Keyring().Keys()) == 0 {
			return fmt.Errorf("no keys loaded yet")
		}
		return nil
	}); err != nil {
		return err
	}
	// Keys have their own cache; ready also needs the caches of the objects
	// kseal reconciles (they do not sync without the RBAC to list them).
	if err := mgr.AddReadyzCheck("caches", func(r *http.Request) error {
		ctx, cancel := context.WithTimeout(r.Context(), 200*time.Millisecond)
		defer cancel()
		if !mgr.GetCache().WaitForCacheSync(ctx) {
			return fmt.Errorf("caches not synced yet")
		}
		return nil
	}); err != nil {
		return err
	}
	return mgr.Start(ctrl.SetupSignalHandler())
}

// defaultGCPercent is the controller's GOGC unless the environment sets
// one: the heap may grow by half its live size between collections instead
// of Go's default of all of it. Measured with 5,000 SealedSecrets and 1,000
// ExternalSecrets: peak RSS 136 MiB instead of 157 MiB (docs/BENCHMARKS.md).
const defaultGCPercent = 50

// setGCPercent applies defaultGCPercent when GOGC is not set.
func setGCPercent() {
	if os.Getenv("GOGC") == "" {
		debug.SetGCPercent(defaultGCPercent)
	}
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}

// apiFlags registers the flags that bound the HTTP API (docs/install.md
// explains them); the function it returns reads them once parsed.
func apiFlags(fs *flag.FlagSet) func() (httpapi.Options, error) {
	var (
		rate        = fs.Float64("api-rate", httpapi.DefaultRatePerSecond, "verify and rotate requests per second per client, each (negative: no limit)")
		burst       = fs.Int("api-burst", httpapi.DefaultRateBurst, "burst of --api-rate")
		globalRate  = fs.Float64("api-global-rate", httpapi.DefaultGlobalPerSecond, "verify and rotate requests per second of all clients together (negative: no limit)")
		globalBurst = fs.Int("api-global-burst", httpapi.DefaultGlobalBurst, "burst of --api-global-rate")
		trusted     = fs.String("api-trusted-proxies", "*", `peers whose X-Forwarded-For header names the client for --api-rate: "*" (any), "none", or CIDRs, such as the addresses the API server connects from`)
		maxBody     = fs.Int64("api-max-body-bytes", httpapi.DefaultMaxBodyBytes, "largest verify or rotate request body")
		maxItems    = fs.Int("api-max-items", httpapi.DefaultMaxItems, "most items of a SealedSecret sent to verify or rotate")
		maxRSA      = fs.Int("api-max-rsa-operations", httpapi.DefaultMaxRSAOps, "most RSA decryptions one verify or rotate request may need (worst case: format v1 items x RSA keys, plus 2 x keys)")
		maxInFlight = fs.Int("api-max-in-flight", httpapi.DefaultMaxInFlight, "verify and rotate requests served at once")
		maxDecrypt  = fs.Int("api-max-decrypting", httpapi.DefaultMaxDecrypting, "verify and rotate requests decrypting at once")
	)
	return func() (httpapi.Options, error) {
		proxies, err := httpapi.ParseTrustedProxies(*trusted)
		if err != nil {
			return httpapi.Options{}, fmt.Errorf("--api-trusted-proxies: %w", err)
		}
		for name, v := range map[string]int64{"api-max-body-bytes": *maxBody, "api-max-items": int64(*maxItems), "api-max-rsa-operations": int64(*maxRSA),
			"api-max-in-flight": int64(*maxInFlight), "api-max-decrypting": int64(*maxDecrypt)} {
			if v <= 0 {
				return httpapi.Options{}, fmt.Errorf("--%s must be positive, not %d", name, v)
			}
		}
		return httpapi.Options{
			Verify:         httpapi.RateLimit{PerSecond: *rate, Burst: *burst},
			Rotate:         httpapi.RateLimit{PerSecond: *rate, Burst: *burst},
			Global:         httpapi.RateLimit{PerSecond: *globalRate, Burst: *globalBurst},
			TrustedProxies: proxies,
			MaxBodyBytes:   *maxBody,
			MaxItems:       *maxItems,
			MaxRSAOps:      *maxRSA,
			MaxInFlight:    *maxInFlight,
			MaxDecrypting:  *maxDecrypt,
		}, nil
	}
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// leaseSettings are the leader election timings.
type leaseSettings struct{ duration, renewDeadline, retryPeriod time.Duration }

// leaseFlags registers the leader election timings. A follower takes over
// at most about duration + retryPeriod after the leader dies; shorter
// settings fail over faster and cost more lease writes.
func leaseFlags(fs *flag.FlagSet) func() (leaseSettings, error) {
	var (
		duration = fs.Duration("leader-elect-lease-duration", 15*time.Second, "how long a follower waits after the last renewal before taking the lease (failover takes about this plus --leader-elect-retry-period)")
		renew    = fs.Duration("leader-elect-renew-deadline", 10*time.Second, "how long the leader keeps trying to renew before it gives up leading")
		retry    = fs.Duration("leader-elect-retry-period", 2*time.Second, "how often replicas try to take or renew the lease")
	)
	return func() (leaseSettings, error) {
		l := leaseSettings{*duration, *renew, *retry}
		if l.retryPeriod <= 0 || l.renewDeadline <= l.retryPeriod || l.duration <= l.renewDeadline {
			return l, fmt.Errorf("leader election: want --leader-elect-lease-duration (%s) > --leader-elect-renew-deadline (%s) > --leader-elect-retry-period (%s) > 0", l.duration, l.renewDeadline, l.retryPeriod)
		}
		return l, nil
	}
}
