package controllers

import (
	"context"
	"sync/atomic"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

func TestSealedSecretTransform(t *testing.T) {
	ss := &v1alpha1.SealedSecret{
		ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "ns", Annotations: map[string]string{
			lastAppliedAnnotation: `{"big":"copy"}`, v1alpha1.AnnotationPatch: "true",
		}, ManagedFields: []metav1.ManagedFieldsEntry{{Manager: "kubectl"}}},
		Spec: v1alpha1.SealedSecretSpec{EncryptedData: map[string]string{"a": "AgB1bG9uZyBjaXBoZXJ0ZXh0", "b": "AgBvdGhlcg=="}},
	}
	want := sealedHash(ss)
	if _, ok := cachedHash(ss); ok {
		t.Fatal("a full object claims a cached fingerprint")
	}
	out, err := sealedSecretTransform(ss.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	got := out.(*v1alpha1.SealedSecret)
	if h, ok := cachedHash(got); !ok || h != want {
		t.Errorf("cached fingerprint %q (%v), want %q", h, ok, want)
	}
	if len(got.Spec.EncryptedData) != 2 || got.Spec.EncryptedData["a"] != "" || got.Spec.EncryptedData["b"] != "" {
		t.Errorf("cached items %v, want names a and b without ciphertext", got.Spec.EncryptedData)
	}
	if got.ManagedFields != nil || got.Annotations[lastAppliedAnnotation] != "" {
		t.Error("managed fields or last-applied annotation kept")
	}
	if in := sealedSecretInput(got, nil); in.sealedHash != want || !in.patch || len(in.keys) != 2 {
		t.Errorf("policy input from the cached copy: hash %q patch %v keys %v; want %q, true, 2 keys", in.sealedHash, in.patch, in.keys, want)
	}
}

func TestCachedHash_notForgeable(t *testing.T) {
	ss := &v1alpha1.SealedSecret{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "ns", Annotations: map[string]string{annotationCachedHash: "00000000000000000000000000000000"}},
		Spec: v1alpha1.SealedSecretSpec{EncryptedData: map[string]string{"a": "AgB4"}}}
	if _, ok := cachedHash(ss); ok {
		t.Fatal("a user's annotation passed for the cache's fingerprint")
	}
	if in := sealedSecretInput(ss, nil); in.sealedHash != sealedHash(ss) {
		t.Error("the policy input did not fingerprint the full object")
	}
	out, _ := sealedSecretTransform(ss.DeepCopy())
	if h, _ := cachedHash(out.(*v1alpha1.SealedSecret)); h != sealedHash(ss) {
		t.Error("the transform kept the user's annotation")
	}
}

func TestSopsSecretTransform(t *testing.T) {
	s := &v1alpha1.SopsSecret{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "ns"}, Spec: v1alpha1.SopsSecretSpec{Sops: "a: ENC[AES256_GCM,data:...]\nsops: {}\n"}}
	want := sopsHash(s)
	out, _ := sopsSecretTransform(s.DeepCopy())
	got := out.(*v1alpha1.SopsSecret)
	if got.Spec.Sops != "" {
		t.Error("the document stayed in the cache")
	}
	if in := sopsSecretInput(got, nil); in.sealedHash != want {
		t.Errorf("policy input hash %q, want %q", in.sealedHash, want)
	}
}

func TestSecretClient_Get(t *testing.T) {
	scheme := testScheme(t)
	stored := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: "ns"}, Data: map[string][]byte{"k": []byte("v")}}
	cached := fake.NewClientBuilder().WithScheme(scheme).Build() // the cache: Secret not held
	api := fake.NewClientBuilder().WithScheme(scheme).WithObjects(stored).Build()
	c := secretClient{Client: cached, api: api}

	got := &corev1.Secret{}
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(stored), got); err != nil {
		t.Fatalf("a Secret outside the cache: %v", err)
	}
	if string(got.Data["k"]) != "v" {
		t.Errorf("got data %q, want the stored data", got.Data["k"])
	}
	err := c.Get(context.Background(), client.ObjectKey{Namespace: "ns", Name: "absent"}, &corev1.Secret{})
	if !apierrors.IsNotFound(err) {
		t.Errorf("absent Secret: %v, want not found", err)
	}
	// Other kinds are not read past the cache.
	sops := &v1alpha1.SopsSecret{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "ns"}}
	ss := &v1alpha1.SealedSecret{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "ns"}}
	c.api = fake.NewClientBuilder().WithScheme(scheme).WithObjects(sops, ss).Build()
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(sops), &v1alpha1.SopsSecret{}); !apierrors.IsNotFound(err) {
		t.Errorf("SopsSecret missing from the cache: %v, want not found", err)
	}
	// Whole SealedSecrets are never read from the cache, which holds them
	// as metadata only: a typed read goes to the API server.
	if err := c.Get(context.Background(), client.ObjectKeyFromObject(ss), &v1alpha1.SealedSecret{}); err != nil {
		t.Errorf("SealedSecret read past the cache: %v", err)
	}
	var list v1alpha1.SealedSecretList
	if err := c.List(context.Background(), &list); err != nil || len(list.Items) != 1 {
		t.Errorf("SealedSecrets listed past the cache: %d, %v; want 1", len(list.Items), err)
	}
}

func TestAwaitKeys(t *testing.T) {
	ready := make(chan struct{})
	var have atomic.Bool
	go func() { have.Store(true); close(ready) }()
	if !awaitKeys(context.Background(), ready, have.Load) {
		t.Error("keys loaded while waiting, reported not loaded")
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if awaitKeys(ctx, make(chan struct{}), func() bool { return false }) {
		t.Error("no keys, reported loaded")
	}
	if awaitKeys(context.Background(), nil, func() bool { return false }) {
		t.Error("no keys and nothing to wait for, reported loaded")
	}
}
