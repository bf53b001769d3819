package e2e

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
)

// TestPushSecret_vault pushes to a real Vault dev server (KV v2): one
// property, a whole Secret, ownership in custom_metadata, a refused
// foreign secret, and deletion.
func TestPushSecret_vault(t *testing.T) {
	srv, vc := startVault(t)
	c := startController(t, controllers.Options{Stores: controllers.StorePolicy{VaultAllowHTTP: true}})
	defer c.stop()
	ns := newNamespace(t, "ps-vault")
	tok := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "vault-token", Namespace: ns}, StringData: map[string]string{"token": srv.RootToken}}
	if err := env.Client.Create(ctx, tok); err != nil {
		t.Fatal(err)
	}
	store := vaultStore(ns, "vault", srv.Addr, v1alpha1.VaultAuth{TokenSecretRef: &v1alpha1.SecretKeySelector{Name: "vault-token", Key: "token"}})
	if err := env.Client.Create(ctx, store); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, secret(ns, "src", map[string]string{"user": "app", "password": canary("push-vault")})); err != nil {
		t.Fatal(err)
	}
	if _, err := vc.KVv2("secret").Put(ctx, ns+"/foreign", map[string]any{"kept": "yes"}); err != nil {
		t.Fatal(err)
	}
	ps := &v1alpha1.PushSecret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "app"},
		Spec: v1alpha1.PushSecretSpec{
			DeletionPolicy:  v1alpha1.PushSecretDeletionPolicyDelete,
			SecretStoreRefs: []v1alpha1.PushSecretStoreRef{{Name: "vault"}},
			Selector:        v1alpha1.PushSecretSelector{Secret: &v1alpha1.PushSecretSecret{Name: "src"}},
			Data: []v1alpha1.PushSecretData{
				{Match: v1alpha1.PushSecretMatch{SecretKey: "password", RemoteRef: v1alpha1.PushSecretRemoteRef{RemoteKey: ns + "/db", Property: "password"}}},
				{Match: v1alpha1.PushSecretMatch{RemoteRef: v1alpha1.PushSecretRemoteRef{RemoteKey: ns + "/whole"}}},
			},
		},
	}
	if err := env.Client.Create(ctx, ps); err != nil {
		t.Fatal(err)
	}
	psCondition(t, ns, "app", metav1.ConditionTrue, v1alpha1.ReasonPushSynced)
	db, err := vc.KVv2("secret").Get(ctx, ns+"/db")
	if err != nil || db.Data["password"] != canary("push-vault") || len(db.Data) != 1 {
		t.Fatalf("db: %v, %d fields", err, len(db.Data))
	}
	if db.CustomMetadata["managed-by"] != "kseal" || db.CustomMetadata["kseal.dev/push-secret"] != ns+"/app" {
		t.Errorf("custom_metadata = %v", db.CustomMetadata)
	}
	whole, err := vc.KVv2("secret").Get(ctx, ns+"/whole")
	if err != nil || whole.Data["user"] != "app" || whole.Data["password"] != canary("push-vault") {
		t.Fatalf("whole Secret: %v", err)
	}
	version := db.VersionMetadata.Version

	// Nothing changed: a refresh writes no new version.
	if err := env.Client.Get(ctx, client.ObjectKeyFromObject(ps), ps); err != nil {
		t.Fatal(err)
	}
	ps.Spec.RefreshInterval = &metav1.Duration{Duration: 2 * time.Second}
	if err := env.Client.Update(ctx, ps); err != nil {
		t.Fatal(err)
	}
	psCondition(t, ns, "app", metav1.ConditionTrue, v1alpha1.ReasonPushSynced)
	time.Sleep(3 * time.Second)
	if db, err = vc.KVv2("secret").Get(ctx, ns+"/db"); err != nil || db.VersionMetadata.Version != version {
		t.Errorf("an unchanged push wrote a new version (%v)", err)
	}

	// A secret kseal did not write is refused and kept.
	foreign := &v1alpha1.PushSecret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "foreign"}, Spec: ps.Spec}
	foreign.Spec.DeletionPolicy = v1alpha1.PushSecretDeletionPolicyNone
	foreign.Spec.Data = []v1alpha1.PushSecretData{{Match: v1alpha1.PushSecretMatch{SecretKey: "password", RemoteRef: v1alpha1.PushSecretRemoteRef{RemoteKey: ns + "/foreign", Property: "password"}}}}
	if err := env.Client.Create(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	psCondition(t, ns, "foreign", metav1.ConditionFalse, v1alpha1.ReasonRemoteNotOwned)
	if got, err := vc.KVv2("secret").Get(ctx, ns+"/foreign"); err != nil || len(got.Data) != 1 || got.Data["kept"] != "yes" {
		t.Errorf("the foreign secret was changed: %v", err)
	}

	// Deleting the PushSecret (deletionPolicy Delete) deletes what it pushed.
	if err := env.Client.Delete(ctx, ps); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "PushSecret gone", func() bool {
		return apierrors.IsNotFound(env.Client.Get(ctx, client.ObjectKeyFromObject(ps), &v1alpha1.PushSecret{}))
	})
	for _, k := range []string{ns + "/db", ns + "/whole"} {
		if _, err := vc.KVv2("secret").GetMetadata(ctx, k); err == nil {
			t.Errorf("%s still exists", k)
		}
	}
}
