package scale

import (
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/crypto/sealing"
)

// The side-by-side run (-scale.bitnami): Bitnami's sealed-secrets
// controller v0.40.0 (hack/build-bitnami.sh) unseals N v1 SealedSecrets
// (bitnami.com/v1alpha1) on the same control plane, then kseal unseals the
// same N sealed for the same key (imported with --bitnami-key-namespace) as
// kseal.dev SealedSecrets. Bitnami's controller reads only an in-cluster
// config, so it runs in its own mount namespace (unshare -m) with a service
// account token at the in-cluster path, and with its client throttling off
// (--kubeclient-qps=-1; the default of 5 QPS makes it take ~0.8 s per
// object).

// bitnamiNamespace is where Bitnami's controller keeps its key.
const bitnamiNamespace = "bitnami-system"

// bitnamiGVK is Bitnami's SealedSecret kind.
var bitnamiGVK = schema.GroupVersionKind{Group: "bitnami.com", Version: "v1alpha1", Kind: "SealedSecret"}

// bitnamiRun is one side-by-side measurement at one N.
type bitnamiRun struct {
	N                  int
	Bitnami, Kseal     *phase // cold starts
	BitnamiRe, KsealRe *phase // restarts with nothing changed
}

// runBitnami measures Bitnami's controller, then kseal, on n v1
// SealedSecrets sealed for Bitnami's key.
func (h *harness) runBitnami(t *testing.T, n int) *bitnamiRun {
	t.Helper()
	if err := h.setupBitnami(); err != nil {
		t.Fatalf("Bitnami's controller: %v", err)
	}
	run := &bitnamiRun{N: n}

	ns := h.namespace(t, fmt.Sprintf("bitnami-%d", n))
	if err := h.createBitnamiSealed(ns, n); err != nil {
		t.Fatal(err)
	}
	h.starter = h.startBitnami
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(bitnamiGVK)
	cold, err := h.coldStart(t, fmt.Sprintf("bitnami-cold-%d", n), trackSpec{ns, obj, n, bitnamiSynced})
	h.starter = nil
	if err != nil {
		t.Fatal(err)
	}
	run.Bitnami = cold
	t.Logf("Bitnami N=%d: cold start %s", n, cold)
	h.checkUnsealed(t, ns, n)
	if run.BitnamiRe, err = h.restartBitnami(fmt.Sprintf("bitnami-restart-%d", n), n); err != nil {
		t.Fatal(err)
	}
	t.Logf("Bitnami N=%d: restart %.1f s, CPU %.1f s, peak RSS %.0f MiB", n, run.BitnamiRe.Wall.Seconds(), run.BitnamiRe.CPU, mib(run.BitnamiRe.PeakRSS))
	h.cleanupBitnami(t, ns)

	// kseal on the same data, Bitnami's key imported.
	ns = h.namespace(t, fmt.Sprintf("kseal-bitnami-%d", n))
	defer h.cleanup(t, ns)
	if err := h.createSealedWith(ns, n, sealing.V1, h.bitnamiCert); err != nil {
		t.Fatal(err)
	}
	h.extraArgs = []string{"--bitnami-key-namespace=" + bitnamiNamespace}
	defer func() { h.extraArgs = nil }()
	if run.Kseal, err = h.coldStart(t, fmt.Sprintf("kseal-bitnami-cold-%d", n), trackSpec{ns, &v1alpha1.SealedSecret{}, n, sealedReady}); err != nil {
		t.Fatal(err)
	}
	t.Logf("kseal N=%d (Bitnami's key): cold start %s", n, run.Kseal)
	h.checkUnsealed(t, ns, n)
	if run.KsealRe, err = h.restartSealed(t, fmt.Sprintf("kseal-bitnami-restart-%d", n), ns, n); err != nil {
		t.Fatal(err)
	}
	return run
}

// setupBitnami makes Bitnami's namespace, service account and key (on its
// first run) once.
func (h *harness) setupBitnami() error {
	if h.bitnamiCert != nil {
		return nil
	}
	crds := filepath.Join(filepath.Dir(h.path(*flagBitnami)), "crds")
	if _, err := envtest.InstallCRDs(h.env.Config, envtest.CRDInstallOptions{Paths: []string{crds}, ErrorIfPathMissing: true}); err != nil {
		return fmt.Errorf("install Bitnami's CRD from %s (hack/build-bitnami.sh copies it there): %w", crds, err)
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: bitnamiNamespace}}
	if err := h.env.Client.Create(ctx, ns); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	p, err := h.startBitnami("bitnami-keys")
	if err != nil {
		return err
	}
	cert, err := p.waitCert(3 * time.Minute)
	if stopErr := p.stop(); err == nil {
		err = stopErr
	}
	if err != nil {
		return fmt.Errorf("%w\n%s", err, p.logTail(30))
	}
	h.bitnamiCert = cert
	return nil
}

// serviceAccountDir writes what a pod finds at
// /var/run/secrets/kubernetes.io/serviceaccount: a token of a service
// account bound to cluster-admin, the API server's CA and the namespace.
func (h *harness) serviceAccountDir() (string, error) {
	dir := filepath.Join(h.workDir, "bitnami-serviceaccount")
	if _, err := os.Stat(filepath.Join(dir, "token")); err == nil {
		return dir, nil
	}
	cs, err := kubernetes.NewForConfig(h.env.Config)
	if err != nil {
		return "", err
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "sealed-secrets-controller", Namespace: bitnamiNamespace}}
	if err := h.env.Client.Create(ctx, sa); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", err
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "scale-bitnami-controller"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa.Name, Namespace: sa.Namespace}},
	}
	if err := h.env.Client.Create(ctx, crb); err != nil && !apierrors.IsAlreadyExists(err) {
		return "", err
	}
	ttl := int64(24 * 3600)
	tok, err := cs.CoreV1().ServiceAccounts(bitnamiNamespace).CreateToken(ctx, sa.Name,
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &ttl}}, metav1.CreateOptions{})
	if err != nil {
		return "", fmt.Errorf("service account token: %w", err)
	}
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", err
	}
	for name, data := range map[string][]byte{"token": []byte(tok.Status.Token), "ca.crt": h.env.Config.CAData, "namespace": []byte(bitnamiNamespace)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			return "", err
		}
	}
	return dir, nil
}

// startBitnami starts Bitnami's controller with client throttling off and
// key renewal off, on free loopback ports.
func (h *harness) startBitnami(name string) (*controllerProc, error) {
	saDir, err := h.serviceAccountDir()
	if err != nil {
		return nil, err
	}
	if h.bitnamiBinary == "" {
		if h.bitnamiBinary, err = h.stageBinary(h.path(*flagBitnami), "bitnami-controller"); err != nil {
			return nil, err
		}
	}
	u, err := url.Parse(h.env.Config.Host)
	if err != nil {
		return nil, err
	}
	ports, err := freePorts(2)
	if err != nil {
		return nil, err
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		return nil, fmt.Errorf("running Bitnami's controller needs unshare (util-linux): %w", err)
	}
	p := &controllerProc{
		name:       name,
		apiURL:     "http://" + ports[0],
		metricsURL: "http://" + ports[1] + "/metrics",
		logPath:    filepath.Join(h.workDir, name+".log"),
		exited:     make(chan struct{}),
	}
	logFile, err := os.Create(p.logPath)
	if err != nil {
		return nil, err
	}
	// A private /run in a new mount namespace holds the in-cluster files;
	// exec keeps the process id, so /proc/<pid> measures the controller.
	script := `mount -t tmpfs tmpfs /run && mkdir -p /run/secrets/kubernetes.io/serviceaccount &&
cp "$SA_DIR"/* /run/secrets/kubernetes.io/serviceaccount/ && exec "$@"`
	args := []string{"-m", "sh", "-c", script, "sh", h.bitnamiBinary,
		"--kubeclient-qps=-1", "--key-renew-period=0", "--listen-addr=" + ports[0], "--listen-metrics-addr=" + ports[1]}
	if os.Geteuid() != 0 {
		args = append([]string{"-r"}, args...)
	}
	p.cmd = exec.Command(unshare, args...)
	p.cmd.Env = append(os.Environ(), "SA_DIR="+saDir, "POD_NAMESPACE="+bitnamiNamespace,
		"KUBERNETES_SERVICE_HOST="+u.Hostname(), "KUBERNETES_SERVICE_PORT="+u.Port())
	return p, p.start(logFile)
}

// restartBitnami starts Bitnami's controller again with nothing changed and
// waits until it has unsealed every SealedSecret once more (it keeps no
// fingerprint, so a restart unseals everything).
func (h *harness) restartBitnami(name string, n int) (*phase, error) {
	p, err := h.startBitnami(name)
	if err != nil {
		return nil, err
	}
	defer p.kill()
	end, err := waitMetrics(p, *flagPhase, "every SealedSecret unsealed again", func(m metricSet) bool {
		return m.sum("sealed_secrets_controller_unseal_requests_total") >= float64(n)
	})
	if err != nil {
		return nil, fmt.Errorf("%w\n%s", err, p.logTail(20))
	}
	u, err := p.usage()
	if err != nil {
		return nil, err
	}
	return &phase{Wall: end.Sub(p.started), CPU: u.CPU, PeakRSS: u.PeakRSS, RSSAnon: u.RSSAnon, RSSFile: u.RSSFile, Load: loadAverage()}, p.stop()
}

// createBitnamiSealed creates n bitnami.com SealedSecrets in ns, sealed (v1)
// with Bitnami's certificate.
func (h *harness) createBitnamiSealed(ns string, n int) error {
	cert, err := keys.ParseCertificate(h.bitnamiCert, time.Now())
	if err != nil {
		return err
	}
	return parallel(n, createWorkers, func(i int) error {
		s := plainSecret(ns, i)
		ss, err := sealedsecret.Seal(s, &cert.PublicKey, sealedsecret.SealOptions{Version: sealing.V1})
		if err != nil {
			return fmt.Errorf("seal %s: %w", s.Name, err)
		}
		m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ss)
		if err != nil {
			return err
		}
		u := &unstructured.Unstructured{Object: m}
		u.SetGroupVersionKind(bitnamiGVK)
		unstructured.RemoveNestedField(u.Object, "status")
		if err := h.env.Client.Create(ctx, u); err != nil {
			return fmt.Errorf("create Bitnami SealedSecret %s: %w", s.Name, err)
		}
		return nil
	})
}

// bitnamiSynced: Bitnami's Synced condition is True.
func bitnamiSynced(o client.Object) (bool, string) {
	u, ok := o.(*unstructured.Unstructured)
	if !ok {
		return false, "not unstructured"
	}
	conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Synced" {
			if m["status"] == "True" {
				return true, ""
			}
			return false, fmt.Sprintf("Synced=%v", m["status"])
		}
	}
	return false, "no Synced condition"
}

// cleanupBitnami deletes Bitnami's SealedSecrets and what the run left in ns.
func (h *harness) cleanupBitnami(t *testing.T, ns string) {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(bitnamiGVK)
	if err := h.env.Client.DeleteAllOf(ctx, u, client.InNamespace(ns)); err != nil {
		t.Errorf("delete Bitnami SealedSecrets in %s: %v", ns, err)
	}
	h.cleanup(t, ns)
}

// ratio is a ÷ b, or 0 when b is 0.
func ratio(a, b float64) float64 {
	if b == 0 {
		return 0
	}
	return a / b
}

// bitnamiMarkdown is the side-by-side table.
func bitnamiMarkdown(runs []*bitnamiRun) string {
	if len(runs) == 0 {
		return ""
	}
	s := "\nSide by side with Bitnami's sealed-secrets controller v0.40.0 (`--kubeclient-qps=-1`), same control plane, same v1 data sealed for Bitnami's key (imported into kseal with `--bitnami-key-namespace`), one run each, Bitnami first. Restart: kseal until every object is reconciled, Bitnami until every object is unsealed again.\n\n"
	s += "| N | cold time kseal / Bitnami | ÷ | CPU kseal / Bitnami | ÷ | peak RSS kseal / Bitnami | ÷ | restart kseal / Bitnami | ÷ | restart CPU kseal / Bitnami |\n"
	s += "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|\n"
	for _, r := range runs {
		k, b, kr, br := r.Kseal, r.Bitnami, r.KsealRe, r.BitnamiRe
		if k == nil || b == nil || kr == nil || br == nil {
			continue
		}
		s += fmt.Sprintf("| %s | %.1f / %.1f s | **%.2f** | %.1f / %.1f s | **%.2f** | %.0f / %.0f MiB | **%.2f** | %.1f / %.1f s | **%.2f** | %.1f / %.1f s |\n",
			thousands(r.N), k.Wall.Seconds(), b.Wall.Seconds(), ratio(k.Wall.Seconds(), b.Wall.Seconds()),
			k.CPU, b.CPU, ratio(k.CPU, b.CPU), mib(k.PeakRSS), mib(b.PeakRSS), ratio(float64(k.PeakRSS), float64(b.PeakRSS)),
			kr.Wall.Seconds(), br.Wall.Seconds(), ratio(kr.Wall.Seconds(), br.Wall.Seconds()), kr.CPU, br.CPU)
	}
	return s
}
