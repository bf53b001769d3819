package controllers

import (
	"context"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/util/workqueue"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

func vaultTokenSpec(ns, name string) v1alpha1.SecretStoreSpec {
	return v1alpha1.SecretStoreSpec{Provider: v1alpha1.SecretStoreProvider{Vault: &v1alpha1.VaultProvider{
		Auth: v1alpha1.VaultAuth{TokenSecretRef: &v1alpha1.SecretKeySelector{Namespace: ns, Name: name, Key: "token"}},
	}}}
}

func esUsing(ns, name, kind, store string) *v1alpha1.ExternalSecret {
	return &v1alpha1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: v1alpha1.ExternalSecretSpec{SecretStoreRef: v1alpha1.SecretStoreRef{Kind: kind, Name: store}}}
}

// credentialFixture: namespaces a and b each have a SecretStore reading
// Secret "creds" of their own namespace; ClusterSecretStore "shared" reads
// ops/vault-token for everyone; ClusterSecretStore "per-ns" reads "creds"
// in each ExternalSecret's namespace.
func credentialFixture(t *testing.T) *credentialWatch {
	t.Helper()
	objs := []client.Object{
		&v1alpha1.SecretStore{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "vault"}, Spec: vaultTokenSpec("", "creds")},
		&v1alpha1.SecretStore{ObjectMeta: metav1.ObjectMeta{Namespace: "b", Name: "vault"}, Spec: vaultTokenSpec("", "creds")},
		&v1alpha1.SecretStore{ObjectMeta: metav1.ObjectMeta{Namespace: "a", Name: "cross"}, Spec: vaultTokenSpec("b", "creds")},
		&v1alpha1.ClusterSecretStore{ObjectMeta: metav1.ObjectMeta{Name: "shared"}, Spec: vaultTokenSpec("ops", "vault-token")},
		&v1alpha1.ClusterSecretStore{ObjectMeta: metav1.ObjectMeta{Name: "per-ns"}, Spec: vaultTokenSpec("", "creds")},
		esUsing("a", "app", "", "vault"),
		esUsing("b", "app", v1alpha1.SecretStoreKind, "vault"),
		esUsing("a", "cross", "", "cross"),
		esUsing("a", "shared", v1alpha1.ClusterSecretStoreKind, "shared"),
		esUsing("b", "shared", v1alpha1.ClusterSecretStoreKind, "shared"),
		esUsing("a", "per-ns", v1alpha1.ClusterSecretStoreKind, "per-ns"),
		esUsing("b", "per-ns", v1alpha1.ClusterSecretStoreKind, "per-ns"),
		esUsing("b", "other", "", "unrelated"),
	}
	c := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(objs...).
		WithIndex(&v1alpha1.SecretStore{}, indexStoreCredentials, func(o client.Object) []string {
			ss := o.(*v1alpha1.SecretStore)
			return storeCredentialKeys(&storeInfo{Kind: v1alpha1.SecretStoreKind, Namespace: ss.Namespace, Spec: &ss.Spec})
		}).
		WithIndex(&v1alpha1.ClusterSecretStore{}, indexStoreCredentials, func(o client.Object) []string {
			return storeCredentialKeys(&storeInfo{Kind: v1alpha1.ClusterSecretStoreKind, Spec: &o.(*v1alpha1.ClusterSecretStore).Spec})
		}).
		WithIndex(&v1alpha1.ExternalSecret{}, indexExternalSecretStore, func(o client.Object) []string {
			return []string{externalSecretStoreKey(o.(*v1alpha1.ExternalSecret))}
		}).Build()
	return newCredentialWatch(c, c)
}

func TestCredentialWatch_dependents(t *testing.T) {
	w := credentialFixture(t)
	tests := []struct {
		name, ns, secret string
		want             []string
	}{
		{"own namespace only: a/creds", "a", "creds", []string{"a/app", "a/per-ns"}},
		{"the same name in b is b's alone", "b", "creds", []string{"b/app", "b/per-ns"}},
		{"a ClusterSecretStore with a namespace: every user", "ops", "vault-token", []string{"a/shared", "b/shared"}},
		{"the ClusterSecretStore's Secret name in another namespace", "a", "vault-token", nil},
		{"an unrelated Secret", "a", "db", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			deps, err := w.dependents(context.Background(), tt.ns, tt.secret)
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, d := range deps {
				got = append(got, d.String())
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("dependents(%s/%s) = %q, want %q", tt.ns, tt.secret, got, tt.want)
			}
		})
	}
}

func credSecret(ns, name string, labels map[string]string, data string) *corev1.Secret {
	return &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, Labels: labels},
		Data: map[string][]byte{"token": []byte(data)}}
}

// metaOf is s as the metadata watch delivers it.
func metaOf(s *corev1.Secret, rv string) *metav1.PartialObjectMetadata {
	return &metav1.PartialObjectMetadata{TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Namespace: s.Namespace, Name: s.Name, Labels: s.Labels, ResourceVersion: rv}}
}

func TestCredentialWatch_Update(t *testing.T) {
	tests := []struct {
		name          string
		before, after *corev1.Secret
		want          []string
	}{
		{"data changed", credSecret("a", "creds", nil, "t1"), credSecret("a", "creds", nil, "t2"), []string{"a/app", "a/per-ns"}},
		{"only a label changed", credSecret("a", "creds", nil, "t1"), credSecret("a", "creds", map[string]string{"x": "y"}, "t1"), nil},
		{"resync: nothing changed", credSecret("a", "creds", nil, "t1"), credSecret("a", "creds", nil, "t1"), nil},
		{"data changed in another namespace", credSecret("c", "creds", nil, "t1"), credSecret("c", "creds", nil, "t2"), nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := credentialFixture(t)
			ctx := context.Background()
			q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
			defer q.ShutDown()
			// The watch sees metadata only and reads the data itself: the
			// informer's first list (Create), then an update.
			api := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(tt.before.DeepCopy()).Build()
			w.api = api
			w.Create(ctx, event.CreateEvent{Object: metaOf(tt.before, "1")}, q)
			if q.Len() != 0 {
				t.Fatal("the first list queued ExternalSecrets")
			}
			after := tt.after.DeepCopy()
			if err := api.Update(ctx, after); err != nil {
				t.Fatal(err)
			}
			newRV := "2"
			if tt.name == "resync: nothing changed" {
				newRV = "1"
			}
			w.Update(ctx, event.UpdateEvent{ObjectOld: metaOf(tt.before, "1"), ObjectNew: metaOf(tt.after, newRV)}, q)
			var got []string
			for q.Len() > 0 {
				req, _ := q.Get()
				got = append(got, req.String())
				q.Done(req)
			}
			slices.Sort(got)
			if !slices.Equal(got, tt.want) {
				t.Errorf("queued %q, want %q", got, tt.want)
			}
			for _, key := range tt.want {
				es := esUsing(key[:1], key[2:], "", "")
				if !w.take(es) || w.take(es) {
					t.Errorf("%s: take should report the change once", key)
				}
			}
			if len(w.due) != 0 {
				t.Errorf("%d entries left after take", len(w.due))
			}
		})
	}
	w := credentialFixture(t)
	w.due[types.NamespacedName{Namespace: "a", Name: "gone"}] = struct{}{}
	w.forget(types.NamespacedName{Namespace: "a", Name: "gone"})()
	if len(w.due) != 0 {
		t.Error("forget left the entry of a deleted ExternalSecret")
	}
	if (*credentialWatch)(nil).take(esUsing("a", "app", "", "")) {
		t.Error("a nil watch made an ExternalSecret due")
	}
}

// TestCredentialWatch_rememberStoreCreatedAfterSecret: the informer saw
// the Secret before any store read it; the store's reconcile makes the watch
// learn its data, so a later label-only change refreshes nothing while a
// data change still does.
func TestCredentialWatch_rememberStoreCreatedAfterSecret(t *testing.T) {
	ctx := context.Background()
	w := credentialFixture(t)
	before := credSecret("a", "creds", nil, "t1")
	api := fake.NewClientBuilder().WithScheme(testScheme(t)).WithObjects(before.DeepCopy()).Build()
	w.api = api
	spec := vaultTokenSpec("", "creds")
	w.remember(ctx, &storeInfo{Kind: v1alpha1.SecretStoreKind, Namespace: "a", Name: "vault", Spec: &spec})
	queued := func(after *corev1.Secret, rv string) int {
		q := workqueue.NewTypedRateLimitingQueue(workqueue.DefaultTypedControllerRateLimiter[reconcile.Request]())
		defer q.ShutDown()
		if err := api.Update(ctx, after.DeepCopy()); err != nil {
			t.Fatal(err)
		}
		w.Update(ctx, event.UpdateEvent{ObjectOld: metaOf(before, "1"), ObjectNew: metaOf(after, rv)}, q)
		return q.Len()
	}
	if n := queued(credSecret("a", "creds", map[string]string{"x": "y"}, "t1"), "2"); n != 0 {
		t.Errorf("a label change queued %d ExternalSecrets", n)
	}
	if n := queued(credSecret("a", "creds", nil, "t2"), "3"); n != 2 {
		t.Errorf("a data change queued %d ExternalSecrets, want 2", n)
	}
}
