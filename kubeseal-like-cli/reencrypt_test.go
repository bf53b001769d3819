package cli_test

import (
	"bytes"
	"encoding/base64"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/crypto/sealing"
	"github.com/kseal-dev/kseal/httpapi"
)

const reencryptPlaintext = "s3cret-value-for-reencrypt"

// sealedManifest seals a Secret named name in namespace prod to g.
func sealedManifest(t *testing.T, g *keys.Generation, name, format string, v sealing.Version) []byte {
	t.Helper()
	secret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "prod"},
		StringData: map[string]string{"password": reencryptPlaintext, "token": reencryptPlaintext + "-2"},
	}
	ss, err := sealedsecret.Seal(secret, &g.Certificate.PublicKey, sealedsecret.SealOptions{Version: v})
	if err != nil {
		t.Fatal(err)
	}
	b, err := sealedsecret.Encode(format, ss)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func writeTree(t *testing.T, root string, files map[string][]byte) {
	t.Helper()
	for name, data := range files {
		p := filepath.Join(root, name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

func readFile(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// opensWith unseals a SealedSecret with g's key only and checks the key id
// (v2) or that it is still v1.
func opensWith(t *testing.T, manifest []byte, g *keys.Generation) *v1alpha1.SealedSecret {
	t.Helper()
	ss, err := sealedsecret.DecodeSealedSecret(manifest)
	if err != nil {
		t.Fatalf("decode: %v\n%s", err, manifest)
	}
	res, err := sealedsecret.Unseal(ss, sealing.NewKeyring(g.DecryptionKey()), sealedsecret.UnsealOptions{})
	if err != nil {
		t.Fatalf("%s/%s does not open with %s: %v", ss.Namespace, ss.Name, g.Name, err)
	}
	if string(res.Secret.Data["password"]) != reencryptPlaintext {
		t.Errorf("%s: the value changed", ss.Name)
	}
	wantID, _ := g.Certificate.KeyID()
	for item, v := range ss.Spec.EncryptedData {
		ct, _ := base64.StdEncoding.DecodeString(v)
		if ss.APIVersion == sealedsecret.BitnamiAPIVersion {
			if sealing.IsV2(ct) {
				t.Errorf("%s item %q: a bitnami.com object became v2", ss.Name, item)
			}
			continue
		}
		if id, _, err := sealing.ParseV2(ct); err != nil || id != wantID {
			t.Errorf("%s item %q: key id %s (%v), want %s", ss.Name, item, id, err, wantID)
		}
	}
	return ss
}

const configMapDoc = `# Application settings.
apiVersion: v1
kind: ConfigMap
metadata:
  name: app   # keep this comment
  namespace: prod
data:
  mode:    "fast"
`

const commentDoc = "# Nothing but a comment,\n#   kept as it is.\n"

func TestReencrypt_tree(t *testing.T) {
	clearCertEnv(t)
	c := newTestController(t, httpapi.Options{})
	root := t.TempDir()
	sealedDoc := sealedManifest(t, c.old(), "db", "yaml", sealing.V2)
	multi := []byte(configMapDoc + "---\n" + string(sealedDoc) + "--- # trailing\n" + commentDoc)
	hidden := sealedManifest(t, c.old(), "hidden", "yaml", sealing.V2)
	plain := []byte("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: prod\n")
	writeTree(t, root, map[string][]byte{
		"apps/db.yaml":           multi,
		"apps/legacy/api.json":   sealedManifest(t, c.old(), "api", "json", sealing.V1),
		"apps/single.yml":        sealedManifest(t, c.old(), "single", "yaml", sealing.V2),
		".git/objects/x.yaml":    hidden,
		"apps/.cache/y.yaml":     hidden,
		"base/namespace.yaml":    plain,
		"apps/notes.txt":         []byte("not a manifest: {["),
		"apps/README.md":         []byte("# readme\n"),
		"apps/kustomization.yml": []byte("resources:\n- db.yaml\n"),
	})

	c.renew()
	out, errOut, code := ksealRun(t, "", "reencrypt", "--controller-url", c.URL, root)
	if code != 0 || out != "reencrypt: 3 changed, 0 unchanged, 0 failed\n" {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if errOut != "" {
		t.Errorf("stderr is not a terminal, yet got %q", errOut)
	}

	got := readFile(t, filepath.Join(root, "apps/db.yaml"))
	parts := strings.SplitN(string(got), "---\n", 2)
	if parts[0] != configMapDoc {
		t.Errorf("the ConfigMap document changed:\n%s", parts[0])
	}
	sealedPart, tail, found := strings.Cut(parts[1], "--- # trailing\n")
	if !found || tail != commentDoc {
		t.Errorf("the separator or the comment-only document changed:\n%s", got)
	}
	if sealedPart == string(sealedDoc) {
		t.Fatal("the SealedSecret was not re-encrypted")
	}
	opensWith(t, []byte(sealedPart), c.renewed())
	opensWith(t, readFile(t, filepath.Join(root, "apps/single.yml")), c.renewed())
	api := readFile(t, filepath.Join(root, "apps/legacy/api.json"))
	if !bytes.HasPrefix(api, []byte("{")) {
		t.Errorf("api.json is no longer JSON:\n%s", api)
	}
	if ss := opensWith(t, api, c.renewed()); ss.APIVersion != sealedsecret.BitnamiAPIVersion {
		t.Errorf("api.json: apiVersion %s", ss.APIVersion)
	}
	for _, p := range []string{".git/objects/x.yaml", "apps/.cache/y.yaml"} {
		if !bytes.Equal(readFile(t, filepath.Join(root, p)), hidden) {
			t.Errorf("%s in a hidden directory was changed", p)
		}
	}
	if !bytes.Equal(readFile(t, filepath.Join(root, "base/namespace.yaml")), plain) {
		t.Error("a file without SealedSecrets was changed")
	}

	// Everything is up to date now.
	before := snapshot(t, root)
	out, errOut, code = ksealRun(t, "", "reencrypt", "--controller-url", c.URL, root)
	if code != 0 || out != "reencrypt: 0 changed, 3 unchanged, 0 failed\n" {
		t.Fatalf("second run: exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if after := snapshot(t, root); !equalSnapshots(before, after) {
		t.Error("the second run changed files")
	}
}

// snapshot reads every file under root.
func snapshot(t *testing.T, root string) map[string][]byte {
	t.Helper()
	files := map[string][]byte{}
	err := filepath.WalkDir(root, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		files[p], err = os.ReadFile(p)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func equalSnapshots(a, b map[string][]byte) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !bytes.Equal(b[k], v) {
			return false
		}
	}
	return true
}

func TestReencrypt_failuresLeaveFilesUntouched(t *testing.T) {
	clearCertEnv(t)
	c := newTestController(t, httpapi.Options{})
	root := t.TempDir()
	moved := bytes.Replace(sealedManifest(t, c.old(), "moved", "yaml", sealing.V2), []byte("namespace: prod"), []byte("namespace: staging"), 1)
	mixed := append(append(sealedManifest(t, c.old(), "fine", "yaml", sealing.V2), "---\n"...), moved...)
	broken := append(sealedManifest(t, c.old(), "broken", "yaml", sealing.V2), "---\nkind: [unclosed\n"...)
	writeTree(t, root, map[string][]byte{
		"mixed.yaml":  mixed,
		"broken.yaml": broken,
		"good.yaml":   sealedManifest(t, c.old(), "good", "yaml", sealing.V2),
	})
	c.renew()
	out, errOut, code := ksealRun(t, "", "reencrypt", "--controller-url", c.URL, root)
	if code != 1 {
		t.Fatalf("exit %d, want 1\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	for _, want := range []string{
		"reencrypt: 1 changed, 0 unchanged, 2 failed\n",
		"  failed: " + filepath.Join(root, "broken.yaml") + ": document 2 is not a valid YAML or JSON object (syntax error at line ",
		"  failed: " + filepath.Join(root, "mixed.yaml") + ": SealedSecret staging/moved (document 2): unseal staging/moved: ",
		"scope mismatch",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("stdout does not contain %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errOut, "error: 2 file(s) could not be re-encrypted and were left unchanged") {
		t.Errorf("stderr: %s", errOut)
	}
	if !bytes.Equal(readFile(t, filepath.Join(root, "mixed.yaml")), mixed) || !bytes.Equal(readFile(t, filepath.Join(root, "broken.yaml")), broken) {
		t.Error("a file with a failed document was changed")
	}
	opensWith(t, readFile(t, filepath.Join(root, "good.yaml")), c.renewed())
	if strings.Contains(out+errOut, reencryptPlaintext) {
		t.Error("the output contains a plaintext value")
	}
}

func TestReencrypt_noSealedSecrets(t *testing.T) {
	clearCertEnv(t)
	c := newTestController(t, httpapi.Options{})
	root := t.TempDir()
	writeTree(t, root, map[string][]byte{"a.yaml": []byte(configMapDoc), "b/c.json": []byte(`{"kind": "List", "items": []}`)})
	out, errOut, code := ksealRun(t, "", "reencrypt", "--controller-url", c.URL, root)
	if code != 0 || out != "reencrypt: 0 changed, 0 unchanged, 0 failed\n" || errOut != "reencrypt: no SealedSecret or SOPS document found in 2 file(s)\n" {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}

func TestReencrypt_rateLimited(t *testing.T) {
	clearCertEnv(t)
	// One request at a time, ten per second: the CLI waits and retries.
	c := newTestController(t, httpapi.Options{Rotate: httpapi.RateLimit{PerSecond: 10, Burst: 1}})
	root := t.TempDir()
	writeTree(t, root, map[string][]byte{
		"a.yaml": sealedManifest(t, c.old(), "a", "yaml", sealing.V2),
		"b.yaml": sealedManifest(t, c.old(), "b", "yaml", sealing.V2),
	})
	c.renew()
	out, errOut, code := ksealRun(t, "", "reencrypt", "--controller-url", c.URL, filepath.Join(root, "a.yaml"), filepath.Join(root, "b.yaml"))
	if code != 0 || out != "reencrypt: 2 changed, 0 unchanged, 0 failed\n" {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
}

func TestReencrypt_controllerDown(t *testing.T) {
	clearCertEnv(t)
	c := newTestController(t, httpapi.Options{})
	root := t.TempDir()
	manifest := sealedManifest(t, c.old(), "a", "yaml", sealing.V2)
	writeTree(t, root, map[string][]byte{"a.yaml": manifest, "b.yaml": manifest})
	c.srv.Close()
	out, errOut, code := ksealRun(t, "", "reencrypt", "--controller-url", c.URL, root)
	if code != 1 || out != "reencrypt: 0 changed, 0 unchanged, 0 failed\n" {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if !strings.Contains(errOut, "error: re-encrypt "+filepath.Join(root, "a.yaml")+" from the controller at") ||
		!strings.Contains(errOut, "hint: check --controller-url") {
		t.Errorf("stderr: %s", errOut)
	}
	if !bytes.Equal(readFile(t, filepath.Join(root, "a.yaml")), manifest) {
		t.Error("a.yaml changed")
	}
}

// TestReencrypt_fileChangedDuringRun: a file written by someone else while
// the controller re-encrypts it is left as they wrote it, and reported.
func TestReencrypt_fileChangedDuringRun(t *testing.T) {
	clearCertEnv(t)
	c := newTestController(t, httpapi.Options{})
	root := t.TempDir()
	path := filepath.Join(root, "db.yaml")
	writeTree(t, root, map[string][]byte{"db.yaml": sealedManifest(t, c.old(), "db", "yaml", sealing.V2)})
	c.renew()
	edited := []byte("# edited while kseal ran\n" + string(sealedManifest(t, c.old(), "db", "yaml", sealing.V2)))
	target, err := url.Parse(c.URL)
	if err != nil {
		t.Fatal(err)
	}
	proxy := httputil.NewSingleHostReverseProxy(target)
	// The edit lands while the controller works on the file.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if err := os.WriteFile(path, edited, 0o644); err != nil {
			t.Error(err)
		}
		proxy.ServeHTTP(w, r)
	}))
	defer srv.Close()
	out, errOut, code := ksealRun(t, "", "reencrypt", "--controller-url", srv.URL, root)
	if code != 1 || !strings.Contains(out, "reencrypt: 0 changed, 0 unchanged, 1 failed\n") ||
		!strings.Contains(out, "failed: "+path+": changed while kseal reencrypt ran; left as it is") {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	if !bytes.Equal(readFile(t, path), edited) {
		t.Error("the edit was overwritten")
	}
}

// TestReencrypt_reportsSymlinks: links in a directory are not followed
// (they may lead out of it) and each is named.
func TestReencrypt_reportsSymlinks(t *testing.T) {
	clearCertEnv(t)
	c := newTestController(t, httpapi.Options{})
	root, outside := t.TempDir(), t.TempDir()
	manifest := sealedManifest(t, c.old(), "db", "yaml", sealing.V2)
	writeTree(t, outside, map[string][]byte{"db.yaml": manifest, "dir/x.yaml": manifest})
	writeTree(t, root, map[string][]byte{"a.yaml": []byte(configMapDoc)})
	for link, to := range map[string]string{"db.yaml": "db.yaml", "linked-dir": "dir"} {
		if err := os.Symlink(filepath.Join(outside, to), filepath.Join(root, link)); err != nil {
			t.Fatal(err)
		}
	}
	c.renew()
	out, errOut, code := ksealRun(t, "", "reencrypt", "--controller-url", c.URL, root)
	if code != 0 || out != "reencrypt: 0 changed, 0 unchanged, 0 failed\n" {
		t.Fatalf("exit %d\nstdout: %s\nstderr: %s", code, out, errOut)
	}
	for _, l := range []string{"db.yaml", "linked-dir"} {
		if !strings.Contains(errOut, "reencrypt: skipped symbolic link "+filepath.Join(root, l)+" ") {
			t.Errorf("stderr does not name %s:\n%s", l, errOut)
		}
	}
	if !bytes.Equal(readFile(t, filepath.Join(outside, "db.yaml")), manifest) {
		t.Error("a file outside the tree was rewritten")
	}
}
