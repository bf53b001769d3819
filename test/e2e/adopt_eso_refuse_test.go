package e2e

import (
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kseal-dev/kseal/api/esov1"
	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// setupAdopting runs controllers.Setup with --adopt-apis=external-secrets
// (the manager is not started) and returns its error.
func setupAdopting(t *testing.T, ns, esoNS string, ignoreRunning bool) error {
	t.Helper()
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
	if err != nil {
		t.Fatal(err)
	}
	_, err = controllers.Setup(mgr, controllers.Options{
		WatchNamespaces:    []string{ns},
		Keys:               controllers.KeyManagerOptions{Namespace: controllerNamespace},
		SkipNameValidation: true,
		AdoptAPIs:          controllers.AdoptAPIs{controllers.AdoptExternalSecrets: true},
		AdoptIgnoreRunning: ignoreRunning,
		ESONamespace:       esoNS,
	})
	return err
}

// TestAdoptESO_refusesWhileESORuns: kseal does not take over while ESO's
// Deployment has replicas or its leader Lease is held, says how to stop it,
// and starts once it is stopped (or with --adopt-ignore-running).
func TestAdoptESO_refusesWhileESORuns(t *testing.T) {
	installESOCRDs(t)
	esoNS := newNamespace(t, "external-secrets")
	ns := newNamespace(t, "adopt-eso-refuse")
	one := int32(1)
	labels := map[string]string{"app.kubernetes.io/name": "external-secrets"}
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "external-secrets", Namespace: esoNS, Labels: labels},
		Spec: appsv1.DeploymentSpec{Replicas: &one, Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "external-secrets", Image: "external-secrets:v0.16.2"}}}}},
	}
	if err := env.Client.Create(ctx, dep); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(ctx, dep) })
	dep.Status.Replicas, dep.Status.ReadyReplicas = 1, 1
	if err := env.Client.Status().Update(ctx, dep); err != nil {
		t.Fatal(err)
	}
	err := setupAdopting(t, ns, esoNS, false)
	if err == nil || !strings.Contains(err.Error(), "Deployment "+esoNS+"/external-secrets") || !strings.Contains(err.Error(), "--replicas=0") {
		t.Fatalf("Setup with ESO's Deployment running: %v, want a refusal naming it and how to stop it", err)
	}
	if err := setupAdopting(t, ns, esoNS, true); err != nil {
		t.Fatalf("Setup with --adopt-ignore-running: %v", err)
	}

	// Scaled to 0 (the status follows), but its leader Lease still held.
	zero := int32(0)
	dep.Spec.Replicas = &zero
	if err := env.Client.Update(ctx, dep); err != nil {
		t.Fatal(err)
	}
	dep.Status.Replicas, dep.Status.ReadyReplicas = 0, 0
	if err := env.Client.Status().Update(ctx, dep); err != nil {
		t.Fatal(err)
	}
	holder, seconds := "external-secrets-7d9c-abcde", int32(60)
	renewed := metav1.NewMicroTime(time.Now())
	lease := &coordinationv1.Lease{
		ObjectMeta: metav1.ObjectMeta{Name: "external-secrets-controller", Namespace: esoNS},
		Spec:       coordinationv1.LeaseSpec{HolderIdentity: &holder, LeaseDurationSeconds: &seconds, RenewTime: &renewed},
	}
	if err := env.Client.Create(ctx, lease); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(ctx, lease) })
	if err := setupAdopting(t, ns, esoNS, false); err == nil || !strings.Contains(err.Error(), "Lease "+esoNS+"/external-secrets-controller") {
		t.Fatalf("Setup with ESO's Lease held: %v, want a refusal naming it", err)
	}

	// Released (ESO stopped cleanly): kseal starts.
	empty := ""
	lease.Spec.HolderIdentity = &empty
	if err := env.Client.Update(ctx, lease); err != nil {
		t.Fatal(err)
	}
	if err := setupAdopting(t, ns, esoNS, false); err != nil {
		t.Fatalf("Setup with ESO stopped: %v", err)
	}
}

// TestAdoptESO_refusesWhatKsealCannotServe: an ESO ExternalSecret using an
// ESO generator is reported in ESO's shape (SecretSyncedError, saying why)
// and its Secret is left exactly as ESO wrote it.
func TestAdoptESO_refusesWhatKsealCannotServe(t *testing.T) {
	installESOCRDs(t)
	srv := awstest.NewServer(t)
	ns := newNamespace(t, "adopt-eso-unsupported")
	esoAWSStore(t, srv, ns, "aws")
	srv.CreateSecret(t, ns+"/db", "pw", nil)
	es := esoSynced(t, ns, "gen", "aws", ns+"/db", "pw", time.Now().Add(-2*time.Hour))
	es.Spec.DataFrom = []v1alpha1.ExternalSecretDataFromRemoteRef{{SourceRef: &v1alpha1.StoreGeneratorSourceRef{
		GeneratorRef: &v1alpha1.GeneratorRef{APIVersion: "generators.external-secrets.io/v1alpha1", Kind: "Password", Name: "pw"}}}}
	if err := env.Client.Update(ctx, es); err != nil {
		t.Fatal(err)
	}
	before := getSecret(t, ns, "gen").ResourceVersion
	c := startController(t, controllers.Options{
		WatchNamespaces: []string{ns},
		AdoptAPIs:       controllers.AdoptAPIs{controllers.AdoptExternalSecrets: true},
		ESOEndpoints:    controllers.ESOEndpoints{SecretsManager: srv.URL},
	})
	defer c.stop()
	waitFor(t, 60*time.Second, "generator refused in ESO's shape", func() bool {
		if err := env.Client.Get(ctx, clientKey(ns, "gen"), es); err != nil || len(es.Status.Conditions) != 1 {
			return false
		}
		cond := es.Status.Conditions[0]
		return cond.Status == corev1.ConditionFalse && cond.Reason == esov1.ReasonSecretSyncedError && strings.Contains(cond.Message, "generators are not supported")
	})
	if rv := getSecret(t, ns, "gen").ResourceVersion; rv != before {
		t.Errorf("the refused ExternalSecret's Secret was written (resourceVersion %s, was %s)", rv, before)
	}
}
