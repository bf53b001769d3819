package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/kseal-dev/kseal/controllers"
)

// TestAdoptESO_stopsWhenESOStartsAgain: a running takeover checks again that
// ESO's controller is stopped; when ESO's Deployment is scaled up again,
// kseal stops (its manager returns the error that names the Deployment),
// so the two controllers never fight over the Secrets.
func TestAdoptESO_stopsWhenESOStartsAgain(t *testing.T) {
	installESOCRDs(t)
	esoNS := newNamespace(t, "external-secrets")
	ns := newNamespace(t, "adopt-eso-recheck")
	mgr, err := ctrl.NewManager(env.Config, ctrl.Options{Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := controllers.Setup(mgr, controllers.Options{
		WatchNamespaces:    []string{ns},
		Keys:               controllers.KeyManagerOptions{Namespace: controllerNamespace},
		SkipNameValidation: true,
		AdoptAPIs:          controllers.AdoptAPIs{controllers.AdoptExternalSecrets: true},
		ESONamespace:       esoNS,
		ESORecheckInterval: 200 * time.Millisecond,
	}); err != nil {
		t.Fatalf("Setup with ESO stopped: %v", err)
	}
	runCtx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- mgr.Start(runCtx) }()

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
	select {
	case err := <-done:
		if err == nil || !strings.Contains(err.Error(), "Deployment "+esoNS+"/external-secrets") {
			t.Fatalf("manager stopped with %v, want the error naming ESO's Deployment", err)
		}
	case <-time.After(60 * time.Second):
		t.Fatal("kseal kept reconciling ESO's objects for a minute after ESO's Deployment was scaled up")
	}
}
