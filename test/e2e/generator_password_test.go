package e2e

import (
	"encoding/hex"
	"strings"
	"testing"
	"time"
	"unicode"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
)

// ESO's Password generator manifests, from external-secrets/external-secrets
// docs/snippets (commit cc5bfbc2234ace9cb0caff4ea89c435cf517b27b), with only
// the top-level apiVersion changed to kseal.dev/v1alpha1; the generatorRef
// apiVersion is left as ESO wrote it.
const (
	esoPasswordGenerator = `apiVersion: kseal.dev/v1alpha1
kind: Password
metadata:
  name: my-password
spec:
  length: 42
  digits: 5
  symbols: 5
  symbolCharacters: "-_$@"
  noUpper: false
  allowRepeat: true
`
	esoPasswordExample = `apiVersion: kseal.dev/v1alpha1
kind: ExternalSecret
metadata:
  name: "password"
spec:
  refreshInterval: "30m0s"
  target:
    name: password-secret
  dataFrom:
  - sourceRef:
      generatorRef:
        apiVersion: generators.external-secrets.io/v1alpha1
        kind: Password
        name: "my-password"
`
	esoPasswordMultipleKeys = `apiVersion: kseal.dev/v1alpha1
kind: Password
metadata:
  name: multiple-passwords
spec:
  length: 36
  secretKeys:
    - key1
    - key2
---
apiVersion: kseal.dev/v1alpha1
kind: ExternalSecret
metadata:
  name: auth-secrets
spec:
  refreshInterval: "30m"
  target:
    name: auth-secrets
  dataFrom:
    - sourceRef:
        generatorRef:
          apiVersion: generators.external-secrets.io/v1alpha1
          kind: Password
          name: multiple-passwords
`
	esoPasswordHex = `apiVersion: kseal.dev/v1alpha1
kind: Password
metadata:
  name: password-hex
spec:
  length: 16
  encoding: "hex"
`
)

// applyStrictAll applies every document of a multi-document manifest.
func applyStrictAll(t testing.TB, ns, manifests string) {
	t.Helper()
	for _, m := range strings.Split(manifests, "\n---\n") {
		if err := applyStrict(t, ns, m); err != nil {
			t.Fatal(err)
		}
	}
}

// generatorES is an ExternalSecret whose only entry is a generatorRef.
func generatorES(ns, name string, ref v1alpha1.GeneratorRef) *v1alpha1.ExternalSecret {
	return &v1alpha1.ExternalSecret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.ExternalSecretSpec{
			RefreshInterval: &metav1.Duration{Duration: time.Hour},
			DataFrom:        []v1alpha1.ExternalSecretDataFromRemoteRef{{SourceRef: &v1alpha1.StoreGeneratorSourceRef{GeneratorRef: &ref}}},
		},
	}
}

func passwordRef(name string) v1alpha1.GeneratorRef {
	return v1alpha1.GeneratorRef{APIVersion: "kseal.dev/v1alpha1", Kind: "Password", Name: name}
}

// TestPassword_esoManifests applies ESO's documented Password generator
// manifests with strict validation and checks the Secrets hold what ESO's
// docs describe: the length, digit and symbol counts and symbol set asked
// for, one distinct password per secretKeys entry, and the encoding.
func TestPassword_esoManifests(t *testing.T) {
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "gen-eso")
	applyStrictAll(t, ns, esoPasswordGenerator+"---\n"+esoPasswordExample+"---\n"+esoPasswordMultipleKeys+"---\n"+esoPasswordHex)
	hexES := generatorES(ns, "hex", passwordRef("password-hex"))
	if err := env.Client.Create(ctx, hexES); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"password", "auth-secrets", "hex"} {
		esCondition(t, ns, name, metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
	}

	pw := string(getSecret(t, ns, "password-secret").Data["password"])
	var letters, digits, symbols int
	for _, r := range pw {
		switch {
		case unicode.IsLetter(r):
			letters++
		case unicode.IsDigit(r):
			digits++
		case strings.ContainsRune("-_$@", r):
			symbols++
		default:
			t.Fatalf("password holds %q, not a letter, digit or one of symbolCharacters", r)
		}
	}
	if len(pw) != 42 || digits != 5 || symbols != 5 {
		t.Fatalf("password has %d characters, %d digits, %d symbols; want 42, 5, 5", len(pw), digits, symbols)
	}

	auth := getSecret(t, ns, "auth-secrets").Data
	if len(auth) != 2 || len(auth["key1"]) != 36 || len(auth["key2"]) != 36 || string(auth["key1"]) == string(auth["key2"]) {
		t.Fatalf("auth-secrets: want key1 and key2, two distinct 36-character passwords; got %d keys", len(auth))
	}

	raw, err := hex.DecodeString(string(getSecret(t, ns, "hex").Data["password"]))
	if err != nil || len(raw) != 16 {
		t.Fatalf("hex encoding: the value is not 16 hex-encoded characters (%v)", err)
	}
	for _, v := range []string{pw, string(auth["key1"]), string(raw)} {
		if strings.Contains(logs.String(), v) {
			t.Fatal("a generated password appears in the controller's log")
		}
	}
}

// forceSync sets the force-sync annotation of an ExternalSecret to value.
func forceSync(t testing.TB, ns, name, value string) {
	t.Helper()
	es := &v1alpha1.ExternalSecret{}
	if err := env.Client.Get(ctx, clientKey(ns, name), es); err != nil {
		t.Fatal(err)
	}
	patch := client.MergeFrom(es.DeepCopy())
	if es.Annotations == nil {
		es.Annotations = map[string]string{}
	}
	es.Annotations[v1alpha1.AnnotationForceSync] = value
	if err := env.Client.Patch(ctx, es, patch); err != nil {
		t.Fatal(err)
	}
}

// TestPassword_refreshPolicy: as in ESO, every refresh draws a new password
// (Periodic, here through force-sync), and refreshPolicy CreatedOnce keeps
// the first one; rewrite renames the generated key.
func TestPassword_refreshPolicy(t *testing.T) {
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "gen-refresh")
	if err := env.Client.Create(ctx, &v1alpha1.Password{ObjectMeta: metav1.ObjectMeta{Name: "pw", Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	periodic := generatorES(ns, "periodic", passwordRef("pw"))
	periodic.Spec.DataFrom[0].Rewrite = []v1alpha1.ExternalSecretRewrite{{Regexp: &v1alpha1.ExternalSecretRewriteRegexp{Source: "^password$", Target: "db-password"}}}
	once := generatorES(ns, "once", passwordRef("pw"))
	once.Spec.RefreshPolicy = v1alpha1.RefreshPolicyCreatedOnce
	for _, es := range []*v1alpha1.ExternalSecret{periodic, once} {
		if err := env.Client.Create(ctx, es); err != nil {
			t.Fatal(err)
		}
		esCondition(t, ns, es.Name, metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
	}
	first := string(getSecret(t, ns, "periodic").Data["db-password"])
	kept := string(getSecret(t, ns, "once").Data["password"])
	if len(first) != 24 || len(kept) != 24 {
		t.Fatalf("want 24-character passwords (the default), got %d and %d", len(first), len(kept))
	}

	forceSync(t, ns, "once", "1")
	forceSync(t, ns, "periodic", "1")
	waitFor(t, 60*time.Second, "a new password on refresh", func() bool {
		v := string(getSecret(t, ns, "periodic").Data["db-password"])
		return v != "" && v != first
	})
	if got := string(getSecret(t, ns, "once").Data["password"]); got != kept {
		t.Fatal("refreshPolicy CreatedOnce: the password changed on a refresh")
	}
}

// TestPassword_misuse: every misuse of a generator is refused with a clear
// message, at admission where the schema can tell, else as a condition; a
// Secret already written is left as it is, and a generator is found only in
// the ExternalSecret's own namespace.
func TestPassword_misuse(t *testing.T) {
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "gen-misuse")
	other := newNamespace(t, "gen-other")
	for _, p := range []*v1alpha1.Password{
		{ObjectMeta: metav1.ObjectMeta{Name: "pw", Namespace: ns}},
		{ObjectMeta: metav1.ObjectMeta{Name: "theirs", Namespace: other}},
		{ObjectMeta: metav1.ObjectMeta{Name: "no-repeat", Namespace: ns}, Spec: v1alpha1.PasswordSpec{Length: 100}},
	} {
		if err := env.Client.Create(ctx, p); err != nil {
			t.Fatal(err)
		}
	}

	refused := map[string]struct{ manifest, want string }{
		"generatorRef in data":      {`{apiVersion: kseal.dev/v1alpha1, kind: ExternalSecret, metadata: {name: in-data}, spec: {data: [{secretKey: a, remoteRef: {key: k}, sourceRef: {generatorRef: {kind: Password, name: pw}}}]}}`, "not allowed in data"},
		"generatorRef with extract": {`{apiVersion: kseal.dev/v1alpha1, kind: ExternalSecret, metadata: {name: with-extract}, spec: {dataFrom: [{extract: {key: k}, sourceRef: {generatorRef: {kind: Password, name: pw}}}]}}`, "takes no extract or find"},
		"generatorRef namespace":    {`{apiVersion: kseal.dev/v1alpha1, kind: ExternalSecret, metadata: {name: with-ns}, spec: {dataFrom: [{sourceRef: {generatorRef: {kind: Password, name: theirs, namespace: ` + other + `}}}]}}`, "unknown field"},
		"digits+symbols > length":   {`{apiVersion: kseal.dev/v1alpha1, kind: Password, metadata: {name: crowded}, spec: {length: 8, digits: 5, symbols: 5}}`, "digits + symbols must not exceed length"},
		"length over the cap":       {`{apiVersion: kseal.dev/v1alpha1, kind: Password, metadata: {name: huge}, spec: {length: 1000000}}`, "1024"},
	}
	for name, tt := range refused {
		err := applyStrict(t, ns, tt.manifest)
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: err = %v, want a refusal saying %q", name, err, tt.want)
		}
	}

	conditions := []struct {
		name, reason, want string
		ref                v1alpha1.GeneratorRef
	}{
		{"unknown-kind", v1alpha1.ReasonInvalidSpec, `kind "UUID" is not supported`, v1alpha1.GeneratorRef{Kind: "UUID", Name: "pw"}},
		{"cluster-generator", v1alpha1.ReasonInvalidSpec, "ClusterGenerator is not supported", v1alpha1.GeneratorRef{Kind: "ClusterGenerator", Name: "pw"}},
		{"missing", v1alpha1.ReasonGeneratorNotFound, "does not exist", passwordRef("nope")},
		{"other-namespace", v1alpha1.ReasonGeneratorNotFound, "Password " + ns + "/theirs does not exist", passwordRef("theirs")},
		{"no-repeat", v1alpha1.ReasonInvalidSpec, "allowRepeat", passwordRef("no-repeat")},
	}
	for _, tt := range conditions {
		if err := env.Client.Create(ctx, generatorES(ns, tt.name, tt.ref)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tt := range conditions {
		cond := esCondition(t, ns, tt.name, metav1.ConditionFalse, tt.reason)
		if !strings.Contains(cond.Message, tt.want) {
			t.Errorf("%s: message %q does not say %q", tt.name, cond.Message, tt.want)
		}
		if getSecret(t, ns, tt.name) != nil {
			t.Errorf("%s: a Secret was written", tt.name)
		}
	}

	// A synced Secret survives its generator going missing.
	es := generatorES(ns, "kept", passwordRef("pw"))
	if err := env.Client.Create(ctx, es); err != nil {
		t.Fatal(err)
	}
	esCondition(t, ns, "kept", metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
	before := getSecret(t, ns, "kept").Data["password"]
	if err := env.Client.Get(ctx, clientKey(ns, "kept"), es); err != nil {
		t.Fatal(err)
	}
	es.Spec.DataFrom[0].SourceRef.GeneratorRef.Name = "gone"
	if err := env.Client.Update(ctx, es); err != nil {
		t.Fatal(err)
	}
	esCondition(t, ns, "kept", metav1.ConditionFalse, v1alpha1.ReasonGeneratorNotFound)
	if s := getSecret(t, ns, "kept"); s == nil || string(s.Data["password"]) != string(before) {
		t.Fatal("the synced Secret was changed when its generator went missing")
	}
}
