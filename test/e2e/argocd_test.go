package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sops"
	"github.com/kseal-dev/kseal/crypto/sops/sopstest"
	"github.com/kseal-dev/kseal/internal/argocdplugin"
	"github.com/kseal-dev/kseal/test/envtestenv"
)

// cmpCommand is the generate command of config/argocd/plugin.yaml, as the
// CMP server runs it: command followed by args.
func cmpCommand(t testing.TB) []string {
	t.Helper()
	root, err := envtestenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	cmd, err := argocdplugin.Generate(root)
	if err != nil {
		t.Fatal(err)
	}
	return cmd
}

// buildKsealBinary builds cmd/kseal into a directory to put on PATH, as the
// sidecar image has it.
func buildKsealBinary(t testing.TB) string {
	t.Helper()
	root, err := envtestenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	cmd := exec.Command("go", "build", "-o", filepath.Join(dir, "kseal"), "./cmd/kseal")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("go build ./cmd/kseal: %v\n%s", err, out)
	}
	return dir
}

// cmpRun runs the plugin's generate command the way argocd-cmp-server
// does: in the Application's directory inside a fresh copy of the
// repository under the server's work directory (_cmp_server in its temp
// directory), with the sidecar's environment followed by the build
// environment the repo-server sends (ARGOCD_APP_*, KUBE_*), the plugin's
// env prefixed ARGOCD_ENV_, and the parameters as ARGOCD_APP_PARAMETERS
// and PARAM_<NAME>.
func cmpRun(t testing.TB, command []string, repo map[string][]byte, appPath string, sidecarEnv, requestEnv []string) (stdout, stderr []byte, err error) {
	t.Helper()
	workDir := filepath.Join(t.TempDir(), "_cmp_server", "4e8c2f1a-0b7d-4d35-9a61-2f0c8e5b7d13")
	writeTree(t, workDir, repo)
	cmd := exec.Command(command[0], command[1:]...)
	cmd.Dir = filepath.Join(workDir, appPath)
	cmd.Env = append(append([]string{}, sidecarEnv...), requestEnv...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	return out.Bytes(), errOut.Bytes(), err
}

// TestArgoCDPlugin_cmpEnvironment runs the generate command of
// config/argocd/plugin.yaml with the real kseal binary, in the directory
// layout and with the environment argocd-cmp-server gives it, against the
// API server and the kseal controller: a plain Application (manifests with
// the decrypted Secret on stdout), one with reseal=true (SealedSecrets only,
// which the controller unseals), one with the keys from $KSEAL_AGE_KEY
// exported as config/argocd/README.md says, and one whose file no key opens
// (exit status non-zero, nothing on stdout, the reason on stderr).
func TestArgoCDPlugin_cmpEnvironment(t *testing.T) {
	c := startController(t, controllers.Options{})
	defer c.stop()
	cert, err := keys.ParseCertificate(fetchCert(t, c), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	command, bin := cmpCommand(t), buildKsealBinary(t)
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.Environment.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	// The sidecar reads the controller's keys with its service account; here
	// the kubeconfig stands in for it.
	sidecar := []string{"PATH=" + bin + ":/usr/local/bin:/usr/bin:/bin", "HOME=" + t.TempDir(), "KUBECONFIG=" + kubeconfig}
	other, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	encrypt := func(to, value string) []byte {
		return sopstest.MustEncrypt([]byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: "+value+"\n"),
			sops.FormatYAML, sopstest.Options{Recipients: []string{to}, EncryptedRegex: sopstest.SecretsOnly, MACOnlyEncrypted: true})
	}
	repo := func(doc []byte) map[string][]byte {
		return map[string][]byte{
			"apps/shop/kustomization.yaml": []byte("resources:\n- config.yaml\n- db.enc.yaml\n"),
			"apps/shop/config.yaml":        []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  mode: prod\n"),
			"apps/shop/db.enc.yaml":        doc,
			"README.md":                    []byte("shop\n"),
		}
	}
	cases := []struct {
		name, value string
		to          string
		params      map[string]string
		extraEnv    []string
		wantErr     bool
	}{
		{name: "plain", value: canary("cmp-plain"), to: sopsRecipient(t, cert)},
		{name: "reseal", value: canary("cmp-reseal"), to: sopsRecipient(t, cert),
			params: map[string]string{"reseal": "true", "cert": c.apiURL + "/v1/cert.pem"}},
		{name: "agekey", value: canary("cmp-agekey"), to: sopsRecipient(t, cert),
			extraEnv: []string{"KSEAL_AGE_KEY=" + string(clusterSopsIdentities(t))}},
		{name: "unopenable", value: canary("cmp-other"), to: other.Recipient().String(), wantErr: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			ns := newNamespace(t, "cmp-"+tc.name)
			request := cmpRequestEnv(t, "shop", ns, "apps/shop", tc.params)
			stdout, stderr, err := cmpRun(t, command, repo(encrypt(tc.to, tc.value)), "apps/shop",
				append(append([]string{}, sidecar...), tc.extraEnv...), request)
			if bytes.Contains(stderr, []byte(tc.value)) || (tc.params["reseal"] == "true" || tc.wantErr) && bytes.Contains(stdout, []byte(tc.value)) {
				t.Fatal("plaintext in the plugin's output")
			}
			if tc.wantErr {
				if err == nil || len(stdout) != 0 || !strings.Contains(string(stderr), "no identity held opens it") {
					t.Fatalf("err=%v, %d bytes on stdout, stderr:\n%s", err, len(stdout), stderr)
				}
				return
			}
			if err != nil {
				t.Fatalf("generate: %v\n%s", err, stderr)
			}
			kinds := applyInNamespace(t, stdout, ns)
			if tc.name == "reseal" {
				if kinds["Secret"] != 0 || kinds["SealedSecret"] != 1 {
					t.Fatalf("reseal output kinds %v", kinds)
				}
				readyCondition(t, ns, "db", metav1.ConditionTrue)
			} else if kinds["Secret"] != 1 {
				t.Fatalf("output kinds %v", kinds)
			}
			if s := getSecret(t, ns, "db"); s == nil || string(s.Data["password"]) != tc.value {
				t.Fatal("Secret db missing or with the wrong value")
			}
		})
	}
}

// cmpRequestEnv is the environment the repo-server sends with a
// GenerateManifest request (Argo CD's build environment), with plugin env
// FOO=bar and the Application's parameters.
func cmpRequestEnv(t testing.TB, app, ns, path string, params map[string]string) []string {
	t.Helper()
	rev := strings.Repeat("3f9a", 10)
	out := []string{
		"ARGOCD_APP_NAME=" + app, "ARGOCD_APP_NAMESPACE=" + ns, "ARGOCD_APP_PROJECT_NAME=default",
		"ARGOCD_APP_REVISION=" + rev, "ARGOCD_APP_REVISION_SHORT=" + rev[:7], "ARGOCD_APP_REVISION_SHORT_8=" + rev[:8],
		"ARGOCD_APP_SOURCE_REPO_URL=https://git.example.invalid/shop.git", "ARGOCD_APP_SOURCE_PATH=" + path,
		"ARGOCD_APP_SOURCE_TARGET_REVISION=main", "KUBE_VERSION=1.37", "KUBE_API_VERSIONS=v1,apps/v1,kseal.dev/v1alpha1",
		"ARGOCD_ENV_FOO=bar",
	}
	var announced []map[string]string
	for _, name := range []string{"reseal", "cert"} {
		if v, ok := params[name]; ok {
			announced = append(announced, map[string]string{"name": name, "string": v})
			out = append(out, "PARAM_"+strings.ToUpper(name)+"="+v)
		}
	}
	if len(announced) > 0 {
		b, err := json.Marshal(announced)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, "ARGOCD_APP_PARAMETERS="+string(b))
	}
	return out
}

// applyInNamespace creates every object of a YAML stream in ns, as Argo CD
// applies an Application's manifests to its destination namespace, and
// counts them by kind.
func applyInNamespace(t testing.TB, stream []byte, ns string) map[string]int {
	t.Helper()
	kinds := map[string]int{}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(stream), 4096)
	for {
		var raw map[string]any
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				return kinds
			}
			t.Fatal(err)
		}
		if raw == nil {
			continue
		}
		u := &unstructured.Unstructured{Object: raw}
		if u.GetNamespace() == "" {
			u.SetNamespace(ns)
		}
		if err := env.Client.Create(ctx, u); err != nil {
			t.Fatalf("apply %s %s: %v", u.GetKind(), u.GetName(), err)
		}
		kinds[u.GetKind()]++
	}
}
