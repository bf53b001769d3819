package e2e

import (
	"bytes"
	"maps"
	"reflect"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// TestDowngrade_everyKindNothingLost is the way back of an upgrade: the
// controller built from this checkout makes 50 SealedSecrets v1, 50 v2, 50
// SopsSecrets and 50 ExternalSecrets Ready and is stopped; the controller of
// the previous commit then starts on what the newer one wrote, as a rollback
// of the Deployment does. Every object ends Ready for the older controller
// too, every Secret keeps its data, type, labels and annotations (a rollback
// blanks, deletes or rewrites nothing), and the older controller decrypts
// nothing: it recognises the newer one's Secrets as its own.
func TestDowngrade_everyKindNothingLost(t *testing.T) {
	prevBin := previousController(t, previousCommit)
	newBin := currentController(t)
	srv := awstest.NewServer(t)
	ns := newNamespace(t, "downgrade-kinds")
	awsStore(t, srv, ns, "aws")
	scoped := "--watch-namespaces=" + ns

	next := startProcess(t, newBin, scoped)
	cert, err := keys.ParseCertificate(httpGet(t, next.apiURL+"/v1/cert.pem"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	names := createUpgradeObjects(t, srv, ns, cert)
	waitFor(t, 3*time.Minute, "the new controller makes every object Ready", func() bool {
		return upgradeReady(t, ns, names, time.Time{}) == len(names.all())
	})
	next.stop()
	before := secretsByName(t, ns)
	if len(before) < len(names.all()) {
		t.Fatalf("the new controller wrote %d Secrets, want %d", len(before), len(names.all()))
	}

	writes := watchWrites(t, ns)
	start := time.Now().Add(time.Second)
	prev := startProcess(t, prevBin, scoped)
	waitFor(t, 3*time.Minute, "the previous controller reconciles every object and refreshes every ExternalSecret", func() bool {
		sealed := prev.scrape(t, "controller=sealedsecret")["controller_runtime_reconcile_total"]
		sopsN := prev.scrape(t, "controller=sopssecret")["controller_runtime_reconcile_total"]
		return sealed >= 2*upgradeEach && sopsN >= upgradeEach && upgradeReady(t, ns, names, start) == len(names.all())
	})
	got := prev.scrape(t)
	if v := got["kseal_decryptions_total"]; v != 0 {
		t.Errorf("the previous controller reports %v decryptions after the rollback, want 0", v)
	}
	written := writes.settle(t)
	for name, n := range written {
		t.Errorf("Secret %s written %d times on rollback", name, n)
	}
	after := secretsByName(t, ns)
	for _, name := range names.all() {
		b, a := before[name], after[name]
		switch {
		case b == nil:
			t.Errorf("Secret %s: missing before the rollback", name)
		case a == nil:
			t.Errorf("Secret %s: deleted by the rollback", name)
		case !sameSecret(b, a):
			t.Errorf("Secret %s changed on rollback (data, type, labels or annotations)", name)
		}
	}
	t.Logf("rollback to %s on %d objects: %v decryptions, %d Secrets written",
		previousCommit[:12], len(names.all()), got["kseal_decryptions_total"], len(written))
}

// secretsByName lists the Secrets of ns by name.
func secretsByName(t *testing.T, ns string) map[string]*corev1.Secret {
	t.Helper()
	var list corev1.SecretList
	if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	out := make(map[string]*corev1.Secret, len(list.Items))
	for i := range list.Items {
		out[list.Items[i].Name] = &list.Items[i]
	}
	return out
}

// sameSecret reports whether two versions of a Secret hold the same data,
// type, labels and annotations.
func sameSecret(a, b *corev1.Secret) bool {
	return a.Type == b.Type && maps.EqualFunc(a.Data, b.Data, bytes.Equal) &&
		maps.Equal(a.Labels, b.Labels) && maps.Equal(a.Annotations, b.Annotations) &&
		reflect.DeepEqual(a.OwnerReferences, b.OwnerReferences)
}
