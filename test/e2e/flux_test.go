package e2e

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sops"
	"github.com/kseal-dev/kseal/crypto/sops/sopstest"
)

// fluxVersion is the kustomize-controller release hack/build-flux.sh builds.
const fluxVersion = "v1.9.6"

// fluxBinary returns the kustomize-controller built by hack/build-flux.sh
// ($KSEAL_FLUX, else its default location) and the directory of the CRDs
// the script copies next to it. It skips the test when the binary is
// missing, unless KSEAL_REQUIRE_TOOLS is set.
func fluxBinary(t testing.TB) (bin, crds string) {
	t.Helper()
	bin = os.Getenv("KSEAL_FLUX")
	if bin == "" {
		cache := os.Getenv("KSEAL_CACHE")
		if cache == "" {
			home, _ := os.UserHomeDir()
			cache = filepath.Join(home, ".cache", "kseal")
		}
		bin = filepath.Join(cache, "flux-kustomize-controller-"+fluxVersion, "kustomize-controller")
	}
	crds = filepath.Join(filepath.Dir(bin), "crds")
	if _, err := os.Stat(bin); err != nil {
		msg := fmt.Sprintf("Flux kustomize-controller not built (%v): run `make flux` or hack/build-flux.sh and set KSEAL_FLUX", err)
		if requireTools() {
			t.Fatal(msg)
		}
		t.Skip(msg)
	}
	return bin, crds
}

// TestFlux_kustomizeControllerDecryptsWithClusterKey runs Flux's real
// kustomize-controller against the API server. The Secret manifest in the
// source is SOPS-encrypted to the cluster's post-quantum SOPS recipient; the
// cluster's identities are exported into the Secret sops-age as docs/sops.md
// tells Flux users; Flux applies the decrypted Secret, and `kseal render`
// of the same files with that Secret's manifest as key file gives the same
// data. The source holds a whole encrypted Secret manifest and, in Flux's
// convention, secretGenerator envs and files that are SOPS documents.
func TestFlux_kustomizeControllerDecryptsWithClusterKey(t *testing.T) {
	bin, crds := fluxBinary(t)
	c := startController(t, controllers.Options{})
	defer c.stop()
	if _, err := envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{Paths: []string{crds}, ErrorIfPathMissing: true}); err != nil {
		t.Fatal(err)
	}
	cert, err := keys.ParseCertificate(fetchCert(t, c), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	recipient := sopsRecipient(t, cert)
	if !strings.HasPrefix(recipient, "age1pq1") {
		t.Fatalf("the cluster's SOPS recipient is not post-quantum: %.20s...", recipient)
	}

	fluxNS, appNS := "flux-system", newNamespace(t, "shop")
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fluxNS}}); err != nil && !apierrors.IsAlreadyExists(err) {
		t.Fatal(err)
	}
	ageSecret := exportSopsAge(t, fluxNS)

	files := fluxSource(recipient)
	srcDir := t.TempDir()
	writeTree(t, srcDir, files)
	artifact := tarGz(t, files)
	sum := sha256.Sum256(artifact)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/gzip")
		_, _ = w.Write(artifact)
	}))
	defer srv.Close()

	createGitRepository(t, fluxNS, srv.URL+"/gitrepository/"+fluxNS+"/shop/latest.tar.gz",
		"sha256:"+hex.EncodeToString(sum[:]), len(artifact))
	ks := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
		"metadata": map[string]any{"name": "shop", "namespace": fluxNS},
		"spec": map[string]any{
			"interval": "1h", "path": "./", "prune": true, "targetNamespace": appNS,
			"sourceRef":  map[string]any{"kind": "GitRepository", "name": "shop"},
			"decryption": map[string]any{"provider": "sops", "secretRef": map[string]any{"name": "sops-age"}},
		},
	}}
	if err := env.Client.Create(ctx, ks); err != nil {
		t.Fatal(err)
	}

	fluxLog := runKustomizeController(t, bin, fluxNS)
	applied := waitForFluxSecret(t, appNS, "db", ks, fluxLog)
	if string(applied.Data["password"]) != canary("flux-password") || string(applied.Data["user"]) != canary("flux-user") {
		t.Fatalf("Flux applied Secret db with the wrong data (keys %v)", sortedKeys(applied.Data))
	}

	envs, cfg := waitForFluxSecret(t, appNS, "app-env", ks, fluxLog), waitForFluxSecret(t, appNS, "app-files", ks, fluxLog)
	if string(envs.Data["API_TOKEN"]) != canary("flux-env") || !bytes.Contains(cfg.Data["config.yaml"], []byte(canary("flux-file"))) {
		t.Fatalf("Flux applied the generated Secrets with the wrong data (keys %v, %v)", sortedKeys(envs.Data), sortedKeys(cfg.Data))
	}

	// The same files, rendered by kseal with the sops-age Secret's manifest.
	keyFile := filepath.Join(t.TempDir(), "sops-age.yaml")
	manifest, err := yaml.Marshal(ageSecret)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, manifest, 0o600); err != nil {
		t.Fatal(err)
	}
	out := kseal(t, nil, "render", "--age-key-file", keyFile, srcDir)
	for _, s := range []*corev1.Secret{applied, envs, cfg} {
		if rendered := renderedSecretData(t, out, s.Name); !equalData(rendered, s.Data) {
			t.Errorf("kseal render gives Secret %s keys %v, Flux applied keys %v, or the values differ",
				s.Name, sortedKeys(rendered), sortedKeys(s.Data))
		}
	}
}

// fluxSource is the repository Flux syncs: a Secret manifest encrypted
// whole to recipient (data and stringData only) and, in Flux's convention
// for Secret values, secretGenerator envs and files that are SOPS documents.
// Names get no hash suffix, so both tools name the Secrets alike: Flux hashes
// the decrypted files, kseal the committed ones.
func fluxSource(recipient string) map[string][]byte {
	pq := sopstest.Options{Recipients: []string{recipient}}
	return map[string][]byte{
		"kustomization.yaml": []byte("resources:\n- db.enc.yaml\nsecretGenerator:\n" +
			"- name: app-env\n  envs:\n  - app.enc.env\n" +
			"- name: app-files\n  files:\n  - config.yaml=config.enc.yaml\n" +
			"generatorOptions:\n  disableNameSuffixHash: true\n"),
		"app.enc.env":     sopstest.MustEncrypt([]byte("API_TOKEN="+canary("flux-env")+"\nMODE=prod\n"), sops.FormatDotenv, pq),
		"config.enc.yaml": sopstest.MustEncrypt([]byte("user: shop\npassword: "+canary("flux-file")+"\n"), sops.FormatYAML, pq),
		"db.enc.yaml": sopstest.MustEncrypt([]byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\ntype: Opaque\n"+
			"stringData:\n  password: "+canary("flux-password")+"\ndata:\n  user: "+
			base64.StdEncoding.EncodeToString([]byte(canary("flux-user")))+"\n"),
			sops.FormatYAML, sopstest.Options{Recipients: []string{recipient}, EncryptedRegex: sopstest.SecretsOnly, MACOnlyEncrypted: true}),
	}
}

// clusterSopsIdentities does what docs/sops.md tells Flux users to do: the
// SOPS identity (sops.agekey, else age.key) of every active kseal key
// Secret, concatenated.
func clusterSopsIdentities(t testing.TB) []byte {
	t.Helper()
	var list corev1.SecretList
	if err := env.Client.List(ctx, &list, client.InNamespace(controllerNamespace),
		client.MatchingLabels{"kseal.dev/sealing-key": "active"}); err != nil {
		t.Fatal(err)
	}
	var ids []byte
	for _, s := range list.Items {
		if v, ok := s.Data[keys.SecretKeySops]; ok {
			ids = append(ids, v...)
		} else {
			ids = append(ids, s.Data[keys.SecretKeyAge]...)
		}
	}
	if !bytes.HasPrefix(ids, []byte("AGE-SECRET-KEY-PQ-1")) {
		t.Fatalf("no post-quantum SOPS identity among %d active key Secrets", len(list.Items))
	}
	return ids
}

// exportSopsAge puts the cluster's SOPS identities in the Secret sops-age,
// entry identity.agekey, in ns.
func exportSopsAge(t testing.TB, ns string) *corev1.Secret {
	t.Helper()
	ids := clusterSopsIdentities(t)
	s := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: "sops-age", Namespace: ns},
		Data:       map[string][]byte{"identity.agekey": ids},
	}
	if err := env.Client.Delete(ctx, s.DeepCopy()); err != nil && !apierrors.IsNotFound(err) {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, s.DeepCopy()); err != nil {
		t.Fatal(err)
	}
	return s
}

// createGitRepository creates a GitRepository and sets its status as
// source-controller does once it has stored an artifact.
func createGitRepository(t testing.TB, ns, url, digest string, size int) {
	t.Helper()
	gr := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "source.toolkit.fluxcd.io/v1", "kind": "GitRepository",
		"metadata": map[string]any{"name": "shop", "namespace": ns},
		"spec": map[string]any{"url": "https://git.example.invalid/shop.git", "interval": "1h",
			"ref": map[string]any{"branch": "main"}},
	}}
	if err := env.Client.Create(ctx, gr); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Format(time.RFC3339)
	rev := "main@sha1:" + strings.Repeat("5e", 20)
	gr.Object["status"] = map[string]any{
		"observedGeneration": gr.GetGeneration(),
		"artifact": map[string]any{
			"path": "gitrepository/" + ns + "/shop/latest.tar.gz", "url": url, "revision": rev,
			"digest": digest, "lastUpdateTime": now, "size": int64(size),
		},
		"conditions": []any{map[string]any{
			"type": "Ready", "status": "True", "reason": "Succeeded", "observedGeneration": gr.GetGeneration(),
			"message": "stored artifact for revision '" + rev + "'", "lastTransitionTime": now,
		}},
	}
	if err := env.Client.Status().Update(ctx, gr); err != nil {
		t.Fatal(err)
	}
}

// runKustomizeController starts the built kustomize-controller against the
// API server; it is killed when the test ends.
func runKustomizeController(t testing.TB, bin, runtimeNS string) *syncBuffer {
	t.Helper()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.Environment.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	cmd := exec.Command(bin, "--metrics-addr=0", "--health-addr=0", "--watch-all-namespaces=true",
		"--no-remote-bases=true", "--concurrent=1", "--requeue-dependency=1s", "--log-level=debug")
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig, "RUNTIME_NAMESPACE="+runtimeNS)
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
	})
	return &out
}

// waitForFluxSecret waits until Flux has applied the Secret; when the
// Kustomization fails, or on timeout, it fails with the Kustomization's status and the controller's log.
func waitForFluxSecret(t testing.TB, ns, name string, ks *unstructured.Unstructured, fluxLog *syncBuffer) *corev1.Secret {
	t.Helper()
	deadline := time.Now().Add(4 * time.Minute)
	for {
		var s corev1.Secret
		err := env.Client.Get(ctx, clientKey(ns, name), &s)
		if err == nil {
			return &s
		}
		if !apierrors.IsNotFound(err) {
			t.Fatal(err)
		}
		cur := &unstructured.Unstructured{}
		cur.SetGroupVersionKind(ks.GroupVersionKind())
		_ = env.Client.Get(ctx, client.ObjectKeyFromObject(ks), cur)
		failed := kustomizationFailed(cur)
		if failed || time.Now().After(deadline) {
			status, _ := yaml.Marshal(cur.Object["status"])
			t.Fatalf("Flux did not apply Secret %s/%s (failed=%v)\nKustomization status:\n%s\nkustomize-controller log:\n%s",
				ns, name, failed, status, fluxLog.String())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// kustomizationFailed reports whether the Kustomization's Ready condition
// says the build or the apply failed (a decryption error is a build error).
func kustomizationFailed(ks *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(ks.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Ready" && m["status"] == "False" &&
			(m["reason"] == "BuildFailed" || m["reason"] == "ReconciliationFailed") {
			return true
		}
	}
	return false
}

// renderedSecretData returns the data (data and stringData together) of the
// Secret name in a rendered YAML stream.
func renderedSecretData(t testing.TB, stream []byte, name string) map[string][]byte {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(stream), 4096)
	for {
		var s corev1.Secret
		if err := dec.Decode(&s); err != nil {
			if errors.Is(err, io.EOF) {
				t.Fatalf("no Secret %s in the rendered output", name)
			}
			t.Fatal(err)
		}
		if s.Kind != "Secret" || s.Name != name {
			continue
		}
		data := map[string][]byte{}
		for k, v := range s.Data {
			data[k] = v
		}
		for k, v := range s.StringData {
			data[k] = []byte(v)
		}
		return data
	}
}

func equalData(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || !bytes.Equal(v, w) {
			return false
		}
	}
	return true
}

func sortedKeys(m map[string][]byte) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// tarGz packs files as source-controller packs an artifact: a gzipped tar
// of the repository's files, paths relative to its root.
func tarGz(t testing.TB, files map[string][]byte) []byte {
	t.Helper()
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		hdr := &tar.Header{Name: n, Mode: 0o644, Size: int64(len(files[n])), Typeflag: tar.TypeReg, ModTime: time.Unix(0, 0)}
		if err := tw.WriteHeader(hdr); err != nil {
			t.Fatal(err)
		}
		if _, err := tw.Write(files[n]); err != nil {
			t.Fatal(err)
		}
	}
	if err := tw.Close(); err != nil {
		t.Fatal(err)
	}
	if err := gz.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}
