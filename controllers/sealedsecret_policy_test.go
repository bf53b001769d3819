package controllers

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// ssWith builds a SealedSecret with modifiers.
func ssWith(mods ...func(*v1alpha1.SealedSecret)) *v1alpha1.SealedSecret {
	ss := &v1alpha1.SealedSecret{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "prod", UID: types.UID("ss-uid")},
		Spec:       v1alpha1.SealedSecretSpec{EncryptedData: map[string]string{"password": "S1NMMg=="}},
	}
	for _, m := range mods {
		m(ss)
	}
	return ss
}

// secretWith builds the target Secret as kseal would have written it for
// ss, then applies modifiers.
func secretWith(ss *v1alpha1.SealedSecret, mods ...func(*corev1.Secret)) *corev1.Secret {
	ctl := true
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: "db", Namespace: "prod",
			OwnerReferences: []metav1.OwnerReference{{Kind: "SealedSecret", Name: "db", UID: ss.UID, Controller: &ctl}},
		},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{"password": []byte("pw")},
	}
	s.Annotations = map[string]string{AnnotationSealedHash: sealedHash(ss), AnnotationDataHash: dataHash(s, nil)}
	for _, m := range mods {
		m(s)
	}
	return s
}

func TestDecide(t *testing.T) {
	base := ssWith()
	patch := ssWith(func(ss *v1alpha1.SealedSecret) {
		ss.Annotations = map[string]string{v1alpha1.AnnotationPatch: "true"}
	})
	foreign := func(s *corev1.Secret) { s.OwnerReferences = nil }
	tests := []struct {
		name   string
		ss     *v1alpha1.SealedSecret
		secret *corev1.Secret
		want   action
		reason string
	}{
		{"absent", base, nil, actionCreate, v1alpha1.ReasonUnsealed},
		{"up to date", base, secretWith(base), actionNone, v1alpha1.ReasonUnsealed},
		{"hand edit", base, secretWith(base, func(s *corev1.Secret) { s.Data["password"] = []byte("x") }), actionUpdate, v1alpha1.ReasonUnsealed},
		{"type changed by hand", base, secretWith(base, func(s *corev1.Secret) { s.Type = "kubernetes.io/basic-auth" }), actionUpdate, v1alpha1.ReasonUnsealed},
		{"spec changed", ssWith(func(ss *v1alpha1.SealedSecret) { ss.Spec.EncryptedData["x"] = "S1NMMg==" }), secretWith(base), actionUpdate, v1alpha1.ReasonUnsealed},
		{"moved scope annotation", ssWith(func(ss *v1alpha1.SealedSecret) {
			ss.Annotations = map[string]string{v1alpha1.AnnotationScope: "cluster-wide"}
		}), secretWith(base), actionUpdate, v1alpha1.ReasonUnsealed},
		{"not ours", base, secretWith(base, foreign), actionRefuse, v1alpha1.ReasonSecretNotOwned},
		{"owned by another object", base, secretWith(base, func(s *corev1.Secret) { s.OwnerReferences[0].UID = "other" }), actionRefuse, v1alpha1.ReasonSecretNotOwned},
		{"managed", base, secretWith(base, foreign, func(s *corev1.Secret) { s.Annotations[v1alpha1.AnnotationManaged] = "true" }), actionUpdate, v1alpha1.ReasonUnsealed},
		{"bitnami managed", base, secretWith(base, foreign, func(s *corev1.Secret) { s.Annotations[v1alpha1.AnnotationBitnamiManaged] = "true" }), actionUpdate, v1alpha1.ReasonUnsealed},
		{"patch into foreign", patch, secretWith(patch, foreign, func(s *corev1.Secret) { s.Annotations = nil }), actionUpdate, v1alpha1.ReasonUnsealed},
		{"patch up to date, other keys edited", patch, secretWith(patch, foreign, func(s *corev1.Secret) {
			s.Data["other"] = []byte("theirs")
		}), actionNone, v1alpha1.ReasonUnsealed},
		{"immutable and stale", ssWith(func(ss *v1alpha1.SealedSecret) { ss.Spec.EncryptedData["x"] = "S1NMMg==" }),
			secretWith(base, func(s *corev1.Secret) { t := true; s.Immutable = &t }), actionRefuse, v1alpha1.ReasonSecretImmutable},
		{"immutable and current", base, secretWith(base, func(s *corev1.Secret) { t := true; s.Immutable = &t }), actionNone, v1alpha1.ReasonUnsealed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			act, reason, msg := decide(sealedSecretInput(tt.ss, tt.secret))
			if act != tt.want || reason != tt.reason {
				t.Errorf("got action %d reason %s (%s), want %d %s", act, reason, msg, tt.want, tt.reason)
			}
		})
	}
}

func TestDataHash_onlyManagedKeys(t *testing.T) {
	s := &corev1.Secret{Data: map[string][]byte{"a": []byte("1"), "b": []byte("2")}}
	h := dataHash(s, []string{"a"})
	s.Data["b"] = []byte("changed")
	if dataHash(s, []string{"a"}) != h {
		t.Error("a key kseal does not manage changed the hash")
	}
	s.Data["a"] = []byte("changed")
	if dataHash(s, []string{"a"}) == h {
		t.Error("a managed key change did not change the hash")
	}
}
