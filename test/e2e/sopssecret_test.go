package e2e

import (
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sops"
	"github.com/kseal-dev/kseal/crypto/sops/sopstest"
)

// sopsReady waits for a SopsSecret's Ready condition.
func sopsReady(t testing.TB, ns, name string, status metav1.ConditionStatus) *metav1.Condition {
	t.Helper()
	var cond *metav1.Condition
	waitFor(t, 60*time.Second, "SopsSecret "+name+" Ready="+string(status), func() bool {
		obj := &v1alpha1.SopsSecret{}
		if err := env.Client.Get(ctx, clientKey(ns, name), obj); err != nil {
			return false
		}
		for i := range obj.Status.Conditions {
			c := obj.Status.Conditions[i]
			if c.Type == v1alpha1.ConditionReady && c.Status == status && c.ObservedGeneration == obj.Generation {
				cond = &c
				return true
			}
		}
		return false
	})
	return cond
}

// TestSopsSecret_decryptsInCluster: a document encrypted with sops to the
// recipient in the controller's certificate is decrypted by the controller.
func TestSopsSecret_decryptsInCluster(t *testing.T) {
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "sops")
	cert, err := keys.ParseCertificate(fetchCert(t, c), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	recipient := sopsRecipient(t, cert)

	plain := []byte("kseal.dev/scope: " + ns + "/db\npassword: " + canary("sops-pw") + "\nport: 5432\n")
	doc := sopstest.MustEncrypt(plain, sops.FormatYAML, sopstest.Options{Recipients: []string{recipient}})
	obj := &v1alpha1.SopsSecret{
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns},
		Spec: v1alpha1.SopsSecretSpec{Sops: string(doc), Template: v1alpha1.SecretTemplateSpec{
			Metadata: metav1.ObjectMeta{Labels: map[string]string{"app": "db"}},
			Data:     map[string]string{"dsn": "db:{{ .port }}"},
		}},
	}
	if err := env.Client.Create(ctx, obj); err != nil {
		t.Fatal(err)
	}
	sopsReady(t, ns, "db", metav1.ConditionTrue)
	got := getSecret(t, ns, "db")
	if string(got.Data["password"]) != canary("sops-pw") || string(got.Data["port"]) != "5432" || string(got.Data["dsn"]) != "db:5432" || got.Labels["app"] != "db" {
		t.Errorf("SopsSecret data keys %v labels %v", keysOf(got.Data), got.Labels)
	}

	// dotenv.
	env2 := sopstest.MustEncrypt([]byte("kseal.dev/scope="+ns+"/env\nTOKEN="+canary("sops-env")+"\n"), sops.FormatDotenv, sopstest.Options{Recipients: []string{recipient}})
	dot := &v1alpha1.SopsSecret{ObjectMeta: metav1.ObjectMeta{Name: "env", Namespace: ns},
		Spec: v1alpha1.SopsSecretSpec{Sops: string(env2), Format: v1alpha1.SopsFormatDotenv}}
	if err := env.Client.Create(ctx, dot); err != nil {
		t.Fatal(err)
	}
	sopsReady(t, ns, "env", metav1.ConditionTrue)
	if got := getSecret(t, ns, "env"); string(got.Data["TOKEN"]) != canary("sops-env") {
		t.Error("dotenv SopsSecret has wrong data")
	}

	// Encrypted to someone else: UnknownKey, and the error names the
	// recipients on both sides.
	other, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	foreign := &v1alpha1.SopsSecret{ObjectMeta: metav1.ObjectMeta{Name: "foreign", Namespace: ns},
		Spec: v1alpha1.SopsSecretSpec{Sops: string(sopstest.MustEncrypt(plain, sops.FormatYAML, sopstest.Options{Recipients: []string{other.Recipient().String()}}))}}
	// Tampered: a value changed after encryption (MAC mismatch).
	tampered := &v1alpha1.SopsSecret{ObjectMeta: metav1.ObjectMeta{Name: "tampered", Namespace: ns},
		Spec: v1alpha1.SopsSecretSpec{Sops: strings.Replace(string(doc), "port: ENC[", "port: ENC[X", 1)}}
	for _, o := range []*v1alpha1.SopsSecret{foreign, tampered} {
		if err := env.Client.Create(ctx, o); err != nil {
			t.Fatal(err)
		}
	}
	cond := sopsReady(t, ns, "foreign", metav1.ConditionFalse)
	if cond.Reason != v1alpha1.ReasonUnknownKey || !strings.Contains(cond.Message, other.Recipient().String()[:12]) {
		t.Errorf("foreign: %s: %s", cond.Reason, cond.Message)
	}
	cond = sopsReady(t, ns, "tampered", metav1.ConditionFalse)
	if cond.Reason != v1alpha1.ReasonCorruptData {
		t.Errorf("tampered: %s: %s", cond.Reason, cond.Message)
	}
	for _, name := range []string{"foreign", "tampered"} {
		if getSecret(t, ns, name) != nil {
			t.Errorf("%s: a Secret was written", name)
		}
	}
}
