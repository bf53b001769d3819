package controllers

import (
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

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

// esWith builds an ExternalSecret with a creation policy.
func esWith(policy v1alpha1.CreationPolicy) *v1alpha1.ExternalSecret {
	return &v1alpha1.ExternalSecret{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "prod", UID: types.UID("es-uid")},
		Spec: v1alpha1.ExternalSecretSpec{Target: v1alpha1.ExternalSecretTarget{
			CreationPolicy: policy,
			Template:       &v1alpha1.ExternalSecretTemplate{Metadata: v1alpha1.ExternalSecretTemplateMetadata{Labels: map[string]string{"team": "a"}}},
		}},
	}
}

// legacyESSecret is a Secret as kseal's earlier ExternalSecret writer left
// it: a data hash (and managed keys for Merge), no source fingerprint.
func legacyESSecret(es *v1alpha1.ExternalSecret, data map[string][]byte) *corev1.Secret {
	ctl := true
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "prod", Labels: map[string]string{"team": "a"}, Annotations: map[string]string{}},
		Type:       corev1.SecretTypeOpaque,
		Data:       data,
	}
	switch creationPolicy(es) {
	case v1alpha1.CreationPolicyOwner:
		s.OwnerReferences = []metav1.OwnerReference{{Kind: "ExternalSecret", Name: "db", UID: es.UID, Controller: &ctl}}
		s.Annotations[AnnotationDataHash] = dataHash(s, nil)
	case v1alpha1.CreationPolicyOrphan:
		s.Annotations[AnnotationDataHash] = dataHash(s, nil)
	case v1alpha1.CreationPolicyMerge:
		s.Data["theirs"] = []byte("x")
		s.Annotations[AnnotationManagedKeys] = "password"
		s.Annotations[AnnotationDataHash] = dataHash(s, []string{"password"})
	}
	return s
}

func TestDecide_externalSecret(t *testing.T) {
	fetched := func() map[string][]byte { return map[string][]byte{"password": []byte("pw")} }
	changed := map[string][]byte{"password": []byte("new")}
	foreign := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "prod"}, Data: map[string][]byte{"k": []byte("v")}}
	tests := []struct {
		name    string
		policy  v1alpha1.CreationPolicy
		current *corev1.Secret
		data    map[string][]byte
		want    action
		reason  string
	}{
		{"owner absent", v1alpha1.CreationPolicyOwner, nil, fetched(), actionCreate, v1alpha1.ReasonUnsealed},
		{"merge absent", v1alpha1.CreationPolicyMerge, nil, fetched(), actionRefuse, v1alpha1.ReasonInvalidSpec},
		{"owner over foreign", v1alpha1.CreationPolicyOwner, foreign, fetched(), actionRefuse, v1alpha1.ReasonSecretNotOwned},
		{"orphan over foreign", v1alpha1.CreationPolicyOrphan, foreign, fetched(), actionRefuse, v1alpha1.ReasonSecretNotOwned},
		{"merge into foreign", v1alpha1.CreationPolicyMerge, foreign, fetched(), actionUpdate, v1alpha1.ReasonUnsealed},
		{"owner old scheme, same values", v1alpha1.CreationPolicyOwner, legacyESSecret(esWith(v1alpha1.CreationPolicyOwner), fetched()), fetched(), actionNone, v1alpha1.ReasonUnsealed},
		{"orphan old scheme, same values", v1alpha1.CreationPolicyOrphan, legacyESSecret(esWith(v1alpha1.CreationPolicyOrphan), fetched()), fetched(), actionNone, v1alpha1.ReasonUnsealed},
		{"merge old scheme, same values", v1alpha1.CreationPolicyMerge, legacyESSecret(esWith(v1alpha1.CreationPolicyMerge), fetched()), fetched(), actionNone, v1alpha1.ReasonUnsealed},
		{"owner old scheme, new values", v1alpha1.CreationPolicyOwner, legacyESSecret(esWith(v1alpha1.CreationPolicyOwner), fetched()), changed, actionUpdate, v1alpha1.ReasonUnsealed},
		{"merge old scheme, new values", v1alpha1.CreationPolicyMerge, legacyESSecret(esWith(v1alpha1.CreationPolicyMerge), fetched()), changed, actionUpdate, v1alpha1.ReasonUnsealed},
		{"old scheme, hand edit", v1alpha1.CreationPolicyOwner, func() *corev1.Secret {
			s := legacyESSecret(esWith(v1alpha1.CreationPolicyOwner), fetched())
			s.Data["password"] = []byte("edited")
			return s
		}(), fetched(), actionUpdate, v1alpha1.ReasonUnsealed},
		{"old scheme, template label removed by hand", v1alpha1.CreationPolicyOwner, func() *corev1.Secret {
			s := legacyESSecret(esWith(v1alpha1.CreationPolicyOwner), fetched())
			s.Labels = nil
			return s
		}(), fetched(), actionUpdate, v1alpha1.ReasonUnsealed},
		{"immutable and changed", v1alpha1.CreationPolicyOwner, func() *corev1.Secret {
			s := legacyESSecret(esWith(v1alpha1.CreationPolicyOwner), fetched())
			yes := true
			s.Immutable = &yes
			return s
		}(), changed, actionRefuse, v1alpha1.ReasonSecretImmutable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es := esWith(tt.policy)
			in := externalSecretInput(es, tt.current, desiredSecret(es, tt.current, untemplated(es, tt.data)))
			act, reason, msg := decide(in)
			if act != tt.want || reason != tt.reason {
				t.Errorf("got action %d reason %s (%s), want %d %s", act, reason, msg, tt.want, tt.reason)
			}
		})
	}
}

// TestDecide_externalSecretWrittenOnce: what the shared writer records for
// an ExternalSecret is up to date on the next refresh with the same values.
func TestDecide_externalSecretWrittenOnce(t *testing.T) {
	for _, policy := range []v1alpha1.CreationPolicy{v1alpha1.CreationPolicyOwner, v1alpha1.CreationPolicyOrphan, v1alpha1.CreationPolicyMerge} {
		t.Run(string(policy), func(t *testing.T) {
			es := esWith(policy)
			var current *corev1.Secret
			if policy == v1alpha1.CreationPolicyMerge {
				current = &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "prod"}, Type: corev1.SecretTypeOpaque, Data: map[string][]byte{"theirs": []byte("x")}}
			}
			c := fake.NewClientBuilder().WithScheme(testScheme(t)).Build()
			if current != nil {
				if err := c.Create(t.Context(), current); err != nil {
					t.Fatal(err)
				}
			}
			data := map[string][]byte{"password": []byte("pw")}
			desired := desiredSecret(es, current, untemplated(es, data))
			in := externalSecretInput(es, current, desired)
			act, _, _ := decide(in)
			if err := writeTargetSecret(t.Context(), c, es, in, desired, "", act, nil); err != nil {
				t.Fatal(err)
			}
			written := &corev1.Secret{}
			if err := c.Get(t.Context(), types.NamespacedName{Namespace: "prod", Name: "db"}, written); err != nil {
				t.Fatal(err)
			}
			if act, reason, msg := decide(externalSecretInput(es, written, desiredSecret(es, written, untemplated(es, map[string][]byte{"password": []byte("pw")})))); act != actionNone {
				t.Errorf("second refresh with the same values: action %d %s (%s), want none", act, reason, msg)
			}
			if string(written.Data["password"]) != "pw" || policy == v1alpha1.CreationPolicyMerge && string(written.Data["theirs"]) != "x" {
				t.Errorf("data %v", written.Data)
			}
		})
	}
}
