package chart

import (
	"encoding/json"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// deployment returns the rendered controller Deployment.
func deployment(t testing.TB, vals map[string]any) *appsv1.Deployment {
	t.Helper()
	var d appsv1.Deployment
	into(t, mustFind(t, render(t, vals), "Deployment", "kseal-controller"), &d)
	return &d
}

// TestRender_defaultsAreHA: two replicas on different nodes where possible,
// a rolling update that keeps one serving, a PodDisruptionBudget, and the
// hardened pod of config/manager.
func TestRender_defaultsAreHA(t *testing.T) {
	objs := render(t, nil)
	var d appsv1.Deployment
	into(t, mustFind(t, objs, "Deployment", "kseal-controller"), &d)
	if d.Namespace != releaseNS || *d.Spec.Replicas != 2 {
		t.Errorf("Deployment %s/%s with %d replicas, want %s/kseal-controller with 2", d.Namespace, d.Name, *d.Spec.Replicas, releaseNS)
	}
	if d.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || d.Spec.Strategy.RollingUpdate.MaxUnavailable.IntValue() != 0 {
		t.Errorf("strategy %+v, want RollingUpdate with maxUnavailable 0", d.Spec.Strategy)
	}
	pod := d.Spec.Template.Spec
	if a := pod.Affinity; a == nil || a.PodAntiAffinity == nil || len(a.PodAntiAffinity.PreferredDuringSchedulingIgnoredDuringExecution) != 1 {
		t.Errorf("affinity %+v, want a preferred pod anti-affinity", pod.Affinity)
	}
	if len(pod.TopologySpreadConstraints) != 1 || pod.TopologySpreadConstraints[0].LabelSelector == nil {
		t.Errorf("topology spread %+v, want one zone constraint selecting the pods", pod.TopologySpreadConstraints)
	}
	c := pod.Containers[0]
	if c.Image != "ghcr.io/kseal-dev/kseal-controller:0.1.0" {
		t.Errorf("image %s, want the chart's appVersion as tag", c.Image)
	}
	if sc := c.SecurityContext; sc == nil || !*sc.ReadOnlyRootFilesystem || *sc.AllowPrivilegeEscalation || pod.SecurityContext.RunAsUser == nil || *pod.SecurityContext.RunAsUser != 65532 {
		t.Errorf("security context %+v / %+v, want the restricted profile", c.SecurityContext, pod.SecurityContext)
	}
	if c.ReadinessProbe == nil || c.ReadinessProbe.HTTPGet.Path != "/readyz" {
		t.Errorf("readiness probe %+v, want /readyz", c.ReadinessProbe)
	}
	if !slices.Contains(c.Args, "--leader-elect=true") || !slices.Contains(c.Args, "--namespace=$(POD_NAMESPACE)") {
		t.Errorf("args %v lack leader election or the namespace", c.Args)
	}
	var pdb policyv1.PodDisruptionBudget
	into(t, mustFind(t, objs, "PodDisruptionBudget", "kseal-controller"), &pdb)
	if pdb.Spec.MinAvailable == nil || pdb.Spec.MinAvailable.IntValue() != 1 {
		t.Errorf("PDB %+v, want minAvailable 1", pdb.Spec)
	}
	var svc corev1.Service
	into(t, mustFind(t, objs, "Service", "kseal-controller"), &svc)
	if svc.Spec.Ports[0].Name != "http" {
		t.Errorf("the Service's first port is %q; the CLI needs the name http", svc.Spec.Ports[0].Name)
	}
	mustFind(t, objs, "NetworkPolicy", "kseal-controller")
	mustFind(t, objs, "ServiceAccount", "kseal-controller")
	for _, kind := range []string{"ServiceMonitor", "PrometheusRule", "ConfigMap"} {
		for _, o := range objs {
			if o.GetKind() == kind {
				t.Errorf("%s %s rendered by default", kind, o.GetName())
			}
		}
	}
}

// TestRender_full: every optional part renders from the full values, and
// each value reaches its place.
func TestRender_full(t *testing.T) {
	objs := render(t, readValues(t, "values-full.yaml"))
	var d appsv1.Deployment
	into(t, mustFind(t, objs, "Deployment", "kseal-controller"), &d)
	pod := d.Spec.Template.Spec
	c := pod.Containers[0]
	if !strings.HasSuffix(c.Image, "@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef") {
		t.Errorf("image %s, want the digest", c.Image)
	}
	if pod.ServiceAccountName != "kseal-sa" || pod.Affinity.PodAntiAffinity.RequiredDuringSchedulingIgnoredDuringExecution == nil {
		t.Errorf("service account %s, affinity %+v", pod.ServiceAccountName, pod.Affinity)
	}
	if got := pod.TopologySpreadConstraints[1].LabelSelector.MatchLabels; len(got) != 1 {
		t.Errorf("a topology spread constraint's own labelSelector was replaced: %v", got)
	}
	for _, want := range []string{"--api-max-body-bytes=2097152", "--kube-api-qps=50.5", "--api-global-rate=-1",
		"--label-selector=team in (shop,payments)", "--watch-namespaces=shop,payments", "--metrics-bind-address=:9081",
		"--allowed-store-servers=https://vault.example.com:8200,https://sts.eu-west-1.amazonaws.com", "--zap-stacktrace-level=panic"} {
		if !slices.Contains(c.Args, want) {
			t.Errorf("args lack %s: %v", want, c.Args)
		}
	}
	var sa corev1.ServiceAccount
	into(t, mustFind(t, objs, "ServiceAccount", "kseal-sa"), &sa)
	if sa.Annotations["eks.amazonaws.com/role-arn"] == "" {
		t.Error("the ServiceAccount lacks the IRSA annotation")
	}
	var np networkingv1.NetworkPolicy
	into(t, mustFind(t, objs, "NetworkPolicy", "kseal-controller"), &np)
	if np.Spec.Ingress[0].From[0].IPBlock.CIDR != "10.0.0.0/24" {
		t.Errorf("network policy %+v", np.Spec.Ingress)
	}

	sm := mustFind(t, objs, "ServiceMonitor", "kseal-controller")
	if sm.GetNamespace() != "monitoring" {
		t.Errorf("ServiceMonitor in %s", sm.GetNamespace())
	}
	rule := mustFind(t, objs, "PrometheusRule", "kseal-controller")
	alerts := alertNames(t, rule)
	for _, want := range []string{"KsealUnsealFailures", "KsealExternalSecretSyncFailures", "KsealProviderErrors",
		"KsealExternalSecretSyncStale", "KsealNoLeader", "KsealNoKeys", "KsealReconcileErrors", "KsealSealingKeyOld"} {
		if !slices.Contains(alerts, want) {
			t.Errorf("no alert %s in %v", want, alerts)
		}
	}

	var dash corev1.ConfigMap
	into(t, mustFind(t, objs, "ConfigMap", "kseal-controller-dashboard"), &dash)
	var board struct {
		Panels []struct {
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal([]byte(dash.Data["kseal.json"]), &board); err != nil || len(board.Panels) == 0 {
		t.Fatalf("dashboard: %v (%d panels)", err, len(board.Panels))
	}

	var plugin corev1.ConfigMap
	into(t, mustFind(t, objs, "ConfigMap", "kseal-cmp-plugin"), &plugin)
	if plugin.Namespace != "argocd" || plugin.Data["plugin.yaml"] != string(readFile(t, "config/argocd/plugin.yaml")) {
		t.Error("the Argo CD plugin ConfigMap differs from config/argocd/plugin.yaml")
	}
	mustFind(t, objs, "Role", "kseal-argocd-key-reader")
}

// alertNames returns the alerts of a rendered PrometheusRule, checking each
// has an expression and a summary.
func alertNames(t testing.TB, rule *unstructured.Unstructured) []string {
	t.Helper()
	var spec struct {
		Groups []struct {
			Rules []struct {
				Alert       string
				Expr        string
				Annotations map[string]string
			}
		}
	}
	data, err := json.Marshal(rule.Object["spec"])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, g := range spec.Groups {
		for _, r := range g.Rules {
			if r.Expr == "" || r.Annotations["summary"] == "" || strings.Count(r.Expr, "(") != strings.Count(r.Expr, ")") {
				t.Errorf("alert %s: expr %q, summary %q", r.Alert, r.Expr, r.Annotations["summary"])
			}
			out = append(out, r.Alert)
		}
	}
	return out
}

// TestRender_readmeImage: the README's `helm install --set
// image.repository=... --set image.tag=...` runs the image named so, and
// without them the chart's appVersion tag of the image make image names.
func TestRender_readmeImage(t *testing.T) {
	d := deployment(t, map[string]any{"image": map[string]any{
		"repository": "registry.example.com/kseal/kseal-controller", "tag": "v0.1.0"}})
	if got := d.Spec.Template.Spec.Containers[0].Image; got != "registry.example.com/kseal/kseal-controller:v0.1.0" {
		t.Errorf("image %s", got)
	}
	if got := deployment(t, nil).Spec.Template.Spec.Containers[0].Image; got != "ghcr.io/kseal-dev/kseal-controller:0.1.0" {
		t.Errorf("default image %s", got)
	}
}
