package controllers

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"sigs.k8s.io/controller-runtime/pkg/metrics"

	"github.com/kseal-dev/kseal/crypto/sealing"
)

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
	confirmedTotal = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "kseal_sealedsecret_marks_total",
		Help: "SealedSecrets confirmed up to date from metadata alone by the sealed mark of their Secret (how=metadata: no API request, no decryption), and marks written (how=marked: one metadata patch of the Secret).",
	}, []string{"how"})
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
	rsaOperations = prometheus.NewCounterFunc(prometheus.CounterOpts{
		Name: "kseal_rsa_operations_total",
		Help: "RSA-OAEP decryptions (format v1), including keys tried that did not open an item.",
	}, func() float64 { return float64(sealing.RSAOperations()) })
	keysLoaded = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kseal_keys",
		Help: "Key generations loaded (kseal and imported sealed-secrets keys).",
	})
	newestKeyCreated = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "kseal_sealing_key_created_timestamp_seconds",
		Help: "Creation time (Unix seconds) of the newest key generation, the one new SealedSecrets and SOPS files are sealed to; 0 until keys are loaded. time() minus it is the key's age.",
	})
)

func init() {
	metrics.Registry.MustRegister(unsealTotal, decryptionsTotal, decryptDuration, keysLoaded, rsaOperations, apiRequests, providerCalls, syncTotal)
	metrics.Registry.MustRegister(newestKeyCreated, confirmedTotal)
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
