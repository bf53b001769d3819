package e2e

import (
	"fmt"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/crypto/sealing"
)

// TestSealedSecret_patchAndSkipOwner: kseal.dev/patch merges items into a
// Secret it does not own; skip-set-owner-references leaves no owner.
func TestSealedSecret_patchAndSkipOwner(t *testing.T) {
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "modes")

	existing := secret(ns, "shared", nil)
	existing.Data = map[string][]byte{"theirs": []byte("keep-me")}
	if err := env.Client.Create(ctx, existing); err != nil {
		t.Fatal(err)
	}
	ss := sealSecret(t, c, secret(ns, "shared", map[string]string{"ours": canary("patch")}))
	ss.Annotations = map[string]string{v1alpha1.AnnotationPatch: "true"}
	apply(t, ss)
	readyCondition(t, ns, "shared", metav1.ConditionTrue)
	got := getSecret(t, ns, "shared")
	if string(got.Data["theirs"]) != "keep-me" || string(got.Data["ours"]) != canary("patch") {
		t.Errorf("patch mode: data keys %v", len(got.Data))
	}
	if metav1.GetControllerOf(got) != nil {
		t.Error("patch mode set an owner reference")
	}

	skip := sealSecret(t, c, secret(ns, "orphan", map[string]string{"v": canary("orphan")}))
	skip.Annotations = map[string]string{v1alpha1.AnnotationSkipSetOwnerReferences: "true"}
	apply(t, skip)
	readyCondition(t, ns, "orphan", metav1.ConditionTrue)
	if got := getSecret(t, ns, "orphan"); len(got.OwnerReferences) != 0 || string(got.Data["v"]) != canary("orphan") {
		t.Errorf("skip-set-owner-references: owners %v", got.OwnerReferences)
	}
}

// TestSealedSecret_immutable: an immutable Secret that differs is reported,
// not retried in a hot loop, and never modified.
func TestSealedSecret_immutable(t *testing.T) {
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "immutable")
	s := secret(ns, "frozen", map[string]string{"v": canary("frozen-1")})
	yes := true
	s.Immutable = &yes
	apply(t, sealSecret(t, c, s))
	readyCondition(t, ns, "frozen", metav1.ConditionTrue)

	changed := sealSecret(t, c, secret(ns, "frozen", map[string]string{"v": canary("frozen-2")}))
	cur := &v1alpha1.SealedSecret{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "frozen"}, cur); err != nil {
		t.Fatal(err)
	}
	cur.Spec = changed.Spec
	cur.Spec.Template.Immutable = &yes
	if err := env.Client.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	cond := readyCondition(t, ns, "frozen", metav1.ConditionFalse)
	if cond.Reason != v1alpha1.ReasonSecretImmutable {
		t.Errorf("reason %s: %s", cond.Reason, cond.Message)
	}
	// Objects left by earlier tests are confirmed once when the controller
	// starts; a hot loop never quiets down, so waiting for quiet fails on one.
	waitQuiet(t, "sealedsecret")
	before := metricSum(t, "controller_runtime_reconcile_total", "controller", "sealedsecret")
	time.Sleep(2 * time.Second)
	if n := metricSum(t, "controller_runtime_reconcile_total", "controller", "sealedsecret") - before; n > 2 {
		t.Errorf("%v reconciles in 2s for an immutable Secret: hot loop", n)
	}
	if got := getSecret(t, ns, "frozen"); string(got.Data["v"]) != canary("frozen-1") {
		t.Error("immutable Secret changed")
	}
}

// TestSealedSecret_keyRestoreHealsFailures: a SealedSecret sealed to a key
// the controller does not hold fails with UnknownKey, and becomes Ready as
// soon as that key Secret is restored, without a restart.
func TestSealedSecret_keyRestoreHealsFailures(t *testing.T) {
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "restore")
	lost, err := keys.Generate(keys.GenerateOptions{Name: "kseal-key-restored", Now: time.Now().Add(-48 * time.Hour), RSABits: 2048})
	if err != nil {
		t.Fatal(err)
	}
	ss, err := sealedsecret.Seal(secret(ns, "app", map[string]string{"v": canary("restored")}), &lost.Certificate.PublicKey, sealedsecret.SealOptions{})
	if err != nil {
		t.Fatal(err)
	}
	apply(t, ss)
	cond := readyCondition(t, ns, "app", metav1.ConditionFalse)
	if cond.Reason != v1alpha1.ReasonUnknownKey {
		t.Errorf("reason %s: %s", cond.Reason, cond.Message)
	}
	if err := env.Client.Create(ctx, lost.Secret(controllerNamespace)); err != nil {
		t.Fatal(err)
	}
	defer env.Client.Delete(ctx, lost.Secret(controllerNamespace))
	readyCondition(t, ns, "app", metav1.ConditionTrue)
	if got := getSecret(t, ns, "app"); string(got.Data["v"]) != canary("restored") {
		t.Error("wrong data after restore")
	}
}

// TestKeyManager_renewsOnSchedule: with a short renew period the controller
// adds generations by itself, and keeps the old ones.
func TestKeyManager_renewsOnSchedule(t *testing.T) {
	ns := newNamespace(t, "renew-keys")
	c := startController(t, controllers.Options{Keys: controllers.KeyManagerOptions{Namespace: ns, RenewPeriod: 3 * time.Second, RSABits: 2048}})
	defer c.stop()
	first := c.KeyManager.Newest().Name
	waitFor(t, 60*time.Second, "a renewed generation", func() bool {
		return len(c.KeyManager.Generations()) >= 2 && c.KeyManager.Newest().Name != first
	})
	var list corev1.SecretList
	if err := env.Client.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{v1alpha1.LabelSealingKey: "active"}); err != nil {
		t.Fatal(err)
	}
	if len(list.Items) < 2 {
		t.Errorf("%d key Secrets, want at least 2", len(list.Items))
	}
}

// TestSealedSecret_takesOverFromBitnami: a Secret still controlled by a
// sealed-secrets SealedSecret is taken over once annotated managed.
func TestSealedSecret_takesOverFromBitnami(t *testing.T) {
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "migrate")
	ctl := true
	old := secret(ns, "legacy", nil)
	old.Data = map[string][]byte{"v": []byte("old")}
	old.Annotations = map[string]string{v1alpha1.AnnotationBitnamiManaged: "true"}
	old.OwnerReferences = []metav1.OwnerReference{{APIVersion: "bitnami.com/v1alpha1", Kind: "SealedSecret", Name: "legacy", UID: types.UID("bitnami-uid"), Controller: &ctl}}
	if err := env.Client.Create(ctx, old); err != nil {
		t.Fatal(err)
	}
	apply(t, sealSecret(t, c, secret(ns, "legacy", map[string]string{"v": canary("migrated")})))
	readyCondition(t, ns, "legacy", metav1.ConditionTrue)
	got := getSecret(t, ns, "legacy")
	if ref := metav1.GetControllerOf(got); ref == nil || ref.APIVersion != v1alpha1.GroupVersion.String() || len(got.OwnerReferences) != 1 {
		t.Errorf("owner references after takeover: %v", got.OwnerReferences)
	}
	if string(got.Data["v"]) != canary("migrated") {
		t.Error("data not taken over")
	}
}

// waitQuiet waits until the controller's reconcile count stays the same
// for half a second.
func waitQuiet(t *testing.T, controller string) {
	t.Helper()
	last := -1.0
	waitFor(t, time.Minute, controller+" reconciles quiet down", func() bool {
		n := metricSum(t, "controller_runtime_reconcile_total", "controller", controller)
		quiet := n == last
		last = n
		time.Sleep(500 * time.Millisecond)
		return quiet
	})
}

// TestSealedSecret_migrationCostsOneRSAOperationPerItem: SealedSecrets
// sealed for an imported sealed-secrets key, never opened before, try the
// key that opened the previous object first, so the migration costs one RSA
// operation per item (read from kseal_rsa_operations_total), not one more
// per object for kseal's own newest key.
func TestSealedSecret_migrationCostsOneRSAOperationPerItem(t *testing.T) {
	bitnamiNS, certPEM := importKubesealKey(t)
	cert, err := keys.ParseCertificate(certPEM, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// The controller watches only the test's namespace: objects other tests
	// left elsewhere (retried when a key arrives) must not count.
	ns := newNamespace(t, "migration")
	c := startController(t, controllers.Options{Workers: 1, WatchNamespaces: []string{ns}, Keys: controllers.KeyManagerOptions{BitnamiNamespace: bitnamiNS}})
	defer c.stop()
	waitQuiet(t, "sealedsecret")
	const objects, items = 40, 3
	before := metricSum(t, "kseal_rsa_operations_total")
	for i := range objects {
		data := map[string]string{}
		for j := range items {
			data[fmt.Sprintf("k%d", j)] = canary(fmt.Sprintf("m%d-%d", i, j))
		}
		ss, err := sealedsecret.Seal(secret(ns, fmt.Sprintf("m-%02d", i), data), &cert.PublicKey, sealedsecret.SealOptions{Version: sealing.V1})
		if err != nil {
			t.Fatal(err)
		}
		ss.APIVersion = sealedsecret.APIVersion
		if err := env.Client.Create(ctx, ss); err != nil {
			t.Fatal(err)
		}
	}
	waitAllReady(t, ns, objects)
	ops := metricSum(t, "kseal_rsa_operations_total") - before
	t.Logf("%d SealedSecrets x %d v1 items: %v RSA operations", objects, items, ops)
	// One worker: only the first item may try kseal's own keys first, once
	// each (earlier tests leave several generations in the namespace).
	var own corev1.SecretList
	if err := env.Client.List(ctx, &own, client.InNamespace(controllerNamespace), client.HasLabels{v1alpha1.LabelSealingKey}); err != nil {
		t.Fatal(err)
	}
	if want := objects*items + len(own.Items); ops > float64(want) {
		t.Errorf("%v RSA operations for %d v1 items with %d own key generations, want at most %d", ops, objects*items, len(own.Items), want)
	}
}
