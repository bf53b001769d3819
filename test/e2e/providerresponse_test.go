package e2e

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/providers"
)

// internalSecret is what an internal service answers; a store pointed at it
// must not read it back through any status, event or log.
const internalSecret = "INTERNAL-SECRET-7f3a9c1e"

// internalService answers every request with internalSecret in the body,
// as mode says.
func internalService(t *testing.T, mode string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		switch mode {
		case "500":
			w.WriteHeader(http.StatusInternalServerError)
			_, _ = w.Write([]byte("<html>" + internalSecret + "</html>"))
		case "200":
			_, _ = w.Write([]byte("plain text: " + internalSecret))
		case "json":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(http.StatusBadRequest)
			_, _ = w.Write([]byte(`{"errors":["` + internalSecret + `"],"__type":"` + internalSecret + `","message":"` + internalSecret + `"}`))
		case "huge":
			big := strings.Repeat(internalSecret, providers.MaxResponseSize/len(internalSecret)+1024)
			_, _ = w.Write([]byte(`{"data":{"data":{"x":"` + big + `"}}}`))
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestProviderResponse_notReflected: SecretStores pointed at an internal
// service (Vault server or AWS endpoint) get only the HTTP status and a
// fixed message in their status, the ExternalSecret's status and events;
// an oversized body is refused as too large.
func TestProviderResponse_notReflected(t *testing.T) {
	c := startController(t, controllers.Options{Stores: controllers.StorePolicy{VaultAllowHTTP: true}})
	defer c.stop()
	ns := newNamespace(t, "resp")
	creds := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: ns},
		StringData: map[string]string{"token": "t", "id": "AKIDEXAMPLE", "key": "x"}}
	if err := env.Client.Create(ctx, creds); err != nil {
		t.Fatal(err)
	}
	modes := []string{"500", "200", "json", "huge"}
	for _, mode := range modes {
		url := internalService(t, mode)
		vs := vaultStore(ns, "vault-"+mode, url, v1alpha1.VaultAuth{TokenSecretRef: &v1alpha1.SecretKeySelector{Name: "creds", Key: "token"}})
		as := &v1alpha1.SecretStore{ObjectMeta: metav1.ObjectMeta{Name: "aws-" + mode, Namespace: ns},
			Spec: v1alpha1.SecretStoreSpec{Provider: v1alpha1.SecretStoreProvider{AWS: &v1alpha1.AWSProvider{
				Service: v1alpha1.AWSServiceSecretsManager, Region: "us-east-1", Endpoint: url,
				Auth: v1alpha1.AWSAuth{SecretRef: &v1alpha1.AWSAuthSecretRef{
					AccessKeyID:     v1alpha1.SecretKeySelector{Name: "creds", Key: "id"},
					SecretAccessKey: v1alpha1.SecretKeySelector{Name: "creds", Key: "key"},
				}}}}}}
		for _, s := range []*v1alpha1.SecretStore{vs, as} {
			if err := env.Client.Create(ctx, s); err != nil {
				t.Fatal(err)
			}
			if err := env.Client.Create(ctx, externalSecret(ns, s.Name, s.Name, time.Hour, ref("x", "app", "x"))); err != nil {
				t.Fatal(err)
			}
		}
	}
	for _, mode := range modes {
		for _, name := range []string{"vault-" + mode, "aws-" + mode} {
			store := storeReady(t, ns, name, metav1.ConditionFalse)
			es := esCondition(t, ns, name, metav1.ConditionFalse, "")
			for what, msg := range map[string]string{"store": store.Message, "ExternalSecret": es.Message} {
				if strings.Contains(msg, internalSecret) {
					t.Errorf("%s %s: the status carries the response body: %s", name, what, msg)
				}
			}
			if mode == "huge" && !strings.Contains(es.Message, "larger than") {
				t.Errorf("%s: an oversized answer is not reported as such: %s", name, es.Message)
			}
			if mode == "500" && name == "vault-500" && !strings.Contains(es.Message, "HTTP 500") {
				t.Errorf("%s: no HTTP status: %s", name, es.Message)
			}
		}
	}
	waitFor(t, 30*time.Second, "SyncFailed events", func() bool {
		var events corev1.EventList
		if err := env.Client.List(ctx, &events, client.InNamespace(ns)); err != nil {
			return false
		}
		failed := 0
		for _, e := range events.Items {
			if strings.Contains(e.Message, internalSecret) {
				t.Fatalf("event %s carries the response body: %s", e.Reason, e.Message)
			}
			if e.Reason == controllers.EventSyncFailed {
				failed++
			}
		}
		return failed >= 2*len(modes)
	})
	if strings.Contains(logs.String(), internalSecret) {
		t.Error("the controller log carries the response body")
	}
}
