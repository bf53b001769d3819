package controllers

import (
	"context"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"

	bitnamiv1 "github.com/kseal-dev/kseal/api/bitnami/v1alpha1"
	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// bitnamiWith builds a sealed-secrets SealedSecret that its controller
// synced at generation 3, then applies modifiers.
func bitnamiWith(mods ...func(*bitnamiv1.SealedSecret)) *bitnamiv1.SealedSecret {
	b := &bitnamiv1.SealedSecret{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "prod", UID: "b-uid", Generation: 3},
		Spec:       bitnamiv1.SealedSecretSpec{SealedSecretSpec: v1alpha1.SealedSecretSpec{EncryptedData: map[string]string{"password": "AgB="}}},
		Status: &bitnamiv1.SealedSecretStatus{ObservedGeneration: 3, Conditions: []bitnamiv1.SealedSecretCondition{{
			Type: bitnamiv1.ConditionSynced, Status: corev1.ConditionTrue,
			LastUpdateTime: metav1.Unix(100, 0), LastTransitionTime: metav1.Unix(50, 0),
		}}},
	}
	for _, m := range mods {
		m(b)
	}
	return b
}

// bitnamiSecret is the Secret sealed-secrets writes for b.
func bitnamiSecret(b *bitnamiv1.SealedSecret, mods ...func(*corev1.Secret)) *corev1.Secret {
	ctl := true
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: b.Name, Namespace: b.Namespace, UID: "s-uid", OwnerReferences: []metav1.OwnerReference{{
			APIVersion: "bitnami.com/v1alpha1", Kind: "SealedSecret", Name: b.Name, UID: b.UID, Controller: &ctl,
		}}},
		Type: corev1.SecretTypeOpaque,
		Data: map[string][]byte{"password": []byte("pw")},
	}
	for _, m := range mods {
		m(s)
	}
	return s
}

func TestBitnamiReconciler_adopted(t *testing.T) {
	stale := func(b *bitnamiv1.SealedSecret) { b.Generation = 4 }
	tests := []struct {
		name   string
		b      *bitnamiv1.SealedSecret
		secret func(*bitnamiv1.SealedSecret) *corev1.Secret
		want   bool
	}{
		{"synced and owned", bitnamiWith(), func(b *bitnamiv1.SealedSecret) *corev1.Secret { return bitnamiSecret(b) }, true},
		{"spec changed since", bitnamiWith(stale), func(b *bitnamiv1.SealedSecret) *corev1.Secret { return bitnamiSecret(b) }, false},
		{"not synced", bitnamiWith(func(b *bitnamiv1.SealedSecret) { b.Status.Conditions[0].Status = corev1.ConditionFalse }),
			func(b *bitnamiv1.SealedSecret) *corev1.Secret { return bitnamiSecret(b) }, false},
		{"no status", bitnamiWith(func(b *bitnamiv1.SealedSecret) { b.Status = nil }), func(b *bitnamiv1.SealedSecret) *corev1.Secret { return bitnamiSecret(b) }, false},
		{"controlled by another object", bitnamiWith(), func(b *bitnamiv1.SealedSecret) *corev1.Secret {
			return bitnamiSecret(b, func(s *corev1.Secret) { s.OwnerReferences[0].UID = "other" })
		}, false},
		{"no owner", bitnamiWith(), func(b *bitnamiv1.SealedSecret) *corev1.Secret {
			return bitnamiSecret(b, func(s *corev1.Secret) { s.OwnerReferences = nil })
		}, false},
		{"no owner, skip-set-owner-references", bitnamiWith(func(b *bitnamiv1.SealedSecret) {
			b.Annotations = map[string]string{v1alpha1.AnnotationBitnamiSkipSetOwnerReferences: "true"}
		}), func(b *bitnamiv1.SealedSecret) *corev1.Secret {
			return bitnamiSecret(b, func(s *corev1.Secret) { s.OwnerReferences = nil })
		}, true},
		{"written by kseal", bitnamiWith(), func(b *bitnamiv1.SealedSecret) *corev1.Secret {
			return bitnamiSecret(b, func(s *corev1.Secret) { s.Annotations = map[string]string{AnnotationSealedHash: "x"} })
		}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &bitnamiReconciler{}
			if got := r.adopted(tt.b, bitnamiView(tt.b), tt.secret(tt.b)); got != tt.want {
				t.Errorf("adopted = %v, want %v", got, tt.want)
			}
		})
	}
}

// An edit of a kept Secret after the takeover is no longer sealed-secrets'
// write: it is restored.
func TestBitnamiReconciler_adoptedEditedLater(t *testing.T) {
	r := &bitnamiReconciler{}
	b := bitnamiWith()
	if !r.adopted(b, bitnamiView(b), bitnamiSecret(b)) {
		t.Fatal("first look: not adopted")
	}
	if !r.adopted(b, bitnamiView(b), bitnamiSecret(b)) {
		t.Fatal("second look at the same data: not adopted")
	}
	edited := bitnamiSecret(b, func(s *corev1.Secret) { s.Data["password"] = []byte("edited") })
	if r.adopted(b, bitnamiView(b), edited) {
		t.Error("an edited Secret is still adopted")
	}
}

func TestDecide_adopted(t *testing.T) {
	b := bitnamiWith()
	view := bitnamiView(b)
	in := sealedSecretInput(view, bitnamiSecret(b))
	if act, _, _ := decide(in); act != actionUpdate {
		t.Fatalf("without adoption: action %v, want update (no kseal hashes)", act)
	}
	in.adopted = true
	if act, reason, msg := decide(in); act != actionNone || reason != v1alpha1.ReasonUnsealed || msg != messageUpToDate {
		t.Errorf("adopted: %v %s %q, want none", act, reason, msg)
	}
	in.secret = nil
	if act, _, _ := decide(in); act != actionCreate {
		t.Errorf("adopted but absent: %v, want create", act)
	}
}

func TestSetBitnamiStatus(t *testing.T) {
	// Confirmed as sealed-secrets left it: nothing changes, timestamps included.
	b := bitnamiWith()
	view := bitnamiView(b)
	setReadyTrue(view, v1alpha1.ReasonUnsealed, messageUpToDate)
	setBitnamiStatus(b, view)
	if c := b.Status.Synced(); c.LastUpdateTime != metav1.Unix(100, 0) || c.Message != "" || c.Reason != "" || len(b.Status.Conditions) != 1 {
		t.Errorf("unchanged object got a new status: %+v", b.Status)
	}

	// A failure: Synced=False with kseal's reason and message.
	view = bitnamiView(b)
	setFailed(view, false, v1alpha1.ReasonUnknownKey, "no key opened item password")
	setBitnamiStatus(b, view)
	c := b.Status.Synced()
	if c.Status != corev1.ConditionFalse || c.Reason != v1alpha1.ReasonUnknownKey || c.Message != "no key opened item password" || c.LastTransitionTime == metav1.Unix(50, 0) {
		t.Errorf("failure: %+v", c)
	}

	// Healed at a new generation: True, message cleared, observedGeneration moves.
	b.Generation = 4
	view = bitnamiView(b)
	setReadyTrue(view, v1alpha1.ReasonUnsealed, messageUpToDate)
	setBitnamiStatus(b, view)
	if c := b.Status.Synced(); c.Status != corev1.ConditionTrue || c.Message != "" || c.Reason != "" || b.Status.ObservedGeneration != 4 {
		t.Errorf("healed: %+v", b.Status)
	}

	// First status of an object nobody reconciled.
	b = bitnamiWith(func(b *bitnamiv1.SealedSecret) { b.Status = nil })
	view = bitnamiView(b)
	setReadyTrue(view, v1alpha1.ReasonUnsealed, messageUpToDate)
	setBitnamiStatus(b, view)
	if c := b.Status.Synced(); c == nil || c.Status != corev1.ConditionTrue || b.Status.ObservedGeneration != 3 {
		t.Errorf("first status: %+v", b.Status)
	}
}

func TestBitnamiRunning(t *testing.T) {
	replicas := func(n int32) *int32 { return &n }
	deploy := func(name string, want *int32, ready int32, mods ...func(*appsv1.Deployment)) *appsv1.Deployment {
		d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "kube-system"}, Spec: appsv1.DeploymentSpec{Replicas: want}}
		d.Status.Replicas, d.Status.ReadyReplicas = ready, ready
		for _, m := range mods {
			m(d)
		}
		return d
	}
	byImage := func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers = []corev1.Container{{Name: "c", Image: "docker.io/bitnami/sealed-secrets-controller:0.40.0"}}
	}
	byChartLabel := func(d *appsv1.Deployment) { d.Labels = map[string]string{"app.kubernetes.io/name": "sealed-secrets"} }
	tests := []struct {
		name    string
		objs    []*appsv1.Deployment
		blocked bool
	}{
		{"none", nil, false},
		{"running", []*appsv1.Deployment{deploy("sealed-secrets-controller", replicas(1), 1)}, true},
		{"scaled to zero", []*appsv1.Deployment{deploy("sealed-secrets-controller", replicas(0), 0)}, false},
		{"scaled to zero, pod still up", []*appsv1.Deployment{deploy("sealed-secrets-controller", replicas(0), 1)}, true},
		{"replicas unset means one", []*appsv1.Deployment{deploy("sealed-secrets-controller", nil, 0)}, true},
		{"chart name", []*appsv1.Deployment{deploy("my-release", replicas(1), 1, byChartLabel)}, true},
		{"image", []*appsv1.Deployment{deploy("renamed", replicas(2), 2, byImage)}, true},
		{"someone else's Deployment", []*appsv1.Deployment{deploy("coredns", replicas(2), 2)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := fake.NewClientBuilder()
			for _, d := range tt.objs {
				b = b.WithObjects(d)
			}
			reason, err := bitnamiRunning(context.Background(), b.Build(), "kube-system")
			if err != nil {
				t.Fatal(err)
			}
			if (reason != "") != tt.blocked {
				t.Errorf("blocked = %q, want blocked %v", reason, tt.blocked)
			}
			if tt.blocked && (!strings.Contains(reason, "--replicas=0") || !strings.Contains(reason, "--adopt-ignore-running")) {
				t.Errorf("the reason does not say how to clear it: %s", reason)
			}
		})
	}
}

func TestBitnamiGate_ignoreRunning(t *testing.T) {
	d := &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Name: "sealed-secrets-controller", Namespace: "kube-system"}}
	c := fake.NewClientBuilder().WithObjects(d).Build()
	if r := (&bitnamiGate{reader: c, namespace: "kube-system"}).blocking(context.Background()); r == "" {
		t.Error("running controller does not block")
	}
	if r := (&bitnamiGate{reader: c, namespace: "kube-system", ignore: true}).blocking(context.Background()); r != "" {
		t.Errorf("--adopt-ignore-running still blocks: %s", r)
	}
}

func TestParseAdoptAPIs(t *testing.T) {
	got, err := ParseAdoptAPIs(" bitnami,,external-secrets ")
	if err != nil || !got[AdoptBitnami] || !got[AdoptExternalSecrets] || len(got) != 2 {
		t.Errorf("got %v, %v", got, err)
	}
	if _, err := ParseAdoptAPIs("bitnami,eso"); err == nil || !strings.Contains(err.Error(), "known: bitnami, external-secrets") {
		t.Errorf("unknown value: %v", err)
	}
}

// FuzzParseAdoptAPIs: any input parses to known values or an error, never
// a panic.
func FuzzParseAdoptAPIs(f *testing.F) {
	for _, s := range []string{"", "bitnami", "bitnami,external-secrets", " ,x,", "\x00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		got, err := ParseAdoptAPIs(s)
		if err != nil {
			return
		}
		for k := range got {
			if k != AdoptBitnami && k != AdoptExternalSecrets {
				t.Fatalf("unknown value %q accepted", k)
			}
		}
	})
}
