package cli_test

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"github.com/getsops/sops/v3/decrypt"

	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sops"
	"github.com/kseal-dev/kseal/crypto/sops/sopstest"
)

// renewal is a cluster whose key renewed once, and two keys of other people.
type renewal struct {
	gen1, gen2         *keys.Generation
	foreignA, foreignB *age.X25519Identity
	// backup is a manifest of both key Secrets, as
	// `kubectl get secret -l kseal.dev/sealing-key=active -o yaml` saves it.
	backup string
	// gen2Only is an identity file holding generation 2's SOPS identity.
	gen2Only string
}

func newRenewal(t *testing.T) *renewal {
	t.Helper()
	base := time.Now().Add(-48 * time.Hour)
	r := &renewal{}
	var err error
	if r.gen1, err = keys.Generate(keys.GenerateOptions{Name: "kseal-key-1", RSABits: 2048, Now: base}); err != nil {
		t.Fatal(err)
	}
	if r.gen2, err = keys.Generate(keys.GenerateOptions{Name: "kseal-key-2", RSABits: 2048, Now: base.Add(24 * time.Hour)}); err != nil {
		t.Fatal(err)
	}
	if r.foreignA, err = age.GenerateX25519Identity(); err != nil {
		t.Fatal(err)
	}
	if r.foreignB, err = age.GenerateX25519Identity(); err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	r.backup = filepath.Join(dir, "keys-backup.yaml")
	manifest := append(mustEncode(t, r.gen1.Secret("kseal-system")), "---\n"...)
	manifest = append(manifest, mustEncode(t, r.gen2.Secret("kseal-system"))...)
	if err := os.WriteFile(r.backup, manifest, 0o600); err != nil {
		t.Fatal(err)
	}
	r.gen2Only = filepath.Join(dir, "gen2.agekey")
	if err := os.WriteFile(r.gen2Only, []byte(r.gen2.Sops.String()+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	return r
}

func (r *renewal) recipient(g *keys.Generation) string { return g.Sops.Recipient().String() }

const (
	fluxSecret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\n  namespace: prod\ntype: Opaque\nstringData:\n  password: pw-flux\n"
	boundDoc   = "kseal.dev/scope: prod/db\npassword: pw-bound\n"
	// otherDocs surround a SOPS document in a multi-document file: they must
	// stay byte for byte, odd spacing and comments included.
	otherHead = "# a comment before everything\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings}\ndata:\n  a:   \"1\"   # spaced\n"
	otherTail = "apiVersion: v1\nkind: ConfigMap\nmetadata:\n    name: tail\n\n\n"
)

// sopsTree writes the SOPS files of a repository encrypted to generation 1:
// a Flux-style Secret with a foreign recipient and a second key group, a
// document bound for a SopsSecret, JSON and dotenv files, a multi-document
// file, and a file of someone else's.
func (r *renewal) sopsTree(t *testing.T) string {
	t.Helper()
	g1 := r.recipient(r.gen1)
	one := sopstest.Options{Recipients: []string{g1, r.foreignA.Recipient().String()}}
	dir := t.TempDir()
	writeFiles(t, dir, map[string]string{
		"flux.enc.yaml": sopsEncrypt(t, fluxSecret, sops.FormatYAML, sopstest.Options{
			EncryptedRegex: sopstest.SecretsOnly,
			KeyGroups:      [][]string{{g1, r.foreignA.Recipient().String()}, {r.foreignB.Recipient().String(), g1}},
		}),
		"bound.enc.yaml": sopsEncrypt(t, boundDoc, sops.FormatYAML, one),
		"app.enc.json":   sopsEncrypt(t, `{"password":"pw-json"}`, sops.FormatJSON, one),
		"app.enc.env":    sopsEncrypt(t, "PASSWORD=pw-env\n", sops.FormatDotenv, one),
		"multi.yaml": otherHead + "---\n" + sopsEncrypt(t, strings.Replace(fluxSecret, "name: db", "name: multi", 1), sops.FormatYAML,
			sopstest.Options{Recipients: []string{g1}, EncryptedRegex: sopstest.SecretsOnly}) + "---\n" + otherTail,
		"theirs.enc.yaml": sopsEncrypt(t, boundDoc, sops.FormatYAML, sopstest.Options{Recipients: []string{r.foreignA.Recipient().String()}}),
	})
	return dir
}

// TestReencrypt_sopsFollowsRenewal: SOPS files encrypted to generation 1
// move to generation 2 after the key renewed; the controller's decryption,
// kseal render and the sops library open them with generation 2's key only,
// the other recipients still open them, and documents around them stay.
func TestReencrypt_sopsFollowsRenewal(t *testing.T) {
	isolateEnv(t)
	r := newRenewal(t)
	dir := r.sopsTree(t)
	theirs := readFile(t, filepath.Join(dir, "theirs.enc.yaml"))

	out, errOut, code := runCLI(t, "", "reencrypt", "--age-key-file", r.backup, dir)
	if code != 0 || !strings.HasPrefix(out, "reencrypt: 5 changed, 0 unchanged, 0 failed\n") ||
		!strings.Contains(out, "  skipped: "+filepath.Join(dir, "theirs.enc.yaml")+": SOPS document 1: SOPS document not encrypted to any key generation of the cluster; left as it is\n") {
		t.Fatalf("reencrypt = %d\n%s%s", code, out, errOut)
	}
	if !bytes.Equal(readFile(t, filepath.Join(dir, "theirs.enc.yaml")), theirs) {
		t.Fatal("a file not encrypted to the cluster was rewritten")
	}
	r.checkMoved(t, dir)
	checkMultiDoc(t, dir)

	// Up to date: a second run changes nothing.
	out, errOut, code = runCLI(t, "", "reencrypt", "--age-key-file", r.backup, dir)
	if code != 0 || !strings.HasPrefix(out, "reencrypt: 0 changed, 5 unchanged, 0 failed\n") {
		t.Fatalf("second reencrypt = %d\n%s%s", code, out, errOut)
	}

	// --rotate-data-key: new data key, values and MAC; everything opens.
	before := snapshot(t, dir)
	out, errOut, code = runCLI(t, "", "reencrypt", "--age-key-file", r.backup, "--rotate-data-key", dir)
	if code != 0 || !strings.HasPrefix(out, "reencrypt: 5 changed, 0 unchanged, 0 failed\n") {
		t.Fatalf("reencrypt --rotate-data-key = %d\n%s%s", code, out, errOut)
	}
	after := snapshot(t, dir)
	for _, name := range []string{"flux.enc.yaml", "bound.enc.yaml", "app.enc.json", "app.enc.env"} {
		f := sops.FormatForPath(name)
		b, a := before[filepath.Join(dir, name)], after[filepath.Join(dir, name)]
		m1, _ := sops.MACOf(b, f)
		m2, _ := sops.MACOf(a, f)
		if m1 == "" || m1 == m2 {
			t.Errorf("%s: the MAC did not change with the data key", name)
		}
		if dataKeyOf(t, b, f, r.gen2.Sops) == dataKeyOf(t, a, f, r.gen2.Sops) {
			t.Errorf("%s: the data key did not change", name)
		}
	}
	r.checkMoved(t, dir)
	checkMultiDoc(t, dir)
}

// checkMoved checks every re-encrypted file of sopsTree: generation 2 and
// the other recipients open it, generation 1 no longer does.
func (r *renewal) checkMoved(t *testing.T, dir string) {
	t.Helper()
	g2, err := sops.New([]age.Identity{r.gen2.Sops}, sops.Options{})
	if err != nil {
		t.Fatal(err)
	}
	g1, _ := sops.New([]age.Identity{r.gen1.Sops}, sops.Options{})
	foreign, _ := sops.New([]age.Identity{r.foreignA, r.foreignB}, sops.Options{})
	files := map[string]string{"flux.enc.yaml": "pw-flux", "bound.enc.yaml": "pw-bound", "app.enc.json": "pw-json", "app.enc.env": "pw-env"}
	for name, want := range files {
		data := readFile(t, filepath.Join(dir, name))
		f := sops.FormatForPath(name)
		if !strings.Contains(string(data), r.recipient(r.gen2)) || strings.Contains(string(data), r.recipient(r.gen1)) {
			t.Errorf("%s: not moved from generation 1's recipient to generation 2's", name)
		}
		for who, d := range map[string]*sops.Decryptor{"generation 2": g2, "the foreign keys": foreign} {
			if plain, err := d.Decrypt(name, data, f); err != nil || !strings.Contains(string(plain), want) {
				t.Errorf("%s: %s do not open it: %v", name, who, err)
			}
		}
		if _, err := g1.Decrypt(name, data, f); err == nil {
			t.Errorf("%s: generation 1 still opens it", name)
		}
		// The sops library itself, with the key in SOPS_AGE_KEY.
		t.Setenv("SOPS_AGE_KEY", r.gen2.Sops.String())
		plain, err := decrypt.Data(data, f.String())
		t.Setenv("SOPS_AGE_KEY", "")
		if err != nil || !strings.Contains(string(plain), want) {
			t.Errorf("%s: sops's decrypt.Data with generation 2's key: %v", name, err)
		}
	}
	// The controller's path for a SopsSecret prod/db, generation 2 only.
	plain, err := g2.DecryptBound("bound", readFile(t, filepath.Join(dir, "bound.enc.yaml")), sops.FormatYAML, sops.Target{Namespace: "prod", Name: "db"})
	if err != nil || !strings.Contains(string(plain), "pw-bound") {
		t.Errorf("the SopsSecret decryption does not open it with generation 2: %v", err)
	}
	// kseal render, with generation 2's identity only.
	for name, want := range map[string]string{"flux.enc.yaml": "pw-flux", "bound.enc.yaml": "pw-bound", "app.enc.json": "pw-json", "multi.yaml": "pw-flux"} {
		out, errOut, code := runCLI(t, "", "render", "--age-key-file", r.gen2Only, filepath.Join(dir, name))
		if code != 0 || !strings.Contains(out, want) {
			t.Errorf("render %s = %d, output lacks %q\n%s", name, code, want, errOut)
		}
	}
}

// checkMultiDoc: the documents around the SOPS one are kept byte for byte.
func checkMultiDoc(t *testing.T, dir string) {
	t.Helper()
	data := string(readFile(t, filepath.Join(dir, "multi.yaml")))
	if !strings.HasPrefix(data, otherHead+"---\n") || !strings.HasSuffix(data, "---\n"+otherTail) {
		t.Fatalf("the other documents of multi.yaml changed:\n%s", data)
	}
}

// dataKeyOf opens the data key of a document (its hash, for comparison).
func dataKeyOf(t *testing.T, data []byte, f sops.Format, id age.Identity) string {
	t.Helper()
	key, err := sopstest.DataKey(data, f, id)
	if err != nil {
		t.Fatal(err)
	}
	return string(key)
}

// TestReencrypt_sopsRefused: a changed SOPS file is refused with the reason
// and left untouched; without keys, SOPS files are left alone and listed.
func TestReencrypt_sopsRefused(t *testing.T) {
	isolateEnv(t)
	r := newRenewal(t)
	dir := t.TempDir()
	enc := sopsEncrypt(t, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: pw-x\n", sops.FormatYAML,
		sopstest.Options{Recipients: []string{r.recipient(r.gen1)}, EncryptedRegex: sopstest.SecretsOnly})
	writeFiles(t, dir, map[string]string{"db.enc.yaml": strings.Replace(enc, "name: db", "name: other", 1)})
	before := snapshot(t, dir)
	out, errOut, code := runCLI(t, "", "reencrypt", "--age-key-file", r.backup, dir)
	if code != 1 || !strings.Contains(out, "0 changed, 0 unchanged, 1 failed") || !strings.Contains(out, "  failed: "+filepath.Join(dir, "db.enc.yaml")+": SOPS document 1: MAC mismatch") ||
		strings.Contains(out+errOut, "pw-x") {
		t.Fatalf("reencrypt of a changed file = %d\n%s%s", code, out, errOut)
	}
	if !equalSnapshots(before, snapshot(t, dir)) {
		t.Fatal("the changed file was rewritten")
	}
	out, errOut, code = runCLI(t, "", "reencrypt", dir)
	if code != 0 || !strings.Contains(out, "SOPS document: no key generation given, left as it is (to re-encrypt SOPS documents, pass --from-cluster") {
		t.Fatalf("reencrypt without keys = %d\n%s%s", code, out, errOut)
	}
}

// TestReencrypt_sopsStream: a YAML stream sops encrypted as one document
// (every document carries the same metadata and one MAC covers them all)
// is moved as one, and still opens.
func TestReencrypt_sopsStream(t *testing.T) {
	isolateEnv(t)
	r := newRenewal(t)
	dir := t.TempDir()
	stream := sopsEncrypt(t, "a: pw-s1\n---\nb: pw-s2\n", sops.FormatYAML, sopstest.Options{Recipients: []string{r.recipient(r.gen1)}})
	if strings.Count(stream, "\nsops:\n") != 2 {
		t.Fatalf("fixture: want the metadata in both documents:\n%s", stream)
	}
	writeFiles(t, dir, map[string]string{"stream.enc.yaml": stream})
	out, errOut, code := runCLI(t, "", "reencrypt", "--age-key-file", r.backup, dir)
	if code != 0 || out != "reencrypt: 1 changed, 0 unchanged, 0 failed\n" {
		t.Fatalf("reencrypt = %d\n%s%s", code, out, errOut)
	}
	data := readFile(t, filepath.Join(dir, "stream.enc.yaml"))
	g2, _ := sops.New([]age.Identity{r.gen2.Sops}, sops.Options{})
	plain, err := g2.Decrypt("stream", data, sops.FormatYAML)
	if err != nil || !strings.Contains(string(plain), "pw-s1") || !strings.Contains(string(plain), "pw-s2") {
		t.Fatalf("generation 2 does not open the stream: %v", err)
	}
	if strings.Contains(string(data), r.recipient(r.gen1)) {
		t.Fatal("the stream is still encrypted to generation 1")
	}
}
