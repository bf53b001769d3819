package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	cli "github.com/kseal-dev/kseal/kubeseal-like-cli"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// TestRefresh_forceSyncFetchesNowAndRestarts: `kseal refresh es/NAME` sets
// the force-sync annotation; the controller fetches the changed remote value
// at once though the refresh interval is an hour, records the value it
// served, and restarts the Deployment that uses the Secret.
func TestRefresh_forceSyncFetchesNowAndRestarts(t *testing.T) {
	srv := awstest.NewServer(t)
	c := startController(t, reloadOn)
	defer c.stop()
	ns := newNamespace(t, "refresh")
	key := ns + "/db"
	srv.CreateSecret(t, key, canary("refresh-1"), nil)
	awsStore(t, srv, ns, "aws")
	storeReady(t, ns, "aws", metav1.ConditionTrue)
	if err := env.Client.Create(ctx, externalSecret(ns, "db", "aws", time.Hour, ref("v", key, ""))); err != nil {
		t.Fatal(err)
	}
	esCondition(t, ns, "db", metav1.ConditionTrue, v1alpha1.ReasonSecretSynced)
	createWorkload(t, v1alpha1.WorkloadDeployment, ns, "web", map[string]string{v1alpha1.AnnotationReload: "true"}, "db")

	srv.PutSecretValue(t, key, canary("refresh-2"))
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.Environment.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	out := kseal(t, nil, "refresh", "--kubeconfig", kubeconfig, "-n", ns, "es/db")
	if !strings.Contains(string(out), "refresh requested") {
		t.Errorf("kseal refresh printed %q", out)
	}
	waitFor(t, 60*time.Second, "the new remote value synced", func() bool {
		return string(getSecret(t, ns, "db").Data["v"]) == canary("refresh-2")
	})
	waitRestarted(t, c, ns, v1alpha1.WorkloadDeployment, "web", 2)
	wantRestarts(t, ns, 1, "Deployment/web")
	waitFor(t, 30*time.Second, "status.forceSyncedValue recorded", func() bool {
		es := &v1alpha1.ExternalSecret{}
		if err := env.Client.Get(ctx, clientKey(ns, "db"), es); err != nil {
			t.Fatal(err)
		}
		v := es.Annotations[v1alpha1.AnnotationForceSync]
		return v != "" && es.Status.ForceSyncedValue == v
	})

	// Refreshing a missing object says so.
	var stdout, stderr bytes.Buffer
	if code := cli.Main(ctx, []string{"refresh", "--kubeconfig", kubeconfig, "-n", ns, "es/missing"}, nil, &stdout, &stderr); code == 0 || !strings.Contains(stderr.String(), "not found") {
		t.Errorf("refresh of a missing ExternalSecret: exit %d, %q", code, stderr.String())
	}
}
