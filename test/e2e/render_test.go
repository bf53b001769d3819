package e2e

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"

	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sops"
	"github.com/kseal-dev/kseal/crypto/sops/sopstest"
)

// writeTree writes files (path → content) under dir.
func writeTree(t testing.TB, dir string, files map[string][]byte) {
	t.Helper()
	for p, content := range files {
		full := filepath.Join(dir, p)
		if err := os.MkdirAll(filepath.Dir(full), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(full, content, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// applyStream creates every object of a YAML stream and returns them.
func applyStream(t testing.TB, stream []byte) []*unstructured.Unstructured {
	t.Helper()
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(stream), 4096)
	var out []*unstructured.Unstructured
	for {
		var raw map[string]any
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			t.Fatal(err)
		}
		if raw == nil {
			continue
		}
		u := &unstructured.Unstructured{Object: raw}
		if err := env.Client.Create(ctx, u); err != nil {
			b, _ := json.Marshal(u.GetObjectKind())
			t.Fatalf("apply %s %s: %v", b, u.GetName(), err)
		}
		out = append(out, u)
	}
	return out
}

// TestRender_kustomizeOverlayApplied renders an env-per-folder kustomize tree
// whose Secrets are SOPS-encrypted to the cluster's post-quantum recipient,
// with the identities read from the cluster (--from-cluster), applies the
// output to the API server, and checks the Secrets. The --reseal variant
// emits SealedSecrets that the controller unseals.
func TestRender_kustomizeOverlayApplied(t *testing.T) {
	c := startController(t, controllers.Options{})
	defer c.stop()
	cert, err := keys.ParseCertificate(fetchCert(t, c), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	enc := func(doc string) []byte {
		return sopstest.MustEncrypt([]byte(doc), sops.FormatYAML, sopstest.Options{
			Recipients: []string{sopsRecipient(t, cert)}, EncryptedRegex: sopstest.SecretsOnly, MACOnlyEncrypted: true})
	}
	for _, variant := range []string{"plain", "reseal"} {
		t.Run(variant, func(t *testing.T) {
			prod := newNamespace(t, "prod-"+variant)
			dir := t.TempDir()
			writeTree(t, dir, map[string][]byte{
				"base/kustomization.yaml":         []byte("resources:\n- config.yaml\n- db.enc.yaml\n"),
				"base/config.yaml":                []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  mode: base\n"),
				"base/db.enc.yaml":                enc("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: " + canary("render-base") + "\n"),
				"overlays/dev/kustomization.yaml": []byte("namespace: dev\nresources:\n- ../../base\n"),
				"overlays/prod/kustomization.yaml": []byte("namespace: " + prod + "\nresources:\n- ../../base\n- api.enc.yaml\n" +
					"patches:\n- patch: |\n    apiVersion: v1\n    kind: ConfigMap\n    metadata:\n      name: app\n    data:\n      mode: prod\n"),
				"overlays/prod/api.enc.yaml": enc("apiVersion: v1\nkind: Secret\nmetadata:\n  name: api\ntype: Opaque\nstringData:\n  token: " + canary("render-prod") + "\n"),
			})
			kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
			if err := os.WriteFile(kubeconfig, env.Environment.KubeConfig, 0o600); err != nil {
				t.Fatal(err)
			}
			args := []string{"render", "--from-cluster", "--kubeconfig", kubeconfig, filepath.Join(dir, "overlays/prod")}
			if variant == "reseal" {
				args = append(args, "--reseal", "--cert", c.apiURL+"/v1/cert.pem")
			}
			out := kseal(t, nil, args...)
			if bytes.Contains(out, []byte(canary("render-prod"))) == (variant == "reseal") {
				t.Fatalf("%s output: plaintext present = %v", variant, variant != "reseal")
			}
			applyStream(t, out)
			if variant == "reseal" {
				readyCondition(t, prod, "db", metav1.ConditionTrue)
				readyCondition(t, prod, "api", metav1.ConditionTrue)
			}
			db, api := getSecret(t, prod, "db"), getSecret(t, prod, "api")
			if db == nil || api == nil {
				t.Fatal("rendered Secrets missing")
			}
			if string(db.Data["password"]) != canary("render-base") || string(api.Data["token"]) != canary("render-prod") || api.Type != corev1.SecretTypeOpaque {
				t.Errorf("rendered Secrets have wrong data")
			}
			var cm corev1.ConfigMap
			if err := env.Client.Get(ctx, clientKey(prod, "app"), &cm); err != nil || cm.Data["mode"] != "prod" {
				t.Errorf("ConfigMap passed through wrongly: %v %v", cm.Data, err)
			}
		})
	}
}
