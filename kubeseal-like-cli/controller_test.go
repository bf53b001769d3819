package cli_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/crypto/sealing"
	"github.com/kseal-dev/kseal/httpapi"
	cli "github.com/kseal-dev/kseal/kubeseal-like-cli"
)

var (
	ctlGensOnce sync.Once
	ctlGens     []*keys.Generation
	ctlGensErr  error
)

// controllerGenerations returns the test cluster's key generations, oldest
// first, a day apart: the key at start and the key after a renewal.
func controllerGenerations() ([]*keys.Generation, error) {
	ctlGensOnce.Do(func() {
		base := time.Now().Add(-72 * time.Hour)
		for i, name := range []string{"kseal-key-old", "kseal-key-new"} {
			g, err := keys.Generate(keys.GenerateOptions{Name: name, RSABits: 2048, Now: base.Add(time.Duration(i) * 24 * time.Hour)})
			if err != nil {
				ctlGensErr = err
				return
			}
			ctlGens = append(ctlGens, g)
		}
	})
	return ctlGens, ctlGensErr
}

// testController serves the real controller API over HTTP. It starts with
// the old key generation; renew adds the new one, as the key manager does.
type testController struct {
	URL  string
	srv  *httptest.Server
	gens []*keys.Generation
	keys atomic.Pointer[keys.Set]
}

func (c *testController) Keyring() *sealing.Keyring { return c.keys.Load().Keyring() }
func (c *testController) Newest() *keys.Generation  { return c.keys.Load().Newest() }

var _ keys.Source = &testController{}

func startController(opts httpapi.Options) (*testController, error) {
	gens, err := controllerGenerations()
	if err != nil {
		return nil, err
	}
	c := &testController{gens: gens}
	c.keys.Store(keys.NewSet(gens[0]))
	c.srv = httptest.NewServer(httpapi.NewHandler(c, opts))
	c.URL = c.srv.URL
	return c, nil
}

// renew makes the new generation the newest, keeping the old one.
func (c *testController) renew() { c.keys.Store(keys.NewSet(c.gens...)) }

func (c *testController) old() *keys.Generation     { return c.gens[0] }
func (c *testController) renewed() *keys.Generation { return c.gens[1] }

// writeKeys writes old-key.yaml and new-key.yaml (key Secrets for kseal
// unseal --recovery-private-key) into dir.
func (c *testController) writeKeys(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for name, g := range map[string]*keys.Generation{"old-key.yaml": c.old(), "new-key.yaml": c.renewed()} {
		b, err := sealedsecret.Encode("yaml", g.Secret(cli.DefaultControllerNamespace))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return err
		}
	}
	return nil
}

func newTestController(t *testing.T, opts httpapi.Options) *testController {
	t.Helper()
	c, err := startController(opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.srv.Close)
	return c
}

type scriptControllerKey struct{}

// setupScriptController gives a script its own controller at
// $CONTROLLER_URL.
func setupScriptController(env *testscript.Env) error {
	c, err := startController(httpapi.Options{})
	if err != nil {
		return err
	}
	env.Defer(c.srv.Close)
	env.Setenv("CONTROLLER_URL", c.URL)
	env.Values[scriptControllerKey{}] = c
	return nil
}

// scriptCommands are the testscript commands that drive the controller:
//
//	controller renew      add the new key generation
//	controller keys DIR   write old-key.yaml and new-key.yaml into DIR
//	controller stop       stop serving
var scriptCommands = map[string]func(ts *testscript.TestScript, neg bool, args []string){
	"controller": func(ts *testscript.TestScript, neg bool, args []string) {
		if neg || len(args) == 0 {
			ts.Fatalf("usage: controller renew | keys DIR | stop")
		}
		c := ts.Value(scriptControllerKey{}).(*testController)
		switch args[0] {
		case "renew":
			c.renew()
		case "keys":
			if len(args) != 2 {
				ts.Fatalf("usage: controller keys DIR")
			}
			ts.Check(c.writeKeys(ts.MkAbs(args[1])))
		case "stop":
			c.srv.Close()
		default:
			ts.Fatalf("unknown controller command %q", args[0])
		}
	},
}

// ksealRun runs the CLI in this process.
func ksealRun(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = cli.Main(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), code
}

// clearCertEnv keeps the developer's environment out of the tests.
func clearCertEnv(t *testing.T) {
	t.Setenv("KSEAL_CERT", "")
	t.Setenv("SEALED_SECRETS_CERT", "")
	t.Setenv("KUBECONFIG", filepath.Join(t.TempDir(), "no-kubeconfig"))
}

// TestController_serviceProxy checks that without --controller-url the CLI
// reaches the controller through the API server's service proxy, with the
// kubeconfig's credentials and context.
func TestController_serviceProxy(t *testing.T) {
	clearCertEnv(t)
	c := newTestController(t, httpapi.Options{})
	api := httpapi.NewHandler(c, httpapi.Options{})
	var paths []string
	var mu sync.Mutex
	// The kubeconfig's credentials are sent over TLS only.
	apiserver := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		paths = append(paths, r.Method+" "+r.URL.EscapedPath())
		mu.Unlock()
		if r.Header.Get("Authorization") != "Bearer test-token" {
			w.WriteHeader(http.StatusUnauthorized)
			fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"Unauthorized","code":401}`)
			return
		}
		prefix := "/api/v1/namespaces/kseal-system/services/http:kseal-controller:http/proxy"
		if !strings.HasPrefix(r.URL.Path, prefix+"/") {
			w.WriteHeader(http.StatusNotFound)
			fmt.Fprint(w, `{"kind":"Status","apiVersion":"v1","status":"Failure","message":"services \"x\" not found","reason":"NotFound","code":404}`)
			return
		}
		r.URL.Path = strings.TrimPrefix(r.URL.Path, prefix)
		r.URL.RawPath = ""
		api.ServeHTTP(w, r)
	}))
	defer apiserver.Close()

	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	err := os.WriteFile(kubeconfig, fmt.Appendf(nil, `apiVersion: v1
kind: Config
clusters:
- name: test
  cluster:
    server: %s
    certificate-authority-data: %s
users:
- name: good
  user:
    token: test-token
- name: bad
  user:
    token: wrong
contexts:
- name: test
  context: {cluster: test, user: good}
- name: other
  context: {cluster: test, user: bad}
current-context: test
`, apiserver.URL, base64.StdEncoding.EncodeToString(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: apiserver.Certificate().Raw}))), 0o600)
	if err != nil {
		t.Fatal(err)
	}

	out, errOut, code := ksealRun(t, "", "cert", "fetch", "--kubeconfig", kubeconfig)
	if code != 0 || out != string(c.old().CertificatePEM) {
		t.Fatalf("cert fetch: exit %d, stderr %s", code, errOut)
	}
	mu.Lock()
	if want := "GET /api/v1/namespaces/kseal-system/services/http:kseal-controller:http/proxy/v1/cert.pem"; len(paths) != 1 || paths[0] != want {
		t.Errorf("requests %v, want [%s]", paths, want)
	}
	mu.Unlock()

	// KUBECONFIG is honoured, and seal fetches the certificate the same way.
	t.Setenv("KUBECONFIG", kubeconfig)
	out, errOut, code = ksealRun(t, secretYAML, "seal")
	if code != 0 || !strings.Contains(out, "kind: SealedSecret") {
		t.Fatalf("seal: exit %d, stderr %s", code, errOut)
	}
	out, errOut, code = ksealRun(t, out, "validate")
	if code != 0 || out != "ok: stdin: prod/db\n" {
		t.Fatalf("validate: exit %d, stdout %q, stderr %s", code, out, errOut)
	}

	_, errOut, code = ksealRun(t, "", "cert", "fetch", "--context", "other")
	if code != 1 || !strings.Contains(errOut, "Unauthorized (HTTP 401)") || !strings.Contains(errOut, "hint: the kubeconfig user needs get and create on services/proxy") {
		t.Errorf("--context other: exit %d, stderr %s", code, errOut)
	}
	_, errOut, code = ksealRun(t, "", "cert", "fetch", "--controller-namespace", "elsewhere")
	if code != 1 || !strings.Contains(errOut, "hint: is the controller installed? check --controller-namespace (elsewhere)") {
		t.Errorf("--controller-namespace elsewhere: exit %d, stderr %s", code, errOut)
	}
	_, errOut, code = ksealRun(t, "", "cert", "fetch", "--context", "missing")
	if code != 1 || !strings.Contains(errOut, "error: kubeconfig: ") {
		t.Errorf("--context missing: exit %d, stderr %s", code, errOut)
	}
}

const secretYAML = `apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: prod
stringData:
  password: hunter2-but-longer
`

func TestSeal_controllerUnreachable(t *testing.T) {
	clearCertEnv(t)
	c := newTestController(t, httpapi.Options{})
	c.srv.Close()
	_, errOut, code := ksealRun(t, secretYAML, "seal", "--controller-url", c.URL)
	if code != 1 {
		t.Fatalf("exit %d", code)
	}
	for _, want := range []string{"error: fetch the certificate from the controller at " + c.URL, "hint: ", "--controller-url", "--cert cert.pem"} {
		if !strings.Contains(errOut, want) {
			t.Errorf("stderr does not contain %q:\n%s", want, errOut)
		}
	}

	// Without a kubeconfig or --controller-url: the offline advice.
	_, errOut, code = ksealRun(t, secretYAML, "seal")
	if code != 1 || !strings.HasPrefix(errOut, "error: no certificate") || !strings.Contains(errOut, "\nhint: get cert.pem from the controller") {
		t.Errorf("exit %d, stderr:\n%s", code, errOut)
	}
}
