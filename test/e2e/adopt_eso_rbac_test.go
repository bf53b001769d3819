package e2e

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/kseal-dev/kseal/api/esov1"
	"github.com/kseal-dev/kseal/api/esov1alpha1"
	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
	"github.com/kseal-dev/kseal/test/envtestenv"
)

// bindRoles creates, bound to user, the ClusterRoles and Roles of a
// config/rbac file (renamed with suffix; a Role goes to namespace, or to
// its own when namespace is "").
func bindRoles(t *testing.T, file, user, suffix, namespace string) {
	t.Helper()
	root, err := envtestenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := os.ReadFile(filepath.Join(root, file))
	if err != nil {
		t.Fatal(err)
	}
	subject := []rbacv1.Subject{{APIGroup: rbacv1.GroupName, Kind: rbacv1.UserKind, Name: user}}
	for _, doc := range bytes.Split(raw, []byte("\n---\n")) {
		var meta metav1.TypeMeta
		if err := yaml.Unmarshal(doc, &meta); err != nil {
			t.Fatal(err)
		}
		var objs []client.Object
		switch meta.Kind {
		case "ClusterRole":
			role := &rbacv1.ClusterRole{}
			if err := yaml.Unmarshal(doc, role); err != nil {
				t.Fatal(err)
			}
			role.Name += suffix
			objs = append(objs, role, &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role.Name},
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: role.Name}, Subjects: subject})
		case "Role":
			role := &rbacv1.Role{}
			if err := yaml.Unmarshal(doc, role); err != nil {
				t.Fatal(err)
			}
			role.Name += suffix
			if namespace != "" {
				role.Namespace = namespace
			}
			objs = append(objs, role, &rbacv1.RoleBinding{ObjectMeta: metav1.ObjectMeta{Name: role.Name, Namespace: role.Namespace},
				RoleRef: rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "Role", Name: role.Name}, Subjects: subject})
		default:
			continue
		}
		for _, o := range objs {
			o.SetResourceVersion("")
			if err := env.Client.Create(ctx, o); err != nil {
				t.Fatalf("%s: %v", file, err)
			}
			t.Cleanup(func() { _ = env.Client.Delete(ctx, o) })
		}
	}
}

// TestAdoptESO_withOnlyItsRBAC: the controller runs as a user that has
// exactly the rules of config/rbac (kseal's own) and config/rbac/adopt-eso,
// on an API server that authorizes with RBAC, and takes over each of ESO's
// kinds: a due ExternalSecret is refreshed, a due PushSecret is pushed
// again (its value unchanged: no write), and a ClusterExternalSecret
// provisions the namespace labelled after the start.
func TestAdoptESO_withOnlyItsRBAC(t *testing.T) {
	installESOCRDs(t)
	user := "kseal-adopt-eso-rbac"
	cred, err := env.Environment.AddUser(envtest.User{Name: user}, nil)
	if err != nil {
		t.Fatal(err)
	}
	esoNS := newNamespace(t, "external-secrets")
	bindRoles(t, "config/rbac/role.yaml", user, "-rbac-check", controllerNamespace)
	bindRoles(t, "config/rbac/adopt-eso/adopt_eso_role.yaml", user, "-rbac-check", esoNS)

	srv := awstest.NewServer(t)
	ns := newNamespace(t, "adopt-eso-rbac")
	esoAWSStore(t, srv, ns, "aws")
	esoAWSClusterStore(t, srv, ns, "aws-"+ns)
	srv.CreateSecret(t, ns+"/es", "v", nil)
	srv.CreateSecret(t, ns+"/ces", "shared", nil)
	due := time.Now().Add(-2 * time.Hour)
	esoSynced(t, ns, "es", "aws", ns+"/es", "v", due)
	esoPushed(t, srv, ns, "push", "aws", ns+"/push", "p", due)
	label := map[string]string{"kseal-test-ces": ns}
	ces := &esov1.ClusterExternalSecret{
		ObjectMeta: metav1.ObjectMeta{Name: "ces-" + ns},
		Spec: v1alpha1.ClusterExternalSecretSpec{
			NamespaceSelectors: []*metav1.LabelSelector{{MatchLabels: label}},
			ExternalSecretSpec: v1alpha1.ExternalSecretSpec{
				SecretStoreRef: v1alpha1.SecretStoreRef{Name: "aws-" + ns, Kind: v1alpha1.ClusterSecretStoreKind},
				Target:         v1alpha1.ExternalSecretTarget{Name: "app"},
				Data:           []v1alpha1.ExternalSecretData{{SecretKey: "value", RemoteRef: v1alpha1.ExternalSecretDataRemoteRef{Key: ns + "/ces"}}},
			},
		},
	}
	if err := env.Client.Create(ctx, ces); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = env.Client.Delete(ctx, ces) })
	team := newNamespace(t, "adopt-eso-rbac-team")
	srv.ResetCalls()

	start := metav1.NewTime(time.Now().Truncate(time.Second))
	c := startControllerAs(t, cred.Config(), controllers.Options{
		WatchNamespaces: []string{ns, team},
		AdoptAPIs:       controllers.AdoptAPIs{controllers.AdoptExternalSecrets: true},
		ESONamespace:    esoNS,
		ESOEndpoints:    controllers.ESOEndpoints{SecretsManager: srv.URL},
	})
	defer c.stop()
	setNamespaceLabels(t, team, label)

	waitFor(t, 60*time.Second, "the due ESO ExternalSecret refreshed", func() bool {
		var es esov1.ExternalSecret
		return env.Client.Get(ctx, clientKey(ns, "es"), &es) == nil && !es.Status.RefreshTime.Before(&start) &&
			len(es.Status.Conditions) == 1 && es.Status.Conditions[0].Status == corev1.ConditionTrue
	})
	waitFor(t, 60*time.Second, "the due ESO PushSecret pushed", func() bool {
		var ps esov1alpha1.PushSecret
		return env.Client.Get(ctx, clientKey(ns, "push"), &ps) == nil && !ps.Status.RefreshTime.Before(&start) &&
			len(ps.Status.Conditions) == 1 && ps.Status.Conditions[0].Status == corev1.ConditionTrue
	})
	waitFor(t, 60*time.Second, "the ClusterExternalSecret's ExternalSecret synced in the labelled namespace", func() bool {
		s := &corev1.Secret{}
		return env.Client.Get(ctx, clientKey(team, "app"), s) == nil && string(s.Data["value"]) == "shared"
	})
	waitFor(t, 30*time.Second, "the ClusterExternalSecret Ready", func() bool {
		return env.Client.Get(ctx, clientKey("", ces.Name), ces) == nil && slices.Contains(ces.Status.ProvisionedNamespaces, team) &&
			len(ces.Status.Conditions) == 1 && ces.Status.Conditions[0].Status == corev1.ConditionTrue
	})
	if w := srv.Calls("PutSecretValue") + srv.Calls("CreateSecret"); w != 0 {
		t.Errorf("%d pushes of an unchanged value, want 0", w)
	}
	var store esov1.SecretStore
	waitFor(t, 30*time.Second, "the ESO SecretStore Ready", func() bool {
		return env.Client.Get(ctx, clientKey(ns, "aws"), &store) == nil && len(store.Status.Conditions) == 1 && store.Status.Conditions[0].Status == corev1.ConditionTrue
	})
	t.Logf("took over an ExternalSecret, a PushSecret, a ClusterExternalSecret and their stores as %s", user)
}
