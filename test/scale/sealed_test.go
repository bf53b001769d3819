package scale

import (
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/crypto/sealing"
)

// itemsPerSecret is how many items every SealedSecret has.
const itemsPerSecret = 5

// itemSizes are the plaintext sizes of the items: a user name, a password,
// a host, a token and a small key.
var itemSizes = [itemsPerSecret]int{12, 32, 24, 40, 64}

// createWorkers is how many objects the test creates at once.
const createWorkers = 8

// sealedRun is one SealedSecret measurement: a cold start with N
// SealedSecrets of one format, then a restart with nothing changed.
type sealedRun struct {
	Format  string
	N       int
	Cold    *phase
	Restart *phase
	// Cache is the heap of an informer cache like the controller's, with
	// the N SealedSecrets and their Secrets (-scale.heap only).
	Cache *cacheCost
}

// runSealed creates n SealedSecrets of format in a fresh namespace, then
// measures a cold start and a restart. It checks correctness (every
// SealedSecret Ready, the Secrets hold the sealed values, a restart decrypts
// nothing) and reports any failure on t.
func (h *harness) runSealed(t *testing.T, format string, n int) *sealedRun {
	t.Helper()
	run := &sealedRun{Format: format, N: n}
	version := sealing.V2
	if format == "v1" {
		version = sealing.V1
	}
	ns := h.namespace(t, fmt.Sprintf("ss-%s-%d", format, n))
	defer h.cleanup(t, ns)
	start := time.Now()
	if err := h.createSealed(ns, n, version); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s N=%d: created %d SealedSecrets in %v", format, n, n, time.Since(start).Round(time.Millisecond))

	name := fmt.Sprintf("%s-%d", format, n)
	cold, err := h.coldStart(t, "cold-"+name, trackSpec{ns, &v1alpha1.SealedSecret{}, n, sealedReady})
	if err != nil {
		t.Fatal(err)
	}
	run.Cold = cold
	t.Logf("%s N=%d: cold start %s", format, n, cold)
	if want := float64(n * itemsPerSecret); cold.Decryptions < want {
		t.Errorf("cold start decrypted %v items, want at least %v", cold.Decryptions, want)
	}
	h.checkUnsealed(t, ns, n)

	restart, err := h.restartSealed(t, "restart-"+name, ns, n)
	if err != nil {
		t.Fatal(err)
	}
	run.Restart = restart
	t.Logf("%s N=%d: restart %s", format, n, restart)
	if restart.Decryptions != 0 {
		t.Errorf("a restart with %d unchanged SealedSecrets decrypted %v items, want 0", n, restart.Decryptions)
	}
	if *flagHeap != "" {
		if run.Cache, err = h.measureCache(t, "cache-"+name, h.path(*flagHeap)); err != nil {
			t.Error(err)
		}
	}
	return run
}

// createSealed seals n Secrets of itemsPerSecret items with the controller's
// certificate and creates the SealedSecrets in ns.
func (h *harness) createSealed(ns string, n int, version sealing.Version) error {
	return h.createSealedWith(ns, n, version, h.certPEM)
}

// createSealedWith is createSealed with the certificate certPEM.
func (h *harness) createSealedWith(ns string, n int, version sealing.Version, certPEM []byte) error {
	cert, err := keys.ParseCertificate(certPEM, time.Now())
	if err != nil {
		return err
	}
	return parallel(n, createWorkers, func(i int) error {
		s := plainSecret(ns, i)
		ss, err := sealedsecret.Seal(s, &cert.PublicKey, sealedsecret.SealOptions{Version: version})
		if err != nil {
			return fmt.Errorf("seal %s: %w", s.Name, err)
		}
		// Format v1 comes out as bitnami.com/v1alpha1; kseal serves the
		// same kind under kseal.dev.
		ss.APIVersion = sealedsecret.APIVersion
		if err := h.env.Client.Create(ctx, ss); err != nil {
			return fmt.Errorf("create SealedSecret %s: %w", s.Name, err)
		}
		return nil
	})
}

// plainSecret is the i-th Secret of a run; its values are derived from i so
// checkUnsealed can verify them.
func plainSecret(ns string, i int) *corev1.Secret {
	data := map[string][]byte{}
	names := [itemsPerSecret]string{"username", "password", "host", "api-token", "signing-key"}
	r := rand.New(rand.NewPCG(uint64(i), 42))
	for k, size := range itemSizes {
		v := make([]byte, size)
		for j := range v {
			v[j] = 'a' + byte(r.IntN(26))
		}
		data[names[k]] = v
	}
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("app-%05d", i), Namespace: ns},
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
}

// checkUnsealed compares the first and the last Secret with what was sealed.
func (h *harness) checkUnsealed(t *testing.T, ns string, n int) {
	t.Helper()
	for _, i := range []int{0, n - 1} {
		want := plainSecret(ns, i)
		got := &corev1.Secret{}
		if err := h.env.Client.Get(ctx, client.ObjectKeyFromObject(want), got); err != nil {
			t.Errorf("Secret %s: %v", want.Name, err)
			continue
		}
		for k, v := range want.Data {
			if string(got.Data[k]) != string(v) {
				t.Errorf("Secret %s: item %s differs from what was sealed", want.Name, k)
			}
		}
	}
}

// restartSealed starts the controller again with nothing changed and waits
// until its sealedsecret controller has reconciled every object, its queue
// is empty (from its own metrics) and every SealedSecret is Ready.
func (h *harness) restartSealed(t *testing.T, name, ns string, n int) (*phase, error) {
	tr, err := h.track(ns, &v1alpha1.SealedSecret{}, n, sealedReady)
	if err != nil {
		return nil, err
	}
	defer tr.stop()
	meter := h.newCPUMeter()
	othersBefore := meter.sample()
	p, err := h.startController(name)
	if err != nil {
		return nil, err
	}
	defer p.kill()
	// A SealedSecret reconciled before the keys are loaded is requeued
	// (not counted in the queue depth) and is not Ready meanwhile, so the
	// watch must also see every one Ready.
	end, err := waitMetrics(p, *flagPhase, "every SealedSecret reconciled and Ready", func(m metricSet) bool {
		return m.sum("controller_runtime_reconcile_total", "controller", "sealedsecret") >= float64(n) && queueIdle(m, "sealedsecret") && tr.readyCount() == n
	})
	if err != nil {
		return nil, fmt.Errorf("%w (%d of %d Ready: %s)", err, tr.readyCount(), n, tr.summary())
	}
	others := meter.sample().sub(othersBefore)
	ph, err := p.measure(end)
	if err != nil {
		return nil, err
	}
	ph.Others = others
	return ph, p.stop()
}

// queueIdle: the controller's work queue is empty and no reconcile runs.
func queueIdle(m metricSet, controller string) bool {
	return m.sum("workqueue_depth", "controller", controller) == 0 &&
		m.sum("controller_runtime_active_workers", "controller", controller) == 0
}

// waitMetrics scrapes the controller every 250 ms until cond holds, and
// returns when it first did.
func waitMetrics(p *controllerProc, timeout time.Duration, what string, cond func(metricSet) bool) (time.Time, error) {
	deadline := time.Now().Add(timeout)
	for {
		if !p.running() {
			return time.Time{}, p.errExited()
		}
		if m, err := p.scrape(); err == nil && cond(m) {
			return time.Now(), nil
		}
		if time.Now().After(deadline) {
			return time.Time{}, fmt.Errorf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(250 * time.Millisecond)
	}
}

// parallel calls f(0) … f(n-1) on workers goroutines and returns the first
// error (the remaining calls are skipped after one fails).
func parallel(n, workers int, f func(i int) error) error {
	var (
		next    atomic.Int64
		wg      sync.WaitGroup
		errOnce sync.Once
		first   error
		failed  atomic.Bool
	)
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !failed.Load() {
				i := int(next.Add(1) - 1)
				if i >= n {
					return
				}
				if err := f(i); err != nil {
					errOnce.Do(func() { first = err })
					failed.Store(true)
				}
			}
		}()
	}
	wg.Wait()
	return first
}
