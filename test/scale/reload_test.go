package scale

import (
	"context"
	"flag"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/crypto/sealing"
)

// Flags of TestReloadScale.
var (
	flagReload        = flag.Int("scale.reload", 0, "TestReloadScale: workloads and SealedSecrets (0 skips it), e.g. 1000")
	flagReloadChanged = flag.Float64("scale.reload-changed", 0.1, "TestReloadScale: share of the SealedSecrets changed at once")
	flagReloadArgs    = flag.String("scale.reload-args", "", "TestReloadScale: extra controller flags besides --rollout-restarts (e.g. \"--rollout-restart-rate=1000\")")
)

// TestReloadScale measures rollout restarts: n SealedSecrets and n
// Deployments with kseal.dev/reload, Deployment i reading Secrets i and
// i+1 (mod n), so most affected Deployments use two changed Secrets. A share
// of the SealedSecrets is re-sealed with new values at once; the test
// checks that exactly the affected Deployments are restarted, once each,
// and reports the time from the first change until all are patched and the
// API writes the controller made.
//
//	make bench-reload
func TestReloadScale(t *testing.T) {
	n := *flagReload
	if n == 0 {
		t.Skip("set -scale.reload=N (make bench-reload) to measure rollout restarts")
	}
	h := setup(t)
	changed := max(1, int(float64(n)**flagReloadChanged))
	ns := h.namespace(t, "reload")
	defer h.cleanup(t, ns)
	defer func() {
		if err := h.env.Client.DeleteAllOf(ctx, &appsv1.Deployment{}, client.InNamespace(ns)); err != nil {
			t.Error(err)
		}
	}()
	p := h.startReload(t, ns, n)
	defer p.stop()

	want := affectedDeployments(n, changed)
	restarted, err := h.track(ns, &appsv1.Deployment{}, len(want), func(o client.Object) (bool, string) {
		return o.GetGeneration() > 1, "not restarted"
	})
	if err != nil {
		t.Fatal(err)
	}
	defer restarted.stop()
	before, err := p.scrape()
	if err != nil {
		t.Fatal(err)
	}
	apiBefore := h.apiserverWrites(t)
	start := time.Now()
	if err := h.resealChanged(ns, changed); err != nil {
		t.Fatal(err)
	}
	sealedIn := time.Since(start)
	at, err := restarted.wait(p, *flagPhase)
	if err != nil {
		t.Fatal(err)
	}
	// Settle: nothing queued and no restart waiting for the rate limit, one
	// debounce window (default 5 s) plus a margin after the last patch.
	time.Sleep(7 * time.Second)
	if _, err := waitMetrics(p, time.Minute, "rollout restarts settled", func(m metricSet) bool {
		return m.sum("kseal_rollout_restarts_queued") == 0 && queueIdle(m, "sealedsecret")
	}); err != nil {
		t.Fatal(err)
	}
	final, err := p.scrape()
	if err != nil {
		t.Fatal(err)
	}
	apiWrites := h.apiserverWrites(t)
	for k, v := range apiBefore {
		if apiWrites[k] -= v; apiWrites[k] == 0 {
			delete(apiWrites, k)
		}
	}
	patches := apiWrites["PATCH deployments"]
	got := h.restartedDeployments(t, ns)
	if !slices.Equal(got, want) {
		t.Errorf("restarted %d Deployments, want exactly the %d affected ones", len(got), len(want))
	}
	success := final.sum("kseal_rollout_restarts_total", "result", "success") - before.sum("kseal_rollout_restarts_total", "result", "success")
	writes := map[string]float64{}
	for _, m := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		writes[m] = final.sum("rest_client_requests_total", "method", m) - before.sum("rest_client_requests_total", "method", m)
	}
	t.Logf("reload N=%d: %d of %d SealedSecrets re-sealed (in %v); %d Deployments affected; %v restarts issued; "+
		"all patched %v after the first change; Deployment PATCHes seen by the API server: %v; controller writes by method: %v; "+
		"API server writes by verb and resource (the test's own %d SealedSecret updates included): %v",
		n, changed, n, sealedIn.Round(time.Millisecond), len(want), success, at.Sub(start).Round(time.Millisecond), patches, writes, changed, apiWrites)
	if success != float64(len(want)) || patches != float64(len(want)) {
		t.Errorf("restarts issued %v, Deployment PATCHes %v; want %d each", success, patches, len(want))
	}
}

// startReload creates n SealedSecrets and n Deployments in ns, starts the
// controller with rollout restarts and waits until every SealedSecret is
// Ready.
func (h *harness) startReload(t *testing.T, ns string, n int) *controllerProc {
	t.Helper()
	if err := h.createSealed(ns, n, sealing.V2); err != nil {
		t.Fatal(err)
	}
	if err := h.createReloadDeployments(ns, n); err != nil {
		t.Fatal(err)
	}
	args := append([]string{"--rollout-restarts"}, strings.Fields(*flagReloadArgs)...)
	ready, err := h.track(ns, &v1alpha1.SealedSecret{}, n, sealedReady)
	if err != nil {
		t.Fatal(err)
	}
	p, err := h.startController("reload", args...)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ready.wait(p, *flagPhase); err != nil {
		_ = p.stop()
		t.Fatal(err)
	}
	ready.stop()
	return p
}

// affectedDeployments returns the names of the Deployments that read one
// of the first changed Secrets, sorted.
func affectedDeployments(n, changed int) []string {
	set := map[string]bool{}
	for i := range n {
		if i < changed || (i+1)%n < changed {
			set[fmt.Sprintf("web-%05d", i)] = true
		}
	}
	return slices.Sorted(maps.Keys(set))
}

// createReloadDeployments creates Deployment i reading Secrets app-i and
// app-(i+1 mod n) through env.
func (h *harness) createReloadDeployments(ns string, n int) error {
	env := func(name string) corev1.EnvVar {
		return corev1.EnvVar{Name: "V_" + strings.ReplaceAll(name, "-", "_"), ValueFrom: &corev1.EnvVarSource{
			SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: name}, Key: "password"}}}
	}
	return parallel(n, createWorkers, func(i int) error {
		name := fmt.Sprintf("web-%05d", i)
		labels := map[string]string{"app": name}
		d := &appsv1.Deployment{
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels, Annotations: map[string]string{v1alpha1.AnnotationReload: "true"}},
			Spec: appsv1.DeploymentSpec{
				Selector: &metav1.LabelSelector{MatchLabels: labels},
				Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "app", Image: "registry.invalid/app:1",
					Env: []corev1.EnvVar{env(fmt.Sprintf("app-%05d", i)), env(fmt.Sprintf("app-%05d", (i+1)%n))},
				}}}},
			},
		}
		return h.env.Client.Create(ctx, d)
	})
}

// resealChanged re-seals SealedSecrets app-00000 … with a changed password.
func (h *harness) resealChanged(ns string, changed int) error {
	cert, err := keys.ParseCertificate(h.certPEM, time.Now())
	if err != nil {
		return err
	}
	return parallel(changed, createWorkers, func(i int) error {
		s := plainSecret(ns, i)
		s.Data["password"] = []byte(fmt.Sprintf("rotated-%05d", i))
		ss, err := sealedsecret.Seal(s, &cert.PublicKey, sealedsecret.SealOptions{Version: sealing.V2})
		if err != nil {
			return err
		}
		cur := &v1alpha1.SealedSecret{}
		if err := h.env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: s.Name}, cur); err != nil {
			return err
		}
		cur.Spec = ss.Spec
		return h.env.Client.Update(ctx, cur)
	})
}

// restartedDeployments returns the names of the Deployments whose pod
// template was patched, checking each was patched once.
func (h *harness) restartedDeployments(t *testing.T, ns string) []string {
	t.Helper()
	var list appsv1.DeploymentList
	if err := h.env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, d := range list.Items {
		if d.Generation > 2 {
			t.Errorf("Deployment %s restarted %d times", d.Name, d.Generation-1)
		}
		if d.Generation > 1 {
			out = append(out, d.Name)
		}
	}
	slices.Sort(out)
	return out
}

// apiserverWrites reads apiserver_request_total from the API server's
// /metrics: the write requests ("VERB resource") it served so far.
func (h *harness) apiserverWrites(t *testing.T) map[string]float64 {
	t.Helper()
	cs, err := kubernetes.NewForConfig(h.env.Config)
	if err != nil {
		t.Fatal(err)
	}
	raw, err := cs.RESTClient().Get().AbsPath("/metrics").DoRaw(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	m, err := parseMetrics(strings.NewReader(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]float64{}
	for _, verb := range []string{"POST", "PUT", "PATCH", "DELETE"} {
		for res, v := range m.by("apiserver_request_total", "resource", "verb", verb) {
			out[verb+" "+res] += v
		}
	}
	return out
}
