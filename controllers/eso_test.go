package controllers

import (
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/kseal-dev/kseal/api/esov1"
	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// The vectors were computed apart from Go (Python's hashlib.sha3_224 over
// the text ESO hashes), so they pin ESO's format, not this implementation.
func TestESOObjectHash(t *testing.T) {
	data := map[string][]byte{"user": []byte("admin"), "password": []byte("hunter2")}
	if got, want := esoObjectHash(data), "a17c4d9640086563d71774d072991db4aea55afc5adbfdbfd9855f39"; got != want {
		t.Errorf("hash of data = %s, want %s", got, want)
	}
	if got, want := esoObjectHash("team-a/db"), "c7d0bd38cd56c8c15593aee43a4d993d349bf4b2f1e738e457215340"; got != want {
		t.Errorf("hash of name = %s, want %s", got, want)
	}
	m := &metav1.ObjectMeta{Generation: 3, Annotations: map[string]string{"force-sync": "1"}}
	if got, want := esoResourceVersion(m), "3-3cb9936e04320bcee317a9aaadf651af57f2be9c1e224eca5ace6f9f"; got != want {
		t.Errorf("syncedResourceVersion = %s, want %s", got, want)
	}
}

// esoWith builds an ESO ExternalSecret synced by ESO at refreshed.
func esoWith(refreshed time.Time, mods ...func(*esov1.ExternalSecret)) *esov1.ExternalSecret {
	eso := &esov1.ExternalSecret{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "prod", UID: types.UID("eso-uid"), Generation: 2},
		Spec: v1alpha1.ExternalSecretSpec{RefreshInterval: &metav1.Duration{Duration: time.Hour},
			SecretStoreRef: v1alpha1.SecretStoreRef{Name: "aws"},
			Data:           []v1alpha1.ExternalSecretData{{SecretKey: "password", RemoteRef: v1alpha1.ExternalSecretDataRemoteRef{Key: "db"}}}},
	}
	eso.Status = esov1.ExternalSecretStatus{RefreshTime: metav1.NewTime(refreshed), SyncedResourceVersion: esoResourceVersion(&eso.ObjectMeta),
		Conditions: []esov1.Condition{{Type: esov1.ConditionReady, Status: corev1.ConditionTrue, Reason: esov1.ReasonSecretSynced, Message: "secret synced"}},
		Binding:    corev1.LocalObjectReference{Name: "db"}}
	for _, m := range mods {
		m(eso)
	}
	return eso
}

// esoSecret is the Secret ESO writes for esoWith.
func esoSecret(uid types.UID, data map[string][]byte) *corev1.Secret {
	yes := true
	return &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "prod",
			Labels:          map[string]string{esov1.LabelManaged: "true", esov1.LabelCreatedBy: esoObjectHash("prod/db")},
			Annotations:     map[string]string{esov1.AnnotationDataHash: esoObjectHash(data)},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "external-secrets.io/v1", Kind: "ExternalSecret", Name: "db", UID: uid, Controller: &yes}}},
		Type: corev1.SecretTypeOpaque,
		Data: data,
	}
}

func TestExternalSecretFromESO_upToDate(t *testing.T) {
	now := time.Now()
	secret := esoSecret("eso-uid", map[string][]byte{"password": []byte("pw")})
	tests := []struct {
		name string
		eso  *esov1.ExternalSecret
		want bool
	}{
		{"synced by ESO, not due", esoWith(now.Add(-time.Minute)), true},
		{"due", esoWith(now.Add(-2 * time.Hour)), false},
		{"spec changed since", esoWith(now, func(e *esov1.ExternalSecret) { e.Generation = 3 }), false},
		{"force-sync annotated since", esoWith(now, func(e *esov1.ExternalSecret) { e.Annotations = map[string]string{v1alpha1.AnnotationForceSync: "1"} }), false},
		{"failed last time", esoWith(now, func(e *esov1.ExternalSecret) { e.Status.Conditions[0].Status = corev1.ConditionFalse }), false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			es := externalSecretFromESO(tt.eso)
			if _, fresh := upToDate(es, secret, now, time.Hour); fresh != tt.want {
				t.Errorf("upToDate = %v, want %v", fresh, tt.want)
			}
		})
	}
	edited := esoSecret("eso-uid", map[string][]byte{"password": []byte("pw")})
	edited.Data["password"] = []byte("edited")
	if _, fresh := upToDate(externalSecretFromESO(esoWith(now)), edited, now, time.Hour); fresh {
		t.Error("a Secret edited since ESO wrote it counts as up to date")
	}
}

func TestESOStatusFrom(t *testing.T) {
	now := time.Now()
	// Nothing done: ESO's status stays byte for byte (no status write).
	eso := esoWith(now)
	before := externalSecretFromESO(eso)
	es := before.DeepCopy()
	want := eso.Status.DeepCopy()
	esoStatusFrom(eso, before, es)
	if !apimeta.IsStatusConditionTrue(es.Status.Conditions, v1alpha1.ConditionReady) || len(eso.Status.Conditions) != 1 || eso.Status.Conditions[0] != want.Conditions[0] ||
		eso.Status.SyncedResourceVersion != want.SyncedResourceVersion {
		t.Errorf("status changed by a reconcile that did nothing: %+v", eso.Status)
	}

	// A sync by kseal: ESO's version of the current metadata, Ready in
	// ESO's shape.
	eso = esoWith(now.Add(-2*time.Hour), func(e *esov1.ExternalSecret) { e.Annotations = map[string]string{v1alpha1.AnnotationForceSync: "7"} })
	before = externalSecretFromESO(eso)
	es = before.DeepCopy()
	es.Status.RefreshTime = metav1.NewTime(now)
	es.Status.SyncedResourceVersion = syncVersion(es)
	setReadyTrue(es, v1alpha1.ReasonSecretSynced, "Secret db synced (1 keys)")
	esoStatusFrom(eso, before, es)
	if eso.Status.SyncedResourceVersion != esoResourceVersion(&eso.ObjectMeta) || !eso.Status.RefreshTime.Equal(&es.Status.RefreshTime) {
		t.Errorf("after a sync: %+v", eso.Status)
	}
	if c := eso.Status.Conditions; len(c) != 1 || c[0].Reason != esov1.ReasonSecretSynced || c[0].Message != "Secret db synced (1 keys)" {
		t.Errorf("conditions after a sync: %+v", c)
	}

	// A failure: ESO's SecretSyncedError, kseal's reason in the message,
	// and no Stalled or Reconciling.
	eso = esoWith(now.Add(-2 * time.Hour))
	before = externalSecretFromESO(eso)
	es = before.DeepCopy()
	setFailed(es, true, v1alpha1.ReasonProviderError, "store aws: throttled")
	esoStatusFrom(eso, before, es)
	if c := eso.Status.Conditions; len(c) != 1 || c[0].Status != corev1.ConditionFalse || c[0].Reason != esov1.ReasonSecretSyncedError ||
		c[0].Message != "ProviderError: store aws: throttled" {
		t.Errorf("conditions after a failure: %+v", c)
	}
	if eso.Status.SyncedResourceVersion != esoWith(now).Status.SyncedResourceVersion {
		t.Errorf("a failure changed syncedResourceVersion to %s", eso.Status.SyncedResourceVersion)
	}
}

func TestSecretWrittenByESO(t *testing.T) {
	es := externalSecretFromESO(esoWith(time.Now()))
	adopt := &esoAdoption{}
	wanted := map[string][]byte{"password": []byte("pw")}
	decideFor := func(current *corev1.Secret, data map[string][]byte, eso bool) action {
		desired := desiredSecret(es, current, &renderedSecret{data: data})
		if eso {
			adopt.decorate(es, current, desired)
		}
		in := externalSecretInput(es, current, desired)
		in.eso = eso
		act, _, _ := decide(in)
		return act
	}
	if act := decideFor(esoSecret(es.UID, wanted), wanted, true); act != actionNone {
		t.Errorf("ESO's Secret with the wanted data: action %v, want none", act)
	}
	if act := decideFor(esoSecret(es.UID, wanted), map[string][]byte{"password": []byte("new")}, true); act != actionUpdate {
		t.Errorf("changed remote value: action %v, want update", act)
	}
	if act := decideFor(esoSecret("other-uid", wanted), wanted, true); act != actionRefuse {
		t.Errorf("Secret of another ExternalSecret: action %v, want refuse", act)
	}
	stale := esoSecret(es.UID, wanted)
	stale.Annotations[esov1.AnnotationDataHash] = "stale"
	if act := decideFor(stale, wanted, true); act != actionUpdate {
		t.Errorf("wrong ESO data hash: action %v, want update (ESO would rewrite it)", act)
	}
	if act := decideFor(esoSecret(es.UID, wanted), wanted, false); act != actionUpdate {
		t.Errorf("kseal's own ExternalSecret: action %v, want update (only takeover trusts ESO's Secrets)", act)
	}
}

func TestUnsupportedESOSpec(t *testing.T) {
	tests := []struct {
		name string
		mod  func(*v1alpha1.ExternalSecretSpec)
		bad  bool
	}{
		{"plain", func(*v1alpha1.ExternalSecretSpec) {}, false},
		{"ESO defaults", func(s *v1alpha1.ExternalSecretSpec) {
			s.Target.CreationPolicy, s.Target.DeletionPolicy = v1alpha1.CreationPolicyOwner, v1alpha1.DeletionPolicyRetain
			s.Target.Template = &v1alpha1.ExternalSecretTemplate{EngineVersion: v1alpha1.TemplateEngineV2}
		}, false},
		{"CreateOrMerge", func(s *v1alpha1.ExternalSecretSpec) { s.Target.CreationPolicy = "CreateOrMerge" }, true},
		{"deletionPolicy Merge", func(s *v1alpha1.ExternalSecretSpec) { s.Target.DeletionPolicy = "Merge" }, true},
		{"syncWindows", func(s *v1alpha1.ExternalSecretSpec) { s.SyncWindows = &v1alpha1.ExternalSecretSyncWindows{} }, true},
		{"engine v1", func(s *v1alpha1.ExternalSecretSpec) {
			s.Target.Template = &v1alpha1.ExternalSecretTemplate{EngineVersion: "v1"}
		}, true},
		{"generator", func(s *v1alpha1.ExternalSecretSpec) {
			s.DataFrom = []v1alpha1.ExternalSecretDataFromRemoteRef{{SourceRef: &v1alpha1.StoreGeneratorSourceRef{GeneratorRef: &v1alpha1.GeneratorRef{Kind: "Password", Name: "p"}}}}
		}, true},
		{"manifest", func(s *v1alpha1.ExternalSecretSpec) {
			s.Target.Manifest = &v1alpha1.ManifestReference{APIVersion: "v1", Kind: "ConfigMap"}
		}, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			spec := v1alpha1.ExternalSecretSpec{}
			tt.mod(&spec)
			if got := unsupportedESOSpec(&spec); (got != "") != tt.bad {
				t.Errorf("unsupportedESOSpec = %q, want refused=%v", got, tt.bad)
			}
		})
	}
}

func TestLeaseHeld(t *testing.T) {
	now := time.Now()
	holder, d := "eso-0", int32(15)
	renewed := func(ago time.Duration) *metav1.MicroTime { m := metav1.NewMicroTime(now.Add(-ago)); return &m }
	if !leaseHeld(leaseFor(&holder, &d, renewed(5*time.Second)), now) {
		t.Error("a lease renewed 5s ago with a 15s duration is not held")
	}
	if leaseHeld(leaseFor(&holder, &d, renewed(time.Minute)), now) {
		t.Error("a lease not renewed for a minute is held")
	}
	empty := ""
	if leaseHeld(leaseFor(&empty, &d, renewed(0)), now) {
		t.Error("a released lease is held")
	}
}

func leaseFor(holder *string, seconds *int32, renewed *metav1.MicroTime) *coordinationv1.Lease {
	return &coordinationv1.Lease{Spec: coordinationv1.LeaseSpec{HolderIdentity: holder, LeaseDurationSeconds: seconds, RenewTime: renewed}}
}
