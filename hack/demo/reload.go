package main

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
)

// demoReload shows a rollout restart: a Deployment annotated
// kseal.dev/reload reads the Secret of SealedSecret shop/database; a new
// sealed password restarts it, as `kubectl rollout restart` would.
func demoReload(ctx context.Context, c client.Client, bin, url string) error {
	step("A Deployment that reads the Secret opts in to restarts (kseal.dev/reload: \"true\")")
	labels := map[string]string{"app": "shop"}
	d := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "shop", Namespace: "shop", Annotations: map[string]string{v1alpha1.AnnotationReload: "true"}},
		Spec: appsv1.DeploymentSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: labels}, Spec: corev1.PodSpec{Containers: []corev1.Container{{
				Name: "shop", Image: "registry.invalid/shop:1",
				EnvFrom: []corev1.EnvFromSource{{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "database"}}}},
			}}}},
		},
	}
	if err := c.Create(ctx, d); err != nil {
		return err
	}
	fmt.Printf("Deployment shop/shop: generation %d, pod template annotations %v\n", d.Generation, d.Spec.Template.Annotations)

	step("Seal a new password and apply it: kseal restarts the Deployment after the debounce window")
	sealed, err := ksealCmd(bin, []byte(`apiVersion: v1
kind: Secret
metadata: {name: database, namespace: shop, labels: {app: shop}}
stringData: {username: shop, password: correct-horse-battery-staple-2}
`), "seal", "--controller-url", url)
	if err != nil {
		return err
	}
	next, err := sealedsecret.DecodeSealedSecret(sealed)
	if err != nil {
		return err
	}
	var cur v1alpha1.SealedSecret
	if err := c.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "database"}, &cur); err != nil {
		return err
	}
	cur.Spec = next.Spec
	if err := c.Update(ctx, &cur); err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		if err := c.Get(ctx, client.ObjectKeyFromObject(d), d); err != nil {
			return err
		}
		if at := d.Spec.Template.Annotations[v1alpha1.AnnotationRestartedAt]; at != "" {
			fmt.Printf("Deployment shop/shop: generation %d, %s=%s, %s=%s\n", d.Generation,
				v1alpha1.AnnotationRestartedAt, at, v1alpha1.AnnotationRestartedFor, d.Spec.Template.Annotations[v1alpha1.AnnotationRestartedFor])
			fmt.Println("(no kube-controller-manager runs here, so no new ReplicaSet or pod; in a cluster the Deployment rolls)")
			return nil
		}
		time.Sleep(200 * time.Millisecond)
	}
	return fmt.Errorf("Deployment shop/shop was not restarted within 60s")
}
