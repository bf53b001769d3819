package e2e

import (
	"crypto/sha3"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/kseal-dev/kseal/api/esov1"
	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// The takeover tests install External Secrets Operator's own CRDs (copied
// verbatim from its Go module by hack/eso-crds.sh) and create ESO's objects
// and Secrets in the shape ESO's controller leaves them; ESO's controller
// itself is not run here.

var esoCRDsOnce sync.Once

// installESOCRDs installs ESO's CRDs once per test binary, or skips the test
// when hack/eso-crds.sh has not run (fails under KSEAL_REQUIRE_TOOLS).
func installESOCRDs(t *testing.T) {
	t.Helper()
	dir := os.Getenv("KSEAL_ESO_CRDS")
	if dir == "" {
		home, _ := os.UserHomeDir()
		root := os.Getenv("KSEAL_CACHE")
		if root == "" {
			root = filepath.Join(home, ".cache", "kseal")
		}
		dir = filepath.Join(root, "eso-crds-v0.16.2")
	}
	if _, err := os.Stat(filepath.Join(dir, "external-secrets.io_externalsecrets.yaml")); err != nil {
		if requireTools() {
			t.Fatalf("ESO's CRDs not found in %s: run hack/eso-crds.sh", dir)
		}
		t.Skipf("ESO's CRDs not found in %s (run hack/eso-crds.sh)", dir)
	}
	var err error
	esoCRDsOnce.Do(func() {
		_, err = envtest.InstallCRDs(env.Config, envtest.CRDInstallOptions{Paths: []string{dir}, ErrorIfPathMissing: true})
	})
	if err != nil {
		t.Fatalf("installing ESO's CRDs: %v", err)
	}
}

// esoHash is the hash ESO records: SHA3-224 of the value printed with %+v.
func esoHash(v any) string {
	sum := sha3.Sum224([]byte(fmt.Sprintf("%+v", v)))
	return hex.EncodeToString(sum[:])
}

// esoVersion is ESO's syncedResourceVersion of an object.
func esoVersion(m metav1.ObjectMeta) string {
	type meta struct {
		annotations map[string]string
		labels      map[string]string
	}
	return fmt.Sprintf("%d-%s", m.Generation, esoHash(meta{annotations: m.Annotations, labels: m.Labels}))
}

// esoAWSStore creates an ESO SecretStore for srv with static credentials;
// like ESO's own, it has no endpoint field (ESO takes it from
// AWS_SECRETSMANAGER_ENDPOINT, kseal from Options.ESOEndpoints).
func esoAWSStore(t *testing.T, srv *awstest.Server, ns, name string) {
	t.Helper()
	creds := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-creds", Namespace: ns},
		StringData: map[string]string{"id": awstest.AccessKeyID, "key": awstest.SecretAccessKey},
	}
	if err := env.Client.Create(ctx, creds); err != nil {
		t.Fatal(err)
	}
	store := &esov1.SecretStore{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.SecretStoreSpec{Provider: v1alpha1.SecretStoreProvider{AWS: &v1alpha1.AWSProvider{
			Service: v1alpha1.AWSServiceSecretsManager, Region: srv.Region,
			Auth: v1alpha1.AWSAuth{SecretRef: &v1alpha1.AWSAuthSecretRef{
				AccessKeyID:     v1alpha1.SecretKeySelector{Name: creds.Name, Key: "id"},
				SecretAccessKey: v1alpha1.SecretKeySelector{Name: creds.Name, Key: "key"},
			}},
		}}},
	}
	if err := env.Client.Create(ctx, store); err != nil {
		t.Fatal(err)
	}
}

// esoSynced creates an ESO ExternalSecret reading remote key into Secret key
// "value", and then what ESO's controller writes after a sync at
// refreshed: the status, and the Secret with ESO's owner reference, labels
// and data hash.
func esoSynced(t *testing.T, ns, name, store, key, value string, refreshed time.Time) *esov1.ExternalSecret {
	t.Helper()
	es := &esov1.ExternalSecret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.ExternalSecretSpec{
			RefreshInterval: &metav1.Duration{Duration: time.Hour},
			SecretStoreRef:  v1alpha1.SecretStoreRef{Name: store, Kind: v1alpha1.SecretStoreKind},
			Target:          v1alpha1.ExternalSecretTarget{Name: name, CreationPolicy: v1alpha1.CreationPolicyOwner},
			Data:            []v1alpha1.ExternalSecretData{{SecretKey: "value", RemoteRef: v1alpha1.ExternalSecretDataRemoteRef{Key: key}}},
		},
	}
	return esoSyncedObject(t, es, value, refreshed)
}

// esoSyncedObject creates es, and then what ESO's controller writes after
// a sync at refreshed: the status, and the Secret (key "value") with ESO's
// owner reference, labels and data hash.
func esoSyncedObject(t *testing.T, es *esov1.ExternalSecret, value string, refreshed time.Time) *esov1.ExternalSecret {
	t.Helper()
	if err := env.Client.Create(ctx, es); err != nil {
		t.Fatal(err)
	}
	ns, name, target := es.Namespace, es.Name, es.Spec.Target.Name
	yes := true
	data := map[string][]byte{"value": []byte(value)}
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{
			Name: target, Namespace: ns,
			Labels:      map[string]string{esov1.LabelManaged: "true", esov1.LabelCreatedBy: esoHash(ns + "/" + name)},
			Annotations: map[string]string{esov1.AnnotationDataHash: esoHash(data)},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "external-secrets.io/v1", Kind: "ExternalSecret",
				Name: name, UID: es.UID, Controller: &yes, BlockOwnerDeletion: &yes}},
		},
		Type: corev1.SecretTypeOpaque,
		Data: data,
	}
	if err := env.Client.Create(ctx, s); err != nil {
		t.Fatal(err)
	}
	es.Status = esov1.ExternalSecretStatus{
		RefreshTime:           metav1.NewTime(refreshed),
		SyncedResourceVersion: esoVersion(es.ObjectMeta),
		Conditions: []esov1.Condition{{Type: esov1.ConditionReady, Status: corev1.ConditionTrue, Reason: esov1.ReasonSecretSynced,
			Message: "secret synced", LastTransitionTime: metav1.NewTime(refreshed)}},
		Binding: corev1.LocalObjectReference{Name: target},
	}
	if err := env.Client.Status().Update(ctx, es); err != nil {
		t.Fatal(err)
	}
	return es
}

// adoptSize is the number of ExternalSecrets the takeover test creates
// (KSEAL_ADOPT_ESO_N, for measuring; 200 by default).
func adoptSize(t *testing.T) int {
	n := 200
	if v := os.Getenv("KSEAL_ADOPT_ESO_N"); v != "" {
		var err error
		if n, err = strconv.Atoi(v); err != nil || n < 2 {
			t.Fatalf("KSEAL_ADOPT_ESO_N=%q: want a number >= 2", v)
		}
	}
	return n
}

// TestAdoptESO_takeover: kseal starts with --adopt-apis=external-secrets on
// ESO's ExternalSecrets and the Secrets ESO wrote. Half were synced within
// their refresh interval (ESO would not fetch them now: neither does kseal),
// half are due (kseal fetches them, batched, finds the same values and
// writes no Secret). Then a changed remote value changes only its Secret,
// which keeps ESO's bookkeeping, and stopping kseal loses nothing.
func TestAdoptESO_takeover(t *testing.T) {
	installESOCRDs(t)
	n := adoptSize(t)
	srv := awstest.NewServer(t)
	ns := newNamespace(t, "adopt-eso")
	esoAWSStore(t, srv, ns, "aws")
	now := time.Now()
	names := make([]string, n)
	esRV := map[string]string{}
	for i := range n {
		names[i] = fmt.Sprintf("app-%04d", i)
		key, value := ns+"/"+names[i], fmt.Sprintf("value-%d", i)
		srv.CreateSecret(t, key, value, nil)
		refreshed := now.Add(-2 * time.Hour) // due
		if i%2 == 1 {
			refreshed = now.Add(-time.Minute) // not due for an hour
		}
		es := esoSynced(t, ns, names[i], "aws", key, value, refreshed)
		esRV[names[i]] = es.ResourceVersion
	}
	secretRV := esoSecretVersions(t, ns)
	if len(secretRV) != n {
		t.Fatalf("%d Secrets before the takeover, want %d", len(secretRV), n)
	}
	srv.ResetCalls()

	start := time.Now()
	c := startController(t, controllers.Options{
		WatchNamespaces: []string{ns},
		AdoptAPIs:       controllers.AdoptAPIs{controllers.AdoptExternalSecrets: true},
		ESOEndpoints:    controllers.ESOEndpoints{SecretsManager: srv.URL},
		// kseal-controller's default: reads overlap and share batch calls.
		ExternalSecretWorkers: 40,
	})
	stopped := false
	defer func() {
		if !stopped {
			c.stop()
		}
	}()
	due := n / 2
	waitFor(t, 5*time.Minute, fmt.Sprintf("%d due ExternalSecrets refreshed", due), func() bool {
		var list esov1.ExternalSecretList
		if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return false
		}
		refreshed := 0
		for _, es := range list.Items {
			if !es.Status.RefreshTime.Before(&metav1.Time{Time: start.Truncate(time.Second)}) {
				refreshed++
			}
		}
		return refreshed == due
	})
	elapsed := time.Since(start)
	calls := srv.Calls("BatchGetSecretValue") + srv.Calls("GetSecretValue")
	t.Logf("takeover of %d ESO ExternalSecrets (%d due): %s until every due one was refreshed; %d provider calls (%d BatchGetSecretValue, %d GetSecretValue)",
		n, due, elapsed.Round(time.Millisecond), calls, srv.Calls("BatchGetSecretValue"), srv.Calls("GetSecretValue"))

	var list esov1.ExternalSecretList
	if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	for _, es := range list.Items {
		checkESOShape(t, &es)
		isDue := es.Name[len(es.Name)-1]%2 == 0
		if !isDue && es.ResourceVersion != esRV[es.Name] {
			t.Errorf("%s was not due and changed (resourceVersion %s, was %s)", es.Name, es.ResourceVersion, esRV[es.Name])
		}
	}
	if writes := esoChangedSecrets(t, ns, secretRV); len(writes) > 0 {
		t.Errorf("the takeover wrote %d Secrets, want 0: %v", len(writes), writes)
	}
	if calls == 0 || calls >= due {
		t.Errorf("%d provider calls for %d due ExternalSecrets: want some, batched (fewer calls than objects)", calls, due)
	}
	var store esov1.SecretStore
	waitFor(t, 60*time.Second, "ESO SecretStore Ready in ESO's shape", func() bool {
		if err := env.Client.Get(ctx, clientKey(ns, "aws"), &store); err != nil || len(store.Status.Conditions) != 1 {
			return false
		}
		c := store.Status.Conditions[0]
		return c.Type == esov1.ConditionReady && c.Status == corev1.ConditionTrue && c.Reason == esov1.ReasonStoreValid
	})

	// A changed remote value, and ESO's force-sync annotation to fetch now:
	// only that Secret changes, and it keeps what ESO reads.
	changed := names[1] // not due: only the annotation triggers the fetch
	srv.PutSecretValue(t, ns+"/"+changed, "rotated")
	var es esov1.ExternalSecret
	if err := env.Client.Get(ctx, clientKey(ns, changed), &es); err != nil {
		t.Fatal(err)
	}
	es.Annotations = map[string]string{v1alpha1.AnnotationForceSync: "1"}
	if err := env.Client.Update(ctx, &es); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "rotated value synced", func() bool {
		return string(getSecret(t, ns, changed).Data["value"]) == "rotated"
	})
	if writes := esoChangedSecrets(t, ns, secretRV); len(writes) != 1 || writes[0] != changed {
		t.Errorf("Secrets written after one remote change: %v, want only %s", writes, changed)
	}
	s := getSecret(t, ns, changed)
	if s.Labels[esov1.LabelManaged] != "true" || s.Annotations[esov1.AnnotationDataHash] != esoHash(s.Data) {
		t.Errorf("rewritten Secret lost ESO's label or data hash: labels %v", s.Labels)
	}
	if ref := metav1.GetControllerOf(s); ref == nil || ref.APIVersion != "external-secrets.io/v1" || ref.Kind != "ExternalSecret" || ref.UID != es.UID {
		t.Errorf("rewritten Secret owner %+v, want ESO's ExternalSecret %s", ref, es.UID)
	}
	waitFor(t, 30*time.Second, "status of the force-synced ExternalSecret", func() bool {
		if err := env.Client.Get(ctx, clientKey(ns, changed), &es); err != nil {
			return false
		}
		return es.Status.SyncedResourceVersion == esoVersion(es.ObjectMeta)
	})
	checkESOShape(t, &es)

	// The way back: stop kseal; every Secret is still there, as ESO reads it.
	c.stop()
	stopped = true
	for _, name := range names {
		s := getSecret(t, ns, name)
		if s.Annotations[esov1.AnnotationDataHash] != esoHash(s.Data) || s.Labels[esov1.LabelManaged] != "true" {
			t.Errorf("after stopping kseal, Secret %s is not valid for ESO", name)
		}
	}
}

// checkESOShape checks an ExternalSecret's status is what ESO writes for a
// synced object: one Ready condition with ESO's reason, the synced version
// of its current metadata, and the binding.
func checkESOShape(t *testing.T, es *esov1.ExternalSecret) {
	t.Helper()
	st := es.Status
	if len(st.Conditions) != 1 || st.Conditions[0].Type != esov1.ConditionReady || st.Conditions[0].Status != corev1.ConditionTrue ||
		st.Conditions[0].Reason != esov1.ReasonSecretSynced {
		t.Errorf("%s: conditions %+v, want one Ready=True SecretSynced", es.Name, st.Conditions)
	}
	if st.SyncedResourceVersion != esoVersion(es.ObjectMeta) || st.Binding.Name != es.Name || st.RefreshTime.IsZero() {
		t.Errorf("%s: status %+v not in ESO's synced shape (want syncedResourceVersion %s)", es.Name, st, esoVersion(es.ObjectMeta))
	}
}

func esoSecretVersions(t *testing.T, ns string) map[string]string {
	t.Helper()
	var list corev1.SecretList
	if err := env.Client.List(ctx, &list, client.InNamespace(ns), client.MatchingLabels{esov1.LabelManaged: "true"}); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, s := range list.Items {
		out[s.Name] = s.ResourceVersion
	}
	return out
}

// changedSecrets lists the Secrets whose resourceVersion changed.
func esoChangedSecrets(t *testing.T, ns string, before map[string]string) []string {
	t.Helper()
	var out []string
	for name, rv := range esoSecretVersions(t, ns) {
		if before[name] != rv {
			out = append(out, name)
		}
	}
	return out
}
