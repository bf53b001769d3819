package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	awssdk "github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/secretsmanager"
	smtypes "github.com/aws/aws-sdk-go-v2/service/secretsmanager/types"
	"github.com/aws/aws-sdk-go-v2/service/ssm"
	vaultapi "github.com/hashicorp/vault/api"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
	"github.com/kseal-dev/kseal/providers/vault/vaulttest"
)

// esoDir holds External Secrets Operator's documented ExternalSecret
// manifests, verbatim, each with its source path and commit.
const esoDir = "testdata/eso-externalsecrets"

// esoProvider says which real backend a documented manifest is run against.
type esoProvider string

const (
	esoAWS   esoProvider = "aws" // Secrets Manager on the AWS emulator
	esoSSM   esoProvider = "ssm" // Parameter Store on the AWS emulator
	esoVault esoProvider = "vault"
)

// esoRemote is one remote value a manifest reads: a Secrets Manager secret
// (its versions in order, the last one current; stage or id pin a version),
// a parameter, or a Vault KV v2 secret (the value is its JSON object).
type esoRemote struct {
	key      string
	value    string
	tags     map[string]string // AWS tags, Vault custom_metadata
	stage    string            // Secrets Manager: the version's only stage
	clientID string            // Secrets Manager: the version's VersionId
}

// esoCase is one documented manifest: what it needs, and the Secret ESO
// documents for it (or the refusal kseal gives instead).
type esoCase struct {
	provider esoProvider
	// complete fills in what the documentation leaves out as "# ..." (a
	// store, the remote references): a JSON merge patch of the
	// ExternalSecret applied after the verbatim manifest was accepted.
	complete string
	remote   []esoRemote
	// want is the exact data of the Secret written (target.name, else the
	// ExternalSecret's name); check looks at anything else.
	want  map[string]string
	check func(t *testing.T, s *corev1.Secret)
	// refused: the strict apply must fail with this text (reason empty),
	// or the ExternalSecret must become Ready=False with reason and this
	// text in its message.
	refused string
	reason  string
	// applyOnly: the manifest is only checked for strict acceptance; the
	// string says why it is not synced.
	applyOnly string
	// skip: not applied at all, because.
	skip string
	// wholeAccount: the manifest finds every secret of the account, so the
	// emulator (shared by every test of the process) is first cleared of
	// the secrets earlier tests left.
	wholeAccount bool
}

// TestESOExternalSecrets_documented applies every ExternalSecret of External
// Secrets Operator's documentation for AWS Secrets Manager, Parameter Store
// and Vault (and its generic guides) with only apiVersion changed, server
// side with fieldValidation=Strict, seeds the remote values in the AWS
// emulator or a real Vault dev server, and compares the Secret with what
// ESO documents. kseal's deliberate refusals must say why and what to
// write instead.
func TestESOExternalSecrets_documented(t *testing.T) {
	files, err := filepath.Glob(filepath.Join(esoDir, "*.yaml"))
	if err != nil || len(files) < 40 {
		t.Fatalf("testdata: %d files, %v", len(files), err)
	}
	for _, f := range files {
		base := filepath.Base(f)
		_, c := esoCases[base]
		_, p := esoPending[base]
		_, n := esoNotManifests[base]
		if !c && !p && !n {
			t.Errorf("%s has no entry in esoCases, esoPending or esoNotManifests", base)
		}
	}
	fx := newESOFixture(t)
	defer fx.ctrl.stop()
	for _, f := range files {
		base := filepath.Base(f)
		t.Run(strings.TrimSuffix(base, ".yaml"), func(t *testing.T) {
			if why, ok := esoPending[base]; ok {
				t.Skip("listed, checked elsewhere: " + why) // logged, never passed
			}
			if why := esoCases[base].skip; why != "" {
				t.Log("not applied:", why)
				return
			}
			docs := esoDocuments(t, f)
			if why, ok := esoNotManifests[base]; ok {
				if docs != nil {
					t.Fatalf("listed as not a manifest (%s) but it parses", why)
				}
				t.Log("not applied:", why)
				return
			}
			if docs == nil {
				t.Fatal("ESO's manifest does not parse as YAML")
			}
			fx.run(t, esoCases[base], docs)
		})
	}
}

// esoDocuments reads a testdata file as the documentation renders it (the
// mkdocs {% raw %} markers dropped) and returns its non-empty documents,
// or nil when the published text is not valid YAML.
func esoDocuments(t *testing.T, path string) []*unstructured.Unstructured {
	t.Helper()
	raw, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var lines []string
	for _, l := range strings.Split(string(raw), "\n") {
		if s := strings.TrimSpace(l); s == "{% raw %}" || s == "{% endraw %}" {
			continue
		}
		lines = append(lines, l)
	}
	var out []*unstructured.Unstructured
	for _, doc := range strings.Split(strings.Join(lines, "\n"), "\n---") {
		m := map[string]any{}
		// The newline before "---" ends the document's last line.
		if err := yaml.UnmarshalStrict([]byte(doc+"\n"), &m); err != nil {
			t.Logf("YAML: %v", err)
			return nil
		}
		if len(m) > 0 {
			out = append(out, &unstructured.Unstructured{Object: m})
		}
	}
	return out
}

// esoFixture is the controller and the backends the documented manifests
// run against. Namespaced stores get their own emulator or Vault mount;
// a ClusterSecretStore (one name, cluster-wide) is created once and shared
// by the manifests that name it.
type esoFixture struct {
	aws     *awstest.Server
	ctrl    *controller
	vault   *vaulttest.Server
	vc      *vaultapi.Client
	credsNS string

	mu       sync.Mutex
	clusters map[string]*esoBackend
}

// esoBackend is where one store reads.
type esoBackend struct {
	aws   *awstest.Server
	mount string // Vault KV v2 mount
}

func newESOFixture(t *testing.T) *esoFixture {
	t.Helper()
	// The emulator keeps one state for every instance in the process, so
	// all stores share one, and each manifest deletes what it seeded.
	fx := &esoFixture{aws: awstest.NewServer(t), clusters: map[string]*esoBackend{}}
	if _, err := vaulttest.Binary(); err == nil || requireTools() {
		fx.vault, fx.vc = startVault(t)
	} else {
		t.Logf("Vault manifests skipped: %v", err)
	}
	fx.ctrl = startController(t, controllers.Options{Stores: controllers.StorePolicy{VaultAllowHTTP: true}})
	fx.credsNS = newNamespace(t, "eso-docs-creds")
	creds := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: fx.credsNS},
		StringData: map[string]string{"id": awstest.AccessKeyID, "key": awstest.SecretAccessKey}}
	if fx.vault != nil {
		creds.StringData["token"] = fx.vault.RootToken
	}
	if err := env.Client.Create(ctx, creds); err != nil {
		t.Fatal(err)
	}
	return fx
}

// run applies one documented manifest and checks the outcome.
func (fx *esoFixture) run(t *testing.T, c esoCase, docs []*unstructured.Unstructured) {
	ns := newNamespace(t, "eso-docs")
	var es *unstructured.Unstructured
	for _, d := range docs {
		if d.GetKind() == "ExternalSecret" {
			es = d
		}
	}
	if es == nil {
		t.Fatal("no ExternalSecret in the manifest")
	}
	if refusedAtApply := c.refused != "" && c.reason == ""; c.applyOnly == "" && !refusedAtApply {
		fx.prepare(t, c, ns, es)
	}
	for _, d := range docs {
		err := applyESODoc(ns, d)
		if c.refused != "" && c.reason == "" && d == es {
			if err == nil || !strings.Contains(err.Error(), c.refused) {
				t.Fatalf("strict apply: %v, want a refusal containing %q", err, c.refused)
			}
			t.Logf("refused as expected: %v", err)
			return
		}
		if err != nil {
			t.Fatalf("%s %s refused under strict validation: %v", d.GetKind(), d.GetName(), err)
		}
	}
	if c.applyOnly != "" {
		t.Log("accepted; not synced:", c.applyOnly)
		return
	}
	name := es.GetName()
	if c.complete != "" {
		patch := client.RawPatch(types.MergePatchType, []byte(c.complete))
		obj := &v1alpha1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}}
		if err := env.Client.Patch(ctx, obj, patch, client.FieldValidation("Strict")); err != nil {
			t.Fatalf("completing the documented fragment: %v", err)
		}
	}
	if c.reason != "" {
		cond := esCondition(t, ns, name, metav1.ConditionFalse, c.reason)
		if !strings.Contains(cond.Message, c.refused) {
			t.Fatalf("Ready message %q, want it to contain %q", cond.Message, c.refused)
		}
		t.Logf("refused as expected: %s", cond.Message)
		return
	}
	defer func() {
		if t.Failed() {
			logESCondition(t, ns, name)
		}
	}()
	esCondition(t, ns, name, metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
	got := &v1alpha1.ExternalSecret{}
	if err := env.Client.Get(ctx, clientKey(ns, name), got); err != nil {
		t.Fatal(err)
	}
	target := got.Spec.Target.Name
	if target == "" {
		target = name
	}
	s := getSecret(t, ns, target)
	if s == nil {
		t.Fatalf("Secret %s not written", target)
	}
	if c.want != nil {
		wantData(t, s, c.want)
		if os.Getenv("KSEAL_ESO_DOCS_DEBUG") != "" {
			for k, v := range s.Data {
				t.Logf("%s=%q", k, v)
			}
		}
	}
	if c.check != nil {
		c.check(t, s)
	}
}

// applyESODoc applies one document server side with strict field
// validation, with only its apiVersion changed (External Secrets
// Operator's group to kseal's) and its namespace set to the test's.
func applyESODoc(ns string, d *unstructured.Unstructured) error {
	u := d.DeepCopy()
	if strings.HasPrefix(u.GetAPIVersion(), "external-secrets.io/") {
		u.SetAPIVersion("kseal.dev/v1alpha1")
	}
	u.SetNamespace(ns)
	return env.Client.Patch(ctx, u, client.Apply, client.FieldOwner("eso-docs"), client.ForceOwnership, client.FieldValidation("Strict"))
}

// prepare creates the store the manifest names (after completion) and
// seeds its remote values.
func (fx *esoFixture) prepare(t *testing.T, c esoCase, ns string, es *unstructured.Unstructured) {
	t.Helper()
	if c.provider == esoVault && fx.vault == nil {
		t.Skip("no Vault binary (make test builds it)")
	}
	spec := map[string]any{}
	if sp, ok := es.Object["spec"].(map[string]any); ok {
		spec = sp
	}
	if c.complete != "" {
		var p struct {
			Spec map[string]any `json:"spec"`
		}
		if err := json.Unmarshal([]byte(c.complete), &p); err != nil {
			t.Fatal(err)
		}
		for k, v := range p.Spec {
			spec[k] = v
		}
	}
	refs := storeRefs(spec)
	if len(refs) == 0 {
		t.Fatal("the manifest names no store")
	}
	var be *esoBackend
	for _, r := range refs {
		b := fx.store(t, c.provider, ns, r)
		if be != nil && b != be {
			t.Fatal("a manifest naming two stores needs a seed per store")
		}
		be = b
	}
	if c.wholeAccount && c.provider == esoAWS {
		clearSecretsManager(t, be.aws)
	}
	for _, r := range c.remote {
		fx.seed(t, c.provider, be, r)
	}
}

// clearSecretsManager deletes every secret of the emulator's account.
func clearSecretsManager(t *testing.T, srv *awstest.Server) {
	t.Helper()
	admin := srv.Admin()
	p := secretsmanager.NewListSecretsPaginator(admin, &secretsmanager.ListSecretsInput{})
	for p.HasMorePages() {
		page, err := p.NextPage(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range page.SecretList {
			if _, err := admin.DeleteSecret(context.Background(), deleteInput(awssdk.ToString(e.Name), true)); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// storeRefs lists the stores an ExternalSecret spec names.
func storeRefs(spec map[string]any) []v1alpha1.SecretStoreRef {
	var out []v1alpha1.SecretStoreRef
	add := func(m any) {
		if r, ok := m.(map[string]any); ok {
			name, _ := r["name"].(string)
			kind, _ := r["kind"].(string)
			if name != "" {
				out = append(out, v1alpha1.SecretStoreRef{Name: name, Kind: kind})
			}
		}
	}
	add(spec["secretStoreRef"])
	for _, list := range []string{"data", "dataFrom"} {
		items, _ := spec[list].([]any)
		for _, it := range items {
			if m, ok := it.(map[string]any); ok {
				if src, ok := m["sourceRef"].(map[string]any); ok {
					add(src["storeRef"])
				}
			}
		}
	}
	return out
}

// store creates the store r names: a SecretStore in ns on a new backend,
// or a ClusterSecretStore shared by every manifest that names it.
func (fx *esoFixture) store(t *testing.T, p esoProvider, ns string, r v1alpha1.SecretStoreRef) *esoBackend {
	t.Helper()
	cluster := r.Kind == "ClusterSecretStore"
	fx.mu.Lock()
	defer fx.mu.Unlock()
	if cluster {
		if b, ok := fx.clusters[r.Name]; ok {
			return b
		}
	}
	b := &esoBackend{}
	provider := v1alpha1.SecretStoreProvider{}
	credsNS := ""
	if cluster {
		credsNS = fx.credsNS
	} else {
		creds := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "creds", Namespace: ns},
			StringData: map[string]string{"id": awstest.AccessKeyID, "key": awstest.SecretAccessKey}}
		if fx.vault != nil {
			creds.StringData["token"] = fx.vault.RootToken
		}
		if err := env.Client.Create(ctx, creds); err != nil && !strings.Contains(err.Error(), "already exists") {
			t.Fatal(err)
		}
	}
	switch p {
	case esoAWS, esoSSM:
		b.aws = fx.aws
		svc := v1alpha1.AWSServiceSecretsManager
		if p == esoSSM {
			svc = v1alpha1.AWSServiceParameterStore
		}
		provider.AWS = &v1alpha1.AWSProvider{Service: svc, Region: b.aws.Region, Endpoint: b.aws.URL,
			Auth: v1alpha1.AWSAuth{SecretRef: &v1alpha1.AWSAuthSecretRef{
				AccessKeyID:     v1alpha1.SecretKeySelector{Name: "creds", Key: "id", Namespace: credsNS},
				SecretAccessKey: v1alpha1.SecretKeySelector{Name: "creds", Key: "key", Namespace: credsNS},
			}}}
	case esoVault:
		b.mount = "kv-" + ns
		if cluster {
			b.mount = "kv-cluster-" + r.Name
		}
		if err := fx.vc.Sys().Mount(b.mount, &vaultapi.MountInput{Type: "kv", Options: map[string]string{"version": "2"}}); err != nil {
			t.Fatal(err)
		}
		provider.Vault = &v1alpha1.VaultProvider{Server: fx.vault.Addr, Path: b.mount, Version: v1alpha1.VaultKVv2,
			Auth: v1alpha1.VaultAuth{TokenSecretRef: &v1alpha1.SecretKeySelector{Name: "creds", Key: "token", Namespace: credsNS}}}
	}
	spec := v1alpha1.SecretStoreSpec{Provider: provider}
	var obj client.Object = &v1alpha1.SecretStore{ObjectMeta: metav1.ObjectMeta{Name: r.Name, Namespace: ns}, Spec: spec}
	if cluster {
		obj = &v1alpha1.ClusterSecretStore{ObjectMeta: metav1.ObjectMeta{Name: r.Name}, Spec: spec}
		fx.clusters[r.Name] = b
	}
	if err := env.Client.Create(ctx, obj); err != nil {
		t.Fatal(err)
	}
	return b
}

// seed writes one remote value; a Secrets Manager secret that exists gets
// a new version.
func (fx *esoFixture) seed(t *testing.T, p esoProvider, b *esoBackend, r esoRemote) {
	t.Helper()
	bg := context.Background()
	switch p {
	case esoSSM:
		b.aws.PutParameter(t, r.key, r.value, true)
		t.Cleanup(func() {
			_, _ = b.aws.SSMAdmin().DeleteParameter(bg, &ssm.DeleteParameterInput{Name: awssdk.String(r.key)})
		})
	case esoAWS:
		admin := b.aws.Admin()
		in := &secretsmanager.CreateSecretInput{Name: awssdk.String(r.key), SecretString: awssdk.String(r.value)}
		for k, v := range r.tags {
			in.Tags = append(in.Tags, smtypes.Tag{Key: awssdk.String(k), Value: awssdk.String(v)})
		}
		if r.clientID != "" {
			in.ClientRequestToken = awssdk.String(r.clientID)
		}
		_, err := admin.CreateSecret(bg, in)
		var exists *smtypes.ResourceExistsException
		if errors.As(err, &exists) {
			put := &secretsmanager.PutSecretValueInput{SecretId: awssdk.String(r.key), SecretString: awssdk.String(r.value)}
			if r.stage != "" {
				put.VersionStages = []string{r.stage}
			}
			if r.clientID != "" {
				put.ClientRequestToken = awssdk.String(r.clientID)
			}
			_, err = admin.PutSecretValue(bg, put)
		}
		if err != nil {
			t.Fatalf("seed %s: %v", r.key, err)
		}
		t.Cleanup(func() { _, _ = admin.DeleteSecret(bg, deleteInput(r.key, true)) })
	case esoVault:
		data := map[string]any{}
		if err := json.Unmarshal([]byte(r.value), &data); err != nil {
			t.Fatalf("seed %s: a Vault value is a JSON object: %v", r.key, err)
		}
		kv := fx.vc.KVv2(b.mount)
		key := strings.TrimPrefix(r.key, "/")
		if _, err := kv.Put(bg, key, data); err != nil {
			t.Fatal(err)
		}
		if len(r.tags) > 0 {
			md := map[string]any{}
			for k, v := range r.tags {
				md[k] = v
			}
			if err := kv.PutMetadata(bg, key, vaultapi.KVMetadataPutInput{CustomMetadata: md}); err != nil {
				t.Fatal(err)
			}
		}
	}
}

// logESCondition logs an ExternalSecret's Ready condition, to say why a
// documented manifest did not sync.
func logESCondition(t *testing.T, ns, name string) {
	es := &v1alpha1.ExternalSecret{}
	if err := env.Client.Get(ctx, clientKey(ns, name), es); err != nil {
		t.Logf("ExternalSecret %s/%s: %v", ns, name, err)
		return
	}
	for _, c := range es.Status.Conditions {
		t.Logf("condition %s=%s %s: %s", c.Type, c.Status, c.Reason, c.Message)
	}
}
