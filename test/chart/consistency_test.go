package chart

import (
	"bytes"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	"sigs.k8s.io/yaml"
)

// TestCRDsMatchConfig: the chart's crds/ holds exactly the generated CRDs of
// config/crd/bases, byte for byte (`make generate` copies them).
func TestCRDsMatchConfig(t *testing.T) {
	want, err := filepath.Glob("../../config/crd/bases/*.yaml")
	if err != nil || len(want) == 0 {
		t.Fatalf("no CRDs in config/crd/bases: %v", err)
	}
	got, err := filepath.Glob(filepath.Join(chartDir, "crds", "*"))
	if err != nil {
		t.Fatal(err)
	}
	names := func(paths []string) []string {
		var out []string
		for _, p := range paths {
			out = append(out, filepath.Base(p))
		}
		return out
	}
	if !slices.Equal(names(got), names(want)) {
		t.Fatalf("charts/kseal/crds has %v, config/crd/bases has %v", names(got), names(want))
	}
	for _, p := range want {
		a, _ := os.ReadFile(p)
		b, _ := os.ReadFile(filepath.Join(chartDir, "crds", filepath.Base(p)))
		if !bytes.Equal(a, b) {
			t.Errorf("charts/kseal/crds/%s differs from config/crd/bases: run make generate (it copies them)", filepath.Base(p))
		}
	}
}

// TestRBACMatchesConfig: the chart's ClusterRole and Role grant exactly the
// rules of config/rbac/role.yaml, which `make generate` writes from the
// controllers' RBAC markers; the chart's user roles match config/rbac too.
func TestRBACMatchesConfig(t *testing.T) {
	objs := render(t, nil)
	generated := decodeObjects(t, readFile(t, "config/rbac/role.yaml"))
	generated = append(generated, decodeObjects(t, readFile(t, "config/rbac/sealedsecret_viewer_role.yaml"))...)
	generated = append(generated, decodeObjects(t, readFile(t, "config/rbac/sealedsecret_editor_role.yaml"))...)
	generated = append(generated, decodeObjects(t, readFile(t, "config/rbac/service_proxier_role.yaml"))...)
	checked := 0
	for _, g := range generated {
		if g.GetKind() != "ClusterRole" && g.GetKind() != "Role" {
			continue
		}
		var want, got rbacv1.ClusterRole
		into(t, g, &want)
		into(t, mustFind(t, objs, g.GetKind(), g.GetName()), &got)
		if !reflect.DeepEqual(normalRules(want.Rules), normalRules(got.Rules)) {
			t.Errorf("%s %s: the chart grants\n%v\nconfig/rbac grants\n%v", g.GetKind(), g.GetName(), got.Rules, want.Rules)
		}
		checked++
	}
	if checked != 5 {
		t.Errorf("compared %d roles, want 5", checked)
	}
}

// normalRules sorts rules and their lists, so that order does not matter.
func normalRules(rules []rbacv1.PolicyRule) []string {
	var out []string
	for _, r := range rules {
		for _, l := range [][]string{r.APIGroups, r.Resources, r.ResourceNames, r.NonResourceURLs, r.Verbs} {
			sort.Strings(l)
		}
		out = append(out, strings.Join(r.APIGroups, ",")+"|"+strings.Join(r.Resources, ",")+"|"+
			strings.Join(r.ResourceNames, ",")+"|"+strings.Join(r.NonResourceURLs, ",")+"|"+strings.Join(r.Verbs, ","))
	}
	sort.Strings(out)
	return out
}

// controllerFlags returns the names of the flags cmd/kseal-controller
// defines (flag.X("name", ...) and fs.X("name", ...) calls).
func controllerFlags(t testing.TB) []string {
	t.Helper()
	fset := token.NewFileSet()
	files, err := filepath.Glob("../../cmd/kseal-controller/*.go")
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, name := range files {
		if strings.HasSuffix(name, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, name, nil, 0)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, flagNames(f)...)
	}
	if len(out) < 20 {
		t.Fatalf("found only %d flags in cmd/kseal-controller: %v", len(out), out)
	}
	return out
}

// flagNames returns the names of the flags f defines.
func flagNames(f *ast.File) []string {
	var out []string
	ast.Inspect(f, func(n ast.Node) bool {
		call, ok := n.(*ast.CallExpr)
		if !ok || len(call.Args) < 3 {
			return true
		}
		sel, ok := call.Fun.(*ast.SelectorExpr)
		recv, ok2 := sel.X.(*ast.Ident)
		if !ok || !ok2 || (recv.Name != "flag" && recv.Name != "fs") {
			return true
		}
		if lit, ok := call.Args[0].(*ast.BasicLit); ok && lit.Kind == token.STRING {
			name, _ := strconv.Unquote(lit.Value)
			out = append(out, name)
		}
		return true
	})
	return out
}

// TestEveryFlagIsAValue: every flag of kseal-controller is set by the chart
// with the full values, so each has a value in values.yaml.
func TestEveryFlagIsAValue(t *testing.T) {
	d := deployment(t, readValues(t, "values-full.yaml"))
	set := map[string]bool{}
	for _, a := range d.Spec.Template.Spec.Containers[0].Args {
		name, _, _ := strings.Cut(strings.TrimPrefix(a, "--"), "=")
		set[name] = true
	}
	// Flags that print and exit configure nothing.
	notConfig := map[string]bool{"version": true}
	for _, name := range controllerFlags(t) {
		if !set[name] && !notConfig[name] {
			t.Errorf("the chart never passes --%s: add a value for it to charts/kseal/values.yaml and the full values", name)
		}
	}
}

// TestValuesFullSetsEveryValue: testdata/values-full.yaml sets every value
// of the chart's values.yaml, so TestRender_full and the apply test cover
// every template branch a value opens.
func TestValuesFullSetsEveryValue(t *testing.T) {
	var defaults, full map[string]any
	if err := yaml.Unmarshal(readFile(t, "charts/kseal/values.yaml"), &defaults); err != nil {
		t.Fatal(err)
	}
	if err := yaml.Unmarshal(readFile(t, "test/chart/testdata/values-full.yaml"), &full); err != nil {
		t.Fatal(err)
	}
	for _, path := range leafPaths(nil, defaults) {
		if !hasPath(full, path) {
			t.Errorf("testdata/values-full.yaml does not set %s", strings.Join(path, "."))
		}
	}
}

// leafPaths lists the paths of the values that are not maps.
func leafPaths(prefix []string, m map[string]any) [][]string {
	var out [][]string
	for k, v := range m {
		path := append(slices.Clone(prefix), k)
		if sub, ok := v.(map[string]any); ok && len(sub) > 0 {
			out = append(out, leafPaths(path, sub)...)
			continue
		}
		out = append(out, path)
	}
	return out
}

func hasPath(m map[string]any, path []string) bool {
	v, ok := m[path[0]]
	if !ok || len(path) == 1 {
		return ok
	}
	sub, ok := v.(map[string]any)
	return ok && hasPath(sub, path[1:])
}

// TestConfigDefaultIsHA: config/manager, which config/default installs, runs
// two replicas with a rolling update and a PodDisruptionBudget, as the chart.
func TestConfigDefaultIsHA(t *testing.T) {
	var d appsv1.Deployment
	if err := yaml.UnmarshalStrict(readFile(t, "config/manager/deployment.yaml"), &d); err != nil {
		t.Fatal(err)
	}
	if *d.Spec.Replicas != 2 || d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || d.Spec.Template.Spec.Affinity == nil {
		t.Errorf("config/manager: %d replicas, strategy %s, affinity %v", *d.Spec.Replicas, d.Spec.Strategy.Type, d.Spec.Template.Spec.Affinity)
	}
	if !bytes.Contains(readFile(t, "config/manager/kustomization.yaml"), []byte("- pdb.yaml")) {
		t.Error("config/manager does not install its PodDisruptionBudget")
	}
}
