package chart

import (
	"context"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/providers/vault/vaulttest"
)

// TestChart_appliesServerSideStrict: the chart rendered with every value
// set is accepted by a real API server, applied server-side with strict
// field validation (an unknown or misplaced field fails). The API server
// has no Prometheus Operator, so the ServiceMonitor and PrometheusRule are
// the only objects not applied (TestRender_full checks them).
func TestChart_appliesServerSideStrict(t *testing.T) {
	cluster(t)
	for _, ns := range []string{"kseal-full", "monitoring", "argocd"} {
		ensureNamespace(t, ns)
	}
	vals := readValues(t, "values-full.yaml")
	vals["fullnameOverride"] = "kseal-full"
	manifest, err := renderChartIn(vals, "kseal-full")
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range applyAll(t, "helm", decodeObjects(t, []byte(manifest))) {
		if o.GroupVersionKind().Group != "monitoring.coreos.com" {
			t.Errorf("%s %s not applied: the API server does not serve its kind", o.GetKind(), o.GetName())
		}
	}
}

var (
	vaultOnce   sync.Once
	vaultShared *vaultSetup
	vaultErr    error
	vaultStop   = func() {}
)

// vaultFor returns the package's Vault for the ExternalSecret steps,
// started on first use (TestMain stops it), or nil (those steps are left
// out) when its binary is missing and make test has not asked for it.
func vaultFor(t *testing.T) *vaultSetup {
	t.Helper()
	if _, err := vaulttest.Binary(); err != nil {
		if os.Getenv("KSEAL_REQUIRE_TOOLS") != "" {
			t.Fatal(err)
		}
		t.Logf("leaving out the ExternalSecret steps: %v", err)
		return nil
	}
	vaultOnce.Do(func() { vaultShared, vaultStop, vaultErr = setUpVault(context.Background()) })
	if vaultErr != nil {
		t.Fatal(vaultErr)
	}
	return vaultShared
}

// chartObjects renders the chart with its default values in kseal-system,
// letting the controller accept the plain-http Vault dev server.
func chartObjects(t testing.TB) []*unstructured.Unstructured {
	t.Helper()
	return render(t, map[string]any{"controller": map[string]any{"vaultAllowHTTP": true}})
}

// configDefaultObjects builds config/default with kustomize.
func configDefaultObjects(t testing.TB) []*unstructured.Unstructured {
	t.Helper()
	resMap, err := krusty.MakeKustomizer(krusty.MakeDefaultOptions()).Run(filesys.MakeFsOnDisk(), "../../config/default")
	if err != nil {
		t.Fatal(err)
	}
	data, err := resMap.AsYaml()
	if err != nil {
		t.Fatal(err)
	}
	return decodeObjects(t, data)
}

// installAndRun applies objs server-side, strictly, and runs the controller
// as the ServiceAccount of their Deployment, then every step; it returns the
// running controller, the step that failed and why.
func installAndRun(t *testing.T, owner string, objs []*unstructured.Unstructured, v *vaultSetup, timeout time.Duration, extra ...string) (*process, string, error) {
	t.Helper()
	ensureNamespace(t, releaseNS)
	applyAll(t, owner, objs)
	var deploy *unstructured.Unstructured
	for _, o := range objs {
		if o.GetKind() == "Deployment" {
			deploy = o
		}
	}
	p := startAs(t, deploy, extra...)
	step, err := runSteps(&session{p: p, timeout: timeout, vault: v, tmp: t.TempDir(), logf: t.Logf})
	return p, step, err
}

// TestChartRBAC_runsController: with the API server authorizing by RBAC,
// the controller run as the chart's ServiceAccount (a token from the
// TokenRequest API) and with the chart's flags serves its API and brings a
// SealedSecret, a SopsSecret and ExternalSecrets (Vault token and
// Kubernetes logins, a ClusterSecretStore open by namespace label) to
// Ready: the chart's RBAC is enough. Then every metric its alerts and
// dashboard query is in the controller's /metrics.
func TestChartRBAC_runsController(t *testing.T) {
	cluster(t)
	v := vaultFor(t)
	objs := chartObjects(t)

	// The API server does authorize: the ServiceAccount alone may not list
	// SealedSecrets.
	ensureNamespace(t, releaseNS)
	applyAll(t, "helm", []*unstructured.Unstructured{mustFind(t, objs, "ServiceAccount", "kseal-controller")})
	token, err := requestToken(releaseNS, "kseal-controller")
	if err != nil {
		t.Fatal(err)
	}
	saClient, err := client.New(&rest.Config{Host: env.Config.Host, BearerToken: token,
		TLSClientConfig: rest.TLSClientConfig{CAData: env.Config.CAData}}, client.Options{Scheme: env.Scheme})
	if err != nil {
		t.Fatal(err)
	}
	if err := saClient.List(ctx, &v1alpha1.SealedSecretList{}); !apierrors.IsForbidden(err) {
		t.Fatalf("listing SealedSecrets without the chart's RBAC: %v, want Forbidden", err)
	}

	p, step, err := installAndRun(t, "helm", objs, v, 60*time.Second)
	if err != nil {
		t.Fatalf("step %s: %v", step, err)
	}
	// With every kind reconciled, every metric family the alerts and the
	// dashboard read has a series.
	if v == nil {
		t.Log("not checking the metrics the chart queries: the ExternalSecret steps were left out")
		return
	}
	checkQueriedMetricsExported(t, p)
}

// TestConfigDefaultRBAC_runsController is TestChartRBAC_runsController for
// `kubectl apply -k config/default`.
func TestConfigDefaultRBAC_runsController(t *testing.T) {
	cluster(t)
	v := vaultFor(t)
	if _, step, err := installAndRun(t, "kustomize", configDefaultObjects(t), v, 60*time.Second, "--vault-allow-http=true"); err != nil {
		t.Fatalf("step %s: %v", step, err)
	}
}

// TestRBAC_leastPrivilege removes one rule of the chart's ClusterRole or
// Role at a time and names the step that then fails. Two rules make no
// step fail, and the test says so: the OpenID discovery URL is a fallback
// (kseal also reads the API server's audience from its own token), and the
// Role's key Secret rule repeats what the ClusterRole grants in every
// namespace.
func TestRBAC_leastPrivilege(t *testing.T) {
	if testing.Short() {
		t.Skip("runs the controller once per rule")
	}
	cluster(t)
	v := vaultFor(t)
	for _, tc := range []struct {
		kind, resource, verb, want string // verb: drop only that verb
	}{
		{"ClusterRole", "/.well-known/openid-configuration", "", ""},
		{"ClusterRole", "events", "", "event"},
		// The ClusterExternalSecret controller watches Namespaces from the
		// start: without the rule the caches never sync.
		{"ClusterRole", "namespaces", "", "ready"},
		{"ClusterRole", "externalsecrets", "create", "clusterexternalsecret"},
		{"ClusterRole", "externalsecrets", "delete", "clusterexternalsecret"},
		{"ClusterRole", "secrets", "", "ready"},
		{"ClusterRole", "serviceaccounts/token", "", "externalsecret-kubernetes-auth"},
		// The controller's caches never sync, so keys are never loaded.
		{"ClusterRole", "sealedsecrets", "", "ready"},
		{"ClusterRole", "sealedsecrets/status", "", "sealedsecret"},
		{"ClusterRole", "secrets", "delete", "externalsecret-deletion-policy"},
		{"Role", "secrets", "", ""},
		{"Role", "leases", "", "sealedsecret"},
	} {
		t.Run(tc.kind+"/"+tc.resource+"/"+tc.verb, func(t *testing.T) {
			if v == nil && tc.want != "" && steps[slices.IndexFunc(steps, func(s step) bool { return s.name == tc.want })].needsVault {
				t.Skip("needs Vault")
			}
			objs := chartObjects(t)
			role := mustFind(t, objs, tc.kind, "kseal-controller")
			if !dropRule(role, tc.resource, tc.verb) {
				t.Fatalf("the %s has no rule for %s %s", tc.kind, tc.verb, tc.resource)
			}
			timeout := 20 * time.Second
			_, got, err := installAndRun(t, "helm", objs, v, timeout)
			if got != tc.want {
				t.Errorf("without the rule for %s, step %q failed (%v); want %q", tc.resource, got, err, tc.want)
			}
		})
	}
}

// dropRule removes the rule that names resource (or a non-resource URL),
// or only verb from it; it reports whether there was one.
func dropRule(role *unstructured.Unstructured, resource, verb string) bool {
	rules, _, _ := unstructured.NestedSlice(role.Object, "rules")
	for i, r := range rules {
		m := r.(map[string]any)
		names, _, _ := unstructured.NestedStringSlice(m, "resources")
		urls, _, _ := unstructured.NestedStringSlice(m, "nonResourceURLs")
		if !slices.Contains(names, resource) && !slices.Contains(urls, resource) {
			continue
		}
		if verb == "" {
			_ = unstructured.SetNestedSlice(role.Object, slices.Delete(rules, i, i+1), "rules")
			return true
		}
		verbs, _, _ := unstructured.NestedStringSlice(m, "verbs")
		if !slices.Contains(verbs, verb) {
			return false
		}
		_ = unstructured.SetNestedStringSlice(m, slices.DeleteFunc(verbs, func(v string) bool { return v == verb }), "verbs")
		rules[i] = m
		_ = unstructured.SetNestedSlice(role.Object, rules, "rules")
		return true
	}
	return false
}
