package e2e

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// applyStrict creates the object of a YAML manifest with strict field
// validation, as `kubectl apply --validate=strict` does.
func applyStrict(t testing.TB, ns, manifest string) error {
	t.Helper()
	u := &unstructured.Unstructured{}
	if err := yaml.Unmarshal([]byte(manifest), &u.Object); err != nil {
		t.Fatal(err)
	}
	u.SetNamespace(ns)
	return env.Client.Create(ctx, u, client.FieldValidation("Strict"))
}

// psCondition waits for a PushSecret's Ready condition to have status and
// (if non-empty) reason.
func psCondition(t testing.TB, ns, name string, status metav1.ConditionStatus, reason string) *v1alpha1.PushSecret {
	t.Helper()
	ps := &v1alpha1.PushSecret{}
	waitFor(t, 60*time.Second, fmt.Sprintf("PushSecret %s/%s Ready=%s %s", ns, name, status, reason), func() bool {
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, ps); err != nil {
			return false
		}
		c := apimeta.FindStatusCondition(ps.Status.Conditions, v1alpha1.ConditionReady)
		return c != nil && c.Status == status && (reason == "" || c.Reason == reason) && c.ObservedGeneration == ps.Generation
	})
	return ps
}

// remoteValue reads a secret's current value from the emulator; ok is
// false when it cannot be read (missing or deleted).
func remoteValue(srv *awstest.Server, name string) (string, bool) {
	out, err := srv.Admin().GetSecretValue(context.Background(), &secretsmanager.GetSecretValueInput{SecretId: awssdk.String(name)})
	if err != nil {
		return "", false
	}
	if out.SecretString != nil {
		return *out.SecretString, true
	}
	return string(out.SecretBinary), true
}

// pushSecretManifest is the shape of External Secrets Operator's PushSecret
// guide (docs/guides/pushsecrets.md) with apiVersion kseal.dev/v1alpha1.
const pushSecretManifest = `
apiVersion: kseal.dev/v1alpha1
kind: PushSecret
metadata:
  name: pushsecret-example
spec:
  updatePolicy: Replace
  deletionPolicy: Delete
  refreshInterval: 1h0m0s
  secretStoreRefs:
    - name: aws
      kind: SecretStore
  selector:
    secret:
      name: pokedex-credentials
  data:
    - conversionStrategy: None
      match:
        secretKey: best-pokemon
        remoteRef:
          remoteKey: %[1]s/destination-secret
          property: best-pokemon-dst
    - match:
        secretKey: password
        remoteRef:
          remoteKey: %[1]s/password
`

func TestPushSecret_aws(t *testing.T) {
	srv := awstest.NewServer(t)
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "ps-aws")
	awsStore(t, srv, ns, "aws")
	src := secret(ns, "pokedex-credentials", map[string]string{"best-pokemon": "Pikachu", "password": canary("push-aws")})
	if err := env.Client.Create(ctx, src); err != nil {
		t.Fatal(err)
	}
	if err := applyStrict(t, ns, fmt.Sprintf(pushSecretManifest, ns)); err != nil {
		t.Fatalf("strict apply: %v", err)
	}
	ps := psCondition(t, ns, "pushsecret-example", metav1.ConditionTrue, v1alpha1.ReasonPushSynced)
	if v, _ := remoteValue(srv, ns+"/destination-secret"); v != `{"best-pokemon-dst":"Pikachu"}` {
		t.Errorf("destination-secret = %q", v)
	}
	if v, _ := remoteValue(srv, ns+"/password"); v != canary("push-aws") {
		t.Errorf("password not pushed")
	}
	if got := ps.Status.SyncedPushSecrets["SecretStore/aws"]; len(got) != 2 || got[ns+"/destination-secret/best-pokemon-dst"].Match.SecretKey != "best-pokemon" {
		t.Errorf("syncedPushSecrets = %v", ps.Status.SyncedPushSecrets)
	}
	desc, err := srv.Admin().DescribeSecret(ctx, &secretsmanager.DescribeSecretInput{SecretId: awssdk.String(ns + "/password")})
	if err != nil {
		t.Fatal(err)
	}
	tags := map[string]string{}
	for _, tg := range desc.Tags {
		tags[awssdk.ToString(tg.Key)] = awssdk.ToString(tg.Value)
	}
	if tags["managed-by"] != "kseal" || tags["kseal.dev/push-secret"] != ns+"/pushsecret-example" {
		t.Errorf("tags = %v", tags)
	}

	// A change of the source Secret is pushed.
	src.Data = map[string][]byte{"best-pokemon": []byte("Mew"), "password": []byte(canary("push-aws-2"))}
	if err := env.Client.Update(ctx, src); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "changed value pushed", func() bool {
		v, _ := remoteValue(srv, ns+"/password")
		return v == canary("push-aws-2")
	})

	// deletionPolicy Delete: an entry that leaves spec.data is deleted
	// remotely, and deleting the PushSecret deletes the rest.
	// The controller writes the object too (status, finalizer): read it
	// again when the update loses that race.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		if err := env.Client.Get(ctx, client.ObjectKeyFromObject(ps), ps); err != nil {
			return err
		}
		ps.Spec.Data = ps.Spec.Data[1:]
		return env.Client.Update(ctx, ps)
	}); err != nil {
		t.Fatal(err)
	}
	ps = psCondition(t, ns, "pushsecret-example", metav1.ConditionTrue, v1alpha1.ReasonPushSynced)
	if _, ok := remoteValue(srv, ns+"/destination-secret"); ok {
		t.Error("a removed entry's remote secret was not deleted")
	}
	if got := ps.Status.SyncedPushSecrets["SecretStore/aws"]; len(got) != 1 {
		t.Errorf("syncedPushSecrets after removing an entry: %v", ps.Status.SyncedPushSecrets)
	}
	if err := env.Client.Delete(ctx, ps); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "PushSecret gone", func() bool {
		err := env.Client.Get(ctx, client.ObjectKeyFromObject(ps), &v1alpha1.PushSecret{})
		return apierrors.IsNotFound(err)
	})
	for _, name := range []string{ns + "/password", ns + "/destination-secret"} {
		if _, ok := remoteValue(srv, name); ok {
			t.Errorf("%s still readable after the PushSecret was deleted", name)
		}
	}
}

func TestPushSecret_neverOverwritesForeign(t *testing.T) {
	srv := awstest.NewServer(t)
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns, other := newNamespace(t, "ps-own"), newNamespace(t, "ps-thief")
	foreign := ns + "/foreign"
	srv.CreateSecret(t, foreign, "kept-"+canary("foreign"), nil)
	for _, n := range []string{ns, other} {
		awsStore(t, srv, n, "aws")
		if err := env.Client.Create(ctx, secret(n, "src", map[string]string{"k": canary("push-" + n)})); err != nil {
			t.Fatal(err)
		}
	}
	push := func(n, name, remote string) *v1alpha1.PushSecret {
		return &v1alpha1.PushSecret{
			ObjectMeta: metav1.ObjectMeta{Namespace: n, Name: name},
			Spec: v1alpha1.PushSecretSpec{
				SecretStoreRefs: []v1alpha1.PushSecretStoreRef{{Name: "aws"}},
				Selector:        v1alpha1.PushSecretSelector{Secret: &v1alpha1.PushSecretSecret{Name: "src"}},
				Data:            []v1alpha1.PushSecretData{{Match: v1alpha1.PushSecretMatch{SecretKey: "k", RemoteRef: v1alpha1.PushSecretRemoteRef{RemoteKey: remote}}}},
			},
		}
	}
	// A remote secret kseal did not create is refused, and kept.
	if err := env.Client.Create(ctx, push(ns, "foreign", foreign)); err != nil {
		t.Fatal(err)
	}
	got := psCondition(t, ns, "foreign", metav1.ConditionFalse, v1alpha1.ReasonRemoteNotOwned)
	msg := apimeta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady).Message
	if strings.Contains(msg, canary("foreign")) || strings.Contains(msg, canary("push-"+ns)) || !strings.Contains(msg, "managed-by=kseal") {
		t.Errorf("condition message: %s", msg)
	}
	if v, _ := remoteValue(srv, foreign); v != "kept-"+canary("foreign") {
		t.Errorf("the foreign secret was changed")
	}
	// updatePolicy IfNotExists leaves an existing remote secret alone, whoever
	// owns it, as External Secrets Operator does.
	ifNot := push(ns, "if-not-exists", foreign)
	ifNot.Spec.UpdatePolicy = v1alpha1.PushSecretUpdatePolicyIfNotExists
	if err := env.Client.Create(ctx, ifNot); err != nil {
		t.Fatal(err)
	}
	got = psCondition(t, ns, "if-not-exists", metav1.ConditionTrue, v1alpha1.ReasonPushSynced)
	if msg := apimeta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady).Message; !strings.Contains(msg, "Existing secrets in providers unchanged") {
		t.Errorf("IfNotExists message: %s", msg)
	}
	if v, _ := remoteValue(srv, foreign); v != "kept-"+canary("foreign") {
		t.Errorf("IfNotExists changed an existing secret")
	}
	// A secret another namespace's PushSecret pushed is refused too.
	if err := env.Client.Create(ctx, push(ns, "mine", ns+"/mine")); err != nil {
		t.Fatal(err)
	}
	psCondition(t, ns, "mine", metav1.ConditionTrue, v1alpha1.ReasonPushSynced)
	if err := env.Client.Create(ctx, push(other, "mine", ns+"/mine")); err != nil {
		t.Fatal(err)
	}
	psCondition(t, other, "mine", metav1.ConditionFalse, v1alpha1.ReasonRemoteNotOwned)
	if v, _ := remoteValue(srv, ns+"/mine"); v != canary("push-"+ns) {
		t.Errorf("another namespace overwrote a pushed secret")
	}
}

func TestPushSecret_refusedFields(t *testing.T) {
	ns := newNamespace(t, "ps-refused")
	for field, extra := range map[string]string{
		"dataTo":       "  dataTo:\n    - storeRef: {name: aws}\n",
		"generatorRef": "",
		"template":     "  template:\n    data: {a: b}\n",
	} {
		selector := "  selector:\n    secret:\n      name: src\n"
		if field == "generatorRef" {
			selector = "  selector:\n    generatorRef:\n      kind: Password\n      name: gen\n"
		}
		m := "apiVersion: kseal.dev/v1alpha1\nkind: PushSecret\nmetadata:\n  name: " + strings.ToLower(field) + "\nspec:\n  secretStoreRefs:\n    - name: aws\n" + selector + extra
		err := applyStrict(t, ns, m)
		if err == nil || !strings.Contains(err.Error(), "not supported by kseal") {
			t.Errorf("%s: err = %v, want a refusal that says why", field, err)
		}
	}
	// An ESO manifest field kseal does not know is refused by strict
	// validation; a known one is accepted.
	if err := applyStrict(t, ns, "apiVersion: kseal.dev/v1alpha1\nkind: PushSecret\nmetadata:\n  name: typo\nspec:\n  secretStoreRefs: [{name: aws}]\n  selector: {secret: {name: src}}\n  updatePolicyy: Replace\n"); err == nil {
		t.Error("an unknown field was accepted under strict validation")
	}
}
