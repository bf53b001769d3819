package e2e

import (
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
)

// canaries are the plaintexts used in this package; none may ever show up
// in logs or events.
var canaries []string

func canary(name string) string {
	v := "canary-" + name + "-7f3a9"
	canaries = append(canaries, v)
	return v
}

func TestSealedSecret_sealApplyUnseal(t *testing.T) {
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "shop")

	s := secret(ns, "db", map[string]string{"password": canary("db-password")})
	s.Labels = map[string]string{"app": "shop"}
	s.Annotations = map[string]string{"team": "payments"}
	s.Type = corev1.SecretTypeBasicAuth
	s.StringData["username"] = "shop"
	apply(t, sealSecret(t, c, s))

	cond := readyCondition(t, ns, "db", metav1.ConditionTrue)
	if cond.Reason != v1alpha1.ReasonUnsealed {
		t.Errorf("reason %q", cond.Reason)
	}
	got := getSecret(t, ns, "db")
	if string(got.Data["password"]) != canary("db-password") || string(got.Data["username"]) != "shop" {
		t.Errorf("data: %d items", len(got.Data))
	}
	if got.Type != corev1.SecretTypeBasicAuth || got.Labels["app"] != "shop" || got.Annotations["team"] != "payments" {
		t.Errorf("metadata: type %q labels %v", got.Type, got.Labels)
	}
	if ref := metav1.GetControllerOf(got); ref == nil || ref.Kind != "SealedSecret" || ref.Name != "db" {
		t.Errorf("owner reference %v", ref)
	}

	// A hand edit is restored.
	got.Data["password"] = []byte("edited")
	if err := env.Client.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "edit restored", func() bool {
		s := getSecret(t, ns, "db")
		return s != nil && string(s.Data["password"]) == canary("db-password")
	})

	// A deleted Secret is recreated.
	if err := env.Client.Delete(ctx, getSecret(t, ns, "db")); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "Secret recreated", func() bool {
		s := getSecret(t, ns, "db")
		return s != nil && s.DeletionTimestamp == nil && string(s.Data["password"]) == canary("db-password")
	})
}

func TestSealedSecret_scopes(t *testing.T) {
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "scopes")
	other := newNamespace(t, "elsewhere")

	for _, sc := range []string{"strict", "namespace-wide", "cluster-wide"} {
		for _, version := range []string{"v1", "v2"} {
			name := sc + "-" + version
			ss := sealSecret(t, c, secret(ns, name, map[string]string{"v": canary(name)}), "--scope", sc, "--format-version", version)
			ss.APIVersion = sealedsecret.APIVersion
			apply(t, ss)
			readyCondition(t, ns, name, metav1.ConditionTrue)
			if got := getSecret(t, ns, name); string(got.Data["v"]) != canary(name) {
				t.Errorf("%s: wrong data", name)
			}
		}
	}

	// namespace-wide survives a rename; cluster-wide survives a move.
	renamed := sealSecret(t, c, secret(ns, "orig", map[string]string{"v": canary("renamed")}), "--scope", "namespace-wide")
	renamed.Name = "renamed"
	apply(t, renamed)
	readyCondition(t, ns, "renamed", metav1.ConditionTrue)
	moved := sealSecret(t, c, secret(ns, "cw", map[string]string{"v": canary("moved-cw")}), "--scope", "cluster-wide")
	moved.Namespace = other
	apply(t, moved)
	readyCondition(t, other, "cw", metav1.ConditionTrue)

	// A strict SealedSecret moved to another namespace: Ready=False, the
	// reason names the mismatch, and no Secret appears.
	strict := sealSecret(t, c, secret(ns, "stolen", map[string]string{"v": canary("stolen")}))
	strict.Namespace = other
	apply(t, strict)
	cond := readyCondition(t, other, "stolen", metav1.ConditionFalse)
	if cond.Reason != v1alpha1.ReasonScopeMismatch || !strings.Contains(cond.Message, fmt.Sprintf("namespace %q", ns)) {
		t.Errorf("condition %s: %s", cond.Reason, cond.Message)
	}
	if getSecret(t, other, "stolen") != nil {
		t.Error("a Secret was created for a moved strict SealedSecret")
	}
}

// TestSealedSecret_kubesealVector: a SealedSecret made by the real kubeseal
// v0.40.0 unseals with the sealed-secrets key imported from its namespace.
func TestSealedSecret_kubesealVector(t *testing.T) {
	bitnamiNS, _ := importKubesealKey(t)
	c := startController(t, controllers.Options{Keys: controllers.KeyManagerOptions{BitnamiNamespace: bitnamiNS}})
	defer c.stop()

	vector, err := os.ReadFile("../../crypto/sealing/testdata/kubeseal/sealed-strict.yaml")
	if err != nil {
		t.Fatal(err)
	}
	ss, err := sealedsecret.DecodeSealedSecret(vector)
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ss.Namespace}}); err != nil {
		t.Fatal(err)
	}
	ss.APIVersion = sealedsecret.APIVersion
	apply(t, ss)
	readyCondition(t, ss.Namespace, ss.Name, metav1.ConditionTrue)
	got := getSecret(t, ss.Namespace, ss.Name)
	if string(got.Data["username"]) != "admin" || string(got.Data["password"]) != "s3cr3t-p@ss!" {
		t.Errorf("kubeseal vector unsealed to different data")
	}
}

// TestSealedSecret_keyRenewal: a generation added by hand is picked up
// without a restart; old and new SealedSecrets both unseal.
func TestSealedSecret_keyRenewal(t *testing.T) {
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "renewal")
	old := sealSecret(t, c, secret(ns, "old", map[string]string{"v": canary("old")}))
	oldCert := fetchCert(t, c)

	g, err := keys.Generate(keys.GenerateOptions{Name: "kseal-key-renewed", Now: time.Now().Add(time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, g.Secret(controllerNamespace)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "new generation served", func() bool {
		return string(httpGet(t, c.apiURL+"/v1/cert.pem")) == string(g.CertificatePEM)
	})
	if string(oldCert) == string(g.CertificatePEM) {
		t.Fatal("certificate did not change")
	}
	fresh := sealSecret(t, c, secret(ns, "new", map[string]string{"v": canary("new")}))
	apply(t, old)
	apply(t, fresh)
	readyCondition(t, ns, "old", metav1.ConditionTrue)
	readyCondition(t, ns, "new", metav1.ConditionTrue)
	if got := getSecret(t, ns, "new"); got.Annotations[controllers.AnnotationUnsealedWith] != "kseal-key-renewed" {
		t.Errorf("new SealedSecret opened with %q", got.Annotations[controllers.AnnotationUnsealedWith])
	}
	// Clean up so later tests seal with the controller-made generation.
	if err := env.Client.Delete(ctx, g.Secret(controllerNamespace)); err != nil {
		t.Fatal(err)
	}
}

func TestSealedSecret_unmanagedSecretNotOverwritten(t *testing.T) {
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "unmanaged")
	existing := secret(ns, "taken", nil)
	existing.Data = map[string][]byte{"k": []byte("hand-made")}
	if err := env.Client.Create(ctx, existing); err != nil {
		t.Fatal(err)
	}
	apply(t, sealSecret(t, c, secret(ns, "taken", map[string]string{"k": canary("taken")})))
	cond := readyCondition(t, ns, "taken", metav1.ConditionFalse)
	if cond.Reason != v1alpha1.ReasonSecretNotOwned {
		t.Errorf("reason %s: %s", cond.Reason, cond.Message)
	}
	if got := getSecret(t, ns, "taken"); string(got.Data["k"]) != "hand-made" {
		t.Fatal("an unmanaged Secret was overwritten")
	}

	// kseal.dev/managed=true hands it over.
	got := getSecret(t, ns, "taken")
	got.Annotations = map[string]string{v1alpha1.AnnotationManaged: "true"}
	if err := env.Client.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	// The Secret is not owned yet, so nudge the SealedSecret to re-run.
	ss := &v1alpha1.SealedSecret{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "taken"}, ss); err != nil {
		t.Fatal(err)
	}
	ss.Spec.Template.Metadata.Labels = map[string]string{"adopted": "yes"}
	if err := env.Client.Update(ctx, ss); err != nil {
		t.Fatal(err)
	}
	readyCondition(t, ns, "taken", metav1.ConditionTrue)
	if got := getSecret(t, ns, "taken"); string(got.Data["k"]) != canary("taken") || metav1.GetControllerOf(got) == nil {
		t.Error("managed Secret was not adopted")
	}
}

// TestSealedSecret_noSecretsInLogsOrEvents runs last in this file: it checks
// everything the controller logged and every event recorded so far.
func TestSealedSecret_noSecretsInLogsOrEvents(t *testing.T) {
	if len(canaries) == 0 {
		t.Skip("no other test ran")
	}
	var events corev1.EventList
	if err := env.Client.List(ctx, &events); err != nil {
		t.Fatal(err)
	}
	if len(events.Items) == 0 {
		t.Error("no events recorded at all")
	}
	text := logs.String()
	if !strings.Contains(text, "created key generation") {
		t.Error("the controller log was not captured")
	}
	for _, e := range events.Items {
		text += "\n" + e.Reason + " " + e.Message
	}
	for _, v := range canaries {
		if strings.Contains(text, v) {
			t.Errorf("secret value %q found in logs or events", v)
		}
	}
}
