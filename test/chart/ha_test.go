package chart

import (
	"bytes"
	"context"
	"crypto/sha256"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	cli "github.com/kseal-dev/kseal/kubeseal-like-cli"
)

// Sizes of the failover run.
const (
	haSealed   = 500
	haExternal = 200
)

// isLeader reports whether the process's metrics say it holds the lease.
func isLeader(p *process) bool {
	body, err := httpGet(p.metricsURL)
	return err == nil && bytes.Contains(body, []byte(`leader_election_master_status{name="kseal-controller.kseal.dev"} 1`))
}

// TestHA_twoReplicasFailover runs two controller processes as the chart's
// ServiceAccount, started at once in a namespace without keys: exactly one
// key generation is made, both replicas report ready and serve the same
// certificate, one leads. Then SealedSecrets and ExternalSecrets are
// created, the leader is killed (SIGKILL) with half of them still to come,
// and the other replica takes over: every object ends Ready, and no Secret
// is written twice with the same content (a SealedSecret's Secret gets its
// sealed mark once, in one metadata patch, besides the write).
func TestHA_twoReplicasFailover(t *testing.T) {
	if testing.Short() {
		t.Skip("creates 700 objects and waits for a lease to expire")
	}
	cluster(t)
	v := vaultFor(t)
	const ns = "kseal-ha"
	ensureNamespace(t, ns)
	controller := map[string]any{"vaultAllowHTTP": true}
	// KSEAL_HA_LEASE=DURATION,RENEW,RETRY measures failover with other
	// leader election settings (docs/install.md#high-availability).
	if l := strings.Split(os.Getenv("KSEAL_HA_LEASE"), ","); len(l) == 3 {
		controller["leaderElection"] = map[string]any{"leaseDuration": l[0], "renewDeadline": l[1], "retryPeriod": l[2]}
	}
	manifest, err := renderChartIn(map[string]any{"controller": controller}, ns)
	if err != nil {
		t.Fatal(err)
	}
	var objs []*unstructured.Unstructured
	for _, o := range decodeObjects(t, []byte(manifest)) {
		if o.GetKind() != "CustomResourceDefinition" {
			objs = append(objs, o)
		}
	}
	applyAll(t, "helm", objs)
	deploy := mustFind(t, objs, "Deployment", "kseal-controller")
	leader, follower, cert := startTwoReplicas(t, deploy)

	work := newNamespaceOrFail(t, "ha-work")
	writes := watchSecretWrites(t, work)
	store := ""
	if v != nil {
		store = vaultTokenStore(t, v, work)
	}
	certPath := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(certPath, cert, 0o600); err != nil {
		t.Fatal(err)
	}
	createObjects(t, work, certPath, store, 0, haSealed/2, haExternal/2)
	if err := poll(2*time.Minute, "the first objects Ready", func() (bool, error) {
		n, _ := countReady(work)
		return n >= haSealed/8, nil
	}); err != nil {
		t.Fatal(err)
	}

	killed := time.Now()
	if err := leader.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	createObjects(t, work, certPath, store, 1, haSealed/2, haExternal/2)
	if err := poll(2*time.Minute, "the other replica leads", func() (bool, error) { return isLeader(follower), nil }); err != nil {
		t.Fatal(err)
	}
	t.Logf("failover: the other replica leads %v after the leader was killed", time.Since(killed).Round(100*time.Millisecond))
	wantExternal := haExternal
	if store == "" {
		wantExternal = 0
	}
	if err := poll(5*time.Minute, "every object Ready", func() (bool, error) {
		n, err := countReady(work)
		return n == haSealed+wantExternal, err
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("all %d objects Ready %v after the kill", haSealed+wantExternal, time.Since(killed).Round(100*time.Millisecond))
	var keySecrets corev1.SecretList
	if err := env.Client.List(ctx, &keySecrets, client.InNamespace(ns), client.HasLabels{"kseal.dev/sealing-key"}); err != nil || len(keySecrets.Items) != 1 {
		t.Errorf("%d key generations after the failover (%v), want 1", len(keySecrets.Items), err)
	}
	writes.check(t, haSealed+wantExternal)
}

// startTwoReplicas starts two controllers of the Deployment at once, in a
// namespace without keys, and checks that both become ready, that exactly
// one key generation was made and that both serve its certificate; it
// returns the one that leads, the other, and the certificate.
func startTwoReplicas(t *testing.T, deploy *unstructured.Unstructured) (leader, follower *process, cert []byte) {
	t.Helper()
	replicas := []*process{startAs(t, deploy), startAs(t, deploy)}
	for i, p := range replicas {
		if err := poll(2*time.Minute, fmt.Sprintf("replica %d ready", i), func() (bool, error) {
			_, err := httpGet(p.healthURL + "/readyz")
			return err == nil, err
		}); err != nil {
			t.Fatal(err)
		}
	}
	var keySecrets corev1.SecretList
	if err := env.Client.List(ctx, &keySecrets, client.InNamespace(deploy.GetNamespace()), client.HasLabels{"kseal.dev/sealing-key"}); err != nil {
		t.Fatal(err)
	}
	if len(keySecrets.Items) != 1 {
		t.Fatalf("%d key generations after two replicas started at once, want 1", len(keySecrets.Items))
	}
	cert0, err0 := httpGet(replicas[0].apiURL + "/v1/cert.pem")
	cert1, err1 := httpGet(replicas[1].apiURL + "/v1/cert.pem")
	if err0 != nil || err1 != nil || !bytes.Equal(cert0, cert1) {
		t.Fatalf("the replicas serve different certificates (%v, %v)", err0, err1)
	}
	if err := poll(time.Minute, "one leader", func() (bool, error) {
		l0, l1 := isLeader(replicas[0]), isLeader(replicas[1])
		leader, follower = replicas[0], replicas[1]
		if l1 {
			leader, follower = replicas[1], replicas[0]
		}
		return l0 != l1, nil
	}); err != nil {
		t.Fatal(err)
	}
	return leader, follower, cert0
}

func newNamespaceOrFail(t testing.TB, prefix string) string {
	t.Helper()
	ns, err := newNamespace(prefix, nil)
	if err != nil {
		t.Fatal(err)
	}
	return ns
}

// vaultTokenStore makes a SecretStore "vault" in ns with a token login.
func vaultTokenStore(t testing.TB, v *vaultSetup, ns string) string {
	t.Helper()
	tok := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "vault-token", Namespace: ns}, StringData: map[string]string{"token": v.srv.RootToken}}
	store := &v1alpha1.SecretStore{ObjectMeta: metav1.ObjectMeta{Name: "vault", Namespace: ns},
		Spec: v1alpha1.SecretStoreSpec{Provider: vaultProvider(v.srv.Addr, v1alpha1.VaultAuth{TokenSecretRef: &v1alpha1.SecretKeySelector{Name: "vault-token", Key: "token"}})}}
	for _, o := range []client.Object{tok, store} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	return "vault"
}

// createObjects creates batch b of sealed SealedSecrets ss-b-i and, when a
// store is given, ExternalSecrets es-b-i.
func createObjects(t testing.TB, ns, certPath, store string, b, sealed, external int) {
	t.Helper()
	for i := range sealed {
		name := fmt.Sprintf("ss-%d-%d", b, i)
		in, _ := yaml.Marshal(&corev1.Secret{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
			ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, StringData: map[string]string{"value": "v-" + name}})
		var out, errOut bytes.Buffer
		if code := cli.Main(ctx, []string{"seal", "--cert", certPath}, bytes.NewReader(in), &out, &errOut); code != 0 {
			t.Fatalf("kseal seal: %s", errOut.String())
		}
		ss, err := sealedsecret.DecodeSealedSecret(out.Bytes())
		if err != nil {
			t.Fatal(err)
		}
		if err := env.Client.Create(ctx, ss); err != nil {
			t.Fatal(err)
		}
	}
	if store == "" {
		return
	}
	for i := range external {
		es := &v1alpha1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("es-%d-%d", b, i), Namespace: ns},
			Spec: v1alpha1.ExternalSecretSpec{
				RefreshInterval: &metav1.Duration{Duration: time.Hour},
				SecretStoreRef:  v1alpha1.SecretStoreRef{Name: store},
				Data:            []v1alpha1.ExternalSecretData{{SecretKey: "password", RemoteRef: v1alpha1.ExternalSecretDataRemoteRef{Key: "shop/db", Property: "password"}}},
			}}
		if err := env.Client.Create(ctx, es); err != nil {
			t.Fatal(err)
		}
	}
}

// countReady counts the SealedSecrets and ExternalSecrets of ns that are
// Ready for their latest generation.
func countReady(ns string) (int, error) {
	var ss v1alpha1.SealedSecretList
	var es v1alpha1.ExternalSecretList
	if err := env.Client.List(ctx, &ss, client.InNamespace(ns)); err != nil {
		return 0, err
	}
	if err := env.Client.List(ctx, &es, client.InNamespace(ns)); err != nil {
		return 0, err
	}
	n := 0
	for _, o := range ss.Items {
		if ready(o.Status.Conditions) && o.Status.ObservedGeneration == o.Generation {
			n++
		}
	}
	for _, o := range es.Items {
		if ready(o.Status.Conditions) && o.Status.ObservedGeneration == o.Generation {
			n++
		}
	}
	return n, nil
}

// secretWrites records every version of every Secret of a namespace that
// the API server reports, as a hash of its data and metadata; an update
// that changes only the sealed mark (controllers.AnnotationSealedMark, the
// metadata patch that records the status kseal wrote) is counted in marks,
// not as a write.
type secretWrites struct {
	mu       sync.Mutex
	versions map[string][]string
	// last is the hash of each Secret's latest version without its mark.
	last  map[string]string
	marks map[string]int
	// restarts counts watches the API server ended, resumed from the last
	// resourceVersion seen.
	restarts int
	stop     func()
}

// watchSecretWrites watches the Secrets of ns until the test ends, resuming
// a watch the API server closes from the last resourceVersion seen.
func watchSecretWrites(t testing.TB, ns string) *secretWrites {
	t.Helper()
	kube, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	list, err := kube.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithCancel(ctx)
	sw := &secretWrites{versions: map[string][]string{}, last: map[string]string{}, marks: map[string]int{}, stop: cancel}
	t.Cleanup(cancel)
	rv := list.ResourceVersion
	go func() {
		for wctx.Err() == nil {
			w, err := kube.CoreV1().Secrets(ns).Watch(wctx, metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true})
			if err != nil {
				time.Sleep(100 * time.Millisecond)
				continue
			}
			for ev := range w.ResultChan() {
				s, ok := ev.Object.(*corev1.Secret)
				if !ok {
					continue
				}
				rv = s.ResourceVersion
				if ev.Type == watch.Added || ev.Type == watch.Modified {
					sw.record(s)
				}
			}
			w.Stop()
			if wctx.Err() == nil {
				sw.mu.Lock()
				sw.restarts++
				sw.mu.Unlock()
			}
		}
	}()
	return sw
}

// record adds one version of s.
func (sw *secretWrites) record(s *corev1.Secret) {
	h := sha256.New()
	keys := make([]string, 0, len(s.Data))
	for k := range s.Data {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Fprintf(h, "%q=%x;", k, s.Data[k])
	}
	data := fmt.Sprintf("%x", h.Sum(nil))
	annotations := make([]string, 0, len(s.Annotations))
	for k, v := range s.Annotations {
		if k != controllers.AnnotationSealedMark {
			annotations = append(annotations, k+"="+v)
		}
	}
	sort.Strings(annotations)
	labels := make([]string, 0, len(s.Labels))
	for k, v := range s.Labels {
		labels = append(labels, k+"="+v)
	}
	sort.Strings(labels)
	owners := make([]string, 0, len(s.OwnerReferences))
	for _, o := range s.OwnerReferences {
		owners = append(owners, fmt.Sprintf("%s/%s/%s/%s/%t", o.APIVersion, o.Kind, o.Name, o.UID, o.Controller != nil && *o.Controller))
	}
	meta := sha256.Sum256([]byte(fmt.Sprintf("%s|%q|%q|%q|%s", data, annotations, labels, owners, s.Type)))
	sw.mu.Lock()
	defer sw.mu.Unlock()
	if prev, seen := sw.last[s.Name]; seen && prev == string(meta[:]) {
		sw.marks[s.Name]++
		return
	}
	sw.last[s.Name] = string(meta[:])
	sw.versions[s.Name] = append(sw.versions[s.Name], data)
}

// check fails the test unless want Secrets (besides the store's token) were
// written, each exactly once.
func (sw *secretWrites) check(t testing.TB, want int) {
	t.Helper()
	_ = poll(30*time.Second, "the watch to deliver every Secret", func() (bool, error) {
		sw.mu.Lock()
		defer sw.mu.Unlock()
		_, token := sw.versions["vault-token"]
		return len(sw.versions) >= want+map[bool]int{true: 1}[token], nil
	})
	sw.stop()
	sw.mu.Lock()
	defer sw.mu.Unlock()
	marks := 0
	for _, n := range sw.marks {
		marks += n
	}
	t.Logf("Secret writes: %d Secrets, %d mark-only updates, %d watches resumed", len(sw.versions), marks, sw.restarts)
	delete(sw.versions, "vault-token")
	if len(sw.versions) != want {
		t.Errorf("%d Secrets written, want %d", len(sw.versions), want)
	}
	var twice []string
	for name, v := range sw.versions {
		if len(v) != 1 {
			twice = append(twice, fmt.Sprintf("%s (%d writes)", name, len(v)))
		}
	}
	// A SealedSecret's Secret gets its mark once, after the status it
	// records (a rewrite of the same data would show as a second one).
	for name, n := range sw.marks {
		if n > 1 {
			twice = append(twice, fmt.Sprintf("%s (%d mark updates)", name, n))
		}
	}
	sort.Strings(twice)
	if len(twice) > 0 {
		t.Errorf("Secrets written more than once: %s", strings.Join(twice, ", "))
	}
}
