package e2e

import (
	"os"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	bitnamiv1 "github.com/kseal-dev/kseal/api/bitnami/v1alpha1"
	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
)

// TestTakeover_bitnamiWaitsWhileItsControllerRuns: while sealed-secrets'
// controller Deployment has ready replicas, kseal started with
// --adopt-apis=bitnami leaves its SealedSecrets alone (no Secret, no
// status); once the Deployment is scaled to zero kseal takes over.
func TestTakeover_bitnamiWaitsWhileItsControllerRuns(t *testing.T) {
	bitnamiBinary(t) // the CRD and Go types
	bns, ns := newNamespace(t, "sealed-secrets"), newNamespace(t, "takeover-wait")
	deploy := bitnamiDeployment(t, bns, 1)
	blocked := metricSum(t, "kseal_adopt_reconciles_total", "result", "blocked")
	c := startController(t, controllers.Options{
		WatchNamespaces: []string{ns, bns},
		Keys:            controllers.KeyManagerOptions{BitnamiNamespace: bns},
		AdoptAPIs:       controllers.AdoptAPIs{controllers.AdoptBitnami: true},
	})
	defer c.stop()
	ss := bitnamiSealed(t, ns, "app", fetchCert(t, c), "s3cret")
	if err := env.Client.Create(ctx, ss); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "a reconcile that waits for sealed-secrets to stop", func() bool {
		return metricSum(t, "kseal_adopt_reconciles_total", "result", "blocked") > blocked
	})
	if s := getSecret(t, ns, "app"); s != nil {
		t.Fatal("kseal wrote the Secret while sealed-secrets' controller runs")
	}
	got := &bitnamiv1.SealedSecret{}
	if err := env.Client.Get(ctx, clientKey(ns, "app"), got); err != nil {
		t.Fatal(err)
	}
	if got.Status != nil {
		t.Errorf("kseal wrote the status while sealed-secrets' controller runs: %+v", got.Status)
	}
	if g := metricSum(t, "kseal_adopt_blocked", "api", "bitnami"); g != 1 {
		t.Errorf("kseal_adopt_blocked = %v, want 1", g)
	}

	scaleDeployment(t, deploy, 0)
	waitFor(t, time.Minute, "the takeover after sealed-secrets stopped", func() bool {
		s := getSecret(t, ns, "app")
		return s != nil && string(s.Data["password"]) == "s3cret"
	})
	waitBitnamiSynced(t, ns, []string{"app"}, time.Minute)
}

// bitnamiDeployment creates sealed-secrets' controller Deployment, as its
// manifests name it, with replicas ready (the test control plane runs no
// pods, so the status is set by hand).
func bitnamiDeployment(t *testing.T, ns string, replicas int32) *appsv1.Deployment {
	t.Helper()
	labels := map[string]string{"name": "sealed-secrets-controller"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "sealed-secrets-controller", Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "sealed-secrets-controller", Image: "docker.io/bitnami/sealed-secrets-controller:0.40.0"}}},
			},
		},
	}
	if err := env.Client.Create(ctx, d); err != nil {
		t.Fatal(err)
	}
	scaleDeployment(t, d, replicas)
	return d
}

// scaleDeployment sets d's replicas and, as if its pods came and went, its
// status.
func scaleDeployment(t *testing.T, d *appsv1.Deployment, replicas int32) {
	t.Helper()
	if err := env.Client.Get(ctx, clientKey(d.Namespace, d.Name), d); err != nil {
		t.Fatal(err)
	}
	d.Spec.Replicas = &replicas
	if err := env.Client.Update(ctx, d); err != nil {
		t.Fatal(err)
	}
	d.Status.Replicas, d.Status.ReadyReplicas, d.Status.AvailableReplicas, d.Status.UpdatedReplicas = replicas, replicas, replicas, replicas
	if err := env.Client.Status().Update(ctx, d); err != nil {
		t.Fatal(err)
	}
}

// TestTakeover_bitnamiKeyImportedLater: a bitnami.com SealedSecret sealed
// for a key kseal does not hold is Synced=False (UnknownKey); once
// sealed-secrets' key appears in its namespace, it is retried and synced
// without a restart or a change to the object.
func TestTakeover_bitnamiKeyImportedLater(t *testing.T) {
	bitnamiBinary(t)
	bns, ns := newNamespace(t, "sealed-secrets"), newNamespace(t, "takeover-key")
	c := startController(t, controllers.Options{
		WatchNamespaces: []string{ns, bns},
		Keys:            controllers.KeyManagerOptions{BitnamiNamespace: bns},
		AdoptAPIs:       controllers.AdoptAPIs{controllers.AdoptBitnami: true},
	})
	defer c.stop()
	keyPEM, err := os.ReadFile("../../crypto/sealing/testdata/kubeseal/key.pem")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := os.ReadFile("../../crypto/sealing/testdata/kubeseal/cert.pem")
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, bitnamiSealed(t, ns, "app", certPEM, "later")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "Synced=False (UnknownKey)", func() bool {
		ss := &bitnamiv1.SealedSecret{}
		if err := env.Client.Get(ctx, clientKey(ns, "app"), ss); err != nil {
			return false
		}
		c := ss.Status.Synced()
		return c != nil && c.Status == corev1.ConditionFalse && c.Reason == v1alpha1.ReasonUnknownKey
	})
	key := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "sealed-secrets-key", Namespace: bns, Labels: map[string]string{v1alpha1.LabelBitnamiSealingKey: "active"}},
		Type:       corev1.SecretTypeTLS,
		Data:       map[string][]byte{"tls.key": keyPEM, "tls.crt": certPEM},
	}
	if err := env.Client.Create(ctx, key); err != nil {
		t.Fatal(err)
	}
	waitBitnamiSynced(t, ns, []string{"app"}, time.Minute)
	if s := getSecret(t, ns, "app"); s == nil || string(s.Data["password"]) != "later" {
		t.Errorf("Secret after the key import: %v", s)
	}
}
