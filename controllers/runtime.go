package controllers

import (
	"context"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/metrics"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"
)

// startupSource enqueues the key manager's request once, when the controller
// starts, so keys are loaded (and the first generation made) even in a
// namespace without any Secret yet.
func startupSource() source.Source {
	return source.Func(func(_ context.Context, q workqueue.TypedRateLimitingInterface[reconcile.Request]) error {
		q.Add(keyManagerRequest)
		return nil
	})
}

// skipNameValidation lets tests start several managers in one process.
var skipNameValidation = false

// keyManagerControllerOptions runs the key manager on every replica, so each
// one serves the API and can unseal, whatever the leader election says.
func keyManagerControllerOptions() controller.Options {
	o := controllerOptions(1)
	f := false
	o.NeedLeaderElection = &f
	return o
}

func controllerOptions(workers int) controller.Options {
	o := controller.Options{MaxConcurrentReconciles: workers}
	if skipNameValidation {
		t := true
		o.SkipNameValidation = &t
	}
	return o
}

// Metrics, registered with controller-runtime's registry (served on the
// manager's metrics address). Labels never carry secret values or names of
// items.
var (
	unsealTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kseal_unseal_total",
		Help: "SealedSecret reconciles that wrote or confirmed a Secret (result=success) or failed (result=error), by reason.",
	}, []string{"result", "reason"})
	decryptionsTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kseal_decryptions_total",
		Help: "Sealed items decrypted, by format (v1, v2).",
	}, []string{"format"})
	decryptDuration = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "kseal_decrypt_duration_seconds",
		Help:    "Time to decrypt all items of one SealedSecret.",
		Buckets: prometheus.ExponentialBuckets(0.0001, 4, 9),
	})
	apiRequests = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kseal_api_requests_total",
		Help: "HTTP API requests by endpoint and status code.",
	}, []string{"endpoint", "code"})
	providerCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kseal_provider_api_calls_total",
		Help: "Calls to external secret providers, by provider, operation and status (success or error).",
	}, []string{"provider", "operation", "status"})
	syncTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kseal_externalsecret_sync_total",
		Help: "ExternalSecret syncs, by result (success or error) and Ready reason.",
	}, []string{"result", "reason"})
	keysLoaded = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kseal_keys",
		Help: "Key generations loaded (kseal and imported sealed-secrets keys).",
	})
)

func init() {
	metrics.Registry.MustRegister(unsealTotal, decryptionsTotal, decryptDuration, keysLoaded, apiRequests, providerCalls, syncTotal)
}

func observeAPI(endpoint string, code int, _ time.Duration) {
	apiRequests.WithLabelValues(endpoint, strconv.Itoa(code)).Inc()
}

func countProviderCall(provider, operation string, err error) {
	status := "success"
	if err != nil {
		status = "error"
	}
	providerCalls.WithLabelValues(provider, operation, status).Inc()
}
