package e2e

import (
	"fmt"
	"maps"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/crypto/sealing"
)

// restartObjects is how many unchanged SealedSecrets the restart test uses.
const restartObjects = 1000

// TestRestart_noDecryptionsWhenNothingChanged: a controller restarted with
// 1,000 unchanged SealedSecrets decrypts nothing (read from the
// kseal_decryptions_total metric), because each Secret records the hash of
// the sealed content it was made from.
func TestRestart_noDecryptionsWhenNothingChanged(t *testing.T) {
	c := startController(t, controllers.Options{})
	ns := newNamespace(t, "restart")
	cert, err := keys.ParseCertificate(fetchCert(t, c), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for i := range restartObjects {
		s := secret(ns, fmt.Sprintf("s-%04d", i), map[string]string{"a": canary(fmt.Sprintf("r%d", i)), "b": "x"})
		ss, err := sealedsecret.Seal(s, &cert.PublicKey, sealedsecret.SealOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := env.Client.Create(ctx, ss); err != nil {
			t.Fatal(err)
		}
	}
	waitAllReady(t, ns, restartObjects)
	c.stop()

	decryptionsBefore := metricSum(t, "kseal_decryptions_total")
	reconcilesBefore := metricSum(t, "controller_runtime_reconcile_total", "controller", "sealedsecret")
	c2 := startController(t, controllers.Options{})
	defer c2.stop()
	waitFor(t, 3*time.Minute, "every SealedSecret reconciled after the restart", func() bool {
		return metricSum(t, "controller_runtime_reconcile_total", "controller", "sealedsecret")-reconcilesBefore >= restartObjects
	})
	waitAllReady(t, ns, restartObjects)
	if d := metricSum(t, "kseal_decryptions_total") - decryptionsBefore; d != 0 {
		t.Errorf("restart with %d unchanged SealedSecrets performed %v decryptions, want 0", restartObjects, d)
	}
}

func waitAllReady(t testing.TB, ns string, n int) {
	t.Helper()
	waitFor(t, 3*time.Minute, fmt.Sprintf("%d SealedSecrets Ready", n), func() bool {
		var list v1alpha1.SealedSecretList
		if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return false
		}
		ready := 0
		for _, ss := range list.Items {
			if apimeta.IsStatusConditionTrue(ss.Status.Conditions, v1alpha1.ConditionReady) {
				ready++
			}
		}
		return ready == n
	})
}

// TestReencrypt_movesFileToNewKey: after a renewal, `kseal reencrypt` moves a
// committed file to the newest key through the running controller's API,
// and the result still unseals in the cluster.
func TestReencrypt_movesFileToNewKey(t *testing.T) {
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "reencrypt")
	ss := sealSecret(t, c, secret(ns, "app", map[string]string{"token": canary("reencrypt")}))
	file := filepath.Join(t.TempDir(), "app.yaml")
	data, err := sealedsecret.Encode("yaml", ss)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, append([]byte("# committed\n"), data...), 0o644); err != nil {
		t.Fatal(err)
	}

	g, err := keys.Generate(keys.GenerateOptions{Name: "kseal-key-reencrypt", Now: time.Now().Add(2 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, g.Secret(controllerNamespace)); err != nil {
		t.Fatal(err)
	}
	defer env.Client.Delete(ctx, g.Secret(controllerNamespace))
	waitFor(t, 30*time.Second, "new generation served", func() bool {
		return string(httpGet(t, c.apiURL+"/v1/cert.pem")) == string(g.CertificatePEM)
	})

	out := kseal(t, nil, "reencrypt", "--controller-url", c.apiURL, file)
	if !strings.Contains(string(out), "1 changed") {
		t.Errorf("reencrypt output: %s", out)
	}
	rewritten, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	moved, err := sealedsecret.DecodeSealedSecret(rewritten)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := decodeItem(moved.Spec.EncryptedData["token"])
	if err != nil {
		t.Fatal(err)
	}
	if id, _, err := sealing.ParseV2(ct); err != nil || id != g.DecryptionKey().ID {
		t.Errorf("re-encrypted item names key %s, want %s (%v)", id, g.DecryptionKey().ID, err)
	}
	apply(t, moved)
	readyCondition(t, ns, "app", metav1.ConditionTrue)
	if got := getSecret(t, ns, "app"); got.Annotations[controllers.AnnotationUnsealedWith] != g.Name {
		t.Errorf("opened with %q", got.Annotations[controllers.AnnotationUnsealedWith])
	}
	// A second run finds nothing to do.
	if out := kseal(t, nil, "reencrypt", "--controller-url", c.apiURL, file); !strings.Contains(string(out), "0 changed") {
		t.Errorf("second reencrypt: %s", out)
	}
}

// readsObjects is how many unchanged SealedSecrets
// TestRestart_readsOnlyWhatChanged restarts with.
const readsObjects = 100

// TestRestart_readsOnlyWhatChanged: a controller restarted with unchanged
// SealedSecrets proves them unchanged from its caches alone: no decryption
// and no request about their Secrets or SealedSecrets (the sealed mark on
// each Secret, the SealedSecrets watched as metadata only). The one
// SealedSecret whose spec changed while the controller was down is read,
// decrypted and written again. Requests are counted by a RoundTripper in
// the controller's own client, in the test's namespace only: the key
// Secrets (in the controller's namespace) and objects other tests left are
// not this test's.
func TestRestart_readsOnlyWhatChanged(t *testing.T) {
	ns := newNamespace(t, "restart-reads")
	opts := controllers.Options{WatchNamespaces: []string{ns}}
	c := startController(t, opts)
	cert, err := keys.ParseCertificate(fetchCert(t, c), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	seal := func(name, value string) *v1alpha1.SealedSecret {
		ss, err := sealedsecret.Seal(secret(ns, name, map[string]string{"a": value}), &cert.PublicKey, sealedsecret.SealOptions{})
		if err != nil {
			t.Fatal(err)
		}
		return ss
	}
	for i := range readsObjects {
		if err := env.Client.Create(ctx, seal(fmt.Sprintf("s-%03d", i), canary(fmt.Sprintf("reads%d", i)))); err != nil {
			t.Fatal(err)
		}
	}
	waitAllReady(t, ns, readsObjects)
	waitMarked(t, ns, readsObjects)
	c.stop()

	// While the controller is down, one SealedSecret is sealed again with
	// another value: its generation moves.
	changed := &v1alpha1.SealedSecret{}
	if err := env.Client.Get(ctx, clientKey(ns, "s-007"), changed); err != nil {
		t.Fatal(err)
	}
	changed.Spec = seal("s-007", canary("reads-changed")).Spec
	if err := env.Client.Update(ctx, changed); err != nil {
		t.Fatal(err)
	}

	counter := &requestCounter{ns: ns, counts: map[string]int{}, outside: map[string]int{}}
	cfg := rest.CopyConfig(env.Config)
	cfg.WrapTransport = counter.wrap
	decryptions := metricSum(t, "kseal_decryptions_total")
	reconciles := metricSum(t, "controller_runtime_reconcile_total", "controller", "sealedsecret")
	c2 := startControllerAs(t, cfg, opts)
	defer c2.stop()
	waitFor(t, 2*time.Minute, "every SealedSecret reconciled after the restart", func() bool {
		return metricSum(t, "controller_runtime_reconcile_total", "controller", "sealedsecret")-reconciles >= readsObjects
	})
	readyCondition(t, ns, "s-007", metav1.ConditionTrue)
	waitFor(t, time.Minute, "the changed SealedSecret's Secret rewritten", func() bool {
		return string(getSecret(t, ns, "s-007").Data["a"]) == canary("reads-changed")
	})
	waitMarked(t, ns, readsObjects)
	// The restart's own events (the rewrite's watch events) settle.
	time.Sleep(time.Second)

	if d := metricSum(t, "kseal_decryptions_total") - decryptions; d != 1 {
		t.Errorf("restart with %d unchanged SealedSecrets and 1 changed decrypted %v items, want 1 (the changed one's)", readsObjects-1, d)
	}
	counts, outside, full := counter.snapshot()
	t.Logf("requests in %s: %v; about Secrets and SealedSecrets elsewhere: %v", ns, counts, outside)
	total := 0
	for k, n := range counts {
		// The caches' LIST and WATCH (namespaced here, as
		// --watch-namespaces makes them) are one per kind, not per object.
		if !strings.HasPrefix(k, "LIST ") && !strings.HasPrefix(k, "WATCH ") {
			total += n
		}
	}
	// The changed SealedSecret: GET it, GET and PUT its Secret, PATCH its
	// status, PATCH the Secret's mark (one more of each at most on a
	// conflict). Nothing for the unchanged ones.
	if total > 8 {
		t.Errorf("%d requests about the Secrets and SealedSecrets of %s after the restart (%v), want at most 8 (those of the one changed object)", total, ns, counts)
	}
	if counts["GET sealedsecrets"] > 2 || counts["PATCH sealedsecrets/status"] > 2 {
		t.Errorf("SealedSecret requests %v, want those of the changed object only", counts)
	}
	if full > 0 {
		t.Errorf("%d LIST or WATCH requests of SealedSecrets asked for whole objects, want metadata only", full)
	}
}

// waitMarked waits until every Secret of ns carries a sealed mark that
// records its SealedSecret's current resourceVersion (the status kseal
// wrote last): what a restart relies on.
func waitMarked(t testing.TB, ns string, n int) {
	t.Helper()
	waitFor(t, time.Minute, fmt.Sprintf("%d Secrets marked", n), func() bool {
		var ss v1alpha1.SealedSecretList
		var secrets corev1.SecretList
		if env.Client.List(ctx, &ss, client.InNamespace(ns)) != nil || env.Client.List(ctx, &secrets, client.InNamespace(ns)) != nil {
			return false
		}
		rv := map[string]string{}
		for _, o := range ss.Items {
			rv[o.Name] = o.ResourceVersion
		}
		marked := 0
		for _, s := range secrets.Items {
			if m := s.Annotations[controllers.AnnotationSealedMark]; rv[s.Name] != "" && strings.HasSuffix(m, ";srv="+rv[s.Name]) {
				marked++
			}
		}
		return marked == n
	})
}

// requestCounter counts a client's requests about Secrets and SealedSecrets
// by method and resource: in namespace ns, and elsewhere (logged only);
// full counts LIST and WATCH requests of SealedSecrets that do not ask for
// metadata only.
type requestCounter struct {
	ns string

	mu      sync.Mutex
	counts  map[string]int
	outside map[string]int
	full    int
}

func (c *requestCounter) wrap(rt http.RoundTripper) http.RoundTripper {
	return roundTripFunc(func(r *http.Request) (*http.Response, error) {
		c.record(r)
		return rt.RoundTrip(r)
	})
}

type roundTripFunc func(*http.Request) (*http.Response, error)

func (f roundTripFunc) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }

func (c *requestCounter) record(r *http.Request) {
	parts := strings.Split(strings.Trim(r.URL.Path, "/"), "/")
	// .../namespaces/NS/RESOURCE[/NAME[/SUBRESOURCE]] or .../RESOURCE
	resource, ns, named, sub := "", "", false, ""
	for i, p := range parts {
		if p == "namespaces" && i+2 < len(parts) {
			ns = parts[i+1]
			rest := parts[i+2:]
			resource, named = rest[0], len(rest) > 1
			if len(rest) > 2 {
				sub = rest[2]
			}
			break
		}
	}
	if ns == "" && len(parts) > 0 {
		resource = parts[len(parts)-1]
	}
	if resource != "secrets" && resource != "sealedsecrets" {
		return
	}
	method := r.Method
	switch {
	case method == http.MethodGet && r.URL.Query().Get("watch") == "true":
		method = "WATCH"
	case method == http.MethodGet && !named:
		method = "LIST"
	}
	key := method + " " + resource
	if sub != "" {
		key += "/" + sub
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if resource == "sealedsecrets" && (method == "LIST" || method == "WATCH") && !strings.Contains(r.Header.Get("Accept"), "as=PartialObjectMetadata") {
		c.full++
	}
	if ns == c.ns {
		c.counts[key]++
	} else {
		c.outside[key+" in "+ns]++
	}
}

func (c *requestCounter) snapshot() (counts, outside map[string]int, full int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return maps.Clone(c.counts), maps.Clone(c.outside), c.full
}
