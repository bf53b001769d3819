// Package chart tests the Helm chart in charts/kseal through the Helm Go SDK
// (lint, rendering, schema), checks that it stays in step with config/
// (CRDs, RBAC, flags, the Argo CD plugin), and applies it to a real API
// server, where the controller then runs as the chart's ServiceAccount.
package chart

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	kubefake "helm.sh/helm/v3/pkg/kube/fake"
	"helm.sh/helm/v3/pkg/storage"
	"helm.sh/helm/v3/pkg/storage/driver"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/kseal-dev/kseal/test/envtestenv"
)

const (
	chartDir    = "../../charts/kseal"
	releaseNS   = "kseal-system"
	releaseName = "kseal"
)

// readValues reads a values file of testdata.
func readValues(t testing.TB, name string) map[string]any {
	t.Helper()
	vals, err := chartutil.ReadValuesFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return vals.AsMap()
}

// kubeVersion is the version of the API server the tests run against.
func kubeVersion() *chartutil.KubeVersion {
	v, err := chartutil.ParseKubeVersion(envtestenv.KubernetesVersion)
	if err != nil {
		panic(err)
	}
	return v
}

// renderChart renders the chart as `helm template --include-crds` does and
// returns the manifest, or the error Helm gives (schema, template).
func renderChart(vals map[string]any) (string, error) { return renderChartIn(vals, releaseNS) }

// renderChartIn is renderChart for a release in namespace ns.
func renderChartIn(vals map[string]any, ns string) (string, error) {
	ch, err := loader.Load(chartDir)
	if err != nil {
		return "", err
	}
	cfg := &action.Configuration{
		Releases:     storage.Init(driver.NewMemory()),
		KubeClient:   &kubefake.PrintingKubeClient{Out: io.Discard},
		Capabilities: chartutil.DefaultCapabilities,
		Log:          func(string, ...any) {},
	}
	install := action.NewInstall(cfg)
	install.DryRun, install.ClientOnly, install.Replace = true, true, true
	install.IncludeCRDs = true
	install.ReleaseName, install.Namespace = releaseName, ns
	install.KubeVersion = kubeVersion()
	rel, err := install.Run(ch, vals)
	if err != nil {
		return "", err
	}
	return rel.Manifest, nil
}

// render renders the chart and decodes every object; it fails the test on
// any error.
func render(t testing.TB, vals map[string]any) []*unstructured.Unstructured {
	t.Helper()
	manifest, err := renderChart(vals)
	if err != nil {
		t.Fatalf("rendering the chart: %v", err)
	}
	return decodeObjects(t, []byte(manifest))
}

// decodeObjects splits a multi-document YAML stream into objects.
func decodeObjects(t testing.TB, data []byte) []*unstructured.Unstructured {
	t.Helper()
	var out []*unstructured.Unstructured
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	for {
		var m map[string]any
		if err := dec.Decode(&m); err == io.EOF {
			return out
		} else if err != nil {
			t.Fatalf("decoding the rendered chart: %v", err)
		}
		if len(m) == 0 {
			continue
		}
		out = append(out, &unstructured.Unstructured{Object: m})
	}
}

// find returns the rendered object of that kind and name, or nil.
func find(objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	for _, o := range objs {
		if o.GetKind() == kind && o.GetName() == name {
			return o
		}
	}
	return nil
}

// mustFind is find that fails the test when the object is missing.
func mustFind(t testing.TB, objs []*unstructured.Unstructured, kind, name string) *unstructured.Unstructured {
	t.Helper()
	o := find(objs, kind, name)
	if o == nil {
		t.Fatalf("the chart renders no %s %s", kind, name)
	}
	return o
}

// into converts a rendered object into a typed one, refusing unknown fields.
func into(t testing.TB, o *unstructured.Unstructured, v any) {
	t.Helper()
	data, err := yaml.Marshal(o.Object)
	if err != nil {
		t.Fatal(err)
	}
	if err := yaml.UnmarshalStrict(data, v); err != nil {
		t.Fatalf("%s %s: %v", o.GetKind(), o.GetName(), err)
	}
}

// TestLint runs Helm's linter (`helm lint --strict`) on the chart with the
// default and the full values.
func TestLint(t *testing.T) {
	for _, name := range []string{"", "values-full.yaml"} {
		t.Run("values="+name, func(t *testing.T) {
			var vals map[string]any
			if name != "" {
				vals = readValues(t, name)
			}
			lint := action.NewLint()
			lint.Strict = true
			lint.Namespace = releaseNS
			lint.KubeVersion = kubeVersion()
			res := lint.Run([]string{chartDir}, vals)
			for _, err := range res.Errors {
				t.Error(err)
			}
			for _, msg := range res.Messages {
				// Info: the chart has no icon, which Helm only suggests.
				if msg.Severity > 1 {
					t.Errorf("lint: %s", msg)
				}
			}
		})
	}
}

// TestSchemaRejectsBadValues: values.schema.json stops a mistyped or
// unknown value before anything is rendered, and says which one.
func TestSchemaRejectsBadValues(t *testing.T) {
	for _, tc := range []struct {
		name string
		vals map[string]any
		want string
	}{
		{"unknown top-level key", map[string]any{"replicas": 3}, "replicas"},
		{"unknown controller flag", map[string]any{"controller": map[string]any{"wrokers": 8}}, "wrokers"},
		{"replicaCount not a number", map[string]any{"replicaCount": "two"}, "replicaCount"},
		{"duration", map[string]any{"controller": map[string]any{"keyRenewPeriod": "30 days"}}, "keyRenewPeriod"},
		{"cutoff not RFC 3339", map[string]any{"controller": map[string]any{"keyCutoffTime": "2026-12-01"}}, "keyCutoffTime"},
		{"log encoder", map[string]any{"controller": map[string]any{"log": map[string]any{"encoder": "xml"}}}, "encoder"},
		{"extra arg not a flag", map[string]any{"controller": map[string]any{"extraArgs": []any{"workers=3"}}}, "extraArgs"},
		{"anti-affinity", map[string]any{"podAntiAffinity": "always"}, "podAntiAffinity"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := renderChart(tc.vals)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("got %v, want a schema error naming %q", err, tc.want)
			}
		})
	}
}

// readFile reads a file relative to the repository root.
func readFile(t testing.TB, path string) []byte {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("../..", path))
	if err != nil {
		t.Fatal(err)
	}
	return data
}
