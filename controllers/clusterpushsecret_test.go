package controllers

import (
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

func TestClusterPushSecret_cpsSelects(t *testing.T) {
	team := &metav1.LabelSelector{MatchLabels: map[string]string{"team": "a"}}
	bogus := &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: "Bogus"}}}
	for _, tc := range []struct {
		name      string
		selectors []*metav1.LabelSelector
		set       labels.Set
		want      bool
	}{
		{"no selectors choose nothing", nil, labels.Set{"team": "a"}, false},
		{"a matching selector", []*metav1.LabelSelector{{MatchLabels: map[string]string{"x": "y"}}, team}, labels.Set{"team": "a"}, true},
		{"no match", []*metav1.LabelSelector{team}, labels.Set{"team": "b"}, false},
		{"null selector chooses nothing", []*metav1.LabelSelector{nil}, labels.Set{"team": "a"}, false},
		{"invalid selector chooses nothing", []*metav1.LabelSelector{bogus}, labels.Set{"team": "a"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cps := &v1alpha1.ClusterPushSecret{Spec: v1alpha1.ClusterPushSecretSpec{NamespaceSelectors: tc.selectors}}
			if got := cpsSelects(cps, tc.set); got != tc.want {
				t.Errorf("cpsSelects = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestClusterPushSecret_cpsControls(t *testing.T) {
	cps := &v1alpha1.ClusterPushSecret{ObjectMeta: metav1.ObjectMeta{Name: "shared", UID: types.UID("cps-uid")}}
	ctl := true
	for _, tc := range []struct {
		name string
		ref  metav1.OwnerReference
		want bool
	}{
		{"this ClusterPushSecret", metav1.OwnerReference{APIVersion: "kseal.dev/v1alpha1", Kind: "ClusterPushSecret", Name: "shared", UID: "cps-uid", Controller: &ctl}, true},
		{"another with the same name", metav1.OwnerReference{APIVersion: "kseal.dev/v1alpha1", Kind: "ClusterPushSecret", Name: "shared", UID: "old", Controller: &ctl}, false},
		{"ESO's kind", metav1.OwnerReference{APIVersion: "external-secrets.io/v1alpha1", Kind: "ClusterPushSecret", Name: "shared", UID: "cps-uid", Controller: &ctl}, false},
		{"a ClusterExternalSecret", metav1.OwnerReference{APIVersion: "kseal.dev/v1alpha1", Kind: "ClusterExternalSecret", Name: "shared", UID: "cps-uid", Controller: &ctl}, false},
		{"not the controller", metav1.OwnerReference{APIVersion: "kseal.dev/v1alpha1", Kind: "ClusterPushSecret", Name: "shared", UID: "cps-uid"}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ps := &v1alpha1.PushSecret{ObjectMeta: metav1.ObjectMeta{OwnerReferences: []metav1.OwnerReference{tc.ref}}}
			if got := cpsControls(ps, cps); got != tc.want {
				t.Errorf("cpsControls = %v, want %v", got, tc.want)
			}
		})
	}
}

func TestClusterPushSecret_refreshOf(t *testing.T) {
	for _, tc := range []struct {
		in   *metav1.Duration
		want time.Duration
	}{
		{nil, time.Hour},
		{&metav1.Duration{}, 0},
		{&metav1.Duration{Duration: time.Second}, cesMinRefresh},
		{&metav1.Duration{Duration: time.Minute}, time.Minute},
	} {
		if got := refreshOf(tc.in); got != tc.want {
			t.Errorf("refreshOf(%v) = %v, want %v", tc.in, got, tc.want)
		}
	}
}
