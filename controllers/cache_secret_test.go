package controllers

import (
	"context"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// writtenSecret is a Secret as kseal writes it: labelled, with the data
// hash of its data.
func writtenSecret(data map[string]string) *corev1.Secret {
	s := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "ns", Labels: map[string]string{LabelWrittenBy: writtenByValue}, Annotations: map[string]string{}}, Data: map[string][]byte{}}
	for k, v := range data {
		s.Data[k] = []byte(v)
	}
	s.Annotations[AnnotationDataHash] = dataHash(s, nil)
	return s
}

func transformSecret(t *testing.T, s *corev1.Secret) *corev1.Secret {
	t.Helper()
	out, err := secretTransform(s.DeepCopy())
	if err != nil {
		t.Fatal(err)
	}
	return out.(*corev1.Secret)
}

func TestSecretTransform_keepsDigestNotData(t *testing.T) {
	s := writtenSecret(map[string]string{"password": "hunter2", "user": "admin"})
	s.Annotations[lastAppliedAnnotation] = `{"big":"copy"}`
	got := transformSecret(t, s)
	if got.Data != nil {
		t.Errorf("cached Secret keeps data %v, want none", got.Data)
	}
	if got.Annotations[lastAppliedAnnotation] != "" {
		t.Error("last-applied annotation kept")
	}
	if !dataIntact(got, nil) {
		t.Error("the cached copy of an untouched Secret is not intact")
	}
	// Patch mode checks only its keys, which the digest cannot tell.
	if dataIntact(got, []string{"password"}) {
		t.Error("the cached copy was judged on some keys only")
	}

	// An edit of the data, as the watch delivers it, changes the digest.
	edited := s.DeepCopy()
	edited.Data["password"] = []byte("attacker")
	if dataIntact(transformSecret(t, edited), nil) {
		t.Error("the cached copy of an edited Secret is intact")
	}
	// So does an edit that also sets the cache's annotation (without the
	// process's random mark, which never leaves it): the transform
	// overwrites it, and a full Secret with it is judged on its data.
	forged := edited.DeepCopy()
	forged.Annotations[annotationCachedHash] = s.Annotations[AnnotationDataHash]
	if dataIntact(transformSecret(t, forged), nil) {
		t.Error("an annotation set on the Secret passed for the cache's digest")
	}
	if _, stripped := cachedHash(forged); stripped || dataIntact(forged, nil) {
		t.Error("a user's annotation made a full Secret pass for the cache's copy")
	}
}

func TestSecretClient_Get_readsDataPastTheCache(t *testing.T) {
	scheme := testScheme(t)
	stored := writtenSecret(map[string]string{"k": "v"})
	cached := fake.NewClientBuilder().WithScheme(scheme).WithObjects(transformSecret(t, stored)).Build()
	api := fake.NewClientBuilder().WithScheme(scheme).WithObjects(stored).Build()
	c := secretClient{Client: cached, api: api}
	ctx := context.Background()
	key := client.ObjectKeyFromObject(stored)

	got := &corev1.Secret{}
	if err := c.Get(ctx, key, got); err != nil {
		t.Fatal(err)
	}
	if _, stripped := cachedHash(got); stripped || string(got.Data["k"]) != "v" {
		t.Errorf("Get returned data %q (cache's copy: %v), want the stored data", got.Data["k"], stripped)
	}
	meta := &corev1.Secret{}
	if err := getSecret(ctx, c, key, meta, lookupMeta); err != nil {
		t.Fatal(err)
	}
	if _, stripped := cachedHash(meta); !stripped || meta.Data != nil || !dataIntact(meta, nil) {
		t.Errorf("getSecret without data: cache's copy %v, data %v, intact %v; want the intact copy without data", stripped, meta.Data, dataIntact(meta, nil))
	}
	full := &corev1.Secret{}
	if err := getSecret(ctx, c, key, full, lookupData); err != nil || string(full.Data["k"]) != "v" {
		t.Errorf("getSecret with data: %v, data %q", err, full.Data["k"])
	}
}

// TestWriteTargetSecret_cachedCopyWithoutData: a patch-mode write into a
// Secret the cache holds without data merges into the data the API server
// has, and the cache's annotation is never written.
func TestWriteTargetSecret_cachedCopyWithoutData(t *testing.T) {
	scheme := testScheme(t)
	stored := writtenSecret(map[string]string{"other": "keep", "a": "old"})
	cached := fake.NewClientBuilder().WithScheme(scheme).WithObjects(transformSecret(t, stored)).Build()
	api := fake.NewClientBuilder().WithScheme(scheme).WithObjects(stored).Build()
	c := secretClient{Client: cached, api: api}
	ctx := context.Background()
	owner := &v1alpha1.SealedSecret{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "ns", UID: "u1"}}

	current := &corev1.Secret{}
	if err := getSecret(ctx, c, client.ObjectKeyFromObject(stored), current, lookupMeta); err != nil {
		t.Fatal(err)
	}
	in := policyInput{kind: "SealedSecret", name: "app", ownerUID: owner.UID, patch: true, keys: []string{"a"}, secret: current, sealedHash: "h"}
	desired := &corev1.Secret{Data: map[string][]byte{"a": []byte("new")}}
	if err := writeTargetSecret(ctx, c, owner, in, desired, "", actionUpdate, nil); err != nil {
		t.Fatal(err)
	}
	got := &corev1.Secret{}
	if err := cached.Get(ctx, client.ObjectKeyFromObject(stored), got); err != nil {
		t.Fatal(err)
	}
	if string(got.Data["other"]) != "keep" || string(got.Data["a"]) != "new" {
		t.Errorf("written data %q, want other=keep a=new", got.Data)
	}
	if _, has := got.Annotations[annotationCachedHash]; has {
		t.Error("the cache's annotation was written to the Secret")
	}
}

func TestGetSecret_lookupCached(t *testing.T) {
	scheme := testScheme(t)
	stored := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "ns"}, Data: map[string][]byte{"k": []byte("v")}}
	c := secretClient{Client: fake.NewClientBuilder().WithScheme(scheme).Build(), api: fake.NewClientBuilder().WithScheme(scheme).WithObjects(stored).Build()}
	key := client.ObjectKeyFromObject(stored)
	if err := getSecret(context.Background(), c, key, &corev1.Secret{}, lookupCached); !apierrors.IsNotFound(err) {
		t.Errorf("lookupCached of a Secret the cache does not hold: %v, want not found (no API read)", err)
	}
	if err := getSecret(context.Background(), c, key, &corev1.Secret{}, lookupMeta); err != nil {
		t.Errorf("lookupMeta of a Secret the cache does not hold: %v, want it read from the API server", err)
	}
}

func TestSealedLookup(t *testing.T) {
	fresh := &v1alpha1.SealedSecret{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "ns"}}
	reconciled := fresh.DeepCopy()
	reconciled.Status.Conditions = []metav1.Condition{{Type: v1alpha1.ConditionReady, Status: metav1.ConditionTrue}}
	patch := fresh.DeepCopy()
	patch.Annotations = map[string]string{v1alpha1.AnnotationPatch: "true"}
	for _, tc := range []struct {
		name string
		ss   *v1alpha1.SealedSecret
		src  sealedSource
		want secretLookup
	}{
		{"never reconciled", fresh, sealedSource{}, lookupCached},
		{"reconciled before", reconciled, sealedSource{}, lookupMeta},
		{"patch mode", patch, sealedSource{}, lookupData},
		{"another controller's kind", fresh, sealedSource{owner: &v1alpha1.SealedSecret{}}, lookupMeta},
	} {
		if got := sealedLookup(tc.ss, tc.src); got != tc.want {
			t.Errorf("%s: lookup %d, want %d", tc.name, got, tc.want)
		}
	}
}

// TestTransforms_idempotent: client-go may pass an object through the
// transform twice; the second pass must not fingerprint the stripped copy.
func TestTransforms_idempotent(t *testing.T) {
	s := writtenSecret(map[string]string{"k": "v"})
	once := transformSecret(t, s)
	if twice := transformSecret(t, once); !dataIntact(twice, nil) {
		t.Error("Secret: a second transform lost the digest of the data")
	}
	ss := &v1alpha1.SealedSecret{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "ns"},
		Spec: v1alpha1.SealedSecretSpec{EncryptedData: map[string]string{"a": "AgB4"}}}
	out, _ := sealedSecretTransform(ss.DeepCopy())
	out, _ = sealedSecretTransform(out)
	if h, _ := cachedHash(out.(*v1alpha1.SealedSecret)); h != sealedHash(ss) {
		t.Error("SealedSecret: a second transform changed the fingerprint")
	}
	sops := &v1alpha1.SopsSecret{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "ns"}, Spec: v1alpha1.SopsSecretSpec{Sops: "a: ENC[...]\n"}}
	out, _ = sopsSecretTransform(sops.DeepCopy())
	out, _ = sopsSecretTransform(out)
	if h, _ := cachedHash(out.(*v1alpha1.SopsSecret)); h != sopsHash(sops) {
		t.Error("SopsSecret: a second transform changed the fingerprint")
	}
}

func TestSealedSecretTransform_notPatchMode(t *testing.T) {
	ss := &v1alpha1.SealedSecret{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: "ns"},
		Spec: v1alpha1.SealedSecretSpec{EncryptedData: map[string]string{"a": "AgB4"}, Template: v1alpha1.SecretTemplateSpec{Data: map[string]string{"url": "{{ .a }}"}}}}
	want := sealedHash(ss)
	out, _ := sealedSecretTransform(ss.DeepCopy())
	got := out.(*v1alpha1.SealedSecret)
	if got.Spec.EncryptedData != nil || got.Spec.Template.Data != nil {
		t.Errorf("cached copy keeps items %v and template data %v, want neither", got.Spec.EncryptedData, got.Spec.Template.Data)
	}
	if in := sealedSecretInput(got, nil); in.sealedHash != want || in.patch || in.keys != nil {
		t.Errorf("policy input: hash %q patch %v keys %v; want %q, false, none", in.sealedHash, in.patch, in.keys, want)
	}
}
