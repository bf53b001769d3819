package e2e

import (
	"context"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/providers/vault/vaulttest"
)

// startVault starts a real Vault dev server, or skips when its binary is
// missing (make test builds it and sets KSEAL_REQUIRE_TOOLS).
func startVault(t *testing.T) (*vaulttest.Server, *vaultapi.Client) {
	t.Helper()
	if _, err := vaulttest.Binary(); err != nil {
		if requireTools() {
			t.Fatal(err)
		}
		t.Skip(err)
	}
	srv, err := vaulttest.Start()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Stop() })
	vc, err := srv.Client()
	if err != nil {
		t.Fatal(err)
	}
	return srv, vc
}

func vaultStore(ns, name, server string, auth v1alpha1.VaultAuth) *v1alpha1.SecretStore {
	return &v1alpha1.SecretStore{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.SecretStoreSpec{Provider: v1alpha1.SecretStoreProvider{Vault: &v1alpha1.VaultProvider{
			Server: server, Path: "secret", Version: v1alpha1.VaultKVv2, Auth: auth}}}}
}

// TestExternalSecret_vault syncs from a real Vault dev server with token,
// AppRole and Kubernetes logins; the Kubernetes login is checked by Vault
// with a TokenReview against the test apiserver.
func TestExternalSecret_vault(t *testing.T) {
	srv, vc := startVault(t)
	// The dev server listens on plain http, which kseal accepts only when
	// told to.
	c := startController(t, controllers.Options{Stores: controllers.StorePolicy{VaultAllowHTTP: true}})
	defer c.stop()
	ns := newNamespace(t, "es-vault")
	bg := context.Background()
	if _, err := vc.KVv2("secret").Put(bg, "shop/db", map[string]any{"password": canary("vault-db"), "user": "app"}); err != nil {
		t.Fatal(err)
	}
	if err := vc.Sys().PutPolicy("read-shop", `path "secret/data/shop/*" { capabilities = ["read"] }
path "secret/metadata/shop/*" { capabilities = ["read", "list"] }`); err != nil {
		t.Fatal(err)
	}

	// Token login.
	tokenSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "vault-token", Namespace: ns}, StringData: map[string]string{"token": srv.RootToken}}
	// AppRole login.
	if err := vc.Sys().EnableAuthWithOptions("approle", &vaultapi.EnableAuthOptions{Type: "approle"}); err != nil {
		t.Fatal(err)
	}
	if _, err := vc.Logical().Write("auth/approle/role/shop", map[string]any{"token_policies": "read-shop", "token_ttl": "1h"}); err != nil {
		t.Fatal(err)
	}
	roleID, err := vc.Logical().Read("auth/approle/role/shop/role-id")
	if err != nil {
		t.Fatal(err)
	}
	secretID, err := vc.Logical().Write("auth/approle/role/shop/secret-id", nil)
	if err != nil {
		t.Fatal(err)
	}
	approleSecret := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "approle", Namespace: ns},
		StringData: map[string]string{"secret-id": secretID.Data["secret_id"].(string)}}
	for _, s := range []*corev1.Secret{tokenSecret, approleSecret} {
		if err := env.Client.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
	}

	// Kubernetes login: Vault reviews the service account token with the
	// test apiserver, using a reviewer token with system:auth-delegator.
	kube, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	for _, sa := range []string{"vault-reviewer", "app"} {
		if err := env.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: sa, Namespace: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := env.Client.Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: ns + "-vault-reviewer"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "system:auth-delegator"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "vault-reviewer", Namespace: ns}},
	}); err != nil {
		t.Fatal(err)
	}
	exp := int64(3600)
	reviewer, err := kube.CoreV1().ServiceAccounts(ns).CreateToken(bg, "vault-reviewer", &authenticationv1.TokenRequest{
		Spec: authenticationv1.TokenRequestSpec{ExpirationSeconds: &exp}}, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := vc.Sys().EnableAuthWithOptions("kubernetes", &vaultapi.EnableAuthOptions{Type: "kubernetes"}); err != nil {
		t.Fatal(err)
	}
	if _, err := vc.Logical().Write("auth/kubernetes/config", map[string]any{
		"kubernetes_host":    env.Config.Host,
		"kubernetes_ca_cert": string(env.Config.CAData),
		"token_reviewer_jwt": reviewer.Status.Token,
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := vc.Logical().Write("auth/kubernetes/role/shop", map[string]any{
		"bound_service_account_names": "app", "bound_service_account_namespaces": ns,
		"audience": "vault", "token_policies": "read-shop", "token_ttl": "1h",
	}); err != nil {
		t.Fatal(err)
	}

	stores := []*v1alpha1.SecretStore{
		vaultStore(ns, "token", srv.Addr, v1alpha1.VaultAuth{TokenSecretRef: &v1alpha1.SecretKeySelector{Name: "vault-token", Key: "token"}}),
		vaultStore(ns, "approle", srv.Addr, v1alpha1.VaultAuth{AppRole: &v1alpha1.VaultAppRole{
			RoleID: roleID.Data["role_id"].(string), SecretRef: v1alpha1.SecretKeySelector{Name: "approle", Key: "secret-id"}}}),
		vaultStore(ns, "kubernetes", srv.Addr, v1alpha1.VaultAuth{Kubernetes: &v1alpha1.VaultKubernetesAuth{
			Role: "shop", ServiceAccountRef: &v1alpha1.ServiceAccountSelector{Name: "app"}}}),
	}
	for _, s := range stores {
		if err := env.Client.Create(ctx, s); err != nil {
			t.Fatal(err)
		}
		es := externalSecret(ns, "via-"+s.Name, s.Name, time.Hour, ref("password", "shop/db", "password"))
		es.Spec.DataFrom = []v1alpha1.ExternalSecretDataFromRemoteRef{{Extract: &v1alpha1.ExternalSecretDataRemoteRef{Key: "shop/db"}}}
		if err := env.Client.Create(ctx, es); err != nil {
			t.Fatal(err)
		}
	}
	for _, s := range stores {
		storeReady(t, ns, s.Name, metav1.ConditionTrue)
		esCondition(t, ns, "via-"+s.Name, metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
		got := getSecret(t, ns, "via-"+s.Name)
		if string(got.Data["password"]) != canary("vault-db") || string(got.Data["user"]) != "app" {
			t.Errorf("%s login: keys %v", s.Name, keysOf(got.Data))
		}
	}

	// Vault down mid-life: the Secret is kept, the condition says why.
	short := externalSecret(ns, "refreshing", "approle", 2*time.Second, ref("password", "shop/db", "password"))
	if err := env.Client.Create(ctx, short); err != nil {
		t.Fatal(err)
	}
	esCondition(t, ns, "refreshing", metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
	if err := srv.Stop(); err != nil {
		t.Fatal(err)
	}
	esCondition(t, ns, "refreshing", metav1.ConditionFalse, v1alpha1.ReasonProviderError)
	if got := getSecret(t, ns, "refreshing"); got == nil || string(got.Data["password"]) != canary("vault-db") {
		t.Error("the Secret was deleted or blanked while Vault was down")
	}
}
