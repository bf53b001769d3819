package e2e

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	authenticationv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// awsStore creates a SecretStore for srv with static credentials.
func awsStore(t testing.TB, srv *awstest.Server, ns, name string) {
	t.Helper()
	creds := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name + "-creds", Namespace: ns},
		StringData: map[string]string{"id": awstest.AccessKeyID, "key": awstest.SecretAccessKey},
	}
	if err := env.Client.Create(ctx, creds); err != nil {
		t.Fatal(err)
	}
	store := &v1alpha1.SecretStore{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.SecretStoreSpec{Provider: v1alpha1.SecretStoreProvider{AWS: &v1alpha1.AWSProvider{
			Service: v1alpha1.AWSServiceSecretsManager, Region: srv.Region, Endpoint: srv.URL,
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

func externalSecret(ns, name, store string, refresh time.Duration, data ...v1alpha1.ExternalSecretData) *v1alpha1.ExternalSecret {
	return &v1alpha1.ExternalSecret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: v1alpha1.ExternalSecretSpec{
			RefreshInterval: &metav1.Duration{Duration: refresh},
			SecretStoreRef:  v1alpha1.SecretStoreRef{Name: store},
			Data:            data,
		},
	}
}

func ref(secretKey, key, property string) v1alpha1.ExternalSecretData {
	return v1alpha1.ExternalSecretData{SecretKey: secretKey, RemoteRef: v1alpha1.ExternalSecretDataRemoteRef{Key: key, Property: property}}
}

// esCondition waits for the ExternalSecret's Ready condition to have status
// and (if non-empty) reason.
func esCondition(t testing.TB, ns, name string, status metav1.ConditionStatus, reason string) *metav1.Condition {
	t.Helper()
	var cond *metav1.Condition
	waitFor(t, 60*time.Second, fmt.Sprintf("ExternalSecret %s/%s Ready=%s %s", ns, name, status, reason), func() bool {
		es := &v1alpha1.ExternalSecret{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, es); err != nil {
			return false
		}
		cond = apimeta.FindStatusCondition(es.Status.Conditions, v1alpha1.ConditionReady)
		return cond != nil && cond.Status == status && (reason == "" || cond.Reason == reason) && cond.ObservedGeneration == es.Generation
	})
	return cond
}

func storeReady(t testing.TB, ns, name string, status metav1.ConditionStatus) *metav1.Condition {
	t.Helper()
	var cond *metav1.Condition
	waitFor(t, 60*time.Second, "store "+name+" Ready="+string(status), func() bool {
		s := &v1alpha1.SecretStore{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
			return false
		}
		cond = apimeta.FindStatusCondition(s.Status.Conditions, v1alpha1.ConditionReady)
		return cond != nil && cond.Status == status
	})
	return cond
}

func TestExternalSecret_awsSync(t *testing.T) {
	srv := awstest.NewServer(t)
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "es-aws")
	key := ns + "/db"
	srv.CreateSecret(t, key, fmt.Sprintf(`{"username":"app","password":%q,"conn":{"port":5432}}`, canary("aws-db")), nil)
	srv.CreateSecret(t, ns+"/plain", canary("aws-plain"), nil)
	awsStore(t, srv, ns, "aws")
	storeReady(t, ns, "aws", metav1.ConditionTrue)

	es := externalSecret(ns, "db", "aws", time.Hour,
		ref("password", key, "password"), ref("port", key, "conn.port"), ref("plain", ns+"/plain", ""))
	es.Spec.DataFrom = []v1alpha1.ExternalSecretDataFromRemoteRef{{Extract: &v1alpha1.ExternalSecretDataRemoteRef{Key: key}}}
	if err := env.Client.Create(ctx, es); err != nil {
		t.Fatal(err)
	}
	esCondition(t, ns, "db", metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
	got := getSecret(t, ns, "db")
	if string(got.Data["password"]) != canary("aws-db") || string(got.Data["port"]) != "5432" ||
		string(got.Data["plain"]) != canary("aws-plain") || string(got.Data["username"]) != "app" {
		t.Errorf("synced data has %d keys: %v", len(got.Data), keysOf(got.Data))
	}
	if ref := metav1.GetControllerOf(got); ref == nil || ref.Kind != "ExternalSecret" {
		t.Errorf("owner %v", ref)
	}

	// A hand edit is repaired.
	got.Data["password"] = []byte("edited")
	if err := env.Client.Update(ctx, got); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 30*time.Second, "drift repaired", func() bool {
		return string(getSecret(t, ns, "db").Data["password"]) == canary("aws-db")
	})

	// Template: the Secret holds the templated keys.
	tmpl := externalSecret(ns, "dsn", "aws", time.Hour, ref("user", key, "username"), ref("pass", key, "password"))
	tmpl.Spec.Target.Template = &v1alpha1.ExternalSecretTemplate{
		Type:     corev1.SecretTypeOpaque,
		Metadata: v1alpha1.ExternalSecretTemplateMetadata{Labels: map[string]string{"app": "shop"}},
		Data:     map[string]string{"dsn": "postgres://{{ .user }}:{{ .pass }}@db/shop"},
	}
	if err := env.Client.Create(ctx, tmpl); err != nil {
		t.Fatal(err)
	}
	esCondition(t, ns, "dsn", metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
	if got := getSecret(t, ns, "dsn"); string(got.Data["dsn"]) != "postgres://app:"+canary("aws-db")+"@db/shop" || got.Labels["app"] != "shop" || len(got.Data) != 1 {
		t.Errorf("templated Secret: keys %v labels %v", keysOf(got.Data), got.Labels)
	}
}

func TestExternalSecret_badInputs(t *testing.T) {
	srv := awstest.NewServer(t)
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "es-bad")
	srv.CreateSecret(t, ns+"/json", `{"a":"b"}`, nil)
	srv.CreateSecret(t, ns+"/text", "not json at all", nil)
	awsStore(t, srv, ns, "aws")

	cases := []struct {
		name   string
		data   v1alpha1.ExternalSecretData
		reason string
	}{
		{"missing-key", ref("x", ns+"/missing", ""), v1alpha1.ReasonRemoteNotFound},
		{"missing-property", ref("x", ns+"/json", "nope"), v1alpha1.ReasonRemoteNotFound},
		{"property-on-text", ref("x", ns+"/text", "field"), v1alpha1.ReasonInvalidSpec},
	}
	for _, tc := range cases {
		if err := env.Client.Create(ctx, externalSecret(ns, tc.name, "aws", time.Hour, tc.data)); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range cases {
		cond := esCondition(t, ns, tc.name, metav1.ConditionFalse, tc.reason)
		if strings.Contains(cond.Message, "not json at all") {
			t.Errorf("%s: condition leaks the value: %s", tc.name, cond.Message)
		}
		if getSecret(t, ns, tc.name) != nil {
			t.Errorf("%s: a Secret was written", tc.name)
		}
	}

	// A store with wrong credentials: the store and its ExternalSecrets say so.
	bad := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "wrong-creds", Namespace: ns},
		StringData: map[string]string{"id": "AKIAWRONG", "key": "wrong"}}
	if err := env.Client.Create(ctx, bad); err != nil {
		t.Fatal(err)
	}
	store := &v1alpha1.SecretStore{ObjectMeta: metav1.ObjectMeta{Name: "wrong", Namespace: ns},
		Spec: v1alpha1.SecretStoreSpec{Provider: v1alpha1.SecretStoreProvider{AWS: &v1alpha1.AWSProvider{
			Service: v1alpha1.AWSServiceSecretsManager, Region: srv.Region, Endpoint: srv.URL,
			Auth: v1alpha1.AWSAuth{SecretRef: &v1alpha1.AWSAuthSecretRef{
				AccessKeyID:     v1alpha1.SecretKeySelector{Name: "wrong-creds", Key: "id"},
				SecretAccessKey: v1alpha1.SecretKeySelector{Name: "wrong-creds", Key: "key"},
			}}}}}}
	if err := env.Client.Create(ctx, store); err != nil {
		t.Fatal(err)
	}
	storeReady(t, ns, "wrong", metav1.ConditionFalse)
	if err := env.Client.Create(ctx, externalSecret(ns, "wrong-creds-es", "wrong", time.Hour, ref("a", ns+"/json", "a"))); err != nil {
		t.Fatal(err)
	}
	esCondition(t, ns, "wrong-creds-es", metav1.ConditionFalse, v1alpha1.ReasonProviderError)

	// A ClusterSecretStore that does not allow this namespace.
	css := &v1alpha1.ClusterSecretStore{ObjectMeta: metav1.ObjectMeta{Name: "only-" + ns},
		Spec: v1alpha1.SecretStoreSpec{
			Conditions: []v1alpha1.ClusterSecretStoreCondition{{Namespaces: []string{"somewhere-else"}}},
			Provider: v1alpha1.SecretStoreProvider{AWS: &v1alpha1.AWSProvider{
				Service: v1alpha1.AWSServiceSecretsManager, Region: srv.Region, Endpoint: srv.URL,
				Auth: v1alpha1.AWSAuth{SecretRef: &v1alpha1.AWSAuthSecretRef{
					AccessKeyID:     v1alpha1.SecretKeySelector{Name: "aws-creds", Key: "id", Namespace: ns},
					SecretAccessKey: v1alpha1.SecretKeySelector{Name: "aws-creds", Key: "key", Namespace: ns},
				}}}}}}
	if err := env.Client.Create(ctx, css); err != nil {
		t.Fatal(err)
	}
	es := externalSecret(ns, "not-allowed", css.Name, time.Hour, ref("a", ns+"/json", "a"))
	es.Spec.SecretStoreRef.Kind = v1alpha1.ClusterSecretStoreKind
	if err := env.Client.Create(ctx, es); err != nil {
		t.Fatal(err)
	}
	esCondition(t, ns, "not-allowed", metav1.ConditionFalse, v1alpha1.ReasonStoreNotAllowed)
	if getSecret(t, ns, "not-allowed") != nil {
		t.Error("a disallowed namespace got a Secret")
	}
}

// TestExternalSecret_providerOutage: a provider that fails mid-life (5xx,
// then throttling) never deletes or blanks the Secret; the condition says
// why, and the sync recovers when the provider does.
func TestExternalSecret_providerOutage(t *testing.T) {
	srv := awstest.NewServer(t)
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "es-outage")
	srv.CreateSecret(t, ns+"/v", `{"token":"`+canary("outage")+`"}`, nil)
	awsStore(t, srv, ns, "aws")
	if err := env.Client.Create(ctx, externalSecret(ns, "app", "aws", 2*time.Second, ref("token", ns+"/v", "token"))); err != nil {
		t.Fatal(err)
	}
	esCondition(t, ns, "app", metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)

	for _, fault := range []awstest.Fault{awstest.InternalError, awstest.Throttling} {
		srv.Fail("GetSecretValue", awstest.Always, fault)
		srv.Fail("BatchGetSecretValue", awstest.Always, fault)
		cond := esCondition(t, ns, "app", metav1.ConditionFalse, v1alpha1.ReasonProviderError)
		if !strings.Contains(cond.Message, fault.Code) && !strings.Contains(strings.ToLower(cond.Message), "status") {
			t.Logf("%s: condition message %q", fault.Code, cond.Message)
		}
		if got := getSecret(t, ns, "app"); got == nil || string(got.Data["token"]) != canary("outage") {
			t.Fatalf("%s: the Secret was deleted or changed during the outage", fault.Code)
		}
		srv.ClearFaults()
		esCondition(t, ns, "app", metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
	}
}

func TestExternalSecret_policies(t *testing.T) {
	srv := awstest.NewServer(t)
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "es-policy")
	srv.CreateSecret(t, ns+"/v", `{"a":"`+canary("policy")+`"}`, nil)
	awsStore(t, srv, ns, "aws")

	// Merge: into an existing Secret, keeping its other keys, no owner.
	existing := secret(ns, "merged", nil)
	existing.Data = map[string][]byte{"theirs": []byte("keep")}
	if err := env.Client.Create(ctx, existing); err != nil {
		t.Fatal(err)
	}
	merge := externalSecret(ns, "merged", "aws", time.Hour, ref("a", ns+"/v", "a"))
	merge.Spec.Target.CreationPolicy = v1alpha1.CreationPolicyMerge
	// Orphan: no owner reference.
	orphan := externalSecret(ns, "orphan", "aws", time.Hour, ref("a", ns+"/v", "a"))
	orphan.Spec.Target.CreationPolicy = v1alpha1.CreationPolicyOrphan
	// None: nothing written.
	none := externalSecret(ns, "none", "aws", time.Hour, ref("a", ns+"/v", "a"))
	none.Spec.Target.CreationPolicy = v1alpha1.CreationPolicyNone
	// Owner on a Secret that is not ours: refused.
	taken := secret(ns, "taken", nil)
	taken.Data = map[string][]byte{"x": []byte("hand-made")}
	if err := env.Client.Create(ctx, taken); err != nil {
		t.Fatal(err)
	}
	owner := externalSecret(ns, "taken", "aws", time.Hour, ref("a", ns+"/v", "a"))
	for _, es := range []*v1alpha1.ExternalSecret{merge, orphan, none, owner} {
		if err := env.Client.Create(ctx, es); err != nil {
			t.Fatal(err)
		}
	}
	esCondition(t, ns, "merged", metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
	if got := getSecret(t, ns, "merged"); string(got.Data["theirs"]) != "keep" || string(got.Data["a"]) != canary("policy") || len(got.OwnerReferences) != 0 {
		t.Errorf("Merge: keys %v owners %v", keysOf(got.Data), got.OwnerReferences)
	}
	esCondition(t, ns, "orphan", metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
	if got := getSecret(t, ns, "orphan"); len(got.OwnerReferences) != 0 || string(got.Data["a"]) != canary("policy") {
		t.Errorf("Orphan: owners %v", got.OwnerReferences)
	}
	esCondition(t, ns, "none", metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
	if getSecret(t, ns, "none") != nil {
		t.Error("None wrote a Secret")
	}
	esCondition(t, ns, "taken", metav1.ConditionFalse, v1alpha1.ReasonSecretNotOwned)
	if got := getSecret(t, ns, "taken"); string(got.Data["x"]) != "hand-made" {
		t.Error("Owner overwrote a Secret it does not own")
	}

	// deletionPolicy Delete: when the remote secret is gone, the owned
	// Secret is deleted; Retain keeps it.
	srv.CreateSecret(t, ns+"/gone", `{"a":"b"}`, nil)
	del := externalSecret(ns, "del", "aws", 2*time.Second, ref("a", ns+"/gone", "a"))
	del.Spec.Target.DeletionPolicy = v1alpha1.DeletionPolicyDelete
	keep := externalSecret(ns, "keep", "aws", 2*time.Second, ref("a", ns+"/gone", "a"))
	for _, es := range []*v1alpha1.ExternalSecret{del, keep} {
		if err := env.Client.Create(ctx, es); err != nil {
			t.Fatal(err)
		}
		esCondition(t, ns, es.Name, metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
	}
	force := true
	if _, err := srv.Admin().DeleteSecret(ctx, deleteInput(ns+"/gone", force)); err != nil {
		t.Fatal(err)
	}
	// As External Secrets Operator reports it: Ready, SecretDeleted.
	esCondition(t, ns, "del", metav1.ConditionTrue, v1alpha1.ReasonSecretDeleted)
	waitFor(t, 30*time.Second, "Secret deleted by deletionPolicy Delete", func() bool { return getSecret(t, ns, "del") == nil })
	esCondition(t, ns, "keep", metav1.ConditionFalse, v1alpha1.ReasonRemoteNotFound)
	if getSecret(t, ns, "keep") == nil {
		t.Error("deletionPolicy Retain lost the Secret")
	}
}

// TestExternalSecret_webIdentity: a store authenticating with a service
// account token from the TokenRequest API; the emulated STS accepts only
// tokens the API server confirms with a TokenReview.
func TestExternalSecret_webIdentity(t *testing.T) {
	srv := awstest.NewServer(t)
	kube, err := kubernetes.NewForConfig(env.Config)
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	roles := map[string]int{}
	srv.SetTokenVerifier(func(ctx context.Context, token, role string) error {
		mu.Lock()
		roles[role]++
		mu.Unlock()
		tr, err := kube.AuthenticationV1().TokenReviews().Create(ctx, &authenticationv1.TokenReview{
			Spec: authenticationv1.TokenReviewSpec{Token: token, Audiences: []string{"sts.amazonaws.com"}}}, metav1.CreateOptions{})
		if err != nil {
			return err
		}
		if !tr.Status.Authenticated {
			return errors.New("token not authenticated: " + tr.Status.Error)
		}
		return nil
	})
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "es-irsa")
	if err := env.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "app", Namespace: ns}}); err != nil {
		t.Fatal(err)
	}
	srv.CreateSecret(t, ns+"/v", canary("irsa"), nil)
	store := &v1alpha1.SecretStore{ObjectMeta: metav1.ObjectMeta{Name: "irsa", Namespace: ns},
		Spec: v1alpha1.SecretStoreSpec{Provider: v1alpha1.SecretStoreProvider{AWS: &v1alpha1.AWSProvider{
			Service: v1alpha1.AWSServiceSecretsManager, Region: srv.Region, Endpoint: srv.URL,
			Role: "arn:aws:iam::000000000000:role/app", STSEndpoint: srv.URL,
			Auth: v1alpha1.AWSAuth{JWT: &v1alpha1.AWSJWTAuth{ServiceAccountRef: v1alpha1.ServiceAccountSelector{Name: "app"}}},
		}}}}
	if err := env.Client.Create(ctx, store); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, externalSecret(ns, "app", "irsa", time.Hour, ref("v", ns+"/v", ""))); err != nil {
		t.Fatal(err)
	}
	esCondition(t, ns, "app", metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
	if got := getSecret(t, ns, "app"); string(got.Data["v"]) != canary("irsa") {
		t.Error("web identity sync returned wrong data")
	}
	if srv.Calls("AssumeRoleWithWebIdentity") == 0 {
		t.Error("no AssumeRoleWithWebIdentity call")
	}

	// IRSA as on EKS and in External Secrets Operator: without a role in
	// the store, the service account's eks.amazonaws.com/role-arn is
	// assumed; with one, the store's role is assumed on top of it.
	const saRole, storeRole = "arn:aws:iam::000000000000:role/from-sa", "arn:aws:iam::000000000000:role/on-top"
	annotated := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "annotated", Namespace: ns,
		Annotations: map[string]string{controllers.AnnotationIRSARole: saRole}}}
	if err := env.Client.Create(ctx, annotated); err != nil {
		t.Fatal(err)
	}
	for _, s := range []struct{ name, role string }{{"irsa-sa", ""}, {"irsa-chain", storeRole}} {
		store := &v1alpha1.SecretStore{ObjectMeta: metav1.ObjectMeta{Name: s.name, Namespace: ns},
			Spec: v1alpha1.SecretStoreSpec{Provider: v1alpha1.SecretStoreProvider{AWS: &v1alpha1.AWSProvider{
				Service: v1alpha1.AWSServiceSecretsManager, Region: srv.Region, Endpoint: srv.URL, STSEndpoint: srv.URL, Role: s.role,
				Auth: v1alpha1.AWSAuth{JWT: &v1alpha1.AWSJWTAuth{ServiceAccountRef: v1alpha1.ServiceAccountSelector{Name: "annotated"}}},
			}}}}
		if err := env.Client.Create(ctx, store); err != nil {
			t.Fatal(err)
		}
		if err := env.Client.Create(ctx, externalSecret(ns, s.name, s.name, time.Hour, ref("v", ns+"/v", ""))); err != nil {
			t.Fatal(err)
		}
		esCondition(t, ns, s.name, metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
	}
	mu.Lock()
	defer mu.Unlock()
	if roles[saRole] == 0 {
		t.Errorf("the service account's role was never assumed with its token (roles %v)", roles)
	}
	if roles[storeRole] != 0 {
		t.Errorf("the store's role was assumed with the token, want it on top of the service account's role")
	}
	if srv.Calls("AssumeRole") == 0 {
		t.Error("no AssumeRole call for the store's role on top")
	}
}

func keysOf(m map[string][]byte) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// TestExternalSecret_clusterStoreReadsCredentialsInEachNamespace: as in
// External Secrets Operator, a ClusterSecretStore whose credential reference
// names no namespace reads it in the namespace of each ExternalSecret: a
// namespace with valid keys syncs, one with wrong keys fails, and neither
// sees the other's credentials.
func TestExternalSecret_clusterStoreReadsCredentialsInEachNamespace(t *testing.T) {
	srv := awstest.NewServer(t)
	c := startController(t, controllers.Options{})
	defer c.stop()
	good, bad := newNamespace(t, "css-good"), newNamespace(t, "css-bad")
	srv.CreateSecret(t, good+"/v", canary("per-namespace"), nil)
	srv.CreateSecret(t, bad+"/v", canary("per-namespace-bad"), nil)
	for ns, key := range map[string]string{good: awstest.SecretAccessKey, bad: "wrong-secret-key"} {
		creds := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "aws-creds", Namespace: ns},
			StringData: map[string]string{"id": awstest.AccessKeyID, "key": key}}
		if err := env.Client.Create(ctx, creds); err != nil {
			t.Fatal(err)
		}
	}
	css := &v1alpha1.ClusterSecretStore{ObjectMeta: metav1.ObjectMeta{Name: "per-ns-" + good},
		Spec: v1alpha1.SecretStoreSpec{Provider: v1alpha1.SecretStoreProvider{AWS: &v1alpha1.AWSProvider{
			Service: v1alpha1.AWSServiceSecretsManager, Region: srv.Region, Endpoint: srv.URL,
			Auth: v1alpha1.AWSAuth{SecretRef: &v1alpha1.AWSAuthSecretRef{
				AccessKeyID:     v1alpha1.SecretKeySelector{Name: "aws-creds", Key: "id"},
				SecretAccessKey: v1alpha1.SecretKeySelector{Name: "aws-creds", Key: "key"},
			}}}}}}
	if err := env.Client.Create(ctx, css); err != nil {
		t.Fatal(err)
	}
	for _, ns := range []string{good, bad} {
		es := externalSecret(ns, "app", css.Name, time.Hour, ref("v", ns+"/v", ""))
		es.Spec.SecretStoreRef.Kind = v1alpha1.ClusterSecretStoreKind
		if err := env.Client.Create(ctx, es); err != nil {
			t.Fatal(err)
		}
	}
	esCondition(t, good, "app", metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
	if got := getSecret(t, good, "app"); string(got.Data["v"]) != canary("per-namespace") {
		t.Error("wrong data")
	}
	esCondition(t, bad, "app", metav1.ConditionFalse, v1alpha1.ReasonProviderError)
	if getSecret(t, bad, "app") != nil {
		t.Error("a namespace with wrong keys got a Secret")
	}
	waitFor(t, 30*time.Second, "the store reads as accepted", func() bool {
		var got v1alpha1.ClusterSecretStore
		if err := env.Client.Get(ctx, clientKey("", css.Name), &got); err != nil {
			return false
		}
		cond := apimeta.FindStatusCondition(got.Status.Conditions, v1alpha1.ConditionReady)
		return cond != nil && cond.Status == metav1.ConditionTrue
	})
}
