package controllers

import (
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

func TestWorkload_restartPatch(t *testing.T) {
	now := time.Date(2026, 3, 30, 21, 19, 35, 500_000_000, time.UTC)
	rollout := func(restartAt string) workload {
		u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{}}}
		if restartAt != "" {
			_ = unstructured.SetNestedField(u.Object, restartAt, "spec", "restartAt")
		}
		return workload{kind: v1alpha1.WorkloadRollout, obj: u}
	}
	tests := []struct {
		name string
		w    workload
		want string
	}{
		{"Deployment: pod template annotations", workload{kind: v1alpha1.WorkloadDeployment},
			`{"spec":{"template":{"metadata":{"annotations":{"kubectl.kubernetes.io/restartedAt":"2026-03-30T21:19:35Z","kseal.dev/restarted-for":"fp"}}}}}`},
		{"Rollout: spec.restartAt, fingerprint on metadata", rollout(""),
			`{"metadata":{"annotations":{"kseal.dev/restarted-for":"fp"}},"spec":{"restartAt":"2026-03-30T21:19:35Z"}}`},
		{"Rollout restarted earlier", rollout("2026-03-30T20:00:00Z"),
			`{"metadata":{"annotations":{"kseal.dev/restarted-for":"fp"}},"spec":{"restartAt":"2026-03-30T21:19:35Z"}}`},
		{"Rollout restarted in the same second: one second later", rollout("2026-03-30T21:19:35Z"),
			`{"metadata":{"annotations":{"kseal.dev/restarted-for":"fp"}},"spec":{"restartAt":"2026-03-30T21:19:36Z"}}`},
		{"Rollout with a restart scheduled later: now", rollout("2026-03-30T22:00:00Z"),
			`{"metadata":{"annotations":{"kseal.dev/restarted-for":"fp"}},"spec":{"restartAt":"2026-03-30T21:19:35Z"}}`},
		{"Rollout with an unreadable restartAt: now", rollout("yesterday"),
			`{"metadata":{"annotations":{"kseal.dev/restarted-for":"fp"}},"spec":{"restartAt":"2026-03-30T21:19:35Z"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := tt.w.restartPatch(now, "fp"); got != tt.want {
				t.Errorf("restartPatch =\n%s\nwant\n%s", got, tt.want)
			}
		})
	}
}
