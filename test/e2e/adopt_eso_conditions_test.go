package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kseal-dev/kseal/api/esov1"
	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// TestAdoptESO_clusterStoreConditions: an ESO ClusterSecretStore's
// conditions (namespaceRegexes, namespaceSelector) decide which
// namespaces' ExternalSecrets may use it, as for kseal's own; conditions
// beyond kseal's bounds (ESO's CRD has none) are refused before any
// regular expression is compiled.
func TestAdoptESO_clusterStoreConditions(t *testing.T) {
	installESOCRDs(t)
	srv := awstest.NewServer(t)
	storeNS := newNamespace(t, "adopt-eso-cond")
	esoAWSClusterStore(t, srv, storeNS, "cond-"+storeNS)
	esoAWSClusterStore(t, srv, storeNS, "many-"+storeNS)
	label := map[string]string{"kseal-test-cond": storeNS}
	many := make([]string, 17)
	for i := range many {
		many[i] = fmt.Sprintf("^team-%d-", i)
	}
	for name, conds := range map[string][]v1alpha1.ClusterSecretStoreCondition{
		"cond-" + storeNS: {{NamespaceRegexes: []string{"^adopt-eso-cond-re-"}}, {NamespaceSelector: &metav1.LabelSelector{MatchLabels: label}}},
		"many-" + storeNS: {{NamespaceRegexes: many}},
	} {
		var css esov1.ClusterSecretStore
		if err := env.Client.Get(ctx, clientKey("", name), &css); err != nil {
			t.Fatal(err)
		}
		css.Spec.Conditions = conds
		if err := env.Client.Update(ctx, &css); err != nil {
			t.Fatal(err)
		}
	}
	byRegex, byLabel, denied := newNamespace(t, "adopt-eso-cond-re"), newNamespace(t, "adopt-eso-cond-lbl"), newNamespace(t, "adopt-eso-cond-no")
	setNamespaceLabels(t, byLabel, label)
	srv.CreateSecret(t, storeNS+"/app", "v", nil)
	create := func(ns, store string) {
		es := &esov1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Name: "app-" + store[:4], Namespace: ns}, Spec: v1alpha1.ExternalSecretSpec{
			SecretStoreRef: v1alpha1.SecretStoreRef{Name: store, Kind: v1alpha1.ClusterSecretStoreKind},
			Target:         v1alpha1.ExternalSecretTarget{Name: "app-" + store[:4]},
			Data:           []v1alpha1.ExternalSecretData{{SecretKey: "value", RemoteRef: v1alpha1.ExternalSecretDataRemoteRef{Key: storeNS + "/app"}}},
		}}
		if err := env.Client.Create(ctx, es); err != nil {
			t.Fatal(err)
		}
	}
	for _, ns := range []string{byRegex, byLabel, denied} {
		create(ns, "cond-"+storeNS)
	}
	create(byRegex, "many-"+storeNS)
	c := startController(t, controllers.Options{
		WatchNamespaces: []string{storeNS, byRegex, byLabel, denied},
		AdoptAPIs:       controllers.AdoptAPIs{controllers.AdoptExternalSecrets: true},
		ESOEndpoints:    controllers.ESOEndpoints{SecretsManager: srv.URL},
	})
	defer c.stop()
	ready := func(ns, name string, status corev1.ConditionStatus, msg string) {
		t.Helper()
		var es esov1.ExternalSecret
		waitFor(t, 60*time.Second, fmt.Sprintf("%s/%s Ready=%s %q", ns, name, status, msg), func() bool {
			if err := env.Client.Get(ctx, clientKey(ns, name), &es); err != nil || len(es.Status.Conditions) != 1 {
				return false
			}
			c := es.Status.Conditions[0]
			return c.Status == status && strings.Contains(c.Message, msg)
		})
	}
	ready(byRegex, "app-cond", corev1.ConditionTrue, "")
	ready(byLabel, "app-cond", corev1.ConditionTrue, "")
	ready(denied, "app-cond", corev1.ConditionFalse, v1alpha1.ReasonStoreNotAllowed)
	ready(byRegex, "app-many", corev1.ConditionFalse, "namespaceRegexes has 17 entries")
	if s := (&corev1.Secret{}); env.Client.Get(ctx, clientKey(denied, "app-cond"), s) == nil {
		t.Errorf("a Secret was written in a namespace the ClusterSecretStore does not allow")
	}
}
