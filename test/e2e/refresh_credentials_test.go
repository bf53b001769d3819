package e2e

import (
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// setCredentials replaces the data of the AWS credentials Secret ns/name.
func setCredentials(t testing.TB, ns, name, id, key string) {
	t.Helper()
	s := getSecret(t, ns, name)
	s.Data = map[string][]byte{"id": []byte(id), "key": []byte(key)}
	if err := env.Client.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
}

// settleExternalSecrets syncs ExternalSecret ns/name (already synced from
// remote key ns/name) through force-sync and waits for its new value. The
// ExternalSecret controller of these tests has one worker and a FIFO queue,
// so every reconcile queued before has run by then.
func settleExternalSecrets(t testing.TB, srv *awstest.Server, ns, name string) {
	t.Helper()
	srv.PutSecretValue(t, ns+"/"+name, canary(ns+"-settled"))
	// The controller writes the object's status meanwhile: retry on a
	// conflict with its writes.
	if err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		es := &v1alpha1.ExternalSecret{}
		if err := env.Client.Get(ctx, clientKey(ns, name), es); err != nil {
			return err
		}
		es.Annotations = map[string]string{v1alpha1.AnnotationForceSync: "settle"}
		return env.Client.Update(ctx, es)
	}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 60*time.Second, "the settle point "+ns+"/"+name+" synced", func() bool {
		return string(getSecret(t, ns, name).Data["v"]) == canary(ns+"-settled")
	})
}

// TestRefresh_storeCredentialsChangeRefreshesAtOnce: rotating the access
// key in a SecretStore's credentials Secret refreshes its ExternalSecret at
// once (the refresh interval is an hour); the same rotation of a Secret of
// the same name in another namespace refreshes only that namespace's
// ExternalSecret; a label change of the credentials Secret refreshes
// nothing.
func TestRefresh_storeCredentialsChangeRefreshesAtOnce(t *testing.T) {
	srv := awstest.NewServer(t)
	victim, attacker := newNamespace(t, "cred-victim"), newNamespace(t, "cred-attacker")
	c := startController(t, controllers.Options{WatchNamespaces: []string{victim, attacker}})
	defer c.stop()
	for _, ns := range []string{victim, attacker} {
		srv.CreateSecret(t, ns+"/db", canary(ns+"-1"), nil)
		awsStore(t, srv, ns, "aws")
		storeReady(t, ns, "aws", metav1.ConditionTrue)
		if err := env.Client.Create(ctx, externalSecret(ns, "db", "aws", time.Hour, ref("v", ns+"/db", ""))); err != nil {
			t.Fatal(err)
		}
		esCondition(t, ns, "db", metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
	}
	// A new ExternalSecret may sync a second time just after it is Ready; a
	// forced sync that is seen to land is its last sync before the test
	// changes the remote values.
	settleExternalSecrets(t, srv, victim, "db")
	for _, ns := range []string{victim, attacker} {
		srv.PutSecretValue(t, ns+"/db", canary(ns+"-2"))
	}
	srv.CreateSecret(t, attacker+"/settle", canary("settle-1"), nil)
	if err := env.Client.Create(ctx, externalSecret(attacker, "settle", "aws", time.Hour, ref("v", attacker+"/settle", ""))); err != nil {
		t.Fatal(err)
	}
	esCondition(t, attacker, "settle", metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
	srv.AddCredentials("AKIAKSEALROTATED0001", "rotated-secret-access-key")

	// A label on the credentials Secret is no change of credentials.
	s := getSecret(t, victim, "aws-creds")
	s.Labels = map[string]string{"rotated": "no"}
	if err := env.Client.Update(ctx, s); err != nil {
		t.Fatal(err)
	}
	// The attacker rotates a Secret named like the victim's credentials.
	setCredentials(t, attacker, "aws-creds", "AKIAKSEALROTATED0001", "rotated-secret-access-key")
	waitFor(t, 60*time.Second, "the attacker's own ExternalSecret refreshed", func() bool {
		return string(getSecret(t, attacker, "db").Data["v"]) == canary(attacker+"-2")
	})
	settleExternalSecrets(t, srv, attacker, "settle")
	if got := string(getSecret(t, victim, "db").Data["v"]); got != canary(victim+"-settled") {
		t.Fatal("another namespace's credentials change (or a label change) refreshed the victim's ExternalSecret")
	}

	setCredentials(t, victim, "aws-creds", "AKIAKSEALROTATED0001", "rotated-secret-access-key")
	waitFor(t, 60*time.Second, "the victim's ExternalSecret refreshed with the rotated key", func() bool {
		return string(getSecret(t, victim, "db").Data["v"]) == canary(victim+"-2")
	})
}

// TestRefresh_clusterStoreCredentialsRotated: a ClusterSecretStore whose
// credentials reference names no namespace reads them in each
// ExternalSecret's namespace; rotating them there refreshes that
// namespace's ExternalSecret at once.
func TestRefresh_clusterStoreCredentialsRotated(t *testing.T) {
	srv := awstest.NewServer(t)
	c := startController(t, controllers.Options{})
	defer c.stop()
	ns := newNamespace(t, "cred-css")
	srv.CreateSecret(t, ns+"/v", canary("css-1"), nil)
	creds := &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "aws-creds", Namespace: ns},
		StringData: map[string]string{"id": awstest.AccessKeyID, "key": awstest.SecretAccessKey}}
	if err := env.Client.Create(ctx, creds); err != nil {
		t.Fatal(err)
	}
	css := &v1alpha1.ClusterSecretStore{ObjectMeta: metav1.ObjectMeta{Name: "creds-" + ns},
		Spec: v1alpha1.SecretStoreSpec{Provider: v1alpha1.SecretStoreProvider{AWS: &v1alpha1.AWSProvider{
			Service: v1alpha1.AWSServiceSecretsManager, Region: srv.Region, Endpoint: srv.URL,
			Auth: v1alpha1.AWSAuth{SecretRef: &v1alpha1.AWSAuthSecretRef{
				AccessKeyID:     v1alpha1.SecretKeySelector{Name: "aws-creds", Key: "id"},
				SecretAccessKey: v1alpha1.SecretKeySelector{Name: "aws-creds", Key: "key"},
			}}}}}}
	if err := env.Client.Create(ctx, css); err != nil {
		t.Fatal(err)
	}
	es := externalSecret(ns, "app", css.Name, time.Hour, ref("v", ns+"/v", ""))
	es.Spec.SecretStoreRef.Kind = v1alpha1.ClusterSecretStoreKind
	if err := env.Client.Create(ctx, es); err != nil {
		t.Fatal(err)
	}
	esCondition(t, ns, "app", metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)

	srv.PutSecretValue(t, ns+"/v", canary("css-2"))
	srv.AddCredentials("AKIAKSEALROTATED0002", "rotated-cluster-key")
	setCredentials(t, ns, "aws-creds", "AKIAKSEALROTATED0002", "rotated-cluster-key")
	waitFor(t, 60*time.Second, "the ExternalSecret refreshed with the rotated key", func() bool {
		return string(getSecret(t, ns, "app").Data["v"]) == canary("css-2")
	})
}
