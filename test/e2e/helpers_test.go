package e2e

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/controllers"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	cli "github.com/kseal-dev/kseal/kubeseal-like-cli"
)

var ctx = context.Background()

// newNamespace creates a uniquely named namespace.
func newNamespace(t testing.TB, prefix string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: prefix + "-"}}
	if err := env.Client.Create(ctx, ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// kseal runs the CLI in process and returns stdout; it fails the test on a
// non-zero exit.
func kseal(t testing.TB, stdin []byte, args ...string) []byte {
	t.Helper()
	var out, errOut bytes.Buffer
	if code := cli.Main(ctx, args, bytes.NewReader(stdin), &out, &errOut); code != 0 {
		t.Fatalf("kseal %s: exit %d\n%s", strings.Join(args, " "), code, errOut.String())
	}
	return out.Bytes()
}

// sealSecret seals s with the CLI, using the certificate served by the
// running controller, and returns the SealedSecret.
func sealSecret(t testing.TB, c *controller, s *corev1.Secret, args ...string) *v1alpha1.SealedSecret {
	t.Helper()
	s.APIVersion, s.Kind = "v1", "Secret"
	in, err := yaml.Marshal(s)
	if err != nil {
		t.Fatal(err)
	}
	certPath := filepath.Join(t.TempDir(), "cert.pem")
	if err := os.WriteFile(certPath, fetchCert(t, c), 0o644); err != nil {
		t.Fatal(err)
	}
	out := kseal(t, in, append([]string{"seal", "--cert", certPath}, args...)...)
	ss, err := sealedsecret.DecodeSealedSecret(out)
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

// fetchCert gets the controller's current certificate through its HTTP API,
// the way `kseal seal --cert URL` does.
func fetchCert(t testing.TB, c *controller) []byte {
	t.Helper()
	certPath := filepath.Join(t.TempDir(), "fetched.pem")
	kseal(t, nil, "cert", "inspect", c.apiURL+"/v1/cert.pem")
	resp := httpGet(t, c.apiURL+"/v1/cert.pem")
	if err := os.WriteFile(certPath, resp, 0o644); err != nil {
		t.Fatal(err)
	}
	return resp
}

func secret(ns, name string, data map[string]string) *corev1.Secret {
	s := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Type:       corev1.SecretTypeOpaque,
		StringData: data,
	}
	return s
}

// readyCondition waits until the SealedSecret's Ready condition is observed
// for its latest generation and has the given status, and returns it.
func readyCondition(t testing.TB, ns, name string, status metav1.ConditionStatus) *metav1.Condition {
	t.Helper()
	var cond *metav1.Condition
	waitFor(t, 60*time.Second, "Ready="+string(status)+" on "+ns+"/"+name, func() bool {
		ss := &v1alpha1.SealedSecret{}
		if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, ss); err != nil {
			return false
		}
		cond = apimeta.FindStatusCondition(ss.Status.Conditions, v1alpha1.ConditionReady)
		return cond != nil && cond.Status == status && cond.ObservedGeneration == ss.Generation && ss.Status.ObservedGeneration == ss.Generation &&
			(status != metav1.ConditionTrue || markSettled(ns, name, ss.ResourceVersion))
	})
	return cond
}

// markSettled reports whether the Secret ns/name, when kseal marked it
// (controllers.AnnotationSealedMark), records the SealedSecret's
// resourceVersion rv: kseal patches the mark right after the Ready status,
// so a test that edits the Secret waits for that patch instead of racing it
// (a conflict).
func markSettled(ns, name, rv string) bool {
	s := &corev1.Secret{}
	if err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, s); err != nil {
		return apierrors.IsNotFound(err)
	}
	m, marked := s.Annotations[controllers.AnnotationSealedMark]
	return !marked || strings.HasSuffix(m, ";srv="+rv)
}

// getSecret returns the Secret, or nil when it does not exist.
func getSecret(t testing.TB, ns, name string) *corev1.Secret {
	t.Helper()
	s := &corev1.Secret{}
	err := env.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, s)
	if apierrors.IsNotFound(err) {
		return nil
	}
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func apply(t testing.TB, ss *v1alpha1.SealedSecret) {
	t.Helper()
	ss.ResourceVersion = ""
	if err := env.Client.Create(ctx, ss); err != nil {
		t.Fatal(err)
	}
}

func clientKey(ns, name string) client.ObjectKey { return client.ObjectKey{Namespace: ns, Name: name} }

// importKubesealKey puts the key of the kubeseal vectors into a new
// namespace as sealed-secrets stores its keys, and returns the namespace
// (for KeyManagerOptions.BitnamiNamespace) and the key's certificate.
func importKubesealKey(t testing.TB) (string, []byte) {
	t.Helper()
	ns := newNamespace(t, "sealed-secrets")
	keyPEM, err := os.ReadFile("../../crypto/sealing/testdata/kubeseal/key.pem")
	if err != nil {
		t.Fatal(err)
	}
	certPEM, err := os.ReadFile("../../crypto/sealing/testdata/kubeseal/cert.pem")
	if err != nil {
		t.Fatal(err)
	}
	keySecret := &corev1.Secret{
		ObjectMeta: metav1.ObjectMeta{Name: "sealed-secrets-key", Namespace: ns,
			Labels: map[string]string{v1alpha1.LabelBitnamiSealingKey: "active"}},
		Type: corev1.SecretTypeTLS,
		Data: map[string][]byte{"tls.key": keyPEM, "tls.crt": certPEM},
	}
	if err := env.Client.Create(ctx, keySecret); err != nil {
		t.Fatal(err)
	}
	return ns, certPEM
}
