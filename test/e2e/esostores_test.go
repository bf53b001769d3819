package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kseal-dev/kseal/controllers"
)

// esoStoreRefusals are the documented External Secrets Operator stores
// kseal accepts in its schema but refuses to build, with (part of) the
// message that says what to use instead.
var esoStoreRefusals = map[string]string{
	"vault-ldap-store.yaml":                        "auth.ldap is not supported by kseal; use userPass",
	"vault-iam-store.yaml":                         "auth.iam (Vault's AWS method) is not supported",
	"vault-iam-store-static-creds.yaml":            "auth.iam (Vault's AWS method) is not supported",
	"vault-iam-store-controller-pod-identity.yaml": "auth.iam (Vault's AWS method) is not supported",
	"aws-access-md-6.yaml":                         "sessionTagsPolicy Simple is not supported by kseal",
	"aws-access-md-7.yaml":                         "sessionTagsPolicy Custom is not supported by kseal",
}

// TestESOStores_strict applies the SecretStores and ClusterSecretStores of
// External Secrets Operator's documentation (testdata/eso-stores, verbatim
// with their source) with only apiVersion changed, under
// fieldValidation=Strict: every one is accepted. Those kseal does not
// implement get Ready=False with a message naming the alternative.
func TestESOStores_strict(t *testing.T) {
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "eso-stores")
	files, err := filepath.Glob("testdata/eso-stores/*.yaml")
	if err != nil || len(files) < 20 {
		t.Fatalf("testdata: %d files, %v", len(files), err)
	}
	seen := 0
	for _, f := range files {
		raw, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for i, doc := range bytes.Split(raw, []byte("\n---")) {
			u := &unstructured.Unstructured{}
			if err := yaml.Unmarshal(doc, &u.Object); err != nil {
				t.Fatalf("%s document %d: %v", f, i, err)
			}
			kind := u.GetKind()
			if kind != "SecretStore" && kind != "ClusterSecretStore" {
				continue
			}
			seen++
			name := strings.TrimSuffix(filepath.Base(f), ".yaml")
			u.SetAPIVersion("kseal.dev/v1alpha1")
			u.SetName(name)
			if kind == "SecretStore" {
				u.SetNamespace(ns)
			} else {
				u.SetNamespace("")
				u.SetName(ns + "-" + name)
			}
			if err := env.Client.Create(ctx, u, client.FieldValidation("Strict")); err != nil {
				t.Errorf("%s: %s refused under strict validation: %v", f, kind, err)
				continue
			}
			want, refused := esoStoreRefusals[filepath.Base(f)]
			if !refused {
				continue
			}
			var msg string
			if kind == "SecretStore" {
				msg = storeReady(t, ns, u.GetName(), "False").Message
			} else {
				msg = clusterStoreReady(t, u.GetName(), "False").Message
			}
			if !strings.Contains(msg, want) {
				t.Errorf("%s: Ready message %q, want it to contain %q", f, msg, want)
			}
		}
	}
	if seen < 20 {
		t.Errorf("applied %d stores, want every store of testdata/eso-stores", seen)
	}
}
