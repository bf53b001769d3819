package e2e

import (
	"bytes"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	authv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	bitnamiv1 "github.com/kseal-dev/kseal/api/bitnami/v1alpha1"
)

// Bitnami's sealed-secrets controller v0.40.0, built by
// hack/build-bitnami.sh (KSEAL_BITNAMI names the binary; its CRD is in
// crds/ beside it). It reads only an in-cluster config, so it runs in its
// own mount namespace (unshare -m) with a service account token at the
// in-cluster path, with client throttling off.

// bitnamiBinary returns the controller's path, skipping the test when it
// is not built (failing under KSEAL_REQUIRE_TOOLS), and installs its CRD
// and Go types.
func bitnamiBinary(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("KSEAL_BITNAMI")
	if bin == "" {
		if requireTools() {
			t.Fatal("KSEAL_BITNAMI is not set: run hack/build-bitnami.sh (make test does)")
		}
		t.Skip("KSEAL_BITNAMI is not set (hack/build-bitnami.sh builds sealed-secrets' controller)")
	}
	if err := bitnamiv1.AddToScheme(env.Scheme); err != nil {
		t.Fatal(err)
	}
	crds := filepath.Join(filepath.Dir(bin), "crds")
	if _, err := envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{Paths: []string{crds}, ErrorIfPathMissing: true}); err != nil {
		t.Fatalf("install sealed-secrets' CRD from %s (hack/build-bitnami.sh copies it there): %v", crds, err)
	}
	return bin
}

// bitnamiProcess is one running sealed-secrets controller.
type bitnamiProcess struct {
	apiURL, metricsURL string
	logs               *syncBuffer
	cmd                *exec.Cmd
	stopped            bool
}

// startBitnami runs sealed-secrets' controller with its keys in namespace,
// and waits until it serves its certificate (its key exists then).
func startBitnami(t *testing.T, bin, namespace string) *bitnamiProcess {
	t.Helper()
	saDir := bitnamiServiceAccount(t, namespace)
	u, err := url.Parse(env.Config.Host)
	if err != nil {
		t.Fatal(err)
	}
	unshare, err := exec.LookPath("unshare")
	if err != nil {
		t.Skipf("running sealed-secrets' controller needs unshare (util-linux): %v", err)
	}
	api, metrics := freeAddr(t), freeAddr(t)
	script := `mount -t tmpfs tmpfs /run && mkdir -p /run/secrets/kubernetes.io/serviceaccount &&
cp "$SA_DIR"/* /run/secrets/kubernetes.io/serviceaccount/ && exec "$@"`
	args := []string{"-m", "sh", "-c", script, "sh", bin,
		"--kubeclient-qps=-1", "--key-renew-period=0", "--listen-addr=" + api, "--listen-metrics-addr=" + metrics}
	if os.Geteuid() != 0 {
		args = append([]string{"-r"}, args...)
	}
	p := &bitnamiProcess{apiURL: "http://" + api, metricsURL: "http://" + metrics + "/metrics", logs: &syncBuffer{}}
	p.cmd = exec.Command(unshare, args...)
	p.cmd.Env = append(os.Environ(), "SA_DIR="+saDir, "POD_NAMESPACE="+namespace,
		"KUBERNETES_SERVICE_HOST="+u.Hostname(), "KUBERNETES_SERVICE_PORT="+u.Port())
	p.cmd.Stdout, p.cmd.Stderr = p.logs, p.logs
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("sealed-secrets controller log (last lines):\n%s", lastLines(p.logs.String(), 20))
		}
	})
	return p
}

// cert waits until the controller serves its certificate and returns it.
func (p *bitnamiProcess) cert(t *testing.T) []byte {
	t.Helper()
	var cert []byte
	waitFor(t, 2*time.Minute, "sealed-secrets' certificate", func() bool {
		resp, err := http.Get(p.apiURL + "/v1/cert.pem")
		if err != nil {
			return false
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
		if err != nil || resp.StatusCode != http.StatusOK || !bytes.Contains(b, []byte("BEGIN CERTIFICATE")) {
			return false
		}
		cert = b
		return true
	})
	return cert
}

// metric sums the samples of one of the controller's metrics.
func (p *bitnamiProcess) metric(t *testing.T, name string) float64 {
	t.Helper()
	resp, err := http.Get(p.metricsURL)
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if err != nil {
		return -1
	}
	return sumSamples(t, b)[name]
}

// stop ends the controller with SIGTERM and waits for it to exit.
func (p *bitnamiProcess) stop() {
	if p.stopped {
		return
	}
	p.stopped = true
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
}

// bitnamiServiceAccount writes what a pod finds at
// /var/run/secrets/kubernetes.io/serviceaccount: a token of a service
// account in namespace bound to cluster-admin, the API server's CA and the
// namespace.
func bitnamiServiceAccount(t *testing.T, namespace string) string {
	t.Helper()
	cs, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	sa := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "sealed-secrets-controller", Namespace: namespace}}
	if err := env.Client.Create(ctx, sa); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	crb := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "e2e-sealed-secrets-" + namespace},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: sa.Name, Namespace: namespace}},
	}
	if err := env.Client.Create(ctx, crb); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	ttl := int64(3600)
	tok, err := cs.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, sa.Name,
		&authv1.TokenRequest{Spec: authv1.TokenRequestSpec{ExpirationSeconds: &ttl}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("service account token: %v", err)
	}
	dir := t.TempDir()
	for name, data := range map[string][]byte{"token": []byte(tok.Status.Token), "ca.crt": env.Config.CAData, "namespace": []byte(namespace)} {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}
