package cli_test

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"

	"github.com/kseal-dev/kseal/crypto/sops"
	"github.com/kseal-dev/kseal/crypto/sops/sopstest"
	"github.com/kseal-dev/kseal/internal/argocdplugin"
	cli "github.com/kseal-dev/kseal/kubeseal-like-cli"
)

// indent prefixes every line of s.
func indent(s, prefix string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		lines[i] = prefix + l
	}
	return strings.Join(lines, "\n") + "\n"
}

// resourceList wraps items (YAML documents) and a functionConfig as kustomize
// passes them to a KRM function.
func resourceList(functionConfig string, items ...string) string {
	var b strings.Builder
	b.WriteString("apiVersion: config.kubernetes.io/v1\nkind: ResourceList\nitems:\n")
	for _, it := range items {
		lines := strings.Split(strings.TrimRight(it, "\n"), "\n")
		b.WriteString("- " + lines[0] + "\n")
		for _, l := range lines[1:] {
			b.WriteString("  " + l + "\n")
		}
	}
	if functionConfig != "" {
		b.WriteString("functionConfig:\n" + indent(functionConfig, "  "))
	}
	return b.String()
}

// resourceListItems returns the items of a ResourceList.
func resourceListItems(t *testing.T, out string) []map[string]any {
	t.Helper()
	var rl struct {
		Kind  string           `json:"kind"`
		Items []map[string]any `json:"items"`
	}
	if err := yaml.Unmarshal([]byte(out), &rl); err != nil || rl.Kind != "ResourceList" {
		t.Fatalf("not a ResourceList (%v):\n%s", err, out)
	}
	return rl.Items
}

const generatorConfig = `apiVersion: kseal.dev/v1alpha1
kind: SopsGenerator
metadata:
  name: secrets
  annotations:
    config.kubernetes.io/function: |
      exec:
        path: kseal
        args: [krm]
`

func TestKRM_resourceList(t *testing.T) {
	isolateEnv(t)
	k := renderKeys(t)
	dir := t.TempDir()
	x := k.devX25.Recipient().String()
	fileSecret := sopsEncrypt(t, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: from-file\nstringData:\n  k: pw-file\n", sops.FormatYAML, sopstest.Options{Recipients: []string{x}})
	itemSecret := sopsEncrypt(t, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: item\n  namespace: a\nstringData:\n  z: pw-z\n  a: pw-a\n", sops.FormatYAML,
		sopstest.Options{Recipients: []string{x}, EncryptedRegex: sopstest.SecretsOnly})
	writeFiles(t, dir, map[string]string{
		"secrets/from-file.enc.yaml": fileSecret,
		"key.txt":                    k.devX25.String() + "\n",
	})
	t.Chdir(dir)

	// kustomize adds these annotations to items; they are not part of the
	// encrypted document, so kseal sets them aside to check its MAC.
	withIndex := strings.Replace(itemSecret, "    name: item\n", "    name: item\n    annotations:\n        config.kubernetes.io/index: '1'\n        internal.config.kubernetes.io/index: '1'\n", 1)
	if withIndex == itemSecret {
		t.Fatalf("fixture layout changed:\n%s", itemSecret)
	}
	in := resourceList(generatorConfig+"files:\n- secrets/from-file.enc.yaml\nageKeyFile: key.txt\n",
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm\n  annotations:\n    config.kubernetes.io/index: '0'\ndata:\n  a: b\n",
		withIndex)
	out, stderr, code := runCLI(t, in, "krm")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	items := resourceListItems(t, out)
	if len(items) != 3 {
		t.Fatalf("got %d items, want 3:\n%s", len(items), out)
	}
	if objField(items[0], "data", "a") != "b" {
		t.Errorf("ConfigMap changed: %v", items[0])
	}
	if objField(items[1], "stringData", "a") != "pw-a" || objField(items[1], "stringData", "z") != "pw-z" {
		t.Errorf("item not decrypted: %v", items[1])
	}
	if objField(items[1], "metadata", "annotations", "config.kubernetes.io/index") != "1" || objField(items[1], "sops") != nil {
		t.Errorf("item annotations or sops field: %v", items[1])
	}
	if objField(items[2], "metadata", "name") != "from-file" || objField(items[2], "stringData", "k") != "pw-file" {
		t.Errorf("generated item: %v", items[2])
	}
	if !strings.Contains(out, "functionConfig:") {
		t.Errorf("functionConfig dropped:\n%s", out)
	}
}

func TestKRM_errors(t *testing.T) {
	isolateEnv(t)
	k := renderKeys(t)
	dir := t.TempDir()
	x := k.devX25.Recipient().String()
	enc := sopsEncrypt(t, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  k: pw-k\n", sops.FormatYAML, sopstest.Options{Recipients: []string{x}})
	sortedEnc := sopsEncrypt(t, "kind: Secret\napiVersion: v1\nmetadata:\n  name: s\nstringData:\n  k: pw-k\n", sops.FormatYAML,
		sopstest.Options{Recipients: []string{x}, EncryptedRegex: sopstest.SecretsOnly})
	writeFiles(t, dir, map[string]string{
		"kust/s.enc.yaml":  enc,
		"kust/other.yaml":  sopsEncrypt(t, "a: pw-other\n", sops.FormatYAML, sopstest.Options{Recipients: []string{k.prod.Sops.Recipient().String()}}),
		"outside.enc.yaml": enc,
		"key.txt":          k.devX25.String() + "\n",
	})
	t.Chdir(filepath.Join(dir, "kust"))
	t.Setenv(cli.EnvAgeKey, k.devX25.String())
	// kustomize re-serializes items with sorted keys, which breaks a MAC.
	resorted := strings.Replace(sortedEnc, "kind: Secret\napiVersion: v1\n", "apiVersion: v1\nkind: Secret\n", 1)

	cases := []struct {
		name, stdin, want string
		env               string
	}{
		{"not a ResourceList", "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\n", "stdin is not a ResourceList", ""},
		{"empty stdin", "", "stdin is not a ResourceList", ""},
		{"other functionConfig", resourceList("apiVersion: example.com/v1\nkind: Other\nmetadata:\n  name: x\n"), "functionConfig is example.com/v1 Other", ""},
		{"unknown field", resourceList(generatorConfig + "file:\n- s.enc.yaml\n"), `unknown field "file"`, ""},
		{"file outside", resourceList(generatorConfig + "files:\n- ../outside.enc.yaml\n"), "outside the kustomization directory", ""},
		{"absolute file", resourceList(generatorConfig + "files:\n- " + filepath.Join(dir, "outside.enc.yaml") + "\n"), "absolute paths are not allowed", ""},
		{"missing file", resourceList(generatorConfig + "files:\n- nope.yaml\n"), "nope.yaml", ""},
		{"wrong key", resourceList(generatorConfig + "files:\n- other.yaml\n"), "other.yaml: no identity held opens it", ""},
		{"no identity", resourceList(generatorConfig + "files:\n- s.enc.yaml\n"), "no age identity", "none"},
		{"resorted item", resourceList("", resorted), "MAC mismatch", ""},
		{"ksops secretFrom", resourceList("apiVersion: viaduct.ai/v1\nkind: ksops\nmetadata:\n  name: x\nsecretFrom:\n- metadata:\n    name: y\n"), "secretFrom is not supported", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if c.env == "none" {
				t.Setenv(cli.EnvAgeKey, "")
			}
			out, stderr, code := runCLI(t, c.stdin, "krm")
			if code == 0 || out != "" {
				t.Fatalf("exit %d, stdout %q", code, out)
			}
			if !strings.Contains(stderr, c.want) {
				t.Errorf("stderr lacks %q:\n%s", c.want, stderr)
			}
			if strings.Contains(stderr, "pw-") {
				t.Errorf("stderr holds a value:\n%s", stderr)
			}
		})
	}

	// The item decrypts when the MAC check is skipped, and a ksops
	// generator's files work.
	out, stderr, code := runCLI(t, resourceList(generatorConfig+"skipMACCheck: true\n", resorted), "krm")
	if code != 0 || objField(resourceListItems(t, out)[0], "stringData", "k") != "pw-k" {
		t.Fatalf("skipMACCheck: exit %d: %s\n%s", code, stderr, out)
	}
	out, stderr, code = runCLI(t, resourceList("apiVersion: viaduct.ai/v1\nkind: ksops\nmetadata:\n  name: x\nfiles:\n- ./s.enc.yaml\n"), "krm")
	if code != 0 || objField(resourceListItems(t, out)[0], "stringData", "k") != "pw-k" {
		t.Fatalf("ksops: exit %d: %s\n%s", code, stderr, out)
	}
}

// TestKRM_kustomizeExec runs kustomize (krusty, as kustomize build
// --enable-alpha-plugins --enable-exec) with a SopsGenerator whose function
// is this test binary installed as kseal (see TestMain).
func TestKRM_kustomizeExec(t *testing.T) {
	isolateEnv(t)
	if _, err := exec.LookPath("kseal"); err != nil {
		t.Skip("kseal is not on PATH:", err)
	}
	k := renderKeys(t)
	dir := t.TempDir()
	pq := k.prod.Sops.Recipient().String()
	enc := sopsEncrypt(t, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  labels:\n    app: shop\ntype: Opaque\nstringData:\n  password: pw-db\n", sops.FormatYAML, sopstest.Options{Recipients: []string{pq}})
	writeFiles(t, dir, map[string]string{
		"base/kustomization.yaml":    "resources:\n- cm.yaml\n",
		"base/cm.yaml":               "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  a: b\n",
		"prod/kustomization.yaml":    "namespace: prod\nresources:\n- ../base\ngenerators:\n- secret-generator.yaml\n",
		"prod/secret-generator.yaml": generatorConfig + "files:\n- secrets/db.enc.yaml\n",
		"prod/secrets/db.enc.yaml":   enc,
		"ksops/kustomization.yaml":   "generators:\n- generator.yaml\n",
		"ksops/generator.yaml":       "apiVersion: viaduct.ai/v1\nkind: ksops\nmetadata:\n  name: k\n  annotations:\n    config.kubernetes.io/function: |\n      exec:\n        path: kseal\n        args: [krm]\nfiles:\n- db.enc.yaml\n",
		"ksops/db.enc.yaml":          enc,
	})
	t.Setenv(cli.EnvAgeKey, k.prod.Sops.String()) // inherited by the function

	opts := krusty.MakeDefaultOptions()
	opts.PluginConfig = types.EnabledPluginConfig(types.BploUseStaticallyLinked)
	opts.PluginConfig.FnpLoadingOptions.EnableExec = true
	build := func(path string) (string, error) {
		m, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), filepath.Join(dir, path))
		if err != nil {
			return "", err
		}
		y, err := m.AsYaml()
		return string(y), err
	}
	out, err := build("prod")
	if err != nil {
		t.Fatal(err)
	}
	objs := splitDocs(t, out)
	db := findObject(t, objs, "Secret", "db")
	if objField(db, "stringData", "password") != "pw-db" || objField(db, "metadata", "namespace") != "prod" || objField(db, "metadata", "labels", "app") != "shop" {
		t.Errorf("generated Secret: %v", db)
	}
	if objField(findObject(t, objs, "ConfigMap", "app"), "metadata", "namespace") != "prod" {
		t.Errorf("ConfigMap not in prod:\n%s", out)
	}
	if strings.Contains(out, "sops") {
		t.Errorf("SOPS metadata in the output:\n%s", out)
	}

	out, err = build("ksops")
	if err != nil {
		t.Fatal(err)
	}
	if objField(findObject(t, splitDocs(t, out), "Secret", "db"), "stringData", "password") != "pw-db" {
		t.Errorf("ksops generator:\n%s", out)
	}

	// Without the key, kustomize fails, and the function says why on stderr.
	t.Setenv(cli.EnvAgeKey, "")
	if _, err := build("prod"); err == nil {
		t.Error("build without a key succeeded")
	}
}

// TestKRM_workedExample builds config/kustomize/overlays/prod as its README
// says (kustomize build --enable-alpha-plugins --enable-exec), so the
// example keeps working.
func TestKRM_workedExample(t *testing.T) {
	isolateEnv(t)
	if _, err := exec.LookPath("kseal"); err != nil {
		t.Skip("kseal is not on PATH:", err)
	}
	example := filepath.Join("..", "config", "kustomize")
	key, err := os.ReadFile(filepath.Join(example, "example-age-key.txt"))
	if err != nil {
		t.Fatal(err)
	}
	t.Setenv(cli.EnvAgeKey, string(key))
	opts := krusty.MakeDefaultOptions()
	opts.PluginConfig = types.EnabledPluginConfig(types.BploUseStaticallyLinked)
	opts.PluginConfig.FnpLoadingOptions.EnableExec = true
	abs, err := filepath.Abs(filepath.Join(example, "overlays", "prod"))
	if err != nil {
		t.Fatal(err)
	}
	m, err := krusty.MakeKustomizer(opts).Run(filesys.MakeFsOnDisk(), abs)
	if err != nil {
		t.Fatal(err)
	}
	out, err := m.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	objs := splitDocs(t, string(out))
	s := findObject(t, objs, "Secret", "shop-db")
	if objField(s, "stringData", "DB_PASSWORD") != "example-password-not-secret" || objField(s, "metadata", "namespace") != "shop-prod" {
		t.Errorf("Secret shop-db: %v", s)
	}
	if objField(findObject(t, objs, "Deployment", "shop"), "metadata", "namespace") != "shop-prod" {
		t.Errorf("Deployment:\n%s", out)
	}
}

// TestArgoCDPlugin_component builds config/argocd into a repo-server.
func TestArgoCDPlugin_component(t *testing.T) {
	isolateEnv(t)
	component, err := filepath.Abs(filepath.Join("..", "config", "argocd"))
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	rel, err := filepath.Rel(dir, component)
	if err != nil {
		t.Fatal(err)
	}
	writeFiles(t, dir, map[string]string{
		"kustomization.yaml": "namespace: argocd\nresources:\n- repo-server.yaml\ncomponents:\n- " + rel + "\n",
		"repo-server.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: argocd-repo-server
spec:
  template:
    spec:
      containers:
      - name: argocd-repo-server
        image: quay.io/argoproj/argocd:latest
      volumes:
      - name: var-files
        emptyDir: {}
      - name: plugins
        emptyDir: {}
`,
	})
	out, stderr, code := runCLI(t, "", "render", dir)
	if code != 0 {
		t.Fatalf("exit %d: %s", code, stderr)
	}
	objs := splitDocs(t, out)
	var cmName string
	for _, o := range objs {
		if o["kind"] == "ConfigMap" {
			cmName, _ = objField(o, "metadata", "name").(string)
		}
	}
	if !strings.HasPrefix(cmName, "kseal-cmp-plugin-") {
		t.Fatalf("no plugin ConfigMap in\n%s", out)
	}
	spec := objField(findObject(t, objs, "Deployment", "argocd-repo-server"), "spec", "template", "spec").(map[string]any)
	var sidecar map[string]any
	for _, c := range spec["containers"].([]any) {
		if c.(map[string]any)["name"] == "kseal" {
			sidecar = c.(map[string]any)
		}
	}
	if sidecar == nil || !strings.Contains(fmt.Sprint(sidecar["command"]), "argocd-cmp-server") {
		t.Errorf("no kseal sidecar:\n%s", out)
	}
	if !strings.Contains(fmt.Sprint(spec["volumes"]), "name:"+cmName) {
		t.Errorf("the plugin volume does not name ConfigMap %s:\n%v", cmName, spec["volumes"])
	}

}

// TestArgoCDPlugin_generate runs the generate script of
// config/argocd/plugin.yaml with a kseal that prints its arguments.
func TestArgoCDPlugin_generate(t *testing.T) {
	gen, err := argocdplugin.Generate("..")
	if err != nil {
		t.Fatal(err)
	}
	if len(gen) != 3 || gen[0] != "sh" {
		t.Fatalf("generate = %q, want sh -c SCRIPT", gen)
	}
	bin := t.TempDir()
	writeFiles(t, bin, map[string]string{"kseal": "#!/bin/sh\necho \"$@\"\n"})
	if err := os.Chmod(filepath.Join(bin, "kseal"), 0o755); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		env  []string
		want string
	}{
		{nil, "render . --from-cluster"},
		{[]string{"KSEAL_AGE_KEY=AGE-SECRET-KEY-1X"}, "render ."},
		{[]string{"PARAM_RESEAL=true", "ARGOCD_APP_NAMESPACE=shop prod"}, "render . --from-cluster --reseal --namespace shop prod"},
		{[]string{"KSEAL_AGE_KEY=x", "PARAM_RESEAL=true", "ARGOCD_APP_NAMESPACE=p", "PARAM_CERT=../c.pem"}, "render . --reseal --namespace p --cert ../c.pem"},
	}
	for _, c := range cases {
		cmd := exec.Command("sh", gen[1], gen[2])
		cmd.Env = append([]string{"PATH=" + bin + string(os.PathListSeparator) + os.Getenv("PATH")}, c.env...)
		got, err := cmd.Output()
		if err != nil {
			t.Fatalf("%v: %v", c.env, err)
		}
		if strings.TrimSpace(string(got)) != c.want {
			t.Errorf("%v: kseal %s, want %s", c.env, strings.TrimSpace(string(got)), c.want)
		}
	}
}
