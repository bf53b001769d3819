package e2e

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// kcmEnv names the kube-controller-manager binary built by
// hack/build-kcm.sh (`make test-kcm` sets it).
const kcmEnv = "KSEAL_KUBE_CONTROLLER_MANAGER"

// startKubeControllerManager runs the Deployment controller of a
// kube-controller-manager built from the same Kubernetes module as the test
// API server, until the test ends. No kubelet runs: ReplicaSets are made,
// pods are not.
func startKubeControllerManager(t testing.TB) {
	t.Helper()
	bin := os.Getenv(kcmEnv)
	if bin == "" {
		t.Skipf("%s is not set: run `make test-kcm` (it builds kube-controller-manager with hack/build-kcm.sh, a few minutes cold, and sets it)", kcmEnv)
	}
	dir := t.TempDir()
	kubeconfig := filepath.Join(dir, "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.Environment.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	log, err := os.Create(filepath.Join(dir, "kcm.log"))
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "--kubeconfig", kubeconfig, "--controllers=deployment-controller",
		"--leader-elect=false", "--secure-port=0", "--use-service-account-credentials=false")
	cmd.Stdout, cmd.Stderr = log, log
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		_ = cmd.Wait()
		log.Close()
		if t.Failed() {
			if b, err := os.ReadFile(log.Name()); err == nil {
				t.Logf("kube-controller-manager log (tail):\n%s", tail(b, 4000))
			}
		}
	})
}

func tail(b []byte, n int) []byte {
	if len(b) > n {
		return b[len(b)-n:]
	}
	return b
}

// replicaSetRevisions returns the deployment.kubernetes.io/revision of each
// ReplicaSet the Deployment controller made for Deployment ns/name.
func replicaSetRevisions(t testing.TB, ns, name string) map[string]*appsv1.ReplicaSet {
	t.Helper()
	var list appsv1.ReplicaSetList
	if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	out := map[string]*appsv1.ReplicaSet{}
	for i := range list.Items {
		rs := &list.Items[i]
		for _, o := range rs.OwnerReferences {
			if o.Kind == "Deployment" && o.Name == name {
				out[rs.Annotations["deployment.kubernetes.io/revision"]] = rs
			}
		}
	}
	return out
}

// TestRolloutRestart_deploymentControllerRolls: with the real Deployment
// controller running, a sealed change makes the Deployment that uses the
// Secret roll: a second ReplicaSet, revision 2, whose pod template carries
// kseal's restartedAt; a Deployment that did not opt in keeps its one
// ReplicaSet.
func TestRolloutRestart_deploymentControllerRolls(t *testing.T) {
	startKubeControllerManager(t)
	c := startController(t, reloadOn)
	defer c.stop()
	f := newReloadFixture(t, c)
	ns := newNamespace(t, "reload-kcm")
	f.seal(ns, "db", canary("kcm-db-1"))
	createWorkload(t, v1alpha1.WorkloadDeployment, ns, "web", map[string]string{v1alpha1.AnnotationReload: "true"}, "db")
	createWorkload(t, v1alpha1.WorkloadDeployment, ns, "legacy", nil, "db")
	for _, d := range []string{"web", "legacy"} {
		waitFor(t, 60*time.Second, "the first ReplicaSet of "+d, func() bool { return replicaSetRevisions(t, ns, d)["1"] != nil })
	}

	f.seal(ns, "db", canary("kcm-db-2"))
	waitFor(t, 60*time.Second, "revision 2 of Deployment web", func() bool { return replicaSetRevisions(t, ns, "web")["2"] != nil })
	waitFor(t, 60*time.Second, "rollout restarts settled", c.RolloutRestartsIdle)
	rs := replicaSetRevisions(t, ns, "web")
	if len(rs) != 2 {
		t.Errorf("Deployment web has %d ReplicaSets, want 2 (one restart)", len(rs))
	}
	if rs["2"].Spec.Template.Annotations[v1alpha1.AnnotationRestartedAt] == "" || rs["1"].Spec.Template.Annotations[v1alpha1.AnnotationRestartedAt] != "" {
		t.Error("revision 2's pod template should carry restartedAt, revision 1's not")
	}
	d := &appsv1.Deployment{}
	if err := env.Client.Get(ctx, clientKey(ns, "web"), d); err != nil {
		t.Fatal(err)
	}
	if got := d.Annotations["deployment.kubernetes.io/revision"]; got != "2" {
		t.Errorf("Deployment web revision %q, want 2", got)
	}
	if n := len(replicaSetRevisions(t, ns, "legacy")); n != 1 {
		t.Errorf("Deployment legacy (no opt-in) has %d ReplicaSets, want 1", n)
	}
}
