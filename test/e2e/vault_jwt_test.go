package e2e

import (
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
)

// TestStorePolicy_vaultJWTAsESO: a jwt login with both secretRef and
// kubernetesServiceAccountToken sends the Secret's JWT (External Secrets
// Operator's order), and a service account token carries
// serviceAccountRef.audiences plus the deprecated audiences (default vault),
// which a SecretStore may only set to its audience.
func TestStorePolicy_vaultJWTAsESO(t *testing.T) {
	fv := newFakeVault(t)
	c := startController(t, controllers.Options{Stores: controllers.StorePolicy{VaultAllowHTTP: true}})
	defer c.stop()
	ns := newNamespace(t, "vault-jwt")
	if err := env.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, secret(ns, "jwt", map[string]string{"token": "from-the-secret"})); err != nil {
		t.Fatal(err)
	}
	sat := &v1alpha1.VaultKubernetesServiceAccountTokenAuth{ServiceAccountRef: v1alpha1.ServiceAccountSelector{Name: "app"}}
	both := vaultStore(ns, "both", fv.URL, v1alpha1.VaultAuth{JWT: &v1alpha1.VaultJWTAuth{Role: "r",
		SecretRef: &v1alpha1.SecretKeySelector{Name: "jwt", Key: "token"}, KubernetesServiceAccountToken: sat}})
	if err := env.Client.Create(ctx, both); err != nil {
		t.Fatal(err)
	}
	storeReady(t, ns, "both", metav1.ConditionTrue)
	if got := fv.received(); !slices.Contains(got, "from-the-secret") {
		t.Fatalf("logins sent %d JWTs, none the Secret's", len(got))
	}

	exp := int64(900)
	onlySA := vaultStore(ns, "sa", fv.URL, v1alpha1.VaultAuth{JWT: &v1alpha1.VaultJWTAuth{Role: "r",
		KubernetesServiceAccountToken: &v1alpha1.VaultKubernetesServiceAccountTokenAuth{
			ServiceAccountRef: v1alpha1.ServiceAccountSelector{Name: "app"}, ExpirationSeconds: &exp}}})
	other := []string{"https://elsewhere.example.com"}
	greedy := vaultStore(ns, "greedy", fv.URL, v1alpha1.VaultAuth{JWT: &v1alpha1.VaultJWTAuth{Role: "r",
		KubernetesServiceAccountToken: &v1alpha1.VaultKubernetesServiceAccountTokenAuth{
			ServiceAccountRef: v1alpha1.ServiceAccountSelector{Name: "app"}, Audiences: &other}}})
	for _, s := range []*v1alpha1.SecretStore{onlySA, greedy} {
		if err := env.Client.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}
	storeReady(t, ns, "sa", metav1.ConditionTrue)
	storeReady(t, ns, "greedy", metav1.ConditionFalse)
	var tok string
	for _, j := range fv.received() {
		if j != "from-the-secret" {
			tok = j
		}
	}
	if aud := jwtAudiences(t, tok); !slices.Equal(aud, []string{"vault"}) {
		t.Errorf("service account token audiences %v, want [vault]", aud)
	}
}
