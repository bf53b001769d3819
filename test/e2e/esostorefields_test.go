package e2e

import (
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// TestESOStores_specFields applies ESO v1 store fields outside the
// provider under strict validation: refreshInterval and a condition's
// namespaceRegexes work as in ESO; controller classes and retrySettings are
// refused with a message that says what to do.
func TestESOStores_specFields(t *testing.T) {
	srv := awstest.NewServer(t)
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "eso-fields")
	store := func(name, extra string) string {
		return fmt.Sprintf(`apiVersion: kseal.dev/v1alpha1
kind: SecretStore
metadata: {name: %s}
spec:
%s
  provider:
    aws:
      service: SecretsManager
      region: %s
      endpoint: %s
      auth: {secretRef: {accessKeyIDSecretRef: {name: creds, key: id}, secretAccessKeySecretRef: {name: creds, key: key}}}
`, name, extra, srv.Region, srv.URL)
	}
	for name, tc := range map[string]struct{ extra, refused string }{
		"retry":      {"  retrySettings: {maxRetries: 5, retryInterval: 10s}", "retrySettings are not supported by kseal: remove them"},
		"controller": {"  controller: dev", "spec.controller (ESO's controller class) is not supported by kseal: remove it"},
		"interval":   {"  refreshInterval: 300", ""},
		"duration":   {`  refreshInterval: "1h"`, ""},
	} {
		err := applyStrict(t, ns, store(name, tc.extra))
		switch {
		case tc.refused == "" && err != nil:
			t.Errorf("%s: refused: %v", name, err)
		case tc.refused != "" && (err == nil || !strings.Contains(err.Error(), tc.refused)):
			t.Errorf("%s: %v, want a refusal containing %q", name, err, tc.refused)
		}
	}
	if err := applyStrict(t, ns, store("bad-interval", `  refreshInterval: "soon"`)); err != nil {
		t.Fatal(err)
	}
	if msg := storeReady(t, ns, "bad-interval", metav1.ConditionFalse).Message; !strings.Contains(msg, `spec.refreshInterval "soon" is not a number of seconds or a duration`) {
		t.Errorf("Ready message %q", msg)
	}

	// namespaceRegexes: an ExternalSecret in a namespace that matches syncs;
	// one in a namespace that does not is refused.
	srv.CreateSecret(t, "shared/token", canary("regex"), nil)
	team := newNamespace(t, "team-regex")
	other := newNamespace(t, "other-regex")
	css := fmt.Sprintf(`apiVersion: kseal.dev/v1alpha1
kind: ClusterSecretStore
metadata: {name: %s}
spec:
  conditions:
  - namespaceRegexes: ["^team-regex-"]
  provider:
    aws:
      service: SecretsManager
      region: %s
      endpoint: %s
      auth: {secretRef: {accessKeyIDSecretRef: {name: creds, key: id}, secretAccessKeySecretRef: {name: creds, key: key}}}
`, team, srv.Region, srv.URL)
	if err := applyStrict(t, "", css); err != nil {
		t.Fatal(err)
	}
	for _, n := range []string{team, other} {
		creds := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: n},
			StringData: map[string]string{"id": awstest.AccessKeyID, "key": awstest.SecretAccessKey}}
		if err := env.Client.Create(ctx, creds); err != nil {
			t.Fatal(err)
		}
		es := externalSecret(n, "token", team, time.Hour, ref("token", "shared/token", ""))
		es.Spec.SecretStoreRef.Kind = v1alpha1.ClusterSecretStoreKind
		if err := env.Client.Create(ctx, es); err != nil {
			t.Fatal(err)
		}
	}
	esCondition(t, team, "token", metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
	esCondition(t, other, "token", metav1.ConditionFalse, v1alpha1.ReasonStoreNotAllowed)
}
