package e2e

import (
	"fmt"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	bitnamiv1 "github.com/kseal-dev/kseal/api/bitnami/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/crypto/sealing"
)

// takeoverN is how many SealedSecrets the takeover test hands from
// sealed-secrets to kseal (KSEAL_TAKEOVER_N; 200 by default).
func takeoverN(t *testing.T) int {
	if v := os.Getenv("KSEAL_TAKEOVER_N"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 10 {
			t.Fatalf("KSEAL_TAKEOVER_N=%q: want a number of at least 10", v)
		}
		return n
	}
	return 200
}

// TestTakeover_bitnami: sealed-secrets' own controller syncs N SealedSecrets
// and is stopped; kseal starts with --adopt-apis=bitnami and keeps every
// Secret as it is (no Secret or status written, nothing decrypted), with
// sealed-secrets' key imported; a changed SealedSecret then rewrites only
// its Secret, still owned by the bitnami.com object; an edited and a
// deleted Secret are restored; and sealed-secrets, started again, finds
// everything synced.
func TestTakeover_bitnami(t *testing.T) {
	bin := bitnamiBinary(t)
	n := takeoverN(t)
	bns, ns := newNamespace(t, "sealed-secrets"), newNamespace(t, "takeover")
	bitnami := startBitnami(t, bin, bns)
	cert := bitnami.cert(t)
	names := createBitnamiSealed(t, ns, n, cert)
	// Generous: the machines that run the tests are shared.
	wait := max(3*time.Minute, time.Duration(n)*300*time.Millisecond)
	waitBitnamiSynced(t, ns, names, wait)
	bitnami.stop()

	secretsBefore, sealedBefore := secretVersions(t, ns, names), bitnamiVersions(t, ns)
	decryptions := metricSum(t, "kseal_decryptions_total")
	kept := metricSum(t, "kseal_adopt_reconciles_total", "result", "kept")
	start := time.Now()
	c := startController(t, controllers.Options{
		WatchNamespaces: []string{ns, bns},
		Keys:            controllers.KeyManagerOptions{BitnamiNamespace: bns},
		AdoptAPIs:       controllers.AdoptAPIs{controllers.AdoptBitnami: true},
	})
	stopKseal := sync.OnceFunc(c.stop)
	defer stopKseal()
	waitFor(t, wait, "every SealedSecret taken over", func() bool {
		return metricSum(t, "kseal_adopt_reconciles_total", "result", "kept")-kept >= float64(n)
	})
	t.Logf("takeover of %d SealedSecrets: all kept %.1f s after the controller started, %v decryptions",
		n, time.Since(start).Seconds(), metricSum(t, "kseal_decryptions_total")-decryptions)
	if got := secretVersions(t, ns, names); !sameVersions(got, secretsBefore) {
		t.Errorf("the takeover wrote Secrets: %d of %d resourceVersions changed", changed(got, secretsBefore), n)
	}
	if got := bitnamiVersions(t, ns); !sameVersions(got, sealedBefore) {
		t.Errorf("the takeover wrote SealedSecrets (status): %d of %d resourceVersions changed", changed(got, sealedBefore), n)
	}
	if d := metricSum(t, "kseal_decryptions_total") - decryptions; d != 0 {
		t.Errorf("the takeover decrypted %v items, want 0", d)
	}
	checkBitnamiSynced(t, ns, names)

	// A changed SealedSecret: only its Secret is written, by kseal.
	target := names[7]
	resealBitnami(t, ns, target, cert, "changed")
	waitFor(t, time.Minute, "the changed Secret", func() bool {
		s := getSecret(t, ns, target)
		return s != nil && string(s.Data["password"]) == "changed"
	})
	ss := waitBitnamiSynced(t, ns, []string{target}, time.Minute)[0]
	s := getSecret(t, ns, target)
	if ref := metav1.GetControllerOf(s); ref == nil || ref.UID != ss.UID || ref.APIVersion != "bitnami.com/v1alpha1" || ref.Kind != "SealedSecret" {
		t.Errorf("the rewritten Secret's controller is %+v, want the bitnami.com SealedSecret %s", ref, ss.UID)
	}
	after := secretVersions(t, ns, names)
	if changed(after, secretsBefore) != 1 || after[target] == secretsBefore[target] {
		t.Errorf("one changed SealedSecret rewrote %d Secrets (want only %s)", changed(after, secretsBefore), target)
	}

	// A kept Secret edited or deleted after the takeover is restored, as
	// a Secret kseal wrote would be.
	edited, deleted := getSecret(t, ns, names[3]), getSecret(t, ns, names[4])
	edited.Data["password"] = []byte("tampered")
	if err := env.Client.Update(ctx, edited); err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Delete(ctx, deleted); err != nil {
		t.Fatal(err)
	}
	waitFor(t, time.Minute, "the edited and the deleted Secret restored", func() bool {
		e, d := getSecret(t, ns, names[3]), getSecret(t, ns, names[4])
		return e != nil && string(e.Data["password"]) == "value-3" && d != nil && string(d.Data["password"]) == "value-4" && metav1.GetControllerOf(d) != nil
	})

	// The way back: kseal stops, sealed-secrets starts and syncs every
	// object, the one kseal rewrote included, with nothing lost.
	stopKseal()
	bitnami = startBitnami(t, bin, bns)
	waitFor(t, wait, "sealed-secrets to unseal everything again", func() bool {
		return bitnami.metric(t, "sealed_secrets_controller_unseal_requests_total") >= float64(n)
	})
	if e := bitnami.metric(t, "sealed_secrets_controller_unseal_errors_total"); e != 0 {
		t.Errorf("sealed-secrets failed %v unseals after kseal", e)
	}
	checkBitnamiSynced(t, ns, names)
	if s := getSecret(t, ns, target); string(s.Data["password"]) != "changed" {
		t.Errorf("after the way back the changed Secret holds %q", s.Data["password"])
	}
}

// createBitnamiSealed creates n bitnami.com SealedSecrets in ns, sealed
// (format v1, strict scope) for cert, and returns their names.
func createBitnamiSealed(t *testing.T, ns string, n int, cert []byte) []string {
	t.Helper()
	names := make([]string, n)
	for i := range n {
		names[i] = fmt.Sprintf("s-%04d", i)
		ss := bitnamiSealed(t, ns, names[i], cert, fmt.Sprintf("value-%d", i))
		if err := env.Client.Create(ctx, ss); err != nil {
			t.Fatal(err)
		}
	}
	return names
}

// bitnamiSealed seals password=value for ns/name as a bitnami.com
// SealedSecret.
func bitnamiSealed(t *testing.T, ns, name string, cert []byte, value string) *bitnamiv1.SealedSecret {
	t.Helper()
	c, err := keys.ParseCertificate(cert, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	s := secret(ns, name, nil)
	s.Data = map[string][]byte{"password": []byte(value)}
	sealed, err := sealedsecret.Seal(s, &c.PublicKey, sealedsecret.SealOptions{Version: sealing.V1})
	if err != nil {
		t.Fatal(err)
	}
	return &bitnamiv1.SealedSecret{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec:       bitnamiv1.SealedSecretSpec{SealedSecretSpec: sealed.Spec},
	}
}

// resealBitnami replaces the items of ns/name with a new value.
func resealBitnami(t *testing.T, ns, name string, cert []byte, value string) {
	t.Helper()
	fresh := bitnamiSealed(t, ns, name, cert, value)
	ss := &bitnamiv1.SealedSecret{}
	if err := env.Client.Get(ctx, clientKey(ns, name), ss); err != nil {
		t.Fatal(err)
	}
	ss.Spec = fresh.Spec
	if err := env.Client.Update(ctx, ss); err != nil {
		t.Fatal(err)
	}
}

// waitBitnamiSynced waits until every named SealedSecret is Synced=True at
// its generation, and returns them.
func waitBitnamiSynced(t *testing.T, ns string, names []string, timeout time.Duration) []*bitnamiv1.SealedSecret {
	t.Helper()
	out := make([]*bitnamiv1.SealedSecret, len(names))
	waitFor(t, timeout, fmt.Sprintf("%d SealedSecrets Synced", len(names)), func() bool {
		var list bitnamiv1.SealedSecretList
		if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
			return false
		}
		if len(names) > 1 {
			defer time.Sleep(time.Second) // a list of many objects: look once a second
		}
		byName := map[string]*bitnamiv1.SealedSecret{}
		for i := range list.Items {
			byName[list.Items[i].Name] = &list.Items[i]
		}
		for i, name := range names {
			if out[i] = byName[name]; out[i] == nil || !bitnamiSynced(out[i]) {
				return false
			}
		}
		return true
	})
	return out
}

// checkBitnamiSynced fails the test unless every named SealedSecret is in
// sealed-secrets' synced shape and its Secret exists.
func checkBitnamiSynced(t *testing.T, ns string, names []string) {
	t.Helper()
	for _, name := range names {
		ss := &bitnamiv1.SealedSecret{}
		if err := env.Client.Get(ctx, clientKey(ns, name), ss); err != nil {
			t.Fatal(err)
		}
		if !bitnamiSynced(ss) {
			t.Errorf("%s/%s is not Synced at generation %d: %+v", ns, name, ss.Generation, ss.Status)
		}
		if getSecret(t, ns, name) == nil {
			t.Errorf("Secret %s/%s is missing", ns, name)
		}
	}
}

// bitnamiSynced: Synced=True with an empty message (sealed-secrets' shape)
// at the object's generation.
func bitnamiSynced(ss *bitnamiv1.SealedSecret) bool {
	c := ss.Status.Synced()
	return c != nil && c.Status == corev1.ConditionTrue && c.Message == "" && ss.Status.ObservedGeneration == ss.Generation
}

// bitnamiVersions maps every bitnami.com SealedSecret in ns to its
// resourceVersion.
func bitnamiVersions(t *testing.T, ns string) map[string]string {
	t.Helper()
	var list bitnamiv1.SealedSecretList
	if err := env.Client.List(ctx, &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, ss := range list.Items {
		out[ss.Name] = ss.ResourceVersion
	}
	return out
}

func sameVersions(a, b map[string]string) bool { return changed(a, b) == 0 && len(a) == len(b) }

// changed counts the names whose version differs between a and b.
func changed(a, b map[string]string) int {
	n := 0
	for k, v := range b {
		if a[k] != v {
			n++
		}
	}
	return n
}
