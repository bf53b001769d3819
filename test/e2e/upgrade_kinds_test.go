package e2e

import (
	"bytes"
	"fmt"
	"maps"
	"slices"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/crypto/sealing"
	"github.com/kseal-dev/kseal/crypto/sops"
	"github.com/kseal-dev/kseal/crypto/sops/sopstest"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// upgradeEach is how many objects of each kind (SealedSecret v1, SealedSecret
// v2, SopsSecret, ExternalSecret) the upgrade test hands from the previous
// controller to the new one.
const upgradeEach = 50

// TestUpgrade_everyKindNoDecryptionNoWrite: the controller built from the
// previous commit reconciles 50 SealedSecrets v1, 50 v2, 50 SopsSecrets
// and 50 ExternalSecrets (200 objects) and is stopped; the controller built from this
// checkout then starts on them, as a rolling upgrade does. Read from the new
// process's /metrics: it decrypts nothing (kseal_decryptions_total and
// kseal_rsa_operations_total stay 0) though it reconciles every object and
// refreshes every ExternalSecret; a watch on the Secrets sees no write; and
// every object is Ready.
func TestUpgrade_everyKindNoDecryptionNoWrite(t *testing.T) {
	prevBin := previousController(t, previousCommit)
	newBin := currentController(t)
	srv := awstest.NewServer(t)
	ns := newNamespace(t, "upgrade-kinds")
	awsStore(t, srv, ns, "aws")
	// Each controller watches only this namespace: objects other tests left
	// elsewhere must not count.
	scoped := "--watch-namespaces=" + ns

	prev := startProcess(t, prevBin, scoped)
	cert, err := keys.ParseCertificate(httpGet(t, prev.apiURL+"/v1/cert.pem"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	names := createUpgradeObjects(t, srv, ns, cert)
	waitFor(t, 3*time.Minute, "the previous controller makes every object Ready", func() bool {
		return upgradeReady(t, ns, names, time.Time{}) == len(names.all())
	})
	prevMetrics := prev.scrape(t)
	prev.stop()
	t.Logf("previous controller (%s): %v decryptions", previousCommit[:12], prevMetrics["kseal_decryptions_total"])
	if want := float64(upgradeEach * (2 + 2 + 1)); prevMetrics["kseal_decryptions_total"] < want {
		t.Fatalf("the previous controller reports %v decryptions, want at least %v: its metrics are not what this test reads", prevMetrics["kseal_decryptions_total"], want)
	}

	writes := watchWrites(t, ns)
	start := time.Now().Add(time.Second)
	next := startProcess(t, newBin, scoped)
	var progress string
	defer func() {
		if t.Failed() {
			t.Log("last seen: " + progress)
		}
	}()
	waitFor(t, 3*time.Minute, "the new controller reconciles every object and refreshes every ExternalSecret", func() bool {
		sealed := next.scrape(t, "controller=sealedsecret")["controller_runtime_reconcile_total"]
		sopsN := next.scrape(t, "controller=sopssecret")["controller_runtime_reconcile_total"]
		ready := upgradeReady(t, ns, names, start)
		progress = fmt.Sprintf("%v SealedSecret and %v SopsSecret reconciles, %d of %d objects Ready (ExternalSecrets refreshed since the start)", sealed, sopsN, ready, len(names.all()))
		return sealed >= 2*upgradeEach && sopsN >= upgradeEach && ready == len(names.all())
	})
	got := next.scrape(t)
	for _, family := range []string{"kseal_decryptions_total", "kseal_rsa_operations_total"} {
		v, ok := got[family]
		if family == "kseal_rsa_operations_total" && !ok {
			t.Fatalf("the new controller exports no %s", family)
		}
		if v != 0 {
			t.Errorf("the new controller reports %s = %v after the upgrade, want 0", family, v)
		}
	}
	written := writes.settle(t)
	for name, n := range written {
		t.Errorf("Secret %s written %d times on upgrade", name, n)
	}
	// The one write an upgrade makes: kseal's cache label on each
	// SealedSecret and SopsSecret Secret (with the sealed mark on a
	// SealedSecret's), once, data untouched (an ExternalSecret's Secret
	// gets it with its next data change).
	for _, name := range append(slices.Clone(names.sealed), names.sops...) {
		if n := writes.labelled[name]; n != 1 {
			t.Errorf("Secret %s labelled %d times on upgrade, want once", name, n)
		}
	}
	for _, name := range names.sealed {
		if getSecret(t, ns, name).Annotations[controllers.AnnotationSealedMark] == "" {
			t.Errorf("Secret %s has no sealed mark after the upgrade", name)
		}
	}
	for _, name := range names.external {
		if n := writes.labelled[name]; n != 0 {
			t.Errorf("ExternalSecret's Secret %s labelled %d times on upgrade, want 0 (it waits for a data change)", name, n)
		}
	}
	t.Logf("upgrade from %s on %d objects: %v decryptions, %v RSA operations, %d Secrets written, %d labelled",
		previousCommit[:12], len(names.all()), got["kseal_decryptions_total"], got["kseal_rsa_operations_total"], len(written), len(writes.labelled))
}

// upgradeNames are the objects of the upgrade test by kind.
type upgradeNames struct{ sealed, sops, external []string }

func (n upgradeNames) all() []string {
	return append(append(append([]string{}, n.sealed...), n.sops...), n.external...)
}

// createUpgradeObjects makes upgradeEach objects of each kind in ns: sealed
// for cert (v1 with two items, v2 with two items and a template), SOPS
// documents encrypted to its recipient, and ExternalSecrets reading the AWS
// emulator.
func createUpgradeObjects(t *testing.T, srv *awstest.Server, ns string, cert *keys.Certificate) upgradeNames {
	t.Helper()
	var names upgradeNames
	recipient := sopsRecipient(t, cert)
	for i := range upgradeEach {
		for _, v := range []sealing.Version{sealing.V1, sealing.V2} {
			name := fmt.Sprintf("sealed-v%d-%03d", v, i)
			s := secret(ns, name, map[string]string{"a": canary(name), "b": "x"})
			s.Labels = map[string]string{"app": "upgrade"}
			ss, err := sealedsecret.Seal(s, &cert.PublicKey, sealedsecret.SealOptions{Version: v})
			if err != nil {
				t.Fatal(err)
			}
			ss.APIVersion = sealedsecret.APIVersion
			if v == sealing.V2 {
				ss.Spec.Template.Data = map[string]string{"url": "https://user:{{ .a }}@example.test"}
			}
			if err := env.Client.Create(ctx, ss); err != nil {
				t.Fatal(err)
			}
			names.sealed = append(names.sealed, name)
		}

		name := fmt.Sprintf("sops-%03d", i)
		plain := []byte("kseal.dev/scope: " + ns + "/" + name + "\npassword: " + canary(name) + "\nport: 5432\n")
		createSops(t, ns, name, sopstest.MustEncrypt(plain, sops.FormatYAML, sopstest.Options{Recipients: []string{recipient}}))
		names.sops = append(names.sops, name)

		name = fmt.Sprintf("external-%03d", i)
		srv.CreateSecret(t, ns+"/"+name, fmt.Sprintf(`{"a":%q}`, canary(name)), nil)
		es := externalSecret(ns, name, "aws", 5*time.Second, ref("a", ns+"/"+name, "a"))
		es.Spec.Target.Template = &v1alpha1.ExternalSecretTemplate{Metadata: v1alpha1.ExternalSecretTemplateMetadata{Labels: map[string]string{"app": "upgrade"}}}
		if err := env.Client.Create(ctx, es); err != nil {
			t.Fatal(err)
		}
		names.external = append(names.external, name)
	}
	return names
}

// upgradeReady counts the objects that are Ready for their generation, the
// ExternalSecrets only when refreshed after since.
func upgradeReady(t *testing.T, ns string, names upgradeNames, since time.Time) int {
	t.Helper()
	n := 0
	var sealed v1alpha1.SealedSecretList
	var sopsList v1alpha1.SopsSecretList
	var external v1alpha1.ExternalSecretList
	for _, l := range []client.ObjectList{&sealed, &sopsList, &external} {
		if err := env.Client.List(ctx, l, client.InNamespace(ns)); err != nil {
			return 0
		}
	}
	readyFor := func(conds []metav1.Condition, gen int64) bool {
		c := apimeta.FindStatusCondition(conds, v1alpha1.ConditionReady)
		return c != nil && c.Status == metav1.ConditionTrue && c.ObservedGeneration == gen
	}
	for _, o := range sealed.Items {
		if readyFor(o.Status.Conditions, o.Generation) {
			n++
		}
	}
	for _, o := range sopsList.Items {
		if readyFor(o.Status.Conditions, o.Generation) {
			n++
		}
	}
	for _, o := range external.Items {
		if readyFor(o.Status.Conditions, o.Generation) && !o.Status.RefreshTime.Time.Before(since.Truncate(time.Second)) {
			n++
		}
	}
	return n
}

// secretWatch counts the writes (creations and updates) of the Secrets of
// one namespace that the API server reports after the watch starts.
type secretWatch struct {
	ns     string
	mu     sync.Mutex
	writes map[string]int
	// labelled counts the writes that only added kseal's cache label
	// (kseal.dev/written-by) to a Secret, data and annotations untouched;
	// they are not in writes.
	labelled map[string]int
	last     map[string]*corev1.Secret
	w        watch.Interface
}

// onlyLabelled reports whether after is before with kseal's cache label
// added (and, on a SealedSecret's Secret, the sealed mark: both come in one
// metadata patch) and nothing else changed.
func onlyLabelled(before, after *corev1.Secret) bool {
	if before == nil || before.Labels[controllers.LabelWrittenBy] != "" || after.Labels[controllers.LabelWrittenBy] == "" {
		return false
	}
	if before.Annotations[controllers.AnnotationSealedMark] != "" {
		return false
	}
	labels := maps.Clone(after.Labels)
	delete(labels, controllers.LabelWrittenBy)
	annotations := maps.Clone(after.Annotations)
	delete(annotations, controllers.AnnotationSealedMark)
	return before.Type == after.Type && maps.Equal(before.Labels, labels) && maps.Equal(before.Annotations, annotations) &&
		maps.EqualFunc(before.Data, after.Data, bytes.Equal)
}

// fenceSecret is written by the test itself at the end of a watch, so that
// seeing its event proves every earlier event was delivered.
const fenceSecret = "watch-fence"

func watchWrites(t *testing.T, ns string) *secretWatch {
	t.Helper()
	kube, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	list, err := kube.CoreV1().Secrets(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	w, err := kube.CoreV1().Secrets(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	sw := &secretWatch{ns: ns, writes: map[string]int{}, labelled: map[string]int{}, last: map[string]*corev1.Secret{}, w: w}
	for i := range list.Items {
		sw.last[list.Items[i].Name] = &list.Items[i]
	}
	t.Cleanup(w.Stop)
	go func() {
		for ev := range w.ResultChan() {
			s, ok := ev.Object.(*corev1.Secret)
			if !ok || (ev.Type != watch.Added && ev.Type != watch.Modified) {
				continue
			}
			sw.mu.Lock()
			if ev.Type == watch.Modified && onlyLabelled(sw.last[s.Name], s) {
				sw.labelled[s.Name]++
			} else {
				sw.writes[s.Name]++
			}
			sw.last[s.Name] = s
			sw.mu.Unlock()
		}
	}()
	return sw
}

// settle writes the fence Secret, waits for its event, stops the watch and
// returns the Secrets written before it with their write counts.
func (sw *secretWatch) settle(t *testing.T) map[string]int {
	t.Helper()
	if err := env.Client.Create(ctx, secret(sw.ns, fenceSecret, map[string]string{"x": "y"})); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the watch to deliver the fence Secret", func() bool {
		sw.mu.Lock()
		defer sw.mu.Unlock()
		return sw.writes[fenceSecret] > 0
	})
	sw.w.Stop()
	sw.mu.Lock()
	defer sw.mu.Unlock()
	out := map[string]int{}
	for name, n := range sw.writes {
		if name != fenceSecret {
			out[name] = n
		}
	}
	return out
}
