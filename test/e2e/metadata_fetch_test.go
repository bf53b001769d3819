package e2e

import (
	"context"
	"strings"
	"testing"
	"time"

	vaultapi "github.com/hashicorp/vault/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// fetchRef is a data entry with metadataPolicy Fetch.
func fetchRef(secretKey, key, property string) v1alpha1.ExternalSecretData {
	d := ref(secretKey, key, property)
	d.RemoteRef.MetadataPolicy = v1alpha1.MetadataPolicyFetch
	return d
}

// wantSecretData fails unless the Secret holds exactly want.
func wantSecretData(t *testing.T, ns, name string, want map[string]string) {
	t.Helper()
	got := getSecret(t, ns, name).Data
	if len(got) != len(want) {
		t.Errorf("Secret %s has %d keys, want %d", name, len(got), len(want))
	}
	for k, v := range want {
		if string(got[k]) != v {
			t.Errorf("Secret %s: %s = %q, want %q", name, k, got[k], v)
		}
	}
}

// TestMetadataFetch_vault: remoteRef.metadataPolicy Fetch reads a real Vault
// KV v2 secret's custom_metadata as ESO does: the whole map as JSON, one key
// with property, every key with dataFrom extract; never the secret's value.
func TestMetadataFetch_vault(t *testing.T) {
	srv, vc := startVault(t)
	c := startController(t, controllers.Options{Stores: controllers.StorePolicy{VaultAllowHTTP: true}})
	defer c.stop()
	ns := newNamespace(t, "meta-vault")
	bg := context.Background()
	if _, err := vc.KVv2("secret").Put(bg, ns+"/app", map[string]any{"password": canary("meta-vault")}); err != nil {
		t.Fatal(err)
	}
	if err := vc.KVv2("secret").PutMetadata(bg, ns+"/app", vaultapi.KVMetadataPutInput{CustomMetadata: map[string]any{"team": "payments", "owner": "alice"}}); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "vault-token", Namespace: ns}, StringData: map[string]string{"token": srv.RootToken}}); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, vaultStore(ns, "vault", srv.Addr, v1alpha1.VaultAuth{TokenSecretRef: &v1alpha1.SecretKeySelector{Name: "vault-token", Key: "token"}})); err != nil {
		t.Fatal(err)
	}
	storeReady(t, ns, "vault", metav1.ConditionTrue)

	key := ns + "/app"
	single := externalSecret(ns, "single", "vault", time.Hour, fetchRef("all", key, ""), fetchRef("team", key, "team"))
	extract := externalSecret(ns, "extract", "vault", time.Hour)
	extract.Spec.DataFrom = []v1alpha1.ExternalSecretDataFromRemoteRef{{Extract: &v1alpha1.ExternalSecretDataRemoteRef{Key: key, MetadataPolicy: v1alpha1.MetadataPolicyFetch}}}
	missing := externalSecret(ns, "missing", "vault", time.Hour, fetchRef("x", key, "nosuch"))
	for _, es := range []*v1alpha1.ExternalSecret{single, extract, missing} {
		if err := env.Client.Create(ctx, es); err != nil {
			t.Fatal(err)
		}
	}
	esCondition(t, ns, "single", metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
	esCondition(t, ns, "extract", metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
	wantSecretData(t, ns, "single", map[string]string{"all": `{"owner":"alice","team":"payments"}`, "team": "payments"})
	wantSecretData(t, ns, "extract", map[string]string{"owner": "alice", "team": "payments"})
	esCondition(t, ns, "missing", metav1.ConditionFalse, v1alpha1.ReasonRemoteNotFound)
	if getSecret(t, ns, "missing") != nil {
		t.Error("a Secret was written for a missing custom_metadata key")
	}
}

// TestMetadataFetch_aws: on AWS Secrets Manager, metadataPolicy Fetch reads
// the secret's tags (as ESO does, through DescribeSecret); on Parameter
// Store it is refused with a message that says so.
func TestMetadataFetch_aws(t *testing.T) {
	srv := awstest.NewServer(t)
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "meta-aws")
	srv.CreateSecret(t, ns+"/app", canary("meta-aws"), map[string]string{"team": "payments", "cost-center": "42"})
	awsStore(t, srv, ns, "aws")
	parameterStore(t, srv, ns, "ssm")
	storeReady(t, ns, "aws", metav1.ConditionTrue)

	tags := externalSecret(ns, "tags", "aws", time.Hour, fetchRef("all", ns+"/app", ""), fetchRef("team", ns+"/app", "team"))
	ssm := externalSecret(ns, "ssm", "ssm", time.Hour, fetchRef("x", "/"+ns+"/p", ""))
	for _, es := range []*v1alpha1.ExternalSecret{tags, ssm} {
		if err := env.Client.Create(ctx, es); err != nil {
			t.Fatal(err)
		}
	}
	esCondition(t, ns, "tags", metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
	wantSecretData(t, ns, "tags", map[string]string{"all": `{"cost-center":"42","team":"payments"}`, "team": "payments"})
	cond := esCondition(t, ns, "ssm", metav1.ConditionFalse, v1alpha1.ReasonInvalidSpec)
	if want := "not supported by kseal for Parameter Store"; !strings.Contains(cond.Message, want) {
		t.Errorf("message %q does not say %q", cond.Message, want)
	}
}
