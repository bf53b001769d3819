package e2e

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
)

// installRolloutCRD installs Argo Rollouts' Rollout CRD (testdata, see its
// README) until the test ends.
func installRolloutCRD(t testing.TB) {
	t.Helper()
	opts := envtest.CRDInstallOptions{Paths: []string{"testdata/argo-rollouts/rollout-crd.yaml"}, ErrorIfPathMissing: true}
	crds, err := envtest.InstallCRDs(env.Config, opts)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := envtest.UninstallCRDs(env.Config, envtest.CRDInstallOptions{CRDs: crds}); err != nil {
			t.Errorf("uninstall the Rollout CRD: %v", err)
		}
	})
}

// createRollout creates an Argo Rollout whose pods read the given Secrets.
func createRollout(t testing.TB, ns, name string, ann map[string]string, secrets ...string) {
	t.Helper()
	tmpl := podTemplate(name, secrets...)
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&tmpl)
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Rollout",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"selector": map[string]any{"matchLabels": map[string]any{"app": name}},
			"template": m,
			"strategy": map[string]any{"canary": map[string]any{}},
		},
	}}
	u.SetAnnotations(ann)
	u.SetLabels(map[string]string{"app": name})
	if err := env.Client.Create(ctx, u); err != nil {
		t.Fatal(err)
	}
}

func getRollout(t testing.TB, ns, name string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetAPIVersion("argoproj.io/v1alpha1")
	u.SetKind("Rollout")
	if err := env.Client.Get(ctx, clientKey(ns, name), u); err != nil {
		t.Fatal(err)
	}
	return u
}

// TestRolloutRestart_argoRollout: with the Rollout CRD installed, a changed
// SealedSecret restarts the Argo Rollout that opted in as `kubectl argo
// rollouts restart` does (spec.restartAt, pod template untouched, so no
// canary update starts), once; a Rollout that did not opt in is never
// touched.
func TestRolloutRestart_argoRollout(t *testing.T) {
	installRolloutCRD(t)
	c := startController(t, reloadOn)
	defer c.stop()
	f := newReloadFixture(t, c)
	ns := newNamespace(t, "reload-argo")
	reload := map[string]string{v1alpha1.AnnotationReload: "true"}
	f.seal(ns, "db", canary("argo-db-1"))
	createRollout(t, ns, "web", reload, "db")
	createRollout(t, ns, "legacy", nil, "db")
	createWorkload(t, v1alpha1.WorkloadDeployment, ns, "api", reload, "db")
	before := metricSum(t, "kseal_rollout_restarts_total", "kind", v1alpha1.WorkloadRollout)

	f.seal(ns, "db", canary("argo-db-2"))
	waitRestarted(t, c, ns, v1alpha1.WorkloadDeployment, "api", 2)

	web := getRollout(t, ns, "web")
	at, _, _ := unstructured.NestedString(web.Object, "spec", "restartAt")
	if _, err := time.Parse(time.RFC3339, at); err != nil {
		t.Fatalf("Rollout web: spec.restartAt %q, want an RFC 3339 time", at)
	}
	if web.GetAnnotations()[v1alpha1.AnnotationRestartedFor] == "" {
		t.Error("Rollout web: no restarted-for annotation on its metadata")
	}
	if tmplAnn, _, _ := unstructured.NestedStringMap(web.Object, "spec", "template", "metadata", "annotations"); len(tmplAnn) != 0 {
		t.Errorf("Rollout web: pod template annotations %v; a template change would start a canary update", tmplAnn)
	}
	if web.GetGeneration() != 2 {
		t.Errorf("Rollout web: generation %d, want 2 (one restart)", web.GetGeneration())
	}
	legacy := getRollout(t, ns, "legacy")
	if _, found, _ := unstructured.NestedString(legacy.Object, "spec", "restartAt"); found || legacy.GetGeneration() != 1 {
		t.Errorf("Rollout legacy (no opt-in) was patched: generation %d", legacy.GetGeneration())
	}
	if d := metricSum(t, "kseal_rollout_restarts_total", "kind", v1alpha1.WorkloadRollout) - before; d != 1 {
		t.Errorf("kseal_rollout_restarts_total{kind=Rollout} grew by %v, want 1", d)
	}
	waitFor(t, 30*time.Second, "a RolloutRestarted event on the Rollout", func() bool {
		return hasEvent(t, ns, "Rollout", "web", controllers.EventRolloutRestarted)
	})

	// rolloutRestartTargets name Rollouts too.
	f.seal(ns, "db", canary("argo-db-3"), v1alpha1.RolloutRestartTarget{Kind: v1alpha1.WorkloadRollout,
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "legacy"}}})
	waitRestarted(t, c, ns, v1alpha1.WorkloadDeployment, "api", 3)
	if g := getRollout(t, ns, "web").GetGeneration(); g != 3 {
		t.Errorf("Rollout web: generation %d after the second change, want 3", g)
	}
	if g := getRollout(t, ns, "legacy").GetGeneration(); g != 2 {
		t.Errorf("Rollout legacy, selected by rolloutRestartTargets: generation %d, want 2", g)
	}
}
