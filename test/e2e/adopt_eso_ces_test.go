package e2e

import (
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kseal-dev/kseal/api/esov1"
	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// esoAWSClusterStore creates an ESO ClusterSecretStore for srv whose
// credentials are in namespace ns.
func esoAWSClusterStore(t *testing.T, srv *awstest.Server, ns, name string) {
	t.Helper()
	creds := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-creds", Namespace: ns},
		StringData: map[string]string{"id": awstest.AccessKeyID, "key": awstest.SecretAccessKey},
	}
	if err := env.Client.Create(ctx, creds); err != nil {
		t.Fatal(err)
	}
	store := &esov1.ClusterSecretStore{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: v1alpha1.SecretStoreSpec{Provider: v1alpha1.SecretStoreProvider{AWS: &v1alpha1.AWSProvider{
			Service: v1alpha1.AWSServiceSecretsManager, Region: srv.Region,
			Auth: v1alpha1.AWSAuth{SecretRef: &v1alpha1.AWSAuthSecretRef{
				AccessKeyID:     v1alpha1.SecretKeySelector{Name: creds.Name, Key: "id", Namespace: ns},
				SecretAccessKey: v1alpha1.SecretKeySelector{Name: creds.Name, Key: "key", Namespace: ns},
			}},
		}}},
	}
	if err := env.Client.Create(ctx, store); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(ctx, store) })
}

// esoProvisioned creates, in ns, the ExternalSecret ESO's controller writes
// for ces (its spec, the metadata labels, ces as controller), and the
// Secret and status ESO leaves after a sync a minute ago.
func esoProvisioned(t *testing.T, ces *esov1.ClusterExternalSecret, ns, value string) *esov1.ExternalSecret {
	t.Helper()
	yes := true
	es := &esov1.ExternalSecret{
		ObjectMeta: metav1.ObjectMeta{Name: ces.Name, Namespace: ns, Labels: ces.Spec.ExternalSecretMetadata.Labels,
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "external-secrets.io/v1", Kind: "ClusterExternalSecret",
				Name: ces.Name, UID: ces.UID, Controller: &yes, BlockOwnerDeletion: &yes}}},
		Spec: *ces.Spec.ExternalSecretSpec.DeepCopy(),
	}
	return esoSyncedObject(t, es, value, time.Now().Add(-time.Minute))
}

// TestAdoptESO_clusterExternalSecretTakeover: kseal takes over an ESO
// ClusterExternalSecret and the ExternalSecrets ESO provisioned in the
// namespaces it selects: none is rewritten, no Secret is written, and the
// ClusterExternalSecret's ESO-shaped status is left as ESO wrote it. A
// namespace labelled later gets the one new ExternalSecret (controlled by
// ESO's ClusterExternalSecret, its Secret synced); one holding a foreign
// ExternalSecret of that name is reported as ESO reports it and left alone.
func TestAdoptESO_clusterExternalSecretTakeover(t *testing.T) {
	installESOCRDs(t)
	n := max(adoptSize(t)/10, 2)
	srv := awstest.NewServer(t)
	storeNS := newNamespace(t, "adopt-eso-ces")
	esoAWSClusterStore(t, srv, storeNS, "aws-"+storeNS)
	srv.CreateSecret(t, storeNS+"/app", "shared", nil)
	label := map[string]string{"kseal-test-ces": storeNS}
	ces := &esov1.ClusterExternalSecret{
		ObjectMeta: metav1.ObjectMeta{Name: "ces-" + storeNS},
		Spec: v1alpha1.ClusterExternalSecretSpec{
			NamespaceSelectors:     []*metav1.LabelSelector{{MatchLabels: label}},
			ExternalSecretMetadata: v1alpha1.ExternalSecretMetadata{Labels: map[string]string{"team": "payments"}},
			ExternalSecretSpec: v1alpha1.ExternalSecretSpec{
				RefreshInterval: &metav1.Duration{Duration: time.Hour},
				SecretStoreRef:  v1alpha1.SecretStoreRef{Name: "aws-" + storeNS, Kind: v1alpha1.ClusterSecretStoreKind},
				Target:          v1alpha1.ExternalSecretTarget{Name: "app", CreationPolicy: v1alpha1.CreationPolicyOwner},
				Data:            []v1alpha1.ExternalSecretData{{SecretKey: "value", RemoteRef: v1alpha1.ExternalSecretDataRemoteRef{Key: storeNS + "/app"}}},
			},
		},
	}
	if err := env.Client.Create(ctx, ces); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(ctx, ces) })
	watch := []string{storeNS}
	var provisioned []string
	esRV := map[string]string{}
	for range n {
		ns := newNamespace(t, "adopt-eso-ces-team")
		setNamespaceLabels(t, ns, label)
		es := esoProvisioned(t, ces, ns, "shared")
		esRV[ns] = es.ResourceVersion
		provisioned = append(provisioned, ns)
		watch = append(watch, ns)
	}
	slices.Sort(provisioned)
	ces.Status = esov1.ClusterExternalSecretStatus{ExternalSecretName: ces.Name, ProvisionedNamespaces: provisioned,
		Conditions: []esov1.ClusterExternalSecretCondition{{Type: "Ready", Status: corev1.ConditionTrue}}}
	if err := env.Client.Status().Update(ctx, ces); err != nil {
		t.Fatal(err)
	}
	cesRV := ces.ResourceVersion
	secretRV := map[string]string{}
	for _, ns := range provisioned {
		secretRV[ns] = getSecret(t, ns, "app").ResourceVersion
	}
	// Not selected yet: one empty namespace, one with a foreign
	// ExternalSecret of the provisioned name.
	later, foreignNS := newNamespace(t, "adopt-eso-ces-later"), newNamespace(t, "adopt-eso-ces-foreign")
	watch = append(watch, later, foreignNS)
	foreign := &esov1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Name: ces.Name, Namespace: foreignNS},
		Spec: v1alpha1.ExternalSecretSpec{SecretStoreRef: v1alpha1.SecretStoreRef{Name: "elsewhere"}, Target: v1alpha1.ExternalSecretTarget{Name: "other"}}}
	if err := env.Client.Create(ctx, foreign); err != nil {
		t.Fatal(err)
	}

	c := startController(t, controllers.Options{
		WatchNamespaces: watch,
		AdoptAPIs:       controllers.AdoptAPIs{controllers.AdoptExternalSecrets: true},
		ESOEndpoints:    controllers.ESOEndpoints{SecretsManager: srv.URL},
	})
	defer c.stop()

	// The labelled namespace: one new ExternalSecret, its Secret synced.
	setNamespaceLabels(t, later, label)
	waitFor(t, 60*time.Second, "the ExternalSecret in the newly selected namespace synced", func() bool {
		s := &corev1.Secret{}
		return env.Client.Get(ctx, clientKey(later, "app"), s) == nil && string(s.Data["value"]) == "shared"
	})
	var es esov1.ExternalSecret
	if err := env.Client.Get(ctx, clientKey(later, ces.Name), &es); err != nil {
		t.Fatal(err)
	}
	if ref := metav1.GetControllerOf(&es); ref == nil || ref.APIVersion != "external-secrets.io/v1" || ref.Kind != "ClusterExternalSecret" || ref.UID != ces.UID {
		t.Errorf("new ExternalSecret's controller %+v, want ESO's ClusterExternalSecret %s", ref, ces.UID)
	}
	if es.Labels["team"] != "payments" {
		t.Errorf("new ExternalSecret labels %v, want the metadata's", es.Labels)
	}
	waitFor(t, 30*time.Second, "the ClusterExternalSecret's status with the new namespace", func() bool {
		return env.Client.Get(ctx, clientKey("", ces.Name), ces) == nil && slices.Contains(ces.Status.ProvisionedNamespaces, later)
	})
	if len(ces.Status.ProvisionedNamespaces) != n+1 || len(ces.Status.Conditions) != 1 || ces.Status.Conditions[0] != (esov1.ClusterExternalSecretCondition{Type: "Ready", Status: corev1.ConditionTrue}) {
		t.Errorf("ClusterExternalSecret status %+v, want %d namespaces and ESO's Ready=True", ces.Status, n+1)
	}
	if ces.ResourceVersion == cesRV {
		t.Errorf("the ClusterExternalSecret's status was not updated")
	}
	for _, ns := range provisioned {
		var have esov1.ExternalSecret
		if err := env.Client.Get(ctx, clientKey(ns, ces.Name), &have); err != nil {
			t.Fatal(err)
		}
		if have.ResourceVersion != esRV[ns] {
			t.Errorf("the ExternalSecret ESO provisioned in %s was rewritten", ns)
		}
		if rv := getSecret(t, ns, "app").ResourceVersion; rv != secretRV[ns] {
			t.Errorf("the Secret in %s was written", ns)
		}
	}

	// A namespace whose ExternalSecret of that name is not the
	// ClusterExternalSecret's: reported as ESO does, left untouched.
	foreignGen := foreign.Generation
	setNamespaceLabels(t, foreignNS, label)
	waitFor(t, 60*time.Second, "the foreign namespace reported failed", func() bool {
		if err := env.Client.Get(ctx, clientKey("", ces.Name), ces); err != nil || len(ces.Status.Conditions) != 1 {
			return false
		}
		return ces.Status.Conditions[0] == esov1.ClusterExternalSecretCondition{Type: "Ready", Status: corev1.ConditionFalse, Message: esov1.MessageNamespacesFailed} &&
			len(ces.Status.FailedNamespaces) == 1 && ces.Status.FailedNamespaces[0].Namespace == foreignNS
	})
	// Its own status is the ExternalSecret reconciler's (its store is
	// missing); its spec, labels and owners are the user's.
	if err := env.Client.Get(ctx, clientKey(foreignNS, ces.Name), foreign); err != nil || foreign.Generation != foreignGen ||
		len(foreign.Labels) != 0 || len(foreign.OwnerReferences) != 0 {
		t.Errorf("the foreign ExternalSecret was changed (%v): %+v", err, foreign.ObjectMeta)
	}
}

// setNamespaceLabels adds labels to a namespace.
func setNamespaceLabels(t *testing.T, name string, labels map[string]string) {
	t.Helper()
	ns := &corev1.Namespace{}
	if err := env.Client.Get(ctx, clientKey("", name), ns); err != nil {
		t.Fatal(err)
	}
	if ns.Labels == nil {
		ns.Labels = map[string]string{}
	}
	for k, v := range labels {
		ns.Labels[k] = v
	}
	if err := env.Client.Update(ctx, ns); err != nil {
		t.Fatal(fmt.Errorf("label namespace %s: %w", name, err))
	}
}
