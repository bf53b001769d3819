// Package compat checks kseal against the real kubeseal v0.40.0 in both
// directions: kubeseal seals with a kseal certificate and kseal unseals, and
// kseal seals format v1 and kubeseal --recovery-unseal opens it. The kubeseal
// binary is built from module source by hack/build-kubeseal.sh; `make test`
// passes its path in KSEAL_KUBESEAL.
package compat

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"reflect"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"

	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/scope"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/crypto/sealing"
)

func kubeseal(t *testing.T) string {
	t.Helper()
	bin := os.Getenv("KSEAL_KUBESEAL")
	if bin == "" {
		if os.Getenv("KSEAL_REQUIRE_TOOLS") != "" {
			t.Fatal("KSEAL_KUBESEAL is not set; run hack/build-kubeseal.sh")
		}
		t.Skip("KSEAL_KUBESEAL not set (make test sets it)")
	}
	return bin
}

// run executes kubeseal offline: no kubeconfig, no inherited environment.
func run(t *testing.T, bin string, stdin []byte, args ...string) []byte {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}
	cmd.Stdin = bytes.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("kubeseal %v: %v\n%s", args, err, stderr.String())
	}
	return stdout.Bytes()
}

var (
	genOnce sync.Once
	gen     *keys.Generation
)

// generation is a kseal key generation with a full-size RSA-4096 key, as the
// controller makes.
func generation(t *testing.T) *keys.Generation {
	t.Helper()
	genOnce.Do(func() {
		var err error
		gen, err = keys.Generate(keys.GenerateOptions{Name: "kseal-key-compat"})
		if err != nil {
			panic(err)
		}
	})
	return gen
}

func testSecret(sc scope.Scope) *corev1.Secret {
	s := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "prod", Labels: map[string]string{"app": "db"}},
		Type:       corev1.SecretTypeOpaque,
		Data: map[string][]byte{
			"password": []byte("s3cr3t"),
			"blob":     {0x00, 0xff, 0x10, 0x80},
			"multi":    []byte("line1\nline2\n"),
		},
	}
	if sc != scope.Strict {
		s.Annotations = scope.Annotations(sc, true)
	}
	return s
}

func write(t *testing.T, name string, data []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, data, 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}

// TestKubesealSeals_ksealUnseals: kubeseal accepts a kseal certificate (with
// its non-critical recipient extension), and kseal opens what it sealed.
func TestKubesealSeals_ksealUnseals(t *testing.T) {
	bin := kubeseal(t)
	g := generation(t)
	certPath := write(t, "cert.pem", g.CertificatePEM)
	kr := keys.Keyring([]*keys.Generation{g})
	for _, sc := range []scope.Scope{scope.Strict, scope.NamespaceWide, scope.ClusterWide} {
		t.Run(sc.String(), func(t *testing.T) {
			in, err := yaml.Marshal(testSecret(sc))
			if err != nil {
				t.Fatal(err)
			}
			out := run(t, bin, in, "--cert", certPath, "--format", "yaml", "--scope", sc.String())
			ss, err := sealedsecret.DecodeSealedSecret(out)
			if err != nil {
				t.Fatalf("decode kubeseal output: %v", err)
			}
			res, err := sealedsecret.Unseal(ss, kr, sealedsecret.UnsealOptions{})
			if err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(res.Secret.Data, testSecret(sc).Data) {
				t.Errorf("data differs after kubeseal -> kseal")
			}
			if res.KeyName != g.Name {
				t.Errorf("opened by %q", res.KeyName)
			}
		})
	}
}

// TestKsealSealsV1_kubesealUnseals: kubeseal --recovery-unseal opens kseal's
// v1 output, with the key as PEM and as kseal's key Secret.
func TestKsealSealsV1_kubesealUnseals(t *testing.T) {
	bin := kubeseal(t)
	g := generation(t)
	cert, err := keys.ParseCertificate(g.CertificatePEM, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	keySecret, err := yaml.Marshal(g.Secret("kseal-system"))
	if err != nil {
		t.Fatal(err)
	}
	keyFiles := map[string]string{
		"pem":        write(t, "key.pem", g.PrivateKeyPEM()),
		"key Secret": write(t, "key.yaml", keySecret),
	}
	for _, sc := range []scope.Scope{scope.Strict, scope.NamespaceWide, scope.ClusterWide} {
		for kind, keyFile := range keyFiles {
			t.Run(sc.String()+"/"+kind, func(t *testing.T) {
				want := testSecret(sc)
				ss, err := sealedsecret.Seal(want, &cert.PublicKey, sealedsecret.SealOptions{Version: sealing.V1})
				if err != nil {
					t.Fatal(err)
				}
				in, err := sealedsecret.Encode("yaml", ss)
				if err != nil {
					t.Fatal(err)
				}
				out := run(t, bin, in, "--recovery-unseal", "--recovery-private-key", keyFile, "--format", "yaml")
				var got corev1.Secret
				if err := yaml.Unmarshal(out, &got); err != nil {
					t.Fatalf("kubeseal output: %v", err)
				}
				if !reflect.DeepEqual(got.Data, want.Data) {
					t.Errorf("data differs after kseal v1 -> kubeseal")
				}
				if got.Name != "db" || got.Namespace != "prod" || got.Labels["app"] != "db" {
					t.Errorf("metadata differs: %s/%s %v", got.Namespace, got.Name, got.Labels)
				}
			})
		}
	}
}

// TestKubesealRefusesV2 documents that v2 values are kseal-only: kubeseal
// cannot open them even with the right RSA key.
func TestKubesealRefusesV2(t *testing.T) {
	bin := kubeseal(t)
	g := generation(t)
	cert, _ := keys.ParseCertificate(g.CertificatePEM, time.Now())
	ss, err := sealedsecret.Seal(testSecret(scope.Strict), &cert.PublicKey, sealedsecret.SealOptions{Version: sealing.V2})
	if err != nil {
		t.Fatal(err)
	}
	ss.APIVersion = sealedsecret.BitnamiAPIVersion
	in, _ := sealedsecret.Encode("yaml", ss)
	cmd := exec.Command(bin, "--recovery-unseal", "--recovery-private-key", write(t, "key.pem", g.PrivateKeyPEM()))
	cmd.Env = []string{"PATH=/usr/bin:/bin", "HOME=" + t.TempDir()}
	cmd.Stdin = bytes.NewReader(in)
	if out, err := cmd.CombinedOutput(); err == nil {
		t.Fatalf("kubeseal opened a v2 value: %s", out)
	}
}
