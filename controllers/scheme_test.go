package controllers

import (
	"sort"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

// TestScheme_builtinAPIGroups: every built-in kind the controllers read or
// write is registered, and nothing beyond the five groups they use — the
// whole client-go scheme would link and initialise about 50 groups.
func TestScheme_builtinAPIGroups(t *testing.T) {
	s := runtime.NewScheme()
	if err := AddBuiltinToScheme(s); err != nil {
		t.Fatal(err)
	}
	for _, gvk := range []schema.GroupVersionKind{
		{Version: "v1", Kind: "Secret"},
		{Version: "v1", Kind: "ConfigMap"},
		{Version: "v1", Kind: "Namespace"},
		{Version: "v1", Kind: "ServiceAccount"},
		{Version: "v1", Kind: "Event"},
		{Group: "coordination.k8s.io", Version: "v1", Kind: "Lease"},
		{Group: "apps", Version: "v1", Kind: "Deployment"},
		{Group: "apps", Version: "v1", Kind: "StatefulSet"},
		{Group: "apps", Version: "v1", Kind: "DaemonSet"},
		{Group: "authorization.k8s.io", Version: "v1", Kind: "SelfSubjectAccessReview"},
		{Group: "authentication.k8s.io", Version: "v1", Kind: "TokenRequest"},
	} {
		if !s.Recognizes(gvk) {
			t.Errorf("%s is not registered", gvk)
		}
	}
	var groups []string
	for _, gv := range s.PrioritizedVersionsAllGroups() {
		groups = append(groups, gv.String())
	}
	sort.Strings(groups)
	want := []string{"apps/v1", "authentication.k8s.io/v1", "authorization.k8s.io/v1", "coordination.k8s.io/v1", "v1"}
	if len(groups) != len(want) {
		t.Fatalf("registered group versions %v, want %v", groups, want)
	}
	for i := range want {
		if groups[i] != want[i] {
			t.Fatalf("registered group versions %v, want %v", groups, want)
		}
	}
}
