package chart

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	authenticationv1 "k8s.io/api/authentication/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/test/envtestenv"
)

var (
	// env is the API server (RBAC authorization, as envtest starts it), or
	// nil when its binaries are missing and the cluster tests skip.
	env    *envtestenv.Env
	envErr error
	// controllerBin is kseal-controller built from this checkout.
	controllerBin string
	tmpDir        string
)

var ctx = context.Background()

func TestMain(m *testing.M) {
	log.SetLogger(logr.Discard())
	code := func() int {
		dir, err := os.MkdirTemp("", "kseal-chart-test-")
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return 1
		}
		tmpDir = dir
		defer os.RemoveAll(dir)
		defer func() {
			vaultStop()
			if err := env.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, err)
			}
		}()
		return m.Run()
	}()
	os.Exit(code)
}

var startOnce sync.Once

// cluster starts the API server and builds the controller on first use; it
// skips the test when the envtest binaries are missing (and make test has
// not asked for them with KSEAL_REQUIRE_TOOLS).
func cluster(t testing.TB) *envtestenv.Env {
	t.Helper()
	startOnce.Do(func() {
		env, envErr = envtestenv.Start(v1alpha1.AddToScheme)
		if envErr != nil {
			return
		}
		controllerBin = filepath.Join(tmpDir, "kseal-controller")
		gobin := filepath.Join(runtime.GOROOT(), "bin", "go")
		out, err := exec.Command(gobin, "build", "-o", controllerBin, "../../cmd/kseal-controller").CombinedOutput()
		if err != nil {
			envErr = fmt.Errorf("building kseal-controller: %v\n%s", err, out)
		}
	})
	if envErr != nil {
		if errors.Is(envErr, envtestenv.ErrBinariesNotFound) && os.Getenv("KSEAL_REQUIRE_TOOLS") == "" {
			t.Skip(envErr)
		}
		t.Fatal(envErr)
	}
	return env
}

// ensureNamespace creates a namespace unless it exists.
func ensureNamespace(t testing.TB, name string) {
	t.Helper()
	err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
}

// applyAll applies objects server-side with strict field validation, as
// `kubectl apply --server-side --validate=strict` does, and deletes them
// (all but namespaces and CRDs) when the test ends. Objects of a kind the
// API server does not serve are returned instead of applied.
func applyAll(t testing.TB, owner string, objs []*unstructured.Unstructured) (notServed []*unstructured.Unstructured) {
	t.Helper()
	for _, o := range objs {
		o = o.DeepCopy()
		if _, err := env.Client.RESTMapper().RESTMapping(o.GroupVersionKind().GroupKind(), o.GroupVersionKind().Version); err != nil {
			notServed = append(notServed, o)
			continue
		}
		if err := env.Client.Patch(ctx, o, client.Apply, client.FieldOwner(owner), client.FieldValidation("Strict")); err != nil { //nolint:staticcheck // client.Apply takes unstructured objects as they are
			t.Fatalf("applying %s %s/%s: %v", o.GetKind(), o.GetNamespace(), o.GetName(), err)
		}
		if o.GetKind() == "Namespace" || o.GetKind() == "CustomResourceDefinition" {
			continue
		}
		t.Cleanup(func() {
			if err := env.Client.Delete(ctx, o); err != nil && !apierrors.IsNotFound(err) {
				t.Errorf("deleting %s %s: %v", o.GetKind(), o.GetName(), err)
			}
		})
	}
	return notServed
}

// freeAddr returns a free loopback address.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// tokenKubeconfig writes a kubeconfig that authenticates as the service
// account with a token from the TokenRequest API, as a pod's projected
// token would.
func tokenKubeconfig(t testing.TB, namespace, sa string) string {
	t.Helper()
	token, err := requestToken(namespace, sa)
	if err != nil {
		t.Fatalf("TokenRequest for %s/%s: %v", namespace, sa, err)
	}
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["envtest"] = &clientcmdapi.Cluster{Server: env.Config.Host, CertificateAuthorityData: env.Config.CAData}
	cfg.AuthInfos["sa"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["sa"] = &clientcmdapi.Context{Cluster: "envtest", AuthInfo: "sa"}
	cfg.CurrentContext = "sa"
	path := filepath.Join(t.TempDir(), "kubeconfig")
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
	return path
}

// requestToken returns a one-hour token of the service account from the
// TokenRequest API.
func requestToken(namespace, sa string) (string, error) {
	kube, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		return "", err
	}
	exp := int64(3600)
	tok, err := kube.CoreV1().ServiceAccounts(namespace).CreateToken(ctx, sa, &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		return "", err
	}
	return tok.Status.Token, nil
}

// process is a running kseal-controller.
type process struct {
	apiURL, healthURL, metricsURL string
	log                           *bytes.Buffer
	cmd                           *exec.Cmd
}

// startAs runs the built controller with the container args and env of a
// rendered Deployment, authenticated as the service account the Deployment
// names. The listen addresses are moved to free loopback ports (several
// tests share the machine); extra flags are appended.
func startAs(t testing.TB, deploy *unstructured.Unstructured, extra ...string) *process {
	t.Helper()
	ns := deploy.GetNamespace()
	sa, _, _ := unstructured.NestedString(deploy.Object, "spec", "template", "spec", "serviceAccountName")
	containers, _, _ := unstructured.NestedSlice(deploy.Object, "spec", "template", "spec", "containers")
	argList, _, _ := unstructured.NestedStringSlice(containers[0].(map[string]any), "args")
	api, metrics, health := freeAddr(t), freeAddr(t), freeAddr(t)
	var args []string
	for _, a := range argList {
		name, _, _ := strings.Cut(a, "=")
		switch name {
		case "--listen-addr", "--metrics-bind-address", "--health-probe-bind-address":
			continue
		}
		args = append(args, strings.ReplaceAll(a, "$(POD_NAMESPACE)", ns))
	}
	args = append(args, "--listen-addr="+api, "--metrics-bind-address="+metrics, "--health-probe-bind-address="+health,
		"--kubeconfig="+tokenKubeconfig(t, ns, sa))
	args = append(args, extra...)
	cmd := exec.Command(controllerBin, args...)
	cmd.Env = []string{"POD_NAMESPACE=" + ns, "HOME=" + t.TempDir()}
	p := &process{apiURL: "http://" + api, healthURL: "http://" + health, metricsURL: "http://" + metrics + "/metrics", log: &bytes.Buffer{}, cmd: cmd}
	cmd.Stdout, cmd.Stderr = p.log, p.log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		if t.Failed() {
			t.Logf("controller log:\n%s", tail(p.log.String(), 60))
		}
		// The next controller need not wait for this one's lease to expire.
		lease := &coordinationv1.Lease{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "kseal-controller.kseal.dev"}}
		_ = env.Client.Delete(ctx, lease)
	})
	return p
}

func tail(s string, lines int) string {
	l := strings.Split(s, "\n")
	if len(l) > lines {
		l = l[len(l)-lines:]
	}
	return strings.Join(l, "\n")
}

// poll calls cond until it returns true or the timeout passes; the error
// says what was waited for and the last error cond returned.
func poll(timeout time.Duration, what string, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		ok, err := cond()
		if ok {
			return nil
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s: not within %v (last error: %v)", what, timeout, last)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// httpGet returns the body of a 200 answer.
func httpGet(url string) ([]byte, error) {
	resp, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	if _, err := b.ReadFrom(resp.Body); err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s: %s", url, resp.Status, strings.TrimSpace(b.String()))
	}
	return b.Bytes(), nil
}
