package e2e

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/crypto/sealing"
)

// restartObjects is how many unchanged SealedSecrets the restart test uses.
const restartObjects = 1000

// TestRestart_noDecryptionsWhenNothingChanged: a controller restarted with
// 1,000 unchanged SealedSecrets decrypts nothing (read from the
// kseal_decryptions_total metric), because each Secret records the hash of
// the sealed content it was made from.
func TestRestart_noDecryptionsWhenNothingChanged(t *testing.T) {
	c := startController(t, controllers.Options{})
	ns := newNamespace(t, "restart")
	cert, err := keys.ParseCertificate(fetchCert(t, c), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	for i := range restartObjects {
		s := secret(ns, fmt.Sprintf("s-%04d", i), map[string]string{"a": canary(fmt.Sprintf("r%d", i)), "b": "x"})
		ss, err := sealedsecret.Seal(s, &cert.PublicKey, sealedsecret.SealOptions{})
		if err != nil {
			t.Fatal(err)
		}
		if err := env.Client.Create(ctx, ss); err != nil {
			t.Fatal(err)
		}
	}
	waitAllReady(t, ns, restartObjects)
	c.stop()

	decryptionsBefore := metricSum(t, "kseal_decryptions_total")
	reconcilesBefore := metricSum(t, "controller_runtime_reconcile_total", "controller", "sealedsecret")
	c2 := startController(t, controllers.Options{})
	defer c2.stop()
	waitFor(t, 3*time.Minute, "every SealedSecret reconciled after the restart", func() bool {
		return metricSum(t, "controller_runtime_reconcile_total", "controller", "sealedsecret")-reconcilesBefore >= restartObjects
	})
	waitAllReady(t, ns, restartObjects)
	if d := metricSum(t, "kseal_decryptions_total") - decryptionsBefore; d != 0 {
		t.Errorf("restart with %d unchanged SealedSecrets performed %v decryptions, want 0", restartObjects, d)
	}
}

func waitAllReady(t testing.TB, ns string, n int) {
	t.Helper()
	waitFor(t, 3*time.Minute, fmt.Sprintf("%d SealedSecrets Ready", n), func() bool {
		var list v1alpha1.SealedSecretList
		if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return false
		}
		ready := 0
		for _, ss := range list.Items {
			if apimeta.IsStatusConditionTrue(ss.Status.Conditions, v1alpha1.ConditionReady) {
				ready++
			}
		}
		return ready == n
	})
}

// TestReencrypt_movesFileToNewKey: after a renewal, `kseal reencrypt` moves a
// committed file to the newest key through the running controller's API,
// and the result still unseals in the cluster.
func TestReencrypt_movesFileToNewKey(t *testing.T) {
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "reencrypt")
	ss := sealSecret(t, c, secret(ns, "app", map[string]string{"token": canary("reencrypt")}))
	file := filepath.Join(t.TempDir(), "app.yaml")
	data, err := sealedsecret.Encode("yaml", ss)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, append([]byte("# committed\n"), data...), 0o644); err != nil {
		t.Fatal(err)
	}

	g, err := keys.Generate(keys.GenerateOptions{Name: "kseal-key-reencrypt", Now: time.Now().Add(2 * time.Minute)})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, g.Secret(controllerNamespace)); err != nil {
		t.Fatal(err)
	}
	defer env.Client.Delete(ctx, g.Secret(controllerNamespace))
	waitFor(t, 30*time.Second, "new generation served", func() bool {
		return string(httpGet(t, c.apiURL+"/v1/cert.pem")) == string(g.CertificatePEM)
	})

	out := kseal(t, nil, "reencrypt", "--controller-url", c.apiURL, file)
	if !strings.Contains(string(out), "1 changed") {
		t.Errorf("reencrypt output: %s", out)
	}
	rewritten, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	moved, err := sealedsecret.DecodeSealedSecret(rewritten)
	if err != nil {
		t.Fatal(err)
	}
	ct, err := decodeItem(moved.Spec.EncryptedData["token"])
	if err != nil {
		t.Fatal(err)
	}
	if id, _, err := sealing.ParseV2(ct); err != nil || id != g.DecryptionKey().ID {
		t.Errorf("re-encrypted item names key %s, want %s (%v)", id, g.DecryptionKey().ID, err)
	}
	apply(t, moved)
	readyCondition(t, ns, "app", metav1.ConditionTrue)
	if got := getSecret(t, ns, "app"); got.Annotations[controllers.AnnotationUnsealedWith] != g.Name {
		t.Errorf("opened with %q", got.Annotations[controllers.AnnotationUnsealedWith])
	}
	// A second run finds nothing to do.
	if out := kseal(t, nil, "reencrypt", "--controller-url", c.apiURL, file); !strings.Contains(string(out), "0 changed") {
		t.Errorf("second reencrypt: %s", out)
	}
}
