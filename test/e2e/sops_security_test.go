package e2e

import (
	"bytes"
	"crypto/rand"
	"encoding/base64"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sealing"
	"github.com/kseal-dev/kseal/crypto/sops"
	"github.com/kseal-dev/kseal/crypto/sops/sopstest"
)

// sopsRecipient is the recipient to encrypt SOPS documents to for cert.
func sopsRecipient(t testing.TB, cert *keys.Certificate) string {
	t.Helper()
	r, _ := cert.SopsRecipient()
	if r == nil {
		t.Fatal("certificate has no SOPS recipient")
	}
	return r.String()
}

// ageStanza returns the armored age file of the first age key of a SOPS
// YAML document: what anyone who reads the document in git sees.
func ageStanza(t testing.TB, doc []byte) string {
	t.Helper()
	var d struct {
		Sops struct {
			Age []struct {
				Enc string `json:"enc"`
			} `json:"age"`
		} `json:"sops"`
	}
	if err := yaml.Unmarshal(doc, &d); err != nil || len(d.Sops.Age) == 0 {
		t.Fatalf("no age stanza: %v", err)
	}
	return d.Sops.Age[0].Enc
}

// stanzaAsV2 frames an armored age file as a v2 sealed value naming the
// key id of r, base64 as in spec.encryptedData.
func stanzaAsV2(t testing.TB, stanza string, r *age.HybridRecipient) string {
	t.Helper()
	bin, err := io.ReadAll(armor.NewReader(strings.NewReader(stanza)))
	if err != nil {
		t.Fatal(err)
	}
	id := sealing.KeyIDOf(r)
	return base64.StdEncoding.EncodeToString(append(append([]byte("KSL2"), id[:]...), bin...))
}

func createSops(t testing.TB, ns, name string, doc []byte) {
	t.Helper()
	obj := &v1alpha1.SopsSecret{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns}, Spec: v1alpha1.SopsSecretSpec{Sops: string(doc)}}
	if err := env.Client.Create(ctx, obj); err != nil {
		t.Fatal(err)
	}
}

// TestSopsSecret_domainSeparation: a namespace editor who reads a SOPS
// document encrypted to the cluster builds a cluster-wide v2 SealedSecret
// around its age stanza. Its data key starts with 0x00 (1 file in 256), so
// with one identity for both purposes the SealedSecret would unseal to the
// rest of the data key. Current generations keep separate identities, so
// the stanza does not open as v2; legacy generations (one identity) still
// open their SOPS documents and v2 values, but refuse v2 contents of a data
// key's length. A v2 value put into a SOPS stanza reveals nothing either.
func TestSopsSecret_domainSeparation(t *testing.T) {
	keyNS := newNamespace(t, "keys")
	legacy, err := keys.Generate(keys.GenerateOptions{Name: "kseal-key-legacy", RSABits: 2048, Now: time.Now().Add(-time.Hour), SharedIdentity: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := env.Client.Create(ctx, legacy.Secret(keyNS)); err != nil {
		t.Fatal(err)
	}
	c := startController(t, controllers.Options{Keys: controllers.KeyManagerOptions{Namespace: keyNS, RSABits: 2048}})
	defer c.stop()
	cert, err := keys.ParseCertificate(fetchCert(t, c), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	ns := newNamespace(t, "attack")
	certSops, _ := cert.SopsRecipient() // what `kseal cert inspect` tells users to put in .sops.yaml
	dataKey := make([]byte, 32)
	rand.Read(dataKey[1:])
	for _, tt := range []struct {
		name       string
		sops, v2   *age.HybridRecipient
		wantReason string
	}{
		{"current", certSops, cert.PublicKey.Hybrid, v1alpha1.ReasonCorruptData},
		{"legacy", legacy.Hybrid.Recipient(), legacy.Hybrid.Recipient(), v1alpha1.ReasonCorruptData},
	} {
		t.Run(tt.name, func(t *testing.T) {
			victim := "victim-" + tt.name
			doc := sopstest.MustEncrypt([]byte("kseal.dev/scope: "+ns+"/"+victim+"\npassword: "+canary("dk")+"\n"), sops.FormatYAML,
				sopstest.Options{Recipients: []string{tt.sops.String()}, DataKey: dataKey})
			createSops(t, ns, victim, doc)
			sopsReady(t, ns, victim, metav1.ConditionTrue)

			attack := &v1alpha1.SealedSecret{
				ObjectMeta: metav1.ObjectMeta{Name: "attack-" + tt.name, Namespace: ns,
					Annotations: map[string]string{v1alpha1.AnnotationScope: "cluster-wide"}},
				Spec: v1alpha1.SealedSecretSpec{EncryptedData: map[string]string{"k": stanzaAsV2(t, ageStanza(t, doc), tt.v2)}},
			}
			apply(t, attack)
			cond := settled(t, ns, attack.Name)
			if cond.Status != metav1.ConditionFalse || cond.Reason != tt.wantReason {
				t.Errorf("attack: %s: %s", cond.Reason, cond.Message)
			}
			if tt.name == "legacy" && !strings.Contains(cond.Message, "seal the value again") {
				t.Errorf("legacy refusal does not say what to do: %s", cond.Message)
			}
			if s := getSecret(t, ns, attack.Name); s != nil {
				t.Errorf("the SOPS data key leaked into Secret %s (%d bytes)", attack.Name, len(s.Data["k"]))
			}
			// Rotation would re-seal the data key to the newest generation,
			// where it would then open: refused too.
			attack.APIVersion, attack.Kind = v1alpha1.GroupVersion.String(), "SealedSecret"
			body, err := yaml.Marshal(attack)
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.Post(c.apiURL+"/v1/rotate", "application/yaml", bytes.NewReader(body))
			if err != nil {
				t.Fatal(err)
			}
			out, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusConflict && resp.StatusCode != http.StatusUnprocessableEntity {
				t.Errorf("rotate: %d %s", resp.StatusCode, out)
			}
		})
	}

	// Legacy v2 values keep opening (migration).
	pt := []byte("a legacy value of ordinary length")
	ct, err := sealing.SealV2(legacy.Hybrid.Recipient(), []byte(ns+"/legit"), pt)
	if err != nil {
		t.Fatal(err)
	}
	apply(t, &v1alpha1.SealedSecret{ObjectMeta: metav1.ObjectMeta{Name: "legit", Namespace: ns},
		Spec: v1alpha1.SealedSecretSpec{EncryptedData: map[string]string{"k": base64.StdEncoding.EncodeToString(ct)}}})
	readyCondition(t, ns, "legit", metav1.ConditionTrue)
	if s := getSecret(t, ns, "legit"); s == nil || !bytes.Equal(s.Data["k"], pt) {
		t.Error("legacy v2 SealedSecret did not open")
	}

	// The reverse: that v2 value's age file as the stanza of a SOPS
	// document. The error is the one any wrong data key gives.
	doc := sopstest.MustEncrypt([]byte("kseal.dev/scope: "+ns+"/reverse\na: b\n"), sops.FormatYAML, sopstest.Options{Recipients: []string{legacy.Hybrid.Recipient().String()}})
	var armored bytes.Buffer
	w := armor.NewWriter(&armored)
	w.Write(ct[4+sealing.KeyIDSize:])
	w.Close()
	forged := strings.Replace(string(doc), indent(ageStanza(t, doc)), indent(armored.String()), 1)
	if forged == string(doc) {
		t.Fatal("stanza not replaced")
	}
	createSops(t, ns, "reverse", []byte(forged))
	cond := sopsReady(t, ns, "reverse", metav1.ConditionFalse)
	if cond.Reason != v1alpha1.ReasonCorruptData || !strings.Contains(cond.Message, "do not decrypt with its data key") {
		t.Errorf("reverse: %s: %s", cond.Reason, cond.Message)
	}
}

// settled waits until a SealedSecret's Ready condition is True or False for
// its latest generation, and returns it.
func settled(t testing.TB, ns, name string) *metav1.Condition {
	t.Helper()
	var cond *metav1.Condition
	waitFor(t, 60*time.Second, "Ready settled on "+ns+"/"+name, func() bool {
		ss := &v1alpha1.SealedSecret{}
		if err := env.Client.Get(ctx, clientKey(ns, name), ss); err != nil {
			return false
		}
		cond = apimeta.FindStatusCondition(ss.Status.Conditions, v1alpha1.ConditionReady)
		return cond != nil && cond.Status != metav1.ConditionUnknown && cond.ObservedGeneration == ss.Generation
	})
	return cond
}

// indent is how the sops YAML store writes a multi-line enc value.
func indent(s string) string {
	return strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n            ")
}

// TestSopsSecret_boundToNamespace: a document encrypted for tenant-a and
// created as a SopsSecret in tenant-b is refused; it names its place in the
// MAC-covered key kseal.dev/scope.
func TestSopsSecret_boundToNamespace(t *testing.T) {
	c := startController(t, controllers.Options{})
	defer c.stop()
	cert, err := keys.ParseCertificate(fetchCert(t, c), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	r := []string{sopsRecipient(t, cert)}
	tenantA, tenantB := newNamespace(t, "tenant-a"), newNamespace(t, "tenant-b")
	doc := sopstest.MustEncrypt([]byte("kseal.dev/scope: "+tenantA+"/db\npassword: "+canary("tenant-a")+"\n"), sops.FormatYAML,
		sopstest.Options{Recipients: r, EncryptedRegex: "^password$"})
	// A document as encrypted before kseal bound them: nothing names a place.
	old := sopstest.MustEncrypt([]byte("password: "+canary("tenant-a")+"\n"), sops.FormatYAML, sopstest.Options{Recipients: r})
	createSops(t, tenantA, "db", doc)
	createSops(t, tenantB, "db", doc)
	createSops(t, tenantB, "copy", old)
	for _, name := range []string{"db", "copy"} {
		cond := sopsSettled(t, tenantB, name)
		if getSecret(t, tenantB, name) != nil {
			t.Fatalf("tenant-a's document became Secret %s in tenant-b", name)
		}
		if cond.Reason != v1alpha1.ReasonScopeMismatch || strings.Contains(cond.Message, canary("tenant-a")) {
			t.Errorf("%s in tenant-b: %s: %s", name, cond.Reason, cond.Message)
		}
		if name == "db" && !strings.Contains(cond.Message, tenantA) {
			t.Errorf("cross-namespace message does not name the document's namespace: %s", cond.Message)
		}
		if name == "copy" && !strings.Contains(cond.Message, `"`+tenantB+`/copy"`) {
			t.Errorf("unbound message does not give the line to add: %s", cond.Message)
		}
	}
	sopsReady(t, tenantA, "db", metav1.ConditionTrue)
	got := getSecret(t, tenantA, "db")
	if string(got.Data["password"]) != canary("tenant-a") || len(got.Data) != 1 {
		t.Errorf("bound document: data keys %v", keysOf(got.Data))
	}

	// Namespace-wide works for any name.
	wide := sopstest.MustEncrypt([]byte("kseal.dev/scope: "+tenantB+"/*\ntoken: t\n"), sops.FormatYAML, sopstest.Options{Recipients: r})
	createSops(t, tenantB, "wide", wide)
	sopsReady(t, tenantB, "wide", metav1.ConditionTrue)
}

// sopsSettled waits until a SopsSecret's Ready condition is True or False
// for its latest generation, and returns it.
func sopsSettled(t testing.TB, ns, name string) *metav1.Condition {
	t.Helper()
	var cond *metav1.Condition
	waitFor(t, 60*time.Second, "SopsSecret Ready settled on "+ns+"/"+name, func() bool {
		obj := &v1alpha1.SopsSecret{}
		if err := env.Client.Get(ctx, clientKey(ns, name), obj); err != nil {
			return false
		}
		cond = apimeta.FindStatusCondition(obj.Status.Conditions, v1alpha1.ConditionReady)
		return cond != nil && cond.Status != metav1.ConditionUnknown && cond.ObservedGeneration == obj.Generation
	})
	return cond
}

// TestKeyManager_keySecretsImmutable: the key Secrets the controller makes
// are immutable (their data cannot be changed in place), and relabelling a
// generation, which is metadata, still works.
func TestKeyManager_keySecretsImmutable(t *testing.T) {
	keyNS := newNamespace(t, "keys")
	c := startController(t, controllers.Options{Keys: controllers.KeyManagerOptions{Namespace: keyNS, RSABits: 2048}})
	defer c.stop()
	g := c.KeyManager.Newest()
	s := getSecret(t, keyNS, g.Name)
	if s.Immutable == nil || !*s.Immutable {
		t.Fatal("key Secret is not immutable")
	}
	s.Data[keys.SecretKeyAge] = []byte("changed")
	if err := env.Client.Update(ctx, s); !apierrors.IsInvalid(err) {
		t.Fatalf("changing a key Secret's data: %v, want Invalid", err)
	}
	s = getSecret(t, keyNS, g.Name)
	s.Labels[v1alpha1.LabelSealingKey] = "retired"
	if err := env.Client.Update(ctx, s); err != nil {
		t.Fatalf("relabelling: %v", err)
	}
	waitFor(t, 30*time.Second, "a new generation after retiring the only one", func() bool {
		n := c.KeyManager.Newest()
		return n != nil && n.Name != g.Name
	})
}
