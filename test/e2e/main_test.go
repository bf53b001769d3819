// Package e2e runs the kseal controller as in production (the same Setup
// as cmd/kseal-controller) against a real kube-apiserver and etcd, and drives
// it with the kseal CLI and plain API calls.
package e2e

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kseal-dev/kseal/api/esov1"
	"github.com/kseal-dev/kseal/api/esov1alpha1"
	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/test/envtestenv"
)

var env *envtestenv.Env

// logs collects everything the controller logs, to check that no secret
// value is ever written.
var logs syncBuffer

type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

const controllerNamespace = "kseal-system"

func TestMain(m *testing.M) {
	ctrl.SetLogger(zap.New(zap.WriteTo(&logs), zap.UseDevMode(true)))
	var err error
	env, err = envtestenv.Start(v1alpha1.AddToScheme, esov1.AddToScheme, esov1alpha1.AddToScheme)
	if err != nil {
		if errors.Is(err, envtestenv.ErrBinariesNotFound) && os.Getenv("KSEAL_REQUIRE_TOOLS") == "" {
			fmt.Fprintf(os.Stderr, "skipping e2e tests: %v\n", err)
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	if err := env.Client.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: controllerNamespace}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	code := m.Run()
	if code != 0 {
		fmt.Fprintln(os.Stderr, "controller log:\n"+logs.String())
	}
	if err := env.Stop(); err != nil {
		fmt.Fprintln(os.Stderr, err)
	}
	removeCurrentController()
	os.Exit(code)
}

// controller is one running kseal-controller.
type controller struct {
	*controllers.Controllers
	apiURL string
	stop   func()
}

// startController runs the controller in process, with its HTTP API on a
// free loopback port, and waits until its keys are loaded.
func startController(t testing.TB, opts controllers.Options) *controller {
	t.Helper()
	return startControllerAs(t, env.Config, opts)
}

// startControllerAs is startController with the controller talking to the
// API server as cfg's user (for tests of its RBAC rules).
func startControllerAs(t testing.TB, cfg *rest.Config, opts controllers.Options) *controller {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	// opts.WatchNamespaces scopes the controller as --watch-namespaces
	// does: objects other tests left in other namespaces (with stores
	// whose emulators are gone) are not its work.
	cacheOpts := cache.Options{}
	if len(opts.WatchNamespaces) > 0 {
		cacheOpts.DefaultNamespaces = map[string]cache.Config{controllerNamespace: {}}
		for _, ns := range opts.WatchNamespaces {
			cacheOpts.DefaultNamespaces[ns] = cache.Config{}
		}
		opts.WatchNamespaces = append(opts.WatchNamespaces, controllerNamespace)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 env.Scheme,
		Cache:                  controllers.CacheOptions(cacheOpts),
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		LeaderElection:         false,
	})
	if err != nil {
		t.Fatal(err)
	}
	if opts.Keys.Namespace == "" {
		opts.Keys.Namespace = controllerNamespace
	}
	opts.APIAddress = addr
	opts.SkipNameValidation = true
	if opts.Workers == 0 {
		opts.Workers = 4
	}
	c, err := controllers.Setup(mgr, opts)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	stop := func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	}
	select {
	case <-c.KeyManager.Ready():
	case err := <-done:
		t.Fatalf("manager stopped: %v", err)
	case <-time.After(90 * time.Second):
		stop()
		t.Fatal("keys not loaded within 2 minutes")
	}
	url := "http://" + addr
	waitFor(t, 30*time.Second, "HTTP API", func() bool {
		resp, err := http.Get(url + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	return &controller{Controllers: c, apiURL: url, stop: stop}
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// metricSum returns the sum of all series of a counter or gauge family in
// controller-runtime's registry, optionally filtered by one label.
func metricSum(t testing.TB, name string, label ...string) float64 {
	t.Helper()
	families, err := metrics.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, m := range f.GetMetric() {
			if len(label) == 2 && !hasLabel(m, label[0], label[1]) {
				continue
			}
			switch {
			case m.Counter != nil:
				sum += m.Counter.GetValue()
			case m.Gauge != nil:
				sum += m.Gauge.GetValue()
			}
		}
	}
	return sum
}

func hasLabel(m *dto.Metric, name, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetName() == name && l.GetValue() == value {
			return true
		}
	}
	return false
}

// requireTools reports whether missing test tools must fail the tests
// (make test sets KSEAL_REQUIRE_TOOLS) rather than skip them.
func requireTools() bool { return os.Getenv("KSEAL_REQUIRE_TOOLS") != "" }
