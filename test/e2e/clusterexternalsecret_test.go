package e2e

import (
	"bytes"
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// esoCESDocuments reads a documentation snippet of testdata/
// eso-clusterexternalsecrets (mkdocs {% raw %} markers dropped) and returns
// the documents of kind, with apiVersion changed to kseal's.
func esoCESDocuments(t *testing.T, file, kind string) []*unstructured.Unstructured {
	t.Helper()
	raw, err := os.ReadFile("testdata/eso-clusterexternalsecrets/" + file)
	if err != nil {
		t.Fatal(err)
	}
	var kept []string
	for _, l := range strings.Split(string(raw), "\n") {
		if s := strings.TrimSpace(l); s != "{% raw %}" && s != "{% endraw %}" {
			kept = append(kept, l)
		}
	}
	var out []*unstructured.Unstructured
	for i, doc := range bytes.Split([]byte(strings.Join(kept, "\n")), []byte("\n---")) {
		u := &unstructured.Unstructured{}
		if err := yaml.Unmarshal(doc, &u.Object); err != nil {
			t.Fatalf("%s document %d: %v", file, i, err)
		}
		if u.GetKind() == kind {
			u.SetAPIVersion("kseal.dev/v1alpha1")
			out = append(out, u)
		}
	}
	if len(out) == 0 {
		t.Fatalf("%s has no %s", file, kind)
	}
	return out
}

// labelNamespace sets (value != "") or removes one label of a namespace.
func labelNamespace(t testing.TB, name, key, value string) {
	t.Helper()
	ns := &corev1.Namespace{}
	if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, ns); err != nil {
		t.Fatal(err)
	}
	base := ns.DeepCopy()
	if value == "" {
		delete(ns.Labels, key)
	} else {
		if ns.Labels == nil {
			ns.Labels = map[string]string{}
		}
		ns.Labels[key] = value
	}
	if err := env.Client.Patch(ctx, ns, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
}

// cesStatus waits until the ClusterExternalSecret's status describes its
// latest generation and ok holds, and returns it.
func cesStatus(t testing.TB, name, what string, ok func(*v1alpha1.ClusterExternalSecret) bool) *v1alpha1.ClusterExternalSecret {
	t.Helper()
	var ces *v1alpha1.ClusterExternalSecret
	waitFor(t, 60*time.Second, "ClusterExternalSecret "+name+": "+what, func() bool {
		ces = &v1alpha1.ClusterExternalSecret{}
		if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, ces); err != nil {
			return false
		}
		cond := apimeta.FindStatusCondition(ces.Status.Conditions, v1alpha1.ConditionReady)
		return cond != nil && cond.ObservedGeneration == ces.Generation && ok(ces)
	})
	return ces
}

// provisioned reports whether the status lists exactly these namespaces as
// provisioned (want sorted) and Ready has status.
func provisioned(status metav1.ConditionStatus, want ...string) func(*v1alpha1.ClusterExternalSecret) bool {
	return func(ces *v1alpha1.ClusterExternalSecret) bool {
		cond := apimeta.FindStatusCondition(ces.Status.Conditions, v1alpha1.ConditionReady)
		return cond.Status == status && slices.Equal(ces.Status.ProvisionedNamespaces, want)
	}
}

// childOf returns the ExternalSecret ns/name, or nil when it does not exist.
func childOf(t testing.TB, ns, name string) *v1alpha1.ExternalSecret {
	t.Helper()
	es := &v1alpha1.ExternalSecret{}
	err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, es)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// deleteCES deletes a ClusterExternalSecret and waits until it and the
// ExternalSecrets ns/name are gone.
func deleteCES(t testing.TB, name, esName string, namespaces ...string) {
	t.Helper()
	ces := &v1alpha1.ClusterExternalSecret{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := env.Client.Delete(ctx, ces); client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "ClusterExternalSecret "+name+" and its ExternalSecrets deleted", func() bool {
		if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, ces); !apierrors.IsNotFound(err) {
			return false
		}
		for _, ns := range namespaces {
			if es := childOf(t, ns, esName); es != nil && es.DeletionTimestamp.IsZero() {
				return false
			}
		}
		return true
	})
}

// TestClusterExternalSecret_esoManifests applies External Secrets
// Operator's documented ClusterExternalSecrets (testdata/
// eso-clusterexternalsecrets, verbatim with their source) with only
// apiVersion changed, under fieldValidation=Strict. The fan-out example is
// accepted as it is. The full example's last dataFrom entry uses the
// pre-v1 shape (key, version, property directly in the entry), which ESO
// v1's own schema does not have either (its dataFrom items hold only
// extract, find, rewrite, sourceRef): strict validation names exactly
// those fields, and with the entry written as ESO v1 writes it (extract)
// the example is accepted and provisions the namespace its selector
// matches, with the ExternalSecret the example describes.
func TestClusterExternalSecret_esoManifests(t *testing.T) {
	ns := newNamespace(t, "ces-eso")
	c := startController(t, controllers.Options{WatchNamespaces: []string{ns}})
	defer c.stop()

	fanout := esoCESDocuments(t, "cluster-external-secret-fanout.yaml", "ClusterExternalSecret")[0]
	if err := env.Client.Create(ctx, fanout, client.FieldValidation("Strict")); err != nil {
		t.Fatalf("the fan-out example is refused under strict validation: %v", err)
	}
	defer deleteCES(t, fanout.GetName(), "shared-credentials", ns)

	full := esoCESDocuments(t, "full-cluster-external-secret.yaml", "ClusterExternalSecret")[0]
	err := env.Client.Create(ctx, full.DeepCopy(), client.FieldValidation("Strict"))
	if err == nil {
		t.Fatal("the full example's pre-v1 dataFrom entry was accepted")
	}
	msg := err.Error()
	for _, f := range []string{"dataFrom[0].key", "dataFrom[0].version", "dataFrom[0].property"} {
		if !strings.Contains(msg, `unknown field "spec.externalSecretSpec.`+f+`"`) {
			t.Errorf("strict validation does not name %s: %v", f, err)
		}
	}
	if n := strings.Count(msg, "unknown field"); n != 3 {
		t.Errorf("strict validation names %d unknown fields, want only the 3 of the dataFrom entry: %v", n, err)
	}
	dataFrom, _, _ := unstructured.NestedSlice(full.Object, "spec", "externalSecretSpec", "dataFrom")
	dataFrom[0] = map[string]any{"extract": dataFrom[0]}
	if err := unstructured.SetNestedSlice(full.Object, dataFrom, "spec", "externalSecretSpec", "dataFrom"); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, full, client.FieldValidation("Strict")); err != nil {
		t.Fatalf("the full example with an ESO v1 dataFrom entry is refused under strict validation: %v", err)
	}
	defer deleteCES(t, full.GetName(), "hello-world-es", ns)

	labelNamespace(t, ns, "cool", "label")
	cesStatus(t, full.GetName(), "provisioned in "+ns, provisioned(metav1.ConditionTrue, ns))
	es := childOf(t, ns, "hello-world-es")
	if es == nil {
		t.Fatal("no ExternalSecret hello-world-es")
	}
	if es.Spec.Target.Name != "my-secret" || es.Spec.Target.CreationPolicy != v1alpha1.CreationPolicyMerge ||
		es.Spec.SecretStoreRef.Name != "secret-store-name" || len(es.Spec.Data) != 1 || es.Spec.Data[0].SecretKey != "secret-key-to-be-managed" {
		t.Errorf("the ExternalSecret does not carry the example's spec: %+v", es.Spec)
	}
	got := cesStatus(t, full.GetName(), "external secret name", provisioned(metav1.ConditionTrue, ns))
	if got.Status.ExternalSecretName != "hello-world-es" {
		t.Errorf("status.externalSecretName = %q", got.Status.ExternalSecretName)
	}
}

// TestClusterExternalSecret_namespaces: namespaces are chosen by name, by
// namespaceSelectors and by the deprecated namespaceSelector; each gets the
// ExternalSecret with externalSecretMetadata's labels and annotations,
// controlled by the ClusterExternalSecret. A namespace relabelled away
// loses its ExternalSecret, one relabelled in gains it, an edit to one is
// undone, the force-sync annotation is copied to each, a new
// externalSecretName replaces the old ones, and deleting the
// ClusterExternalSecret deletes them all.
func TestClusterExternalSecret_namespaces(t *testing.T) {
	byName, bySelector, byOld, other := newNamespace(t, "ces-name"), newNamespace(t, "ces-sel"), newNamespace(t, "ces-old"), newNamespace(t, "ces-other")
	c := startController(t, controllers.Options{WatchNamespaces: []string{byName, bySelector, byOld, other}})
	defer c.stop()
	team := "t-" + byName // a label value no other test uses
	labelNamespace(t, bySelector, "team", team)
	labelNamespace(t, byOld, "legacy-team", team)

	ces := &v1alpha1.ClusterExternalSecret{
		ObjectMeta: metav1.ObjectMeta{Name: "ces-" + byName},
		Spec: v1alpha1.ClusterExternalSecretSpec{
			ExternalSecretName:     "app",
			ExternalSecretMetadata: v1alpha1.ExternalSecretMetadata{Labels: map[string]string{"tier": "web"}, Annotations: map[string]string{"note": "from-ces"}},
			Namespaces:             []string{byName},
			NamespaceSelectors:     []*metav1.LabelSelector{{MatchLabels: map[string]string{"team": team}}},
			NamespaceSelector:      &metav1.LabelSelector{MatchLabels: map[string]string{"legacy-team": team}},
			ExternalSecretSpec:     externalSecret("", "", "store", time.Hour, ref("k", "remote", "")).Spec,
		},
	}
	if err := env.Client.Create(ctx, ces); err != nil {
		t.Fatal(err)
	}
	all := []string{byName, bySelector, byOld, other}
	defer deleteCES(t, ces.Name, "app", all...)
	want := slices.Sorted(slices.Values([]string{byName, bySelector, byOld}))
	cesStatus(t, ces.Name, "provisioned by name and selectors", provisioned(metav1.ConditionTrue, want...))
	for _, ns := range want {
		es := childOf(t, ns, "app")
		if es == nil {
			t.Fatalf("no ExternalSecret in %s", ns)
		}
		owner := metav1.GetControllerOf(es)
		if owner == nil || owner.Kind != v1alpha1.ClusterExternalSecretKind || owner.Name != ces.Name {
			t.Errorf("%s: controller %v", ns, owner)
		}
		if es.Labels["tier"] != "web" || es.Annotations["note"] != "from-ces" || es.Spec.Data[0].RemoteRef.Key != "remote" {
			t.Errorf("%s: labels %v annotations %v spec %+v", ns, es.Labels, es.Annotations, es.Spec)
		}
	}
	if childOf(t, other, "app") != nil {
		t.Errorf("an ExternalSecret in %s, which nothing selects", other)
	}

	labelNamespace(t, bySelector, "team", "")
	labelNamespace(t, other, "team", team)
	want = slices.Sorted(slices.Values([]string{byName, byOld, other}))
	cesStatus(t, ces.Name, "relabelled namespaces", provisioned(metav1.ConditionTrue, want...))
	waitFor(t, 30*time.Second, "the ExternalSecret of the relabelled namespace deleted", func() bool { return childOf(t, bySelector, "app") == nil })
	if childOf(t, other, "app") == nil {
		t.Errorf("no ExternalSecret in %s after it was labelled", other)
	}

	// An edit to a child is undone; the force-sync annotation is copied.
	child := childOf(t, byName, "app")
	childBase := child.DeepCopy()
	child.Labels["tier"] = "edited"
	child.Spec.Data[0].RemoteRef.Key = "edited"
	if err := env.Client.Patch(ctx, child, client.MergeFrom(childBase)); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the edited ExternalSecret restored", func() bool {
		es := childOf(t, byName, "app")
		return es != nil && es.Labels["tier"] == "web" && es.Spec.Data[0].RemoteRef.Key == "remote"
	})
	base := ces.DeepCopy()
	ces.Annotations = map[string]string{v1alpha1.AnnotationForceSync: "1"}
	if err := env.Client.Patch(ctx, ces, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	for _, ns := range want {
		waitFor(t, 30*time.Second, "force-sync copied to "+ns, func() bool {
			es := childOf(t, ns, "app")
			return es != nil && es.Annotations[v1alpha1.AnnotationForceSync] == "1" && es.Annotations["note"] == "from-ces"
		})
	}

	base = ces.DeepCopy()
	ces.Spec.ExternalSecretName = "app2"
	if err := env.Client.Patch(ctx, ces, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	cesStatus(t, ces.Name, "renamed", func(c *v1alpha1.ClusterExternalSecret) bool {
		return c.Status.ExternalSecretName == "app2" && provisioned(metav1.ConditionTrue, want...)(c)
	})
	for _, ns := range want {
		waitFor(t, 30*time.Second, "the old-named ExternalSecret in "+ns+" deleted", func() bool { return childOf(t, ns, "app") == nil })
		if childOf(t, ns, "app2") == nil {
			t.Errorf("no ExternalSecret app2 in %s", ns)
		}
	}
	deleteCES(t, ces.Name, "app2", all...)
}

// TestClusterExternalSecret_foreignExternalSecret: an ExternalSecret of the
// same name that the ClusterExternalSecret does not control is left
// untouched, and its namespace is listed in failedNamespaces with the
// reason (Ready=False); once it is deleted, the namespace is provisioned.
func TestClusterExternalSecret_foreignExternalSecret(t *testing.T) {
	taken, free := newNamespace(t, "ces-taken"), newNamespace(t, "ces-free")
	c := startController(t, controllers.Options{WatchNamespaces: []string{taken, free}})
	defer c.stop()
	foreign := externalSecret(taken, "shared", "their-store", 2*time.Hour, ref("theirs", "their-key", ""))
	if err := env.Client.Create(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	ces := &v1alpha1.ClusterExternalSecret{
		ObjectMeta: metav1.ObjectMeta{Name: "ces-" + taken},
		Spec: v1alpha1.ClusterExternalSecretSpec{
			ExternalSecretName: "shared",
			Namespaces:         []string{taken, free},
			ExternalSecretSpec: externalSecret("", "", "store", time.Hour, ref("k", "remote", "")).Spec,
		},
	}
	if err := env.Client.Create(ctx, ces); err != nil {
		t.Fatal(err)
	}
	defer deleteCES(t, ces.Name, "shared", taken, free)
	got := cesStatus(t, ces.Name, "one namespace failed", func(c *v1alpha1.ClusterExternalSecret) bool {
		return provisioned(metav1.ConditionFalse, free)(c) && len(c.Status.FailedNamespaces) == 1
	})
	if f := got.Status.FailedNamespaces[0]; f.Namespace != taken || !strings.Contains(f.Reason, "not owned by this ClusterExternalSecret") {
		t.Errorf("failedNamespaces: %+v", got.Status.FailedNamespaces)
	}
	if cond := apimeta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady); cond.Reason != v1alpha1.ReasonNamespacesFailed {
		t.Errorf("Ready reason %s", cond.Reason)
	}
	after := childOf(t, taken, "shared")
	// Its own reconciler writes its status; its spec and metadata stay.
	if after.Generation != foreign.Generation || len(after.OwnerReferences) != 0 || len(after.Labels)+len(after.Annotations) != 0 || after.Spec.Data[0].RemoteRef.Key != "their-key" {
		t.Errorf("the foreign ExternalSecret was changed: generation %d -> %d, owners %v, labels %v, annotations %v, spec %+v",
			foreign.Generation, after.Generation, after.OwnerReferences, after.Labels, after.Annotations, after.Spec)
	}

	if err := env.Client.Delete(ctx, foreign); err != nil {
		t.Fatal(err)
	}
	got = cesStatus(t, ces.Name, "both provisioned", provisioned(metav1.ConditionTrue, slices.Sorted(slices.Values([]string{taken, free}))...))
	if len(got.Status.FailedNamespaces) != 0 {
		t.Errorf("failedNamespaces %+v", got.Status.FailedNamespaces)
	}
	if es := childOf(t, taken, "shared"); es == nil || metav1.GetControllerOf(es) == nil {
		t.Error("the namespace was not provisioned after the foreign ExternalSecret went")
	}
}

// TestClusterExternalSecret_storePolicy: the ExternalSecrets a
// ClusterExternalSecret writes are checked like any other in their
// namespace. A ClusterSecretStore that allows only one namespace syncs the
// Secret there and refuses the other (StoreNotAllowed, no Secret).
func TestClusterExternalSecret_storePolicy(t *testing.T) {
	srv := awstest.NewServer(t)
	allowed, denied := newNamespace(t, "ces-allowed"), newNamespace(t, "ces-denied")
	c := startController(t, controllers.Options{WatchNamespaces: []string{allowed, denied}})
	defer c.stop()
	srv.CreateSecret(t, "ces/"+allowed, canary("ces-policy"), nil)
	for _, ns := range []string{allowed, denied} {
		creds := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "aws-creds", Namespace: ns},
			StringData: map[string]string{"id": awstest.AccessKeyID, "key": awstest.SecretAccessKey}}
		if err := env.Client.Create(ctx, creds); err != nil {
			t.Fatal(err)
		}
	}
	css := &v1alpha1.ClusterSecretStore{ObjectMeta: metav1.ObjectMeta{Name: "ces-" + allowed},
		Spec: v1alpha1.SecretStoreSpec{
			Conditions: []v1alpha1.ClusterSecretStoreCondition{{Namespaces: []string{allowed}}},
			Provider: v1alpha1.SecretStoreProvider{AWS: &v1alpha1.AWSProvider{
				Service: v1alpha1.AWSServiceSecretsManager, Region: srv.Region, Endpoint: srv.URL,
				Auth: v1alpha1.AWSAuth{SecretRef: &v1alpha1.AWSAuthSecretRef{
					AccessKeyID:     v1alpha1.SecretKeySelector{Name: "aws-creds", Key: "id"},
					SecretAccessKey: v1alpha1.SecretKeySelector{Name: "aws-creds", Key: "key"},
				}}}}}}
	if err := env.Client.Create(ctx, css); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = env.Client.Delete(ctx, css) }()
	spec := externalSecret("", "", css.Name, time.Hour, ref("v", "ces/"+allowed, "")).Spec
	spec.SecretStoreRef.Kind = v1alpha1.ClusterSecretStoreKind
	ces := &v1alpha1.ClusterExternalSecret{
		ObjectMeta: metav1.ObjectMeta{Name: "ces-" + allowed},
		Spec:       v1alpha1.ClusterExternalSecretSpec{ExternalSecretName: "app", Namespaces: []string{allowed, denied}, ExternalSecretSpec: spec},
	}
	if err := env.Client.Create(ctx, ces); err != nil {
		t.Fatal(err)
	}
	defer deleteCES(t, ces.Name, "app", allowed, denied)
	cesStatus(t, ces.Name, "both provisioned", provisioned(metav1.ConditionTrue, slices.Sorted(slices.Values([]string{allowed, denied}))...))
	esCondition(t, allowed, "app", metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
	if got := getSecret(t, allowed, "app"); got == nil || string(got.Data["v"]) != canary("ces-policy") {
		t.Error("the allowed namespace did not get the Secret")
	}
	esCondition(t, denied, "app", metav1.ConditionFalse, v1alpha1.ReasonStoreNotAllowed)
	if getSecret(t, denied, "app") != nil {
		t.Error("a namespace the store does not allow got a Secret through the ClusterExternalSecret")
	}
}

// TestClusterExternalSecret_namespaceLimit: selectors matching more
// namespaces than the limit change nothing and say so (Ready=False,
// TooManyNamespaces); narrowed, the ClusterExternalSecret provisions.
func TestClusterExternalSecret_namespaceLimit(t *testing.T) {
	var nss []string
	for range 3 {
		nss = append(nss, newNamespace(t, "ces-limit"))
	}
	c := startController(t, controllers.Options{WatchNamespaces: nss, ClusterExternalSecretNamespaceLimit: 2})
	defer c.stop()
	sel := "l-" + nss[0]
	for _, ns := range nss {
		labelNamespace(t, ns, "ces-limit", sel)
	}
	ces := &v1alpha1.ClusterExternalSecret{
		ObjectMeta: metav1.ObjectMeta{Name: "ces-" + nss[0]},
		Spec: v1alpha1.ClusterExternalSecretSpec{
			NamespaceSelectors: []*metav1.LabelSelector{{MatchLabels: map[string]string{"ces-limit": sel}}},
			ExternalSecretSpec: externalSecret("", "", "store", time.Hour, ref("k", "remote", "")).Spec,
		},
	}
	if err := env.Client.Create(ctx, ces); err != nil {
		t.Fatal(err)
	}
	defer deleteCES(t, ces.Name, ces.Name, nss...)
	got := cesStatus(t, ces.Name, "over the limit", func(c *v1alpha1.ClusterExternalSecret) bool {
		cond := apimeta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionReady)
		return cond.Status == metav1.ConditionFalse && cond.Reason == v1alpha1.ReasonTooManyNamespaces
	})
	if msg := apimeta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady).Message; !strings.Contains(msg, "match 3 namespaces, more than the 2") {
		t.Errorf("message %q", msg)
	}
	for _, ns := range nss {
		if childOf(t, ns, ces.Name) != nil {
			t.Errorf("an ExternalSecret in %s over the limit", ns)
		}
	}
	labelNamespace(t, nss[2], "ces-limit", "")
	want := slices.Sorted(slices.Values(nss[:2]))
	cesStatus(t, ces.Name, fmt.Sprintf("provisioned %v", want), provisioned(metav1.ConditionTrue, want...))
}
