package apiserver_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"
)

// esoManifests reads a testdata/eso file as an ESO user would apply it
// after changing only the apiVersion.
func esoManifests(t *testing.T, file string) []*unstructured.Unstructured {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "eso", file))
	if err != nil {
		t.Fatal(err)
	}
	text := strings.NewReplacer("{% raw %}", "", "{% endraw %}", "", "apiVersion: external-secrets.io/v1\n", "apiVersion: kseal.dev/v1alpha1\n").Replace(string(b))
	var out []*unstructured.Unstructured
	for _, doc := range strings.Split(text, "\n---\n") {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal([]byte(doc), &u.Object); err != nil {
			t.Fatalf("%s: %v", file, err)
		}
		if len(u.Object) == 0 {
			continue
		}
		u.SetNamespace(testNamespace)
		out = append(out, u)
	}
	return out
}

// createStrict creates obj as a dry run with strict field validation, as
// `kubectl apply` does by default.
func createStrict(t *testing.T, obj *unstructured.Unstructured) error {
	t.Helper()
	return env.Client.Create(t.Context(), obj, client.DryRunAll, client.FieldValidation("Strict"))
}

// TestExternalSecret_esoManifestsAccepted: ESO's documented template,
// rewrite and decoding manifests are accepted after changing the
// apiVersion.
func TestExternalSecret_esoManifestsAccepted(t *testing.T) {
	for _, file := range []string{
		"datafrom-rewrite-invalid-characters.yaml",
		"datafrom-rewrite-remove-path.yaml",
		"datafrom-rewrite-transform.yaml",
		"datafrom-rewrite-merge-empty.yaml",
		"merge-template-v2-external-secret.yaml",
		"multiline-template-v2-external-secret.yaml",
		"multikey-template-v2-external-secret.yaml",
		"template-v2-from-secret.yaml",
		"template-v2-literal-example.yaml",
		"template-v2-scope-and-target.yaml",
		"jwk-template-v2-external-secret.yaml",
		// filterpem-template-v2-external-secret.yaml is not valid YAML as
		// ESO's docs show it (double quotes inside double quotes).
		"certsans-template-v2-external-secret.yaml",
	} {
		t.Run(file, func(t *testing.T) {
			for _, obj := range esoManifests(t, file) {
				if err := createStrict(t, obj); err != nil {
					t.Errorf("%s %s: %v", obj.GetKind(), obj.GetName(), err)
				}
			}
		})
	}
}

// TestExternalSecret_esoManifestsRefused: ESO manifests that use what kseal
// does not do are refused with a message that says so.
func TestExternalSecret_esoManifestsRefused(t *testing.T) {
	for file, want := range map[string][]string{
		// As ESO's docs show it, its annotation "acme.org/sha: 1234" is a
		// number, which no API server accepts; its other fields are
		// checked one by one below.
		"full-external-secret.yaml":                  {"annotations"},
		"multiline-template-v1-external-secret.yaml": {"engineVersion"},
	} {
		t.Run(file, func(t *testing.T) {
			objs := esoManifests(t, file)
			err := createStrict(t, objs[len(objs)-1])
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error lacks %q: %v", w, err)
				}
			}
			t.Logf("refused as expected: %v", err)
		})
	}
}

// TestExternalSecret_unsupportedFieldsRefused: every ESO field kseal
// accepts in the schema but does not implement is refused with a message
// that says what to write instead.
func TestExternalSecret_unsupportedFieldsRefused(t *testing.T) {
	es := func(spec map[string]any) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"apiVersion": "kseal.dev/v1alpha1", "kind": "ExternalSecret", "spec": spec}}
		u.SetNamespace(testNamespace)
		u.SetName("refused")
		return u
	}
	store := map[string]any{"name": "s"}
	tmpl := func(t map[string]any) map[string]any {
		return map[string]any{"secretStoreRef": store, "target": map[string]any{"template": t}}
	}
	extract := map[string]any{"key": "k"}
	for name, tc := range map[string]struct {
		spec map[string]any
		want string
	}{
		"engineVersion v1":             {tmpl(map[string]any{"engineVersion": "v1"}), "write engineVersion: v2"},
		"finalizers":                   {tmpl(map[string]any{"metadata": map[string]any{"finalizers": []any{"x"}}}), "finalizers is not supported"},
		"templateFrom target":          {tmpl(map[string]any{"templateFrom": []any{map[string]any{"target": "spec.x", "literal": "a: b"}}}), "must be Data, Annotations or Labels"},
		"templateFrom two kinds":       {tmpl(map[string]any{"templateFrom": []any{map[string]any{"literal": "a: b", "configMap": map[string]any{"name": "c", "items": []any{}}}}}), "at most one of configMap, secret and literal"},
		"creationPolicy CreateOrMerge": {map[string]any{"secretStoreRef": store, "target": map[string]any{"creationPolicy": "CreateOrMerge"}}, "use Owner"},
		"deletionPolicy Merge":         {map[string]any{"secretStoreRef": store, "target": map[string]any{"deletionPolicy": "Merge"}}, "use Retain"},
		"manifest":                     {map[string]any{"secretStoreRef": store, "target": map[string]any{"manifest": map[string]any{"apiVersion": "v1", "kind": "ConfigMap"}}}, "writes Secrets only"},
		"rewrite with two kinds": {map[string]any{"secretStoreRef": store, "dataFrom": []any{map[string]any{"extract": extract, "rewrite": []any{map[string]any{
			"regexp": map[string]any{"source": "a", "target": "b"}, "transform": map[string]any{"template": "x"}}}}}}, "exactly one of regexp, transform and merge"},
		"merge JSON without into": {map[string]any{"secretStoreRef": store, "dataFrom": []any{map[string]any{"extract": extract, "rewrite": []any{map[string]any{
			"merge": map[string]any{"strategy": "JSON"}}}}}}, "merge strategy JSON needs into"},
		"merge bad conflictPolicy": {map[string]any{"secretStoreRef": store, "dataFrom": []any{map[string]any{"extract": extract, "rewrite": []any{map[string]any{
			"merge": map[string]any{"conflictPolicy": "Overwrite"}}}}}}, "Unsupported value"},
		"generatorRef on data": {map[string]any{"data": []any{map[string]any{"secretKey": "a", "remoteRef": extract,
			"sourceRef": map[string]any{"generatorRef": map[string]any{"kind": "Password", "name": "p"}}}}}, "not allowed in data[].sourceRef"},
		"syncWindows": {map[string]any{"secretStoreRef": store, "syncWindows": map[string]any{"kind": "allow",
			"windows": []any{map[string]any{"schedule": "0 9 * * 1-5", "duration": "8h"}}}}, "syncWindows are not supported"},
		"generatorRef with extract": {map[string]any{"dataFrom": []any{map[string]any{"extract": extract, "sourceRef": map[string]any{"generatorRef": map[string]any{
			"apiVersion": "generators.external-secrets.io/v1alpha1", "kind": "Password", "name": "p"}}}}}, "takes no extract or find"},
		"generatorRef with storeRef": {map[string]any{"dataFrom": []any{map[string]any{"sourceRef": map[string]any{"storeRef": store, "generatorRef": map[string]any{
			"kind": "Password", "name": "p"}}}}}, "one of storeRef and generatorRef"},
		"bad decodingStrategy": {map[string]any{"secretStoreRef": store, "data": []any{map[string]any{"secretKey": "a",
			"remoteRef": map[string]any{"key": "k", "decodingStrategy": "Hex"}}}}, "Unsupported value"},
	} {
		t.Run(name, func(t *testing.T) {
			err := createStrict(t, es(tc.spec))
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("got %v, want an error with %q", err, tc.want)
			}
		})
	}
}
