package controllers

import (
	"strings"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kseal-dev/kseal/api/esov1"
	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/providers"
)

// TestESOBounds: what kseal's CRDs bound and ESO's do not is refused.
func TestESOBounds(t *testing.T) {
	if err := esoConditionsBounded([]v1alpha1.ClusterSecretStoreCondition{{NamespaceRegexes: make([]string, 16)}}); err != nil {
		t.Errorf("16 regexes: %v", err)
	}
	if err := esoConditionsBounded([]v1alpha1.ClusterSecretStoreCondition{{NamespaceRegexes: make([]string, 17)}}); err == nil {
		t.Error("17 regexes accepted")
	}
	if err := esoConditionsBounded([]v1alpha1.ClusterSecretStoreCondition{{NamespaceRegexes: []string{strings.Repeat("a", 257)}}}); err == nil {
		t.Error("a 257-character regex accepted")
	}
	if err := esoPushBounded(&v1alpha1.PushSecretSpec{Data: make([]v1alpha1.PushSecretData, 101)}); err == nil {
		t.Error("101 data entries accepted")
	}
	if err := esoPushBounded(&v1alpha1.PushSecretSpec{Data: make([]v1alpha1.PushSecretData, 100), SecretStoreRefs: make([]v1alpha1.PushSecretStoreRef, 10)}); err != nil {
		t.Errorf("100 entries, 10 stores: %v", err)
	}
}

// TestESOPusherRef: an adopted PushSecret's references carry ESO's mark
// and whether its status records them (key, or key/property).
func TestESOPusherRef(t *testing.T) {
	p := esoPusher{recorded: map[string]v1alpha1.PushSecretData{"a": {}, "b/p": {}}}
	for _, tc := range []struct {
		ref  providers.PushRef
		want bool
	}{
		{providers.PushRef{Key: "a"}, true},
		{providers.PushRef{Key: "a", Property: "x"}, false},
		{providers.PushRef{Key: "b", Property: "p"}, true},
		{providers.PushRef{Key: "b"}, false},
	} {
		got := p.ref(tc.ref)
		if got.Recorded != tc.want || got.ManagedBy != "external-secrets" {
			t.Errorf("%v: %+v, want recorded %v with ESO's mark", tc.ref, got, tc.want)
		}
	}
	if _, wrapped := (*esoAdoption)(nil).pusher(nil, nil).(esoPusher); wrapped {
		t.Error("kseal's own PushSecrets must get the store's pusher unchanged")
	}
	if _, wrapped := (&esoAdoption{}).pusher(nil, nil).(esoPusher); !wrapped {
		t.Error("an adopted PushSecret's pusher must set ESO's marks")
	}
}

// TestCESStatusToESO: ESO's shape — Ready with no message, ESO's message
// for failed namespaces, other conditions kept.
func TestCESStatusToESO(t *testing.T) {
	eso := &esov1.ClusterExternalSecret{Status: esov1.ClusterExternalSecretStatus{Conditions: []esov1.ClusterExternalSecretCondition{{Type: "Other", Status: "True"}, {Type: "Ready", Status: "False", Message: "x"}}}}
	ces := &v1alpha1.ClusterExternalSecret{}
	ces.Status.ExternalSecretName, ces.Status.ProvisionedNamespaces = "n", []string{"a"}
	ces.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue, Reason: v1alpha1.ReasonNamespacesProvisioned, Message: "ExternalSecret n is in 1 namespaces"}}
	cesStatusToESO(eso, ces)
	want := []esov1.ClusterExternalSecretCondition{{Type: "Other", Status: "True"}, {Type: "Ready", Status: "True"}}
	if len(eso.Status.Conditions) != 2 || eso.Status.Conditions[0] != want[0] || eso.Status.Conditions[1] != want[1] || eso.Status.ExternalSecretName != "n" {
		t.Errorf("status %+v", eso.Status)
	}
	ces.Status.FailedNamespaces = []v1alpha1.ClusterExternalSecretNamespaceFailure{{Namespace: "b"}}
	ces.Status.Conditions[0] = metav1.Condition{Type: v1alpha1.ConditionReady, Status: metav1.ConditionFalse, Reason: v1alpha1.ReasonNamespacesFailed, Message: "m"}
	cesStatusToESO(eso, ces)
	if c := eso.Status.Conditions[1]; c.Status != "False" || c.Message != esov1.MessageNamespacesFailed {
		t.Errorf("failed: %+v", c)
	}
}
