package e2e

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
	"github.com/kseal-dev/kseal/test/envtestenv"
)

// previousCommit is the version upgrade tests start from: the last commit
// before images, the Helm chart and the one target-Secret writer for every
// kind, so the last state of kseal people could build and run; its
// ExternalSecret writer kept its own hash scheme (data hash and managed
// keys, no source fingerprint). The repository has no release tag yet.
const previousCommit = "f0d9eda3399f5ff0dca37526761bb197d6d62343"

// previousController builds (or reuses) kseal-controller at commit.
func previousController(t *testing.T, commit string) string {
	t.Helper()
	if p := os.Getenv("KSEAL_PREVIOUS_CONTROLLER"); p != "" {
		return p
	}
	root, err := envtestenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(root, "hack", "build-previous.sh"), commit).Output()
	if err != nil {
		if requireTools() {
			t.Fatalf("building the controller at %s: %v", commit[:12], err)
		}
		t.Skipf("cannot build the controller at %s (no git history?): %v", commit[:12], err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	return lines[len(lines)-1]
}

// TestUpgrade_externalSecretsNotRewritten: Secrets the previous controller
// wrote for ExternalSecrets (Owner, Orphan and Merge) are recognised by the
// new one: refreshes that find the same values write no Secret. A changed
// remote value then changes only its Secret.
func TestUpgrade_externalSecretsNotRewritten(t *testing.T) {
	bin := previousController(t, previousCommit)
	srv := awstest.NewServer(t)
	ns := newNamespace(t, "upgrade")
	awsStore(t, srv, ns, "aws")
	const perPolicy = 10
	policies := []v1alpha1.CreationPolicy{v1alpha1.CreationPolicyOwner, v1alpha1.CreationPolicyOrphan, v1alpha1.CreationPolicyMerge}
	var names []string
	for _, p := range policies {
		for i := range perPolicy {
			name := fmt.Sprintf("%s-%02d", strings.ToLower(string(p)), i)
			srv.CreateSecret(t, ns+"/"+name, fmt.Sprintf(`{"a":%q}`, canary(name)), nil)
			if p == v1alpha1.CreationPolicyMerge {
				existing := secret(ns, name, map[string]string{"theirs": "keep"})
				if err := env.Client.Create(ctx, existing); err != nil {
					t.Fatal(err)
				}
			}
			es := externalSecret(ns, name, "aws", 2*time.Second, ref("a", ns+"/"+name, "a"))
			es.Spec.Target.CreationPolicy = p
			es.Spec.Target.Template = &v1alpha1.ExternalSecretTemplate{Metadata: v1alpha1.ExternalSecretTemplateMetadata{Labels: map[string]string{"team": "a"}}}
			if err := env.Client.Create(ctx, es); err != nil {
				t.Fatal(err)
			}
			names = append(names, name)
		}
	}

	// Both controllers watch only this namespace: ExternalSecrets other
	// tests left elsewhere, failing against emulators that are gone, must
	// not take the workers' time.
	prev := startProcess(t, bin, "--watch-namespaces="+ns)
	waitFor(t, 2*time.Minute, "the previous controller syncs every ExternalSecret", func() bool {
		return allSynced(t, ns, names, time.Time{})
	})
	prev.stop()
	before := secretVersions(t, ns, names)
	for _, n := range names {
		if s := getSecret(t, ns, n); s.Annotations[controllers.AnnotationSealedHash] != "" {
			t.Fatalf("Secret %s already has a source fingerprint: the previous controller is not the old writer", n)
		}
	}

	start := time.Now().Add(time.Second)
	c := startController(t, controllers.Options{WatchNamespaces: []string{ns}})
	defer c.stop()
	// Two refresh cycles of every object under the new controller.
	waitFor(t, 2*time.Minute, "every ExternalSecret refreshed by the new controller", func() bool {
		return allSynced(t, ns, names, start.Add(3*time.Second))
	})
	after := secretVersions(t, ns, names)
	writes := 0
	for _, n := range names {
		if before[n] != after[n] {
			writes++
			t.Errorf("Secret %s was rewritten on upgrade (resourceVersion %s -> %s)", n, before[n], after[n])
		}
	}
	t.Logf("upgrade of %d ExternalSecrets: %d Secret writes", len(names), writes)

	// A changed remote value changes only its Secret.
	srv.PutSecretValue(t, ns+"/owner-03", `{"a":"`+canary("changed")+`"}`)
	waitFor(t, time.Minute, "the changed value reaches its Secret", func() bool {
		return string(getSecret(t, ns, "owner-03").Data["a"]) == canary("changed")
	})
	mark := time.Now().Add(time.Second)
	waitFor(t, time.Minute, "another refresh of every ExternalSecret", func() bool {
		return allSynced(t, ns, names, mark.Add(2*time.Second))
	})
	final := secretVersions(t, ns, names)
	for _, n := range names {
		if changed := final[n] != after[n]; changed != (n == "owner-03") {
			t.Errorf("Secret %s: rewritten=%v after one remote change", n, changed)
		}
	}
	if s := getSecret(t, ns, "merge-00"); string(s.Data["theirs"]) != "keep" {
		t.Error("Merge lost the Secret's own key")
	}
}

// allSynced: every ExternalSecret is Ready and was refreshed after since.
func allSynced(t *testing.T, ns string, names []string, since time.Time) bool {
	t.Helper()
	for _, n := range names {
		es := &v1alpha1.ExternalSecret{}
		if err := env.Client.Get(ctx, clientKey(ns, n), es); err != nil {
			return false
		}
		if !apimeta.IsStatusConditionTrue(es.Status.Conditions, v1alpha1.ConditionReady) || es.Status.RefreshTime.Time.Before(since.Truncate(time.Second)) {
			return false
		}
	}
	return true
}

// secretVersions maps each target Secret to its resourceVersion.
func secretVersions(t *testing.T, ns string, names []string) map[string]string {
	t.Helper()
	var list corev1.SecretList
	if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, s := range list.Items {
		out[s.Name] = s.ResourceVersion
	}
	for _, n := range names {
		if out[n] == "" {
			t.Fatalf("Secret %s missing", n)
		}
	}
	return out
}
