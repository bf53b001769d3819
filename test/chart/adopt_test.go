package chart

import (
	"reflect"
	"testing"

	rbacv1 "k8s.io/api/rbac/v1"
)

// TestAdoptRBACMatchesConfig: with controller.adopt.apis set, the chart
// grants exactly the rules of the kustomize components config/rbac/adopt-*,
// and with the default values it grants none of them.
func TestAdoptRBACMatchesConfig(t *testing.T) {
	full := render(t, readValues(t, "values-full.yaml"))
	defaults := render(t, nil)
	checked := 0
	for _, file := range []string{"config/rbac/adopt-bitnami/adopt_bitnami_role.yaml", "config/rbac/adopt-eso/adopt_eso_role.yaml"} {
		for _, g := range decodeObjects(t, readFile(t, file)) {
			if g.GetKind() != "ClusterRole" && g.GetKind() != "Role" {
				continue
			}
			var want, got rbacv1.ClusterRole
			into(t, g, &want)
			into(t, mustFind(t, full, g.GetKind(), g.GetName()), &got)
			if !reflect.DeepEqual(normalRules(want.Rules), normalRules(got.Rules)) {
				t.Errorf("%s %s: the chart grants\n%v\n%s grants\n%v", g.GetKind(), g.GetName(), got.Rules, file, want.Rules)
			}
			for _, o := range defaults {
				if o.GetKind() == g.GetKind() && o.GetName() == g.GetName() {
					t.Errorf("%s %s is rendered with the default values, which adopt nothing", g.GetKind(), g.GetName())
				}
			}
			checked++
		}
	}
	if checked != 4 {
		t.Errorf("compared %d roles, want 4", checked)
	}
}
