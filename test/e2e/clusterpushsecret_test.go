package e2e

import (
	"slices"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// cpsStatus waits until the ClusterPushSecret's status describes its latest
// generation and ok holds, and returns it.
func cpsStatus(t testing.TB, name, what string, ok func(*v1alpha1.ClusterPushSecret) bool) *v1alpha1.ClusterPushSecret {
	t.Helper()
	var cps *v1alpha1.ClusterPushSecret
	waitFor(t, 60*time.Second, "ClusterPushSecret "+name+": "+what, func() bool {
		cps = &v1alpha1.ClusterPushSecret{}
		if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, cps); err != nil {
			return false
		}
		cond := apimeta.FindStatusCondition(cps.Status.Conditions, v1alpha1.ConditionReady)
		return cond != nil && cond.ObservedGeneration == cps.Generation && ok(cps)
	})
	return cps
}

// cpsProvisioned: exactly these namespaces (sorted) are provisioned and
// Ready has status.
func cpsProvisioned(status metav1.ConditionStatus, want ...string) func(*v1alpha1.ClusterPushSecret) bool {
	return func(cps *v1alpha1.ClusterPushSecret) bool {
		cond := apimeta.FindStatusCondition(cps.Status.Conditions, v1alpha1.ConditionReady)
		return cond.Status == status && slices.Equal(cps.Status.ProvisionedNamespaces, want)
	}
}

// pushChild returns the PushSecret ns/name, or nil when it does not exist.
func pushChild(t testing.TB, ns, name string) *v1alpha1.PushSecret {
	t.Helper()
	ps := &v1alpha1.PushSecret{}
	err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, ps)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return ps
}

// deleteCPS deletes a ClusterPushSecret and waits until it and its
// PushSecrets ns/name are gone.
func deleteCPS(t testing.TB, name, psName string, namespaces ...string) {
	t.Helper()
	cps := &v1alpha1.ClusterPushSecret{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := env.Client.Delete(ctx, cps); client.IgnoreNotFound(err) != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "ClusterPushSecret "+name+" and its PushSecrets deleted", func() bool {
		if err := env.Client.Get(ctx, client.ObjectKey{Name: name}, cps); !apierrors.IsNotFound(err) {
			return false
		}
		for _, ns := range namespaces {
			if pushChild(t, ns, psName) != nil {
				return false
			}
		}
		return true
	})
}

// TestClusterPushSecret_esoManifest applies External Secrets Operator's
// documented ClusterPushSecret (testdata/eso-clusterpushsecrets, verbatim
// with its source) with only apiVersion changed, under
// fieldValidation=Strict. Its pushSecretSpec shows a generatorRef and a
// template, which kseal's PushSecret refuses at apply time with a message;
// without them it is accepted and provisions the namespace its selector
// matches with the PushSecret the example describes.
func TestClusterPushSecret_esoManifest(t *testing.T) {
	ns := newNamespace(t, "cps-eso")
	c := startController(t, controllers.Options{WatchNamespaces: []string{ns}})
	defer c.stop()

	full := esoCESDocuments(t, "../eso-clusterpushsecrets/full-cluster-push-secret.yaml", "ClusterPushSecret")[0]
	err := env.Client.Create(ctx, full.DeepCopy(), client.FieldValidation("Strict"))
	if err == nil {
		t.Fatal("the example's generatorRef and template were accepted")
	}
	for _, f := range []string{"generatorRef", "template"} {
		if !strings.Contains(err.Error(), f) {
			t.Errorf("the refusal does not name %s: %v", f, err)
		}
	}
	unstructured.RemoveNestedField(full.Object, "spec", "pushSecretSpec", "selector", "generatorRef")
	unstructured.RemoveNestedField(full.Object, "spec", "pushSecretSpec", "template")
	if err := env.Client.Create(ctx, full, client.FieldValidation("Strict")); err != nil {
		t.Fatalf("the example without generatorRef and template is refused under strict validation: %v", err)
	}
	defer deleteCPS(t, full.GetName(), "hello-world-ps", ns)

	labelNamespace(t, ns, "cool", "label")
	got := cpsStatus(t, full.GetName(), "provisioned in "+ns, cpsProvisioned(metav1.ConditionTrue, ns))
	if got.Status.PushSecretName != "hello-world-ps" {
		t.Errorf("status.pushSecretName = %q", got.Status.PushSecretName)
	}
	ps := pushChild(t, ns, "hello-world-ps")
	if ps == nil {
		t.Fatal("no PushSecret hello-world-ps")
	}
	if ps.Spec.Selector.Secret == nil || ps.Spec.Selector.Secret.Name != "source-secret" || len(ps.Spec.SecretStoreRefs) != 1 ||
		ps.Spec.SecretStoreRefs[0].Name != "aws-parameterstore" || len(ps.Spec.Data) != 1 || ps.Spec.Data[0].Match.RemoteRef.RemoteKey != "destination-secret" {
		t.Errorf("the PushSecret does not carry the example's spec: %+v", ps.Spec)
	}
}

// TestClusterPushSecret_namespaces: the selected namespaces each get the
// PushSecret (labels and annotations of pushSecretMetadata, controlled by
// the ClusterPushSecret), and each PushSecret reads the Secret and the
// store of its own namespace only: two namespaces pushing to one remote
// key do not overwrite each other (the second is RemoteNotOwned), and a
// namespace nothing selects pushes nothing. A namespace relabelled away
// loses its PushSecret, one relabelled in gains it, a PushSecret of that
// name the ClusterPushSecret does not control is left untouched and
// reported, and deleting the ClusterPushSecret deletes its PushSecrets
// (which delete what they pushed).
func TestClusterPushSecret_namespaces(t *testing.T) {
	srv := awstest.NewServer(t)
	a, b, other, foreign := newNamespace(t, "cps-a"), newNamespace(t, "cps-b"), newNamespace(t, "cps-other"), newNamespace(t, "cps-foreign")
	all := []string{a, b, other, foreign}
	c := startController(t, controllers.Options{WatchNamespaces: all})
	defer c.stop()
	team := "t-" + a
	for _, ns := range all {
		awsStore(t, srv, ns, "aws")
		if err := env.Client.Create(ctx, secret(ns, "src", map[string]string{"password": canary("cps-" + ns)})); err != nil {
			t.Fatal(err)
		}
	}
	labelNamespace(t, a, "team", team)
	labelNamespace(t, b, "team", team)
	remoteKey := a + "/cps-password"
	spec := v1alpha1.PushSecretSpec{
		SecretStoreRefs: []v1alpha1.PushSecretStoreRef{{Name: "aws", Kind: v1alpha1.SecretStoreKind}},
		Selector:        v1alpha1.PushSecretSelector{Secret: &v1alpha1.PushSecretSecret{Name: "src"}},
		DeletionPolicy:  v1alpha1.PushSecretDeletionPolicyDelete,
		Data:            []v1alpha1.PushSecretData{{Match: v1alpha1.PushSecretMatch{SecretKey: "password", RemoteRef: v1alpha1.PushSecretRemoteRef{RemoteKey: remoteKey}}}},
	}
	cps := &v1alpha1.ClusterPushSecret{
		ObjectMeta: metav1.ObjectMeta{Name: "cps-" + a},
		Spec: v1alpha1.ClusterPushSecretSpec{
			PushSecretName:     "push",
			PushSecretMetadata: v1alpha1.PushSecretMetadata{Labels: map[string]string{"tier": "web"}, Annotations: map[string]string{"note": "from-cps"}},
			NamespaceSelectors: []*metav1.LabelSelector{{MatchLabels: map[string]string{"team": team}}},
			PushSecretSpec:     spec,
		},
	}
	if err := env.Client.Create(ctx, cps); err != nil {
		t.Fatal(err)
	}
	defer deleteCPS(t, cps.Name, "push", all...)
	want := slices.Sorted(slices.Values([]string{a, b}))
	cpsStatus(t, cps.Name, "provisioned by selector", cpsProvisioned(metav1.ConditionTrue, want...))
	for _, ns := range want {
		ps := pushChild(t, ns, "push")
		if ps == nil {
			t.Fatalf("no PushSecret in %s", ns)
		}
		owner := metav1.GetControllerOf(ps)
		if owner == nil || owner.Kind != v1alpha1.ClusterPushSecretKind || owner.Name != cps.Name {
			t.Errorf("%s: controller %v", ns, owner)
		}
		if ps.Labels["tier"] != "web" || ps.Annotations["note"] != "from-cps" {
			t.Errorf("%s: labels %v annotations %v", ns, ps.Labels, ps.Annotations)
		}
	}
	if pushChild(t, other, "push") != nil {
		t.Errorf("a PushSecret in %s, which nothing selects", other)
	}

	// Each PushSecret pushes its own namespace's Secret; the one that comes
	// second finds the remote key owned by the first and leaves it.
	var winner, loser string
	waitFor(t, 60*time.Second, "one PushSecret synced, the other refused", func() bool {
		ra, rb := pushReason(a), pushReason(b)
		switch {
		case ra == v1alpha1.ReasonPushSynced && rb == v1alpha1.ReasonRemoteNotOwned:
			winner, loser = a, b
		case rb == v1alpha1.ReasonPushSynced && ra == v1alpha1.ReasonRemoteNotOwned:
			winner, loser = b, a
		}
		return winner != ""
	})
	if v, _ := remoteValue(srv, remoteKey); v != canary("cps-"+winner) {
		t.Errorf("the remote value is not %s's Secret", winner)
	}

	// Relabelling: the loser leaves, the other namespace joins (and is
	// refused by the remote owner too: its own Secret is never pushed over
	// the winner's).
	labelNamespace(t, loser, "team", "")
	labelNamespace(t, other, "team", team)
	want = slices.Sorted(slices.Values([]string{winner, other}))
	cpsStatus(t, cps.Name, "relabelled namespaces", cpsProvisioned(metav1.ConditionTrue, want...))
	waitFor(t, 30*time.Second, "the PushSecret of the relabelled namespace deleted", func() bool { return pushChild(t, loser, "push") == nil })
	waitFor(t, 60*time.Second, "the joined namespace refused by the remote owner", func() bool { return pushReason(other) == v1alpha1.ReasonRemoteNotOwned })
	if v, _ := remoteValue(srv, remoteKey); v != canary("cps-"+winner) {
		t.Errorf("the remote value changed")
	}

	// An edit to a PushSecret it controls is undone.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		ps := pushChild(t, winner, "push")
		ps.Labels["tier"] = "edited"
		return env.Client.Update(ctx, ps)
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "the edited PushSecret restored", func() bool {
		ps := pushChild(t, winner, "push")
		return ps != nil && ps.Labels["tier"] == "web"
	})

	// A PushSecret of that name it does not control is left untouched.
	mine := &v1alpha1.PushSecret{ObjectMeta: metav1.ObjectMeta{Namespace: foreign, Name: "push"}, Spec: spec}
	mine.Spec.Data = []v1alpha1.PushSecretData{{Match: v1alpha1.PushSecretMatch{SecretKey: "password", RemoteRef: v1alpha1.PushSecretRemoteRef{RemoteKey: foreign + "/own"}}}}
	if err := env.Client.Create(ctx, mine); err != nil {
		t.Fatal(err)
	}
	labelNamespace(t, foreign, "team", team)
	got := cpsStatus(t, cps.Name, "the foreign PushSecret reported", func(c *v1alpha1.ClusterPushSecret) bool {
		cond := apimeta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionReady)
		return cond.Status == metav1.ConditionFalse && cond.Reason == v1alpha1.ReasonNamespacesFailed && len(c.Status.FailedNamespaces) == 1
	})
	if f := got.Status.FailedNamespaces[0]; f.Namespace != foreign || !strings.Contains(f.Reason, "not owned by this ClusterPushSecret") {
		t.Errorf("failedNamespaces = %+v", got.Status.FailedNamespaces)
	}
	if ps := pushChild(t, foreign, "push"); ps == nil || metav1.GetControllerOf(ps) != nil || ps.Spec.Data[0].Match.RemoteRef.RemoteKey != foreign+"/own" {
		t.Errorf("the foreign PushSecret was changed: %+v", ps)
	}
	if err := env.Client.Delete(ctx, mine); err != nil {
		t.Fatal(err)
	}
	cpsStatus(t, cps.Name, "provisioned once the foreign PushSecret is gone",
		cpsProvisioned(metav1.ConditionTrue, slices.Sorted(slices.Values([]string{winner, other, foreign}))...))

	// Deleting the ClusterPushSecret deletes its PushSecrets, and the
	// winner's deletionPolicy Delete removes what it pushed.
	deleteCPS(t, cps.Name, "push", all...)
	waitFor(t, 30*time.Second, "the pushed secret deleted", func() bool { _, ok := remoteValue(srv, remoteKey); return !ok })
}

// pushReason is the reason of the Ready condition of the PushSecret
// ns/push, or "".
func pushReason(ns string) string {
	ps := &v1alpha1.PushSecret{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: "push"}, ps); err != nil {
		return ""
	}
	if c := apimeta.FindStatusCondition(ps.Status.Conditions, v1alpha1.ConditionReady); c != nil && c.ObservedGeneration == ps.Generation {
		return c.Reason
	}
	return ""
}

// TestClusterPushSecret_storePolicy: the PushSecrets a ClusterPushSecret
// writes are checked like any other in their namespace. A
// ClusterSecretStore that allows only one namespace pushes that namespace's
// Secret and refuses the other (StoreNotAllowed, nothing pushed from it).
func TestClusterPushSecret_storePolicy(t *testing.T) {
	srv := awstest.NewServer(t)
	allowed, denied := newNamespace(t, "cps-allowed"), newNamespace(t, "cps-denied")
	c := startController(t, controllers.Options{WatchNamespaces: []string{allowed, denied}})
	defer c.stop()
	for _, ns := range []string{allowed, denied} {
		creds := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "aws-creds", Namespace: ns},
			StringData: map[string]string{"id": awstest.AccessKeyID, "key": awstest.SecretAccessKey}}
		if err := env.Client.Create(ctx, creds); err != nil {
			t.Fatal(err)
		}
		if err := env.Client.Create(ctx, secret(ns, "src", map[string]string{"password": canary("cps-policy-" + ns)})); err != nil {
			t.Fatal(err)
		}
		labelNamespace(t, ns, "cps-policy", allowed)
	}
	css := &v1alpha1.ClusterSecretStore{ObjectMeta: metav1.ObjectMeta{Name: "cps-" + allowed},
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
	remoteKey := allowed + "/cps-policy"
	cps := &v1alpha1.ClusterPushSecret{
		ObjectMeta: metav1.ObjectMeta{Name: "cps-" + allowed},
		Spec: v1alpha1.ClusterPushSecretSpec{
			PushSecretName:     "push",
			NamespaceSelectors: []*metav1.LabelSelector{{MatchLabels: map[string]string{"cps-policy": allowed}}},
			PushSecretSpec: v1alpha1.PushSecretSpec{
				SecretStoreRefs: []v1alpha1.PushSecretStoreRef{{Name: css.Name, Kind: v1alpha1.ClusterSecretStoreKind}},
				Selector:        v1alpha1.PushSecretSelector{Secret: &v1alpha1.PushSecretSecret{Name: "src"}},
				Data:            []v1alpha1.PushSecretData{{Match: v1alpha1.PushSecretMatch{SecretKey: "password", RemoteRef: v1alpha1.PushSecretRemoteRef{RemoteKey: remoteKey}}}},
			},
		},
	}
	if err := env.Client.Create(ctx, cps); err != nil {
		t.Fatal(err)
	}
	defer deleteCPS(t, cps.Name, "push", allowed, denied)
	cpsStatus(t, cps.Name, "both provisioned", cpsProvisioned(metav1.ConditionTrue, slices.Sorted(slices.Values([]string{allowed, denied}))...))
	psCondition(t, allowed, "push", metav1.ConditionTrue, v1alpha1.ReasonPushSynced)
	psCondition(t, denied, "push", metav1.ConditionFalse, v1alpha1.ReasonStoreNotAllowed)
	if v, _ := remoteValue(srv, remoteKey); v != canary("cps-policy-"+allowed) {
		t.Errorf("the remote value is not the allowed namespace's Secret")
	}
}

// TestClusterPushSecret_namespaceLimit: selectors matching more namespaces
// than the limit change nothing and say so (Ready=False,
// TooManyNamespaces).
func TestClusterPushSecret_namespaceLimit(t *testing.T) {
	a, b := newNamespace(t, "cps-limit"), newNamespace(t, "cps-limit")
	c := startController(t, controllers.Options{WatchNamespaces: []string{a, b}, ClusterExternalSecretNamespaceLimit: 1})
	defer c.stop()
	labelNamespace(t, a, "cps-limit", a)
	labelNamespace(t, b, "cps-limit", a)
	cps := &v1alpha1.ClusterPushSecret{
		ObjectMeta: metav1.ObjectMeta{Name: "cps-" + a},
		Spec: v1alpha1.ClusterPushSecretSpec{
			NamespaceSelectors: []*metav1.LabelSelector{{MatchLabels: map[string]string{"cps-limit": a}}},
			PushSecretSpec: v1alpha1.PushSecretSpec{
				SecretStoreRefs: []v1alpha1.PushSecretStoreRef{{Name: "aws"}},
				Selector:        v1alpha1.PushSecretSelector{Secret: &v1alpha1.PushSecretSecret{Name: "src"}},
			},
		},
	}
	if err := env.Client.Create(ctx, cps); err != nil {
		t.Fatal(err)
	}
	defer deleteCPS(t, cps.Name, cps.Name, a, b)
	cpsStatus(t, cps.Name, "too many namespaces", func(c *v1alpha1.ClusterPushSecret) bool {
		cond := apimeta.FindStatusCondition(c.Status.Conditions, v1alpha1.ConditionReady)
		return cond.Status == metav1.ConditionFalse && cond.Reason == v1alpha1.ReasonTooManyNamespaces
	})
	for _, ns := range []string{a, b} {
		if pushChild(t, ns, cps.Name) != nil {
			t.Errorf("a PushSecret in %s although the selectors match too many namespaces", ns)
		}
	}
}
