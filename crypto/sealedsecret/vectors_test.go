package sealedsecret_test

import (
	"maps"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/crypto/sealing"
)

// kubesealDir holds SealedSecrets made by kubeseal v0.40.0 and its own
// recovery-unseal output; see its README.md.
const kubesealDir = "../sealing/testdata/kubeseal"

func readVectorFile(name string) ([]byte, error) {
	return os.ReadFile(filepath.Join(kubesealDir, name))
}

func readVector(t *testing.T, name string) []byte {
	t.Helper()
	b, err := readVectorFile(name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// kubesealKeyring holds the vectors' key.pem.
func kubesealKeyring(t *testing.T) *sealing.Keyring {
	t.Helper()
	dks, err := keys.ParsePrivateKeys("key.pem", readVector(t, "key.pem"))
	if err != nil {
		t.Fatal(err)
	}
	return sealing.NewKeyring(dks...)
}

func decodeSealedVector(t *testing.T, name string) *v1alpha1.SealedSecret {
	t.Helper()
	ss, err := sealedsecret.DecodeSealedSecret(readVector(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return ss
}

func decodeSecretVector(t *testing.T, name string) *corev1.Secret {
	t.Helper()
	s, err := sealedsecret.DecodeSecret(readVector(t, name))
	if err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return s
}

// assertSameSecret compares what kubeseal's recovery-unseal and kseal agree
// on: name, data, labels, annotations and type (not owner references, which
// kseal's Unseal leaves to the controller).
func assertSameSecret(t *testing.T, got, want *corev1.Secret) {
	t.Helper()
	if got.Name != want.Name || got.Namespace != want.Namespace {
		t.Errorf("Secret %s/%s, want %s/%s", got.Namespace, got.Name, want.Namespace, want.Name)
	}
	if !maps.Equal(stringData(got.Data), stringData(want.Data)) {
		t.Errorf("data %q, want %q", stringData(got.Data), stringData(want.Data))
	}
	if !maps.Equal(got.Labels, want.Labels) {
		t.Errorf("labels %v, want %v", got.Labels, want.Labels)
	}
	if !maps.Equal(got.Annotations, want.Annotations) {
		t.Errorf("annotations %v, want %v", got.Annotations, want.Annotations)
	}
	if got.Type != want.Type {
		t.Errorf("type %q, want %q", got.Type, want.Type)
	}
}

func TestUnseal_kubesealVectors(t *testing.T) {
	kr := kubesealKeyring(t)
	input := decodeSecretVector(t, "secret.yaml")
	for _, sc := range []string{"strict", "namespace-wide", "cluster-wide"} {
		t.Run(sc, func(t *testing.T) {
			ss := decodeSealedVector(t, "sealed-"+sc+".yaml")
			if ss.APIVersion != sealedsecret.BitnamiAPIVersion {
				t.Errorf("apiVersion %s", ss.APIVersion)
			}
			res, err := sealedsecret.Unseal(ss, kr, sealedsecret.UnsealOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if res.KeyName != "key.pem#1" {
				t.Errorf("KeyName %q", res.KeyName)
			}
			assertSameSecret(t, res.Secret, decodeSecretVector(t, "unsealed-"+sc+".yaml"))
			// And kubeseal's output agrees with its input.
			if !maps.Equal(stringData(res.Secret.Data), stringData(input.Data)) {
				t.Errorf("data differs from secret.yaml")
			}
		})
	}
}

// TestUnseal_kubesealVectorsMoved checks the scope binding of kubeseal's
// objects as the README describes it.
func TestUnseal_kubesealVectorsMoved(t *testing.T) {
	kr := kubesealKeyring(t)
	tests := map[string]struct {
		file, namespace, name string
		want                  string // Ready reason; "" when the object opens
	}{
		"strict, other namespace":         {file: "sealed-strict.yaml", namespace: "otherns", name: "mysecret", want: v1alpha1.ReasonUnknownKey},
		"strict, renamed":                 {file: "sealed-strict.yaml", namespace: "myns", name: "othername", want: v1alpha1.ReasonUnknownKey},
		"namespace-wide, renamed":         {file: "sealed-namespace-wide.yaml", namespace: "myns", name: "othername"},
		"namespace-wide, other namespace": {file: "sealed-namespace-wide.yaml", namespace: "otherns", name: "mysecret", want: v1alpha1.ReasonUnknownKey},
		"cluster-wide, anywhere":          {file: "sealed-cluster-wide.yaml", namespace: "otherns", name: "othername"},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			ss := decodeSealedVector(t, tt.file)
			ss.Namespace, ss.Name = tt.namespace, tt.name
			_, err := sealedsecret.Unseal(ss, kr, sealedsecret.UnsealOptions{})
			if tt.want == "" {
				if err != nil {
					t.Fatal(err)
				}
				return
			}
			ue := unsealError(t, err)
			if got := sealedsecret.Reason(err); got != tt.want {
				t.Errorf("reason %s, want %s: %v", got, tt.want, err)
			}
			if len(ue.Items) != 4 {
				t.Errorf("%d failed items, want all 4", len(ue.Items))
			}
			assertNoLeak(t, err.Error(), "s3cr3t-p@ss!", "admin", "db.example.com")
		})
	}
}

// TestSeal_kubesealCertificate seals secret.yaml with the vectors'
// certificate in the Bitnami format, as a user sealing for a sealed-secrets
// controller would, and opens it with key.pem.
func TestSeal_kubesealCertificate(t *testing.T) {
	cert, err := keys.ParseCertificate(readVector(t, "cert.pem"), time.Now())
	if err != nil {
		t.Fatal(err)
	}
	if cert.PublicKey.Hybrid != nil {
		t.Fatal("a kubeseal certificate carries no hybrid recipient")
	}
	input := decodeSecretVector(t, "secret.yaml")
	ss, err := sealedsecret.Seal(input, &cert.PublicKey, sealedsecret.SealOptions{Version: sealing.V1})
	if err != nil {
		t.Fatal(err)
	}
	// v2 needs a recipient the certificate lacks.
	if _, err := sealedsecret.Seal(input, &cert.PublicKey, sealedsecret.SealOptions{}); err == nil {
		t.Error("sealed v2 with a certificate that has no hybrid recipient")
	}
	out, err := sealedsecret.Encode("yaml", ss)
	if err != nil {
		t.Fatal(err)
	}
	decoded, err := sealedsecret.DecodeSealedSecret(out)
	if err != nil {
		t.Fatal(err)
	}
	res, err := sealedsecret.Unseal(decoded, kubesealKeyring(t), sealedsecret.UnsealOptions{})
	if err != nil {
		t.Fatal(err)
	}
	// kseal's output unseals to what kubeseal's does.
	assertSameSecret(t, res.Secret, decodeSecretVector(t, "unsealed-strict.yaml"))
	// And its shape matches kubeseal's own SealedSecret.
	want := decodeSealedVector(t, "sealed-strict.yaml")
	if ss.APIVersion != want.APIVersion || ss.Kind != want.Kind ||
		!maps.Equal(ss.Annotations, want.Annotations) ||
		!maps.Equal(ss.Spec.Template.Metadata.Annotations, want.Spec.Template.Metadata.Annotations) ||
		!maps.Equal(ss.Spec.Template.Metadata.Labels, want.Spec.Template.Metadata.Labels) ||
		ss.Spec.Template.Type != want.Spec.Template.Type {
		t.Errorf("shape differs from kubeseal's:\n got %+v\nwant %+v", ss, want)
	}
	for item := range want.Spec.EncryptedData {
		if len(ss.Spec.EncryptedData[item]) != len(want.Spec.EncryptedData[item]) {
			t.Errorf("item %q: %d base64 characters, kubeseal wrote %d", item, len(ss.Spec.EncryptedData[item]), len(want.Spec.EncryptedData[item]))
		}
	}
}
