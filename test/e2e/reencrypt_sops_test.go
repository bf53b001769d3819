package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sops"
	"github.com/kseal-dev/kseal/crypto/sops/sopstest"
)

// TestReencrypt_sopsFromCluster: SOPS files encrypted to the cluster's
// recipient move to the new generation's after a renewal with `kseal
// reencrypt --from-cluster`, then the controller (a SopsSecret) and `kseal
// render --from-cluster` open them.
func TestReencrypt_sopsFromCluster(t *testing.T) {
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "reencrypt-sops")
	cert, err := keys.ParseCertificate(fetchCert(t, c), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	old := sopsRecipient(t, cert)
	dir := t.TempDir()
	writeTree(t, dir, map[string][]byte{
		"bound.enc.yaml": sopstest.MustEncrypt([]byte("kseal.dev/scope: "+ns+"/db\npassword: "+canary("reencrypt-sops")+"\n"),
			sops.FormatYAML, sopstest.Options{Recipients: []string{old}}),
		"secret.enc.yaml": sopstest.MustEncrypt([]byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: api\n  namespace: "+ns+"\nstringData:\n  token: "+canary("reencrypt-flux")+"\n"),
			sops.FormatYAML, sopstest.Options{Recipients: []string{old}, EncryptedRegex: sopstest.SecretsOnly}),
	})

	g, err := keys.Generate(keys.GenerateOptions{Name: "kseal-key-reencrypt-sops", Now: time.Now().Add(2 * time.Minute)})
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
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.Environment.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}

	out := kseal(t, nil, "reencrypt", "--from-cluster", "--kubeconfig", kubeconfig, "--controller-namespace", controllerNamespace, dir)
	if !strings.HasPrefix(string(out), "reencrypt: 2 changed, 0 unchanged, 0 failed\n") {
		t.Fatalf("reencrypt output: %s", out)
	}
	bound, err := os.ReadFile(filepath.Join(dir, "bound.enc.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(bound), old) || !strings.Contains(string(bound), g.Sops.Recipient().String()) {
		t.Fatal("the file was not moved from the old recipient to the new generation's")
	}
	obj := &v1alpha1.SopsSecret{ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: ns}, Spec: v1alpha1.SopsSecretSpec{Sops: string(bound)}}
	if err := env.Client.Create(ctx, obj); err != nil {
		t.Fatal(err)
	}
	sopsReady(t, ns, "db", metav1.ConditionTrue)
	if got := getSecret(t, ns, "db"); string(got.Data["password"]) != canary("reencrypt-sops") {
		t.Error("the SopsSecret's Secret has the wrong value")
	}
	rendered := kseal(t, nil, "render", "--from-cluster", "--kubeconfig", kubeconfig, filepath.Join(dir, "secret.enc.yaml"))
	if !strings.Contains(string(rendered), canary("reencrypt-flux")) {
		t.Error("kseal render --from-cluster does not open the re-encrypted Secret")
	}
}
