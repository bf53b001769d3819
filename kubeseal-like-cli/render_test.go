package cli_test

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"filippo.io/age"
	"sigs.k8s.io/yaml"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/crypto/sops"
	"github.com/kseal-dev/kseal/crypto/sops/sopstest"
	cli "github.com/kseal-dev/kseal/kubeseal-like-cli"
)

// isolateEnv clears the variables that give kseal or sops keys and
// certificates, so the developer's environment never reaches a test.
func isolateEnv(t *testing.T) {
	t.Helper()
	for _, v := range []string{cli.EnvAgeKey, "KSEAL_CERT", "SEALED_SECRETS_CERT", "SOPS_AGE_KEY", "SOPS_AGE_KEY_FILE", "KUBECONFIG"} {
		t.Setenv(v, "")
	}
}

// runCLI runs kseal in this process.
func runCLI(t *testing.T, stdin string, args ...string) (stdout, stderr string, code int) {
	t.Helper()
	var out, errOut bytes.Buffer
	code = cli.Main(context.Background(), args, strings.NewReader(stdin), &out, &errOut)
	return out.String(), errOut.String(), code
}

// writeFiles writes files (path relative to dir → content) under dir.
func writeFiles(t *testing.T, dir string, files map[string]string) {
	t.Helper()
	for name, content := range files {
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func sopsEncrypt(t *testing.T, plain string, f sops.Format, opts sopstest.Options) string {
	t.Helper()
	out, err := sopstest.Encrypt([]byte(plain), f, opts)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(out, []byte("pw-")) {
		t.Fatalf("fixture not encrypted:\n%s", out)
	}
	return string(out)
}

// splitDocs splits a YAML stream into objects.
func splitDocs(t *testing.T, stream string) []map[string]any {
	t.Helper()
	var out []map[string]any
	for _, d := range strings.Split(stream, "\n---\n") {
		if strings.TrimSpace(d) == "" {
			continue
		}
		var m map[string]any
		if err := yaml.Unmarshal([]byte(d), &m); err != nil {
			t.Fatalf("output document does not parse: %v\n%s", err, d)
		}
		out = append(out, m)
	}
	return out
}

// findObject returns the object of kind with name, or fails.
func findObject(t *testing.T, objs []map[string]any, kind, name string) map[string]any {
	t.Helper()
	for _, o := range objs {
		md, _ := o["metadata"].(map[string]any)
		if o["kind"] == kind && md["name"] == name {
			return o
		}
	}
	t.Fatalf("no %s %s in output", kind, name)
	return nil
}

func objField(o map[string]any, path ...string) any {
	var v any = o
	for _, p := range path {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = m[p]
	}
	return v
}

// clusterKeys are the key generations of the test clusters: "prod" is a
// kseal key generation (its age identity is post-quantum), "dev" has a
// post-quantum and an X25519 identity.
type clusterKeys struct {
	prod   *keys.Generation
	devPQ  *age.HybridIdentity
	devX25 *age.X25519Identity
}

var (
	testKeysOnce sync.Once
	testKeys     clusterKeys
	testKeysErr  error
)

func renderKeys(t *testing.T) clusterKeys {
	t.Helper()
	testKeysOnce.Do(func() {
		testKeys.prod, testKeysErr = keys.Generate(keys.GenerateOptions{Name: "kseal-key-prod", RSABits: 2048, Now: time.Now().Add(-time.Hour)})
		if testKeysErr != nil {
			return
		}
		if testKeys.devPQ, testKeysErr = age.GenerateHybridIdentity(); testKeysErr != nil {
			return
		}
		testKeys.devX25, testKeysErr = age.GenerateX25519Identity()
	})
	if testKeysErr != nil {
		t.Fatal(testKeysErr)
	}
	return testKeys
}

// envTree lays out one kustomize tree per environment: a base with a plain
// ConfigMap and a Secret shared by both clusters, and overlays/prod and
// overlays/dev each with its own SOPS-encrypted Secret. prod also generates
// a Secret from a SOPS-encrypted dotenv file (Flux-style data value).
func envTree(t *testing.T, k clusterKeys) string {
	t.Helper()
	dir := t.TempDir()
	prodR := k.prod.Sops.Recipient().String()
	devR := k.devPQ.Recipient().String()
	// The shared Secret is patched by each overlay's namespace, so its MAC
	// covers only the encrypted values.
	shared := sopsEncrypt(t, `apiVersion: v1
kind: Secret
metadata:
  name: shared
  labels:
    app: shop
stringData:
  token: pw-shared-token
`, sops.FormatYAML, sopstest.Options{Recipients: []string{prodR, devR}, EncryptedRegex: sopstest.SecretsOnly, MACOnlyEncrypted: true})
	prodDB := sopsEncrypt(t, `apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: prod
  annotations:
    kseal.dev/scope: namespace-wide
type: Opaque
data:
  password: `+base64.StdEncoding.EncodeToString([]byte("pw-prod-db"))+`
`, sops.FormatYAML, sopstest.Options{Recipients: []string{prodR}, EncryptedRegex: sopstest.SecretsOnly})
	devDB := sopsEncrypt(t, `apiVersion: v1
kind: Secret
metadata:
  name: db
  namespace: dev
stringData:
  password: pw-dev-db
`, sops.FormatYAML, sopstest.Options{Recipients: []string{k.devX25.Recipient().String()}, EncryptedRegex: sopstest.SecretsOnly})
	apiEnv := sopsEncrypt(t, "API_KEY=pw-prod-api\nAPI_URL=https://api.example\n", sops.FormatDotenv, sopstest.Options{Recipients: []string{prodR}})
	// Generated with envs: each line becomes a data entry, in sorted order.
	settingsEnv := sopsEncrypt(t, "ZONE=eu-1\nDB_PASSWORD=pw-prod-settings\n", sops.FormatDotenv, sopstest.Options{Recipients: []string{prodR}})
	writeFiles(t, dir, map[string]string{
		"base/kustomization.yaml": "resources:\n- app-config.yaml\n- shared.enc.yaml\n",
		"base/app-config.yaml":    "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-config\ndata:\n  mode: normal\n",
		"base/shared.enc.yaml":    shared,
		"overlays/prod/kustomization.yaml": `namespace: prod
resources:
- ../../base
- db.enc.yaml
secretGenerator:
- name: api
  files:
  - config.env=api.enc.env
  options:
    disableNameSuffixHash: true
- name: settings
  envs:
  - settings.enc.env
  options:
    disableNameSuffixHash: true
`,
		"overlays/prod/settings.enc.env":  settingsEnv,
		"overlays/prod/db.enc.yaml":       prodDB,
		"overlays/prod/api.enc.env":       apiEnv,
		"overlays/dev/kustomization.yaml": "namespace: dev\nresources:\n- ../../base\n- db.enc.yaml\n",
		"overlays/dev/db.enc.yaml":        devDB,
		"overlays/prod/.sops.yaml":        "creation_rules:\n- age: " + prodR + "\n",
		"keys/dev.txt":                    "# dev cluster\n" + k.devPQ.String() + "\n" + k.devX25.String() + "\n",
		"keys/prod-key-secret.yaml":       string(mustEncode(t, k.prod.Secret(cli.DefaultControllerNamespace))),
		"keys/cert.pem":                   string(k.prod.CertificatePEM),
	})
	return dir
}

func mustEncode(t *testing.T, obj any) []byte {
	t.Helper()
	b, err := sealedsecret.Encode("yaml", obj)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestRender_overlays(t *testing.T) {
	isolateEnv(t)
	k := renderKeys(t)
	dir := envTree(t, k)

	out, stderr, code := runCLI(t, "", "render", filepath.Join(dir, "overlays/prod"), "--age-key-file", filepath.Join(dir, "keys/prod-key-secret.yaml"))
	if code != 0 {
		t.Fatalf("render prod: exit %d: %s", code, stderr)
	}
	if strings.Contains(out, "sops:") || strings.Contains(out, "ENC[") {
		t.Errorf("SOPS data left in the output:\n%s", out)
	}
	objs := splitDocs(t, out)
	if len(objs) != 5 {
		t.Fatalf("got %d objects, want 5:\n%s", len(objs), out)
	}
	if got := objField(findObject(t, objs, "ConfigMap", "app-config"), "data", "mode"); got != "normal" {
		t.Errorf("ConfigMap changed: mode = %v", got)
	}
	shared := findObject(t, objs, "Secret", "shared")
	if objField(shared, "stringData", "token") != "pw-shared-token" || objField(shared, "metadata", "namespace") != "prod" || objField(shared, "metadata", "labels", "app") != "shop" {
		t.Errorf("shared Secret: %v", shared)
	}
	db := findObject(t, objs, "Secret", "db")
	if got := objField(db, "data", "password"); got != base64.StdEncoding.EncodeToString([]byte("pw-prod-db")) {
		t.Errorf("db password = %v", got)
	}
	api := findObject(t, objs, "Secret", "api")
	env, _ := base64.StdEncoding.DecodeString(objField(api, "data", "config.env").(string))
	if string(env) != "API_KEY=pw-prod-api\nAPI_URL=https://api.example\n" {
		t.Errorf("api config.env = %q", env)
	}
	settings := objField(findObject(t, objs, "Secret", "settings"), "data").(map[string]any)
	if len(settings) != 2 || settings["DB_PASSWORD"] != base64.StdEncoding.EncodeToString([]byte("pw-prod-settings")) || settings["ZONE"] != base64.StdEncoding.EncodeToString([]byte("eu-1")) {
		t.Errorf("settings data = %v", settings)
	}

	// dev decrypts with its own identities from $KSEAL_AGE_KEY.
	devKeys, err := os.ReadFile(filepath.Join(dir, "keys/dev.txt"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(cli.EnvAgeKey, string(devKeys))
	out, stderr, code = runCLI(t, "", "render", filepath.Join(dir, "overlays/dev"))
	if code != 0 {
		t.Fatalf("render dev: exit %d: %s", code, stderr)
	}
	objs = splitDocs(t, out)
	if got := objField(findObject(t, objs, "Secret", "db"), "stringData", "password"); got != "pw-dev-db" {
		t.Errorf("dev db password = %v", got)
	}
	if got := objField(findObject(t, objs, "Secret", "shared"), "metadata", "namespace"); got != "dev" {
		t.Errorf("dev shared namespace = %v", got)
	}
}

func TestRender_wrongKeyPrintsNothing(t *testing.T) {
	isolateEnv(t)
	k := renderKeys(t)
	dir := envTree(t, k)
	// The prod key opens the shared Secret but not dev's own.
	out, stderr, code := runCLI(t, "", "render", filepath.Join(dir, "overlays/dev"), "--age-key-file", filepath.Join(dir, "keys/prod-key-secret.yaml"))
	if code == 0 || out != "" {
		t.Fatalf("exit %d, stdout %q; want a failure and no output", code, out)
	}
	for _, want := range []string{filepath.Join("overlays", "dev", "db.enc.yaml") + ": no identity held opens it", k.devX25.Recipient().String(), k.prod.Sops.Recipient().String()[:23], "hint: encrypt to this cluster's SOPS recipient"} {
		if !strings.Contains(stderr, want) {
			t.Errorf("stderr lacks %q:\n%s", want, stderr)
		}
	}
	if strings.Contains(stderr, "pw-") {
		t.Errorf("stderr holds a value:\n%s", stderr)
	}

	// No identity at all: told how to give one.
	out, stderr, code = runCLI(t, "", "render", filepath.Join(dir, "overlays/dev"))
	if code == 0 || out != "" || !strings.Contains(stderr, "SOPS-encrypted: no age identity") || !strings.Contains(stderr, "hint: pass --age-key-file FILE, set $KSEAL_AGE_KEY") {
		t.Errorf("without identities: exit %d, stdout %q, stderr:\n%s", code, out, stderr)
	}
}

func TestRender_macMismatch(t *testing.T) {
	isolateEnv(t)
	k := renderKeys(t)
	dir := t.TempDir()
	// The MAC covers every value. kustomize sorts the keys and moves the
	// Secret into a namespace, which is fine: kseal checks the MAC on the
	// file as committed. Editing the file without sops is not.
	secret := sopsEncrypt(t, "kind: Secret\napiVersion: v1\nmetadata:\n  name: s\nstringData:\n  b: pw-b\n  a: pw-a\n", sops.FormatYAML,
		sopstest.Options{Recipients: []string{k.devX25.Recipient().String()}, EncryptedRegex: sopstest.SecretsOnly})
	writeFiles(t, dir, map[string]string{
		"ok/kustomization.yaml":       "namespace: staging\nresources:\n- s.enc.yaml\n",
		"ok/s.enc.yaml":               secret,
		"tampered/kustomization.yaml": "namespace: staging\nresources:\n- s.enc.yaml\n",
		"tampered/s.enc.yaml":         strings.Replace(secret, "name: s", "name: other", 1),
		"key.txt":                     k.devX25.String() + "\n",
	})
	key := filepath.Join(dir, "key.txt")
	out, stderr, code := runCLI(t, "", "render", filepath.Join(dir, "ok"), "--age-key-file", key)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	s := findObject(t, splitDocs(t, out), "Secret", "s")
	if objField(s, "stringData", "a") != "pw-a" || objField(s, "metadata", "namespace") != "staging" {
		t.Errorf("Secret s: %v", s)
	}

	out, stderr, code = runCLI(t, "", "render", filepath.Join(dir, "tampered"), "--age-key-file", key)
	if code == 0 || out != "" || !strings.Contains(stderr, filepath.Join("tampered", "s.enc.yaml")+": MAC mismatch") || !strings.Contains(stderr, "--skip-mac-check") {
		t.Fatalf("tampered: exit %d, stdout %q, stderr:\n%s", code, out, stderr)
	}
	out, stderr, code = runCLI(t, "", "render", filepath.Join(dir, "tampered"), "--age-key-file", key, "--skip-mac-check")
	if code != 0 {
		t.Fatalf("--skip-mac-check: exit %d: %s", code, stderr)
	}
	if got := objField(findObject(t, splitDocs(t, out), "Secret", "other"), "stringData", "b"); got != "pw-b" {
		t.Errorf("b = %v", got)
	}
}

func TestRender_reseal(t *testing.T) {
	isolateEnv(t)
	k := renderKeys(t)
	dir := envTree(t, k)
	out, stderr, code := runCLI(t, "", "render", filepath.Join(dir, "overlays/prod"), "--age-key-file", filepath.Join(dir, "keys/prod-key-secret.yaml"),
		"--reseal", "--cert", filepath.Join(dir, "keys/cert.pem"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	if strings.Contains(out, "pw-") || strings.Contains(out, base64.StdEncoding.EncodeToString([]byte("pw-prod-db"))) {
		t.Fatalf("plaintext in --reseal output:\n%s", out)
	}
	objs := splitDocs(t, out)
	findObject(t, objs, "ConfigMap", "app-config")
	want := map[string]map[string]string{
		"shared":   {"token": "pw-shared-token"},
		"db":       {"password": "pw-prod-db"},
		"api":      {"config.env": "API_KEY=pw-prod-api\nAPI_URL=https://api.example\n"},
		"settings": {"DB_PASSWORD": "pw-prod-settings", "ZONE": "eu-1"},
	}
	kr := keys.Keyring([]*keys.Generation{k.prod})
	for name, items := range want {
		obj := findObject(t, objs, v1alpha1.SealedSecretKind, name)
		b, err := yaml.Marshal(obj)
		if err != nil {
			t.Fatal(err)
		}
		ss, err := sealedsecret.DecodeSealedSecret(b)
		if err != nil {
			t.Fatal(err)
		}
		if ss.Namespace != "prod" {
			t.Errorf("%s: namespace %q", name, ss.Namespace)
		}
		res, err := sealedsecret.Unseal(ss, kr, sealedsecret.UnsealOptions{})
		if err != nil {
			t.Fatalf("unseal %s: %v", name, err)
		}
		for item, v := range items {
			if got := string(res.Secret.Data[item]); got != v {
				t.Errorf("%s/%s = %q, want %q", name, item, got, v)
			}
		}
	}
	// Without --cert, the certificate comes from the controller, as for
	// kseal seal.
	ctl := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/cert.pem" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write(k.prod.CertificatePEM)
	}))
	defer ctl.Close()
	fetched, stderr, code := runCLI(t, "", "render", filepath.Join(dir, "overlays/prod"), "--age-key-file", filepath.Join(dir, "keys/prod-key-secret.yaml"),
		"--reseal", "--controller-url", ctl.URL, "--format-version", "v1")
	if code != 0 {
		t.Fatalf("certificate from the controller: exit %d: %s", code, stderr)
	}
	if got := objField(findObject(t, splitDocs(t, fetched), v1alpha1.SealedSecretKind, "db"), "apiVersion"); got != sealedsecret.BitnamiAPIVersion {
		t.Errorf("--format-version v1 wrote apiVersion %v", got)
	}

	// The scope annotation of the Secret decides the scope.
	db := findObject(t, objs, v1alpha1.SealedSecretKind, "db")
	if got := objField(db, "metadata", "annotations", v1alpha1.AnnotationScope); got != "namespace-wide" {
		t.Errorf("db scope annotation = %v", got)
	}
	if got := objField(findObject(t, objs, v1alpha1.SealedSecretKind, "shared"), "metadata", "annotations", v1alpha1.AnnotationScope); got != nil && got != "strict" {
		t.Errorf("shared scope annotation = %v, want strict", got)
	}
}

func TestRender_resealRefusesOtherKinds(t *testing.T) {
	isolateEnv(t)
	k := renderKeys(t)
	dir := t.TempDir()
	cm := sopsEncrypt(t, "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n  namespace: x\ndata:\n  a: pw-a\n", sops.FormatYAML,
		sopstest.Options{Recipients: []string{k.prod.Sops.Recipient().String()}, EncryptedRegex: "^data$"})
	writeFiles(t, dir, map[string]string{"c.yaml": cm, "cert.pem": string(k.prod.CertificatePEM)})
	t.Setenv(cli.EnvAgeKey, k.prod.Sops.String())
	out, stderr, code := runCLI(t, "", "render", filepath.Join(dir, "c.yaml"), "--reseal", "--cert", filepath.Join(dir, "cert.pem"))
	if code == 0 || out != "" || !strings.Contains(stderr, "ConfigMap x/c") || !strings.Contains(stderr, "only Secrets can be sealed") {
		t.Fatalf("exit %d, stdout %q, stderr:\n%s", code, out, stderr)
	}
	// Without --reseal the ConfigMap is printed decrypted.
	out, _, code = runCLI(t, "", "render", filepath.Join(dir, "c.yaml"))
	if code != 0 || objField(findObject(t, splitDocs(t, out), "ConfigMap", "c"), "data", "a") != "pw-a" {
		t.Fatalf("exit %d:\n%s", code, out)
	}
}

func TestRender_outsideRootRefused(t *testing.T) {
	isolateEnv(t)
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"outside.yaml":           "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: outside\n",
		"app/kustomization.yaml": "resources:\n- ../outside.yaml\n",
		"plain/a.yaml":           "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n",
		"elsewhere/secret.yaml":  "apiVersion: v1\nkind: Secret\nmetadata:\n  name: elsewhere\n",
	})
	out, stderr, code := runCLI(t, "", "render", filepath.Join(dir, "app"))
	if code == 0 || out != "" || !strings.Contains(stderr, "kustomize build") || !strings.Contains(stderr, "is not in or below") {
		t.Fatalf("exit %d, stdout %q, stderr:\n%s", code, out, stderr)
	}
	// A symbolic link out of a plain directory is refused too.
	if err := os.Symlink(filepath.Join(dir, "elsewhere/secret.yaml"), filepath.Join(dir, "plain/b.yaml")); err != nil {
		t.Skip("no symbolic links:", err)
	}
	out, stderr, code = runCLI(t, "", "render", filepath.Join(dir, "plain"))
	if code == 0 || out != "" || !strings.Contains(stderr, "leads outside") {
		t.Fatalf("symlink: exit %d, stdout %q, stderr:\n%s", code, out, stderr)
	}
}

func TestRender_plainDirectoryAndFile(t *testing.T) {
	isolateEnv(t)
	k := renderKeys(t)
	dir := t.TempDir()
	x := k.devX25.Recipient().String()
	// Encrypted as a whole, kind and name included, as `sops -e` does by
	// default: only a directory render (which decrypts files before
	// reading them) can handle it.
	whole := sopsEncrypt(t, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: whole\n  namespace: a\nstringData:\n  k: pw-whole\n", sops.FormatYAML, sopstest.Options{Recipients: []string{x}})
	js := sopsEncrypt(t, `{"apiVersion":"v1","kind":"Secret","metadata":{"name":"js","namespace":"a"},"stringData":{"k":"pw-json"}}`, sops.FormatJSON,
		sopstest.Options{Recipients: []string{x}, EncryptedRegex: sopstest.SecretsOnly})
	binFile := sopsEncrypt(t, "\x00pw-binary", sops.FormatBinary, sopstest.Options{Recipients: []string{x}})
	writeFiles(t, dir, map[string]string{
		"m/01-config.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: first\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: second\n",
		"m/02-whole.yaml":  whole,
		"m/03-js.json":     js,
		"m/04-tls.yaml": "apiVersion: v1\nkind: Secret\nmetadata:\n  name: tls\n  namespace: a\ndata:\n  tls.key: " +
			base64.StdEncoding.EncodeToString([]byte(binFile)) + "\n  plain: " + base64.StdEncoding.EncodeToString([]byte("not encrypted")) + "\n",
		"m/.sops.yaml": "creation_rules:\n- age: " + x + "\n",
		"m/README.md":  "# docs\n",
		"key.txt":      k.devX25.String() + "\n",
	})
	out, stderr, code := runCLI(t, "", "render", filepath.Join(dir, "m"), "--age-key-file", filepath.Join(dir, "key.txt"))
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	objs := splitDocs(t, out)
	var names []string
	for _, o := range objs {
		names = append(names, objField(o, "metadata", "name").(string))
	}
	if strings.Join(names, ",") != "first,second,whole,js,tls" {
		t.Errorf("order = %v", names)
	}
	if got := objField(findObject(t, objs, "Secret", "whole"), "stringData", "k"); got != "pw-whole" {
		t.Errorf("whole = %v", got)
	}
	if got := objField(findObject(t, objs, "Secret", "js"), "stringData", "k"); got != "pw-json" {
		t.Errorf("js = %v", got)
	}
	tls := findObject(t, objs, "Secret", "tls")
	if got := objField(tls, "data", "tls.key"); got != base64.StdEncoding.EncodeToString([]byte("\x00pw-binary")) {
		t.Errorf("tls.key = %v", got)
	}
	if got := objField(tls, "data", "plain"); got != base64.StdEncoding.EncodeToString([]byte("not encrypted")) {
		t.Errorf("plain = %v", got)
	}

	// One file.
	out, stderr, code = runCLI(t, "", "render", filepath.Join(dir, "m/02-whole.yaml"), "--age-key-file", filepath.Join(dir, "key.txt"))
	if code != 0 || len(splitDocs(t, out)) != 1 {
		t.Fatalf("one file: exit %d: %s\n%s", code, stderr, out)
	}
	// Plain manifests need no identity.
	out, stderr, code = runCLI(t, "", "render", filepath.Join(dir, "m/01-config.yaml"))
	if code != 0 || len(splitDocs(t, out)) != 2 {
		t.Fatalf("plain file: exit %d: %s\n%s", code, stderr, out)
	}
}

// TestRender_identitySources reads identities from a Flux-style decryption
// Secret, from an identity file, and from the cluster's key Secrets.
func TestRender_identitySources(t *testing.T) {
	isolateEnv(t)
	k := renderKeys(t)
	dir := t.TempDir()
	secret := sopsEncrypt(t, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  namespace: a\nstringData:\n  k: pw-k\n", sops.FormatYAML,
		sopstest.Options{Recipients: []string{k.prod.Sops.Recipient().String()}})
	fluxSecret := "apiVersion: v1\nkind: Secret\nmetadata:\n  name: sops-age\n  namespace: flux-system\nstringData:\n  identity.agekey: |\n    # comment\n    " + k.prod.Sops.String() + "\n  other: ignored\n"
	writeFiles(t, dir, map[string]string{
		"m/s.yaml":           secret,
		"flux-secret.yaml":   fluxSecret,
		"bad-key.txt":        "AGE-SECRET-KEY-1NOTAKEYAT4LL\n",
		"not-a-key-file.txt": "hunter2-like-text\n",
	})
	m := filepath.Join(dir, "m")
	if _, stderr, code := runCLI(t, "", "render", m, "--age-key-file", filepath.Join(dir, "flux-secret.yaml")); code != 0 {
		t.Errorf("Flux decryption Secret: %s", stderr)
	}
	for file, want := range map[string]string{
		"bad-key.txt":        "bad-key.txt: line 1: malformed age identity",
		"not-a-key-file.txt": "not-a-key-file.txt: line 1: not an age identity",
		"missing.txt":        "no such file",
	} {
		_, stderr, code := runCLI(t, "", "render", m, "--age-key-file", filepath.Join(dir, file))
		if code == 0 || !strings.Contains(stderr, want) || strings.Contains(stderr, "hunter2") || strings.Contains(stderr, "NOTAKEY") {
			t.Errorf("%s: exit %d, stderr:\n%s", file, code, stderr)
		}
	}

	// --from-cluster lists the key Secrets through the kubeconfig.
	var gotSelector string
	api := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/api/v1/namespaces/kseal-system/secrets" {
			http.NotFound(w, r)
			return
		}
		gotSelector = r.URL.Query().Get("labelSelector")
		list := map[string]any{"apiVersion": "v1", "kind": "SecretList", "metadata": map[string]any{}, "items": []any{k.prod.Secret("kseal-system")}}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(list)
	}))
	defer api.Close()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	writeFiles(t, dir, map[string]string{"kubeconfig": "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster:\n    server: " + api.URL +
		"\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: c\n  context:\n    cluster: c\n    user: u\ncurrent-context: c\n"})
	out, stderr, code := runCLI(t, "", "render", m, "--from-cluster", "--kubeconfig", kubeconfig)
	if code != 0 || objField(findObject(t, splitDocs(t, out), "Secret", "s"), "stringData", "k") != "pw-k" {
		t.Fatalf("--from-cluster: exit %d: %s", code, stderr)
	}
	if gotSelector != v1alpha1.LabelSealingKey+"=active" {
		t.Errorf("label selector %q", gotSelector)
	}
	_, stderr, code = runCLI(t, "", "render", m, "--from-cluster", "--kubeconfig", kubeconfig, "--controller-namespace", "elsewhere")
	if code == 0 || !strings.Contains(stderr, "list the key Secrets in namespace elsewhere") || !strings.Contains(stderr, "hint: ") {
		t.Errorf("wrong namespace: exit %d, stderr:\n%s", code, stderr)
	}
}

// BenchmarkRender1000 renders a kustomization of 1,000 SOPS-encrypted
// Secrets (X25519 age key): kustomize build, MAC check of each file as
// read, and decryption of each resource. One op is one render.
func BenchmarkRender1000(b *testing.B) {
	id, err := age.GenerateX25519Identity()
	if err != nil {
		b.Fatal(err)
	}
	dir := b.TempDir()
	var kust strings.Builder
	kust.WriteString("namespace: shop\nresources:\n")
	for i := range 1000 {
		plain := fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: app-%d\ntype: Opaque\nstringData:\n  username: app-%d\n  password: secret-value-%d\n  url: postgres://db-%d.shop.svc:5432/app\n", i, i, i, i)
		enc, err := sopstest.Encrypt([]byte(plain), sops.FormatYAML, sopstest.Options{Recipients: []string{id.Recipient().String()}, EncryptedRegex: sopstest.SecretsOnly})
		if err != nil {
			b.Fatal(err)
		}
		name := fmt.Sprintf("secret-%04d.enc.yaml", i)
		if err := os.WriteFile(filepath.Join(dir, name), enc, 0o600); err != nil {
			b.Fatal(err)
		}
		kust.WriteString("- " + name + "\n")
	}
	if err := os.WriteFile(filepath.Join(dir, "kustomization.yaml"), []byte(kust.String()), 0o600); err != nil {
		b.Fatal(err)
	}
	b.Setenv(cli.EnvAgeKey, id.String())
	for b.Loop() {
		var out, errOut bytes.Buffer
		if code := cli.Main(context.Background(), []string{"render", dir}, strings.NewReader(""), &out, &errOut); code != 0 {
			b.Fatal(errOut.String())
		}
	}
}
