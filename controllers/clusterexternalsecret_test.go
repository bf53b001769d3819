package controllers

import (
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

func cesWith(mods ...func(*v1alpha1.ClusterExternalSecret)) *v1alpha1.ClusterExternalSecret {
	ces := &v1alpha1.ClusterExternalSecret{ObjectMeta: metav1.ObjectMeta{Name: "shared", UID: types.UID("ces-uid")}}
	for _, m := range mods {
		m(ces)
	}
	return ces
}

func TestClusterExternalSecret_cesSelects(t *testing.T) {
	team := &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}
	for _, tc := range []struct {
		name string
		ces  *v1alpha1.ClusterExternalSecret
		ns   string
		set  labels.Set
		want bool
	}{
		{"nothing chooses", cesWith(), "prod", labels.Set{"team": "a"}, false},
		{"by name", cesWith(func(c *v1alpha1.ClusterExternalSecret) { c.Spec.Namespaces = []string{"prod"} }), "prod", nil, true},
		{"by selector", cesWith(func(c *v1alpha1.ClusterExternalSecret) {
			c.Spec.NamespaceSelectors = []*metav1.LabelSelector{{MatchLabels: map[string]string{"x": "y"}}, team}
		}), "prod", labels.Set{"team": "a"}, true},
		{"selector does not match", cesWith(func(c *v1alpha1.ClusterExternalSecret) {
			c.Spec.NamespaceSelectors = []*metav1.LabelSelector{team}
		}), "prod", labels.Set{"team": "b"}, false},
		{"deprecated selector", cesWith(func(c *v1alpha1.ClusterExternalSecret) { c.Spec.NamespaceSelector = team }), "prod", labels.Set{"team": "a"}, true},
		{"null selector in the list chooses nothing", cesWith(func(c *v1alpha1.ClusterExternalSecret) {
			c.Spec.NamespaceSelectors = []*metav1.LabelSelector{nil}
		}), "prod", labels.Set{"team": "a"}, false},
		{"invalid selector chooses nothing", cesWith(func(c *v1alpha1.ClusterExternalSecret) {
			c.Spec.NamespaceSelectors = []*metav1.LabelSelector{{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: "Bogus"}}}}
		}), "prod", labels.Set{"team": "a"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := cesSelects(tc.ces, tc.ns, tc.set); got != tc.want {
				t.Errorf("cesSelects = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestClusterExternalSecret_controlledBy(t *testing.T) {
	ces := cesWith()
	ctl := true
	ref := func(apiVersion, kind, name, uid string) metav1.OwnerReference {
		return metav1.OwnerReference{APIVersion: apiVersion, Kind: kind, Name: name, UID: types.UID(uid), Controller: &ctl}
	}
	for _, tc := range []struct {
		name  string
		owner []metav1.OwnerReference
		want  bool
	}{
		{"no owner", nil, false},
		{"this one", []metav1.OwnerReference{ref("kseal.dev/v1alpha1", "ClusterExternalSecret", "shared", "ces-uid")}, true},
		{"ESO's ClusterExternalSecret of the same name", []metav1.OwnerReference{ref("external-secrets.io/v1", "ClusterExternalSecret", "shared", "ces-uid")}, false},
		{"an earlier one of the same name", []metav1.OwnerReference{ref("kseal.dev/v1alpha1", "ClusterExternalSecret", "shared", "old-uid")}, false},
		{"another kind", []metav1.OwnerReference{ref("kseal.dev/v1alpha1", "PushSecret", "shared", "ces-uid")}, false},
		{"an owner that is not the controller", []metav1.OwnerReference{{APIVersion: "kseal.dev/v1alpha1", Kind: "ClusterExternalSecret", Name: "shared", UID: "ces-uid"}}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es := &v1alpha1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Name: "shared", Namespace: "prod", OwnerReferences: tc.owner}}
			if got := controlledBy(es, ces); got != tc.want {
				t.Errorf("controlledBy = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestClusterExternalSecret_cesRefresh(t *testing.T) {
	for _, tc := range []struct {
		in   *metav1.Duration
		want time.Duration
	}{
		{nil, time.Hour},
		{&metav1.Duration{Duration: time.Minute}, time.Minute},
		{&metav1.Duration{}, 0},
		{&metav1.Duration{Duration: time.Millisecond}, cesMinRefresh},
	} {
		ces := cesWith(func(c *v1alpha1.ClusterExternalSecret) { c.Spec.RefreshInterval = tc.in })
		if got := cesRefresh(ces); got != tc.want {
			t.Errorf("cesRefresh(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
	if got := truncateReason(strings.Repeat("x", 1000)); len(got) != cesMaxReasonLength {
		t.Errorf("truncateReason: %d bytes", len(got))
	}
}
