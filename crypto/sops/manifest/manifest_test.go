package manifest_test

import (
	"encoding/base64"
	"errors"
	"fmt"
	"sort"
	"strings"
	"testing"

	"filippo.io/age"
	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/kseal-dev/kseal/crypto/sops"
	"github.com/kseal-dev/kseal/crypto/sops/manifest"
	"github.com/kseal-dev/kseal/crypto/sops/sopstest"
)

type fixture struct {
	dec       *manifest.Decrypter
	recipient string
}

func newFixture(t *testing.T) fixture {
	t.Helper()
	id, err := age.GenerateHybridIdentity()
	if err != nil {
		t.Fatal(err)
	}
	strict, err := sops.New([]age.Identity{id}, sops.Options{})
	if err != nil {
		t.Fatal(err)
	}
	lenient, err := sops.New([]age.Identity{id}, sops.Options{SkipMACCheck: true})
	if err != nil {
		t.Fatal(err)
	}
	return fixture{
		dec: &manifest.Decrypter{
			Keys:         func() (*sops.Decryptor, error) { return strict, nil },
			VerifiedKeys: func() (*sops.Decryptor, error) { return lenient, nil },
			Verified:     map[string]bool{},
		},
		recipient: id.Recipient().String(),
	}
}

func (f fixture) encrypt(t *testing.T, plain string, format sops.Format, regex string) string {
	t.Helper()
	out, err := sopstest.Encrypt([]byte(plain), format, sopstest.Options{Recipients: []string{f.recipient}, EncryptedRegex: regex})
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func parseOne(t *testing.T, doc string) *kyaml.RNode {
	t.Helper()
	n, err := kyaml.Parse(doc)
	if err != nil {
		t.Fatal(err)
	}
	return n
}

func b64(s string) string { return base64.StdEncoding.EncodeToString([]byte(s)) }

func TestDecrypter_Decrypt_plain(t *testing.T) {
	f := newFixture(t)
	f.dec.Keys = func() (*sops.Decryptor, error) { return nil, errors.New("no keys needed") }
	for _, doc := range []string{
		"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  sops: not metadata\n",
		"apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  a: " + b64("plain") + "\n  b: not-base64!\n",
	} {
		n := parseOne(t, doc)
		before := n.MustString()
		ok, err := f.dec.Decrypt(n, "r")
		if err != nil || ok || n.MustString() != before {
			t.Errorf("Decrypt(%q) = %v, %v; changed: %v", doc, ok, err, n.MustString() != before)
		}
	}
}

func TestDecrypter_Decrypt_wholeDocument(t *testing.T) {
	f := newFixture(t)
	enc := f.encrypt(t, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\n  annotations:\n    team: a\nstringData:\n  k: pw-k\n", sops.FormatYAML, "^stringData$")
	// As a KRM function gets it: with kustomize's annotations added.
	n := parseOne(t, enc)
	anno := n.GetAnnotations()
	anno["config.kubernetes.io/index"] = "3"
	anno["internal.config.kubernetes.io/path"] = "x.yaml"
	if err := n.SetAnnotations(anno); err != nil {
		t.Fatal(err)
	}
	ok, err := f.dec.Decrypt(n, "Secret s")
	if err != nil || !ok {
		t.Fatalf("Decrypt = %v, %v", ok, err)
	}
	got := n.MustString()
	for _, want := range []string{"k: pw-k", "team: a", "config.kubernetes.io/index: \"3\"", "internal.config.kubernetes.io/path: x.yaml"} {
		if !strings.Contains(got, want) {
			t.Errorf("result lacks %q:\n%s", want, got)
		}
	}
	if manifest.HasMetadata(n) || strings.Contains(got, "sops") {
		t.Errorf("SOPS metadata left:\n%s", got)
	}

	// Keys sorted (as kustomize prints them): the MAC no longer matches...
	sorted := parseOne(t, strings.Replace(enc, "apiVersion: v1\nkind: Secret\n", "kind: Secret\napiVersion: v1\n", 1))
	_, err = f.dec.Decrypt(sorted, "Secret s")
	if !errors.Is(err, sops.ErrMACMismatch) || !strings.HasPrefix(err.Error(), "Secret s: ") {
		t.Fatalf("err = %v, want a MAC mismatch naming the resource", err)
	}
	// ...unless the file was verified as committed.
	f.dec.Verified[manifest.MAC(sorted)] = true
	if ok, err := f.dec.Decrypt(sorted, "Secret s"); err != nil || !ok {
		t.Fatalf("verified: %v, %v", ok, err)
	}
}

func TestDecrypter_Decrypt_secretValues(t *testing.T) {
	f := newFixture(t)
	yamlFile := f.encrypt(t, "user: app\npassword: pw-yaml\n", sops.FormatYAML, "")
	binFile := f.encrypt(t, "\x00\x01pw-bin", sops.FormatBinary, "")
	envFile := f.encrypt(t, "A=pw-env\n", sops.FormatDotenv, "")
	jsonFile := f.encrypt(t, `{"p":"pw-json"}`, sops.FormatJSON, "")
	doc := fmt.Sprintf("apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\ndata:\n  config.yaml: %s\n  tls.key: %s\n  app.env: %s\n  plain: %s\nstringData:\n  settings.json: '%s'\n",
		b64(yamlFile), b64(binFile), b64(envFile), b64("plain"), strings.ReplaceAll(jsonFile, "\n", " "))
	n := parseOne(t, doc)
	ok, err := f.dec.Decrypt(n, "Secret s")
	if err != nil || !ok {
		t.Fatalf("Decrypt = %v, %v", ok, err)
	}
	data := n.GetDataMap()
	checks := map[string]string{"tls.key": "\x00\x01pw-bin", "app.env": "A=pw-env\n", "plain": "plain"}
	for k, want := range checks {
		got, _ := base64.StdEncoding.DecodeString(data[k])
		if string(got) != want {
			t.Errorf("data %s = %q, want %q", k, got, want)
		}
	}
	cfg, _ := base64.StdEncoding.DecodeString(data["config.yaml"])
	if !strings.Contains(string(cfg), "password: pw-yaml") {
		t.Errorf("config.yaml = %q", cfg)
	}
	sd, err := n.Pipe(kyaml.Lookup("stringData", "settings.json"))
	if err != nil || !strings.Contains(sd.YNode().Value, `"p": "pw-json"`) {
		t.Errorf("settings.json = %v (%v)", sd.MustString(), err)
	}
}

// envSecret is the Secret kustomize's secretGenerator makes with envs: from
// a dotenv file: one data entry per line, sorted.
func envSecret(file string) string {
	lines := strings.Split(strings.TrimSpace(file), "\n")
	sort.Strings(lines)
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: Secret\nmetadata:\n  name: env\ndata:\n")
	for _, l := range lines {
		k, v, _ := strings.Cut(l, "=")
		fmt.Fprintf(&b, "  %s: %s\n", k, b64(v))
	}
	return b.String()
}

func TestDecrypter_Decrypt_envData(t *testing.T) {
	f := newFixture(t)
	file := f.encrypt(t, "ZONE=eu\nPASSWORD=pw-env\n", sops.FormatDotenv, "")
	n := parseOne(t, envSecret(file))
	_, err := f.dec.Decrypt(n, "Secret env")
	if !errors.Is(err, sops.ErrMACMismatch) {
		t.Fatalf("unverified: err = %v, want a MAC mismatch (kustomize sorted the lines)", err)
	}
	mac, ok := sops.MACOf([]byte(file), sops.FormatDotenv)
	if !ok {
		t.Fatal("no MAC in the dotenv file")
	}
	f.dec.Verified[mac] = true
	n = parseOne(t, envSecret(file))
	if ok, err := f.dec.Decrypt(n, "Secret env"); err != nil || !ok {
		t.Fatalf("Decrypt = %v, %v", ok, err)
	}
	data := n.GetDataMap()
	if len(data) != 2 || data["PASSWORD"] != b64("pw-env") || data["ZONE"] != b64("eu") {
		t.Errorf("data = %v", data)
	}
}

func TestDecrypter_Decrypt_noKeys(t *testing.T) {
	f := newFixture(t)
	f.dec.Keys = func() (*sops.Decryptor, error) { return nil, errors.New("no age identity") }
	n := parseOne(t, f.encrypt(t, "apiVersion: v1\nkind: Secret\nmetadata:\n  name: s\nstringData:\n  k: pw-k\n", sops.FormatYAML, "^stringData$"))
	_, err := f.dec.Decrypt(n, "Secret s")
	if err == nil || err.Error() != "Secret s is SOPS-encrypted: no age identity" {
		t.Fatalf("err = %v", err)
	}
}

func TestParse(t *testing.T) {
	nodes, err := manifest.Parse([]byte(`{"apiVersion":"v1","kind":"ConfigMap","metadata":{"name":"c"},"data":{"n":"1","s":"text"}}` + "\n---\n\n---\napiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: d\n"))
	if err != nil {
		t.Fatal(err)
	}
	if len(nodes) != 2 {
		t.Fatalf("got %d documents", len(nodes))
	}
	want := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  n: \"1\"\n  s: text\n"
	if got := nodes[0].MustString(); got != want {
		t.Errorf("JSON printed as\n%s\nwant\n%s", got, want)
	}
	for _, bad := range []string{"a: [pw-secret\n", "- just\n- a list\n"} {
		_, err := manifest.Parse([]byte(bad))
		if err == nil || strings.Contains(err.Error(), "pw-secret") || strings.Contains(err.Error(), "just") {
			t.Errorf("Parse(%q): %v", bad, err)
		}
	}
}
