package scale

import (
	"errors"
	"fmt"
	"maps"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// phase is what one controller run measured, from outside the process.
type phase struct {
	// Wall is from just before the process started until the phase's end
	// (every object Ready, or every object reconciled for a restart).
	Wall time.Duration
	// CPU is the controller's user+system CPU time at the end, in seconds.
	CPU float64
	// PeakRSS is the controller's peak resident set (VmHWM) at the end.
	PeakRSS int64
	// RSSAnon and RSSFile split the resident set at the end into
	// anonymous memory (Go heap, stacks) and file-backed pages (code);
	// HeapInuse is the Go heap in use then (go_memstats_heap_inuse_bytes).
	RSSAnon, RSSFile, HeapInuse int64
	// Decryptions is kseal_decryptions_total at the end.
	Decryptions float64
	// Requests counts the controller's Kubernetes API requests by HTTP
	// method (rest_client_requests_total; events included).
	Requests map[string]float64
	// Reconciles counts reconciles by controller and result
	// ("sealedsecret/success").
	Reconciles map[string]float64
	// Syncs counts ExternalSecret syncs by result
	// (kseal_externalsecret_sync_total).
	Syncs map[string]float64
	// Others is the CPU time the control plane and the test process used
	// during the same span as CPU.
	Others cpuSample
	// Load is the machine's 1-minute load average at the end: the machine
	// is shared, and the control plane runs on it too.
	Load float64
	// Settle is how long the controller kept working after the phase's
	// end until its queues were empty; the counters above include that
	// work, Wall and CPU do not.
	Settle time.Duration
	// metrics is the scrape taken at the end.
	metrics metricSet
}

func (ph *phase) String() string {
	s := fmt.Sprintf("%.1f s, CPU %.1f s, peak RSS %.0f MiB (at the end: anon %.0f MiB, file %.0f MiB, Go heap in use %.0f MiB), %v decryptions; until idle (+%.1f s): API writes %s, reconciles %s",
		ph.Wall.Seconds(), ph.CPU, mib(ph.PeakRSS), mib(ph.RSSAnon), mib(ph.RSSFile), mib(ph.HeapInuse), ph.Decryptions, ph.Settle.Seconds(),
		formatCounts(ph.writes()), formatCounts(ph.Reconciles))
	s += fmt.Sprintf(", load average %.1f; CPU meanwhile: kube-apiserver %.1f s, etcd %.1f s, test process %.1f s",
		ph.Load, ph.Others.APIServer, ph.Others.Etcd, ph.Others.Test)
	if len(ph.Syncs) > 0 {
		s += ", ExternalSecret syncs " + formatCounts(ph.Syncs)
	}
	return s
}

// writes returns the write requests (POST, PUT, PATCH, DELETE) by method.
func (ph *phase) writes() map[string]float64 {
	out := map[string]float64{}
	for m, v := range ph.Requests {
		if m != "GET" && m != "LIST" && m != "WATCH" {
			out[m] = v
		}
	}
	return out
}

func (ph *phase) writeTotal() float64 {
	var n float64
	for _, v := range ph.writes() {
		n += v
	}
	return n
}

// loadAverage returns the 1-minute load average, or -1.
func loadAverage() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	var l float64
	if _, err := fmt.Sscan(string(b), &l); err != nil {
		return -1
	}
	return l
}

func mib(b int64) float64 { return float64(b) / (1 << 20) }

func formatCounts(m map[string]float64) string {
	var parts []string
	for _, k := range slices.Sorted(maps.Keys(m)) {
		parts = append(parts, fmt.Sprintf("%s=%v", k, m[k]))
	}
	return "{" + strings.Join(parts, " ") + "}"
}

// measure reads /proc and /metrics now and returns the phase ended at end.
func (p *controllerProc) measure(end time.Time) (*phase, error) {
	u, err := p.usage()
	if err != nil {
		return nil, fmt.Errorf("controller %s: %w", p.name, err)
	}
	m, err := p.scrape()
	if err != nil {
		return nil, fmt.Errorf("controller %s metrics: %w", p.name, err)
	}
	ph := &phase{
		Wall:        end.Sub(p.started),
		CPU:         u.CPU,
		PeakRSS:     u.PeakRSS,
		RSSAnon:     u.RSSAnon,
		RSSFile:     u.RSSFile,
		HeapInuse:   int64(m.sum("go_memstats_heap_inuse_bytes")),
		Decryptions: m.sum("kseal_decryptions_total"),
		Requests:    m.by("rest_client_requests_total", "method"),
		Reconciles:  map[string]float64{},
		Syncs:       m.by("kseal_externalsecret_sync_total", "result"),
		Load:        loadAverage(),
		metrics:     m,
	}
	for _, s := range m {
		if s.name == "controller_runtime_reconcile_total" && s.value > 0 {
			ph.Reconciles[s.labels["controller"]+"/"+s.labels["result"]] += s.value
		}
	}
	return ph, nil
}

// trackSpec names the objects a cold start waits for.
type trackSpec struct {
	namespace string
	obj       client.Object
	want      int
	ready     func(client.Object) (bool, string)
}

// coldStart starts the controller with the objects already in place,
// waits until every tracked object is Ready, and stops the controller.
func (h *harness) coldStart(t *testing.T, name string, specs ...trackSpec) (*phase, error) {
	ph, p, err := h.coldStartKeep(t, name, specs...)
	if err != nil {
		return nil, err
	}
	return ph, p.stop()
}

// coldStartKeep is coldStart that leaves the controller running; the caller
// stops it.
func (h *harness) coldStartKeep(t *testing.T, name string, specs ...trackSpec) (*phase, *controllerProc, error) {
	t.Helper()
	var trackers []*tracker
	defer func() {
		for _, tr := range trackers {
			tr.stop()
		}
	}()
	for _, s := range specs {
		tr, err := h.track(s.namespace, s.obj, s.want, s.ready)
		if err != nil {
			return nil, nil, err
		}
		trackers = append(trackers, tr)
	}
	meter := h.newCPUMeter()
	othersBefore := meter.sample()
	start := func(name string) (*controllerProc, error) { return h.startController(name) }
	if h.starter != nil {
		start = h.starter
	}
	p, err := start(name)
	if err != nil {
		return nil, nil, err
	}
	t.Cleanup(p.kill)
	if *flagPerf != "" {
		if err := p.startPerf(h.path(*flagPerf)); err != nil {
			t.Logf("perf record: %v (continuing without a profile)", err)
		}
	}
	var end time.Time
	for _, tr := range trackers {
		at, err := tr.wait(p, *flagPhase)
		if err != nil {
			p.kill()
			return nil, nil, fmt.Errorf("%w\n%s", err, p.logTail(20))
		}
		if at.After(end) {
			end = at
		}
	}
	p.stopPerf()
	others := meter.sample().sub(othersBefore)
	atReady, err := p.usage()
	if err != nil {
		p.kill()
		return nil, nil, err
	}
	idle, err := waitMetrics(p, 5*time.Minute, "the work queues to drain", idleTwice())
	if err != nil {
		p.kill()
		return nil, nil, err
	}
	ph, err := p.measure(end)
	if err != nil {
		p.kill()
		return nil, nil, err
	}
	ph.CPU, ph.Settle, ph.Others = atReady.CPU, idle.Sub(end), others
	return ph, p, nil
}

// idleTwice holds when the SealedSecret and ExternalSecret queues were
// empty, with no reconcile running, in two scrapes in a row.
func idleTwice() func(metricSet) bool {
	streak := 0
	return func(m metricSet) bool {
		if queueIdle(m, "sealedsecret") && queueIdle(m, "externalsecret") {
			streak++
		} else {
			streak = 0
		}
		return streak >= 2
	}
}

// namespace creates a namespace named prefix-<random>.
func (h *harness) namespace(t *testing.T, prefix string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := h.env.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// cleanup deletes what a run left in ns, so later runs start with a cluster
// holding only their own objects. The test control plane has no garbage
// collector or namespace controller, so every kind is deleted explicitly.
func (h *harness) cleanup(t *testing.T, ns string) {
	t.Helper()
	for _, obj := range []client.Object{
		&v1alpha1.SealedSecret{}, &v1alpha1.ExternalSecret{}, &v1alpha1.SecretStore{}, &corev1.Secret{}, &corev1.Event{},
	} {
		if err := deleteAll(h.env.Client, obj, ns); err != nil {
			t.Errorf("delete %T in %s: %v", obj, ns, err)
		}
	}
}

// cleanupTries bounds the deletecollection calls of one kind: at 20,000
// objects on a loaded machine one call can outlast the API server's
// request timeout (a timeout status, or the HTTP/2 stream reset), and the
// next one goes on where it stopped.
const cleanupTries = 10

// deleteAll deletes every obj-kind object in ns, calling again while the
// API server times out or the connection breaks.
func deleteAll(c client.Client, obj client.Object, ns string) error {
	var err error
	for range cleanupTries {
		if err = c.DeleteAllOf(ctx, obj, client.InNamespace(ns)); !cleanupRetryable(err) {
			return err
		}
	}
	return err
}

// cleanupRetryable: a timeout, throttling, or an error without an API
// status (the request did not get an answer).
func cleanupRetryable(err error) bool {
	var status apierrors.APIStatus
	return err != nil && (apierrors.IsTimeout(err) || apierrors.IsServerTimeout(err) || apierrors.IsTooManyRequests(err) || !errors.As(err, &status))
}
