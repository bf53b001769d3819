package e2e

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	"sigs.k8s.io/yaml"

	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/test/envtestenv"
)

// TestRolloutRestart_needsTheReloadRole: with --rollout-restarts but without
// patch on workloads the controller refuses to start and says what to
// apply; with the ClusterRole of config/rbac/reload bound, and nothing more
// on workloads, it starts.
func TestRolloutRestart_needsTheReloadRole(t *testing.T) {
	user, err := env.Environment.AddUser(envtest.User{Name: "kseal-reload-check"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	setup := func() error {
		mgr, err := ctrl.NewManager(user.Config(), ctrl.Options{Scheme: env.Scheme, Metrics: metricsserver.Options{BindAddress: "0"}, HealthProbeBindAddress: "0"})
		if err != nil {
			t.Fatal(err)
		}
		_, err = controllers.Setup(mgr, controllers.Options{SkipNameValidation: true, Keys: controllers.KeyManagerOptions{Namespace: controllerNamespace},
			Reload: controllers.ReloadOptions{Enabled: true}})
		return err
	}
	err = setup()
	if err == nil || !strings.Contains(err.Error(), "may not list deployments.apps, patch deployments.apps") || !strings.Contains(err.Error(), "config/rbac/reload") {
		t.Fatalf("Setup without the reload role: %v", err)
	}

	root, err := envtestenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, "config/rbac/reload/reload_role.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	role := &rbacv1.ClusterRole{}
	if err := yaml.Unmarshal(raw, role); err != nil {
		t.Fatal(err)
	}
	role.Name += "-check"
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: role.Name},
		RoleRef:    rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name},
		Subjects:   []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: "kseal-reload-check"}},
	}
	if err := env.Client.Create(ctx, role); err != nil {
		t.Fatal(err)
	}
	defer env.Client.Delete(ctx, role)
	if err := env.Client.Create(ctx, binding); err != nil {
		t.Fatal(err)
	}
	defer env.Client.Delete(ctx, binding)
	waitFor(t, 30*time.Second, "the reload role to apply", func() bool { return setup() == nil })
}
