package controllers

import (
	"context"
	"fmt"
	"strings"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// bitnamiRunning looks for sealed-secrets' controller in its namespace: a
// Deployment that runs it and is not scaled to zero (or still has pods).
// sealed-secrets v0.40 holds no leader lease, so its Deployment is the one
// sign. It returns what blocks the takeover and how to clear it, or "". A
// failed look blocks too (the error says why).
func bitnamiRunning(ctx context.Context, reader client.Reader, namespace string) (string, error) {
	var list appsv1.DeploymentList
	if err := reader.List(ctx, &list, client.InNamespace(namespace)); err != nil {
		return "", fmt.Errorf("cannot check that sealed-secrets' controller is stopped (list Deployments in %s: %w); grant kseal list on deployments there, or pass --adopt-ignore-running", namespace, err)
	}
	for i := range list.Items {
		d := &list.Items[i]
		if !isBitnamiController(d) {
			continue
		}
		want := int32(1)
		if d.Spec.Replicas != nil {
			want = *d.Spec.Replicas
		}
		if want > 0 || d.Status.Replicas > 0 || d.Status.ReadyReplicas > 0 {
			return fmt.Sprintf("sealed-secrets' controller still runs: Deployment %s/%s wants %d replicas, has %d (%d ready); "+
				"stop it (kubectl -n %s scale deployment %s --replicas=0) and kseal takes over, or pass --adopt-ignore-running",
				d.Namespace, d.Name, want, d.Status.Replicas, d.Status.ReadyReplicas, d.Namespace, d.Name), nil
		}
	}
	return "", nil
}

// isBitnamiController recognises sealed-secrets' Deployment by the names
// its manifests and chart give it, or by its image.
func isBitnamiController(d *appsv1.Deployment) bool {
	if d.Name == "sealed-secrets-controller" || d.Labels["app.kubernetes.io/name"] == "sealed-secrets" || d.Labels["name"] == "sealed-secrets-controller" {
		return true
	}
	for _, c := range d.Spec.Template.Spec.Containers {
		if strings.Contains(c.Image, "sealed-secrets-controller") {
			return true
		}
	}
	return false
}
