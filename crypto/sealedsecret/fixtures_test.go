package sealedsecret_test

import (
	"encoding/base64"
	"errors"
	"maps"
	"slices"
	"strings"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/scope"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/crypto/sealing"
)

// Values of the default test Secret. They are distinctive so that a test can
// assert they never show up in ciphertexts or error messages.
const (
	testNamespace = "prod"
	testName      = "db"
	testUser      = "admin-canary-user"
	testPassword  = "hunter2-canary-pass"
)

var (
	genOnce          sync.Once
	genCurrent       *keys.Generation
	genOther         *keys.Generation
	errGenerateTests error
)

// generations returns two key generations with RSA-2048 keys (fast to make,
// same formats): current is the one tests seal to, other belongs to
// "another cluster".
func generations(t testing.TB) (current, other *keys.Generation) {
	t.Helper()
	genOnce.Do(func() {
		genCurrent, errGenerateTests = keys.Generate(keys.GenerateOptions{Name: "kseal-key-current", RSABits: 2048})
		if errGenerateTests != nil {
			return
		}
		genOther, errGenerateTests = keys.Generate(keys.GenerateOptions{Name: "kseal-key-other", RSABits: 2048})
	})
	if errGenerateTests != nil {
		t.Fatal(errGenerateTests)
	}
	return genCurrent, genOther
}

// publicKey returns the sealer's view of the current generation.
func publicKey(t testing.TB) *sealing.PublicKey {
	t.Helper()
	current, _ := generations(t)
	return &current.Certificate.PublicKey
}

// keyring returns a keyring holding only the current generation.
func keyring(t testing.TB) *sealing.Keyring {
	t.Helper()
	current, _ := generations(t)
	return keys.Keyring([]*keys.Generation{current})
}

// secretMod changes a test Secret.
type secretMod func(*corev1.Secret)

// newSecret returns the Secret prod/db with a user and a password item,
// changed by mods.
func newSecret(mods ...secretMod) *corev1.Secret {
	s := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: testName, Namespace: testNamespace},
		Data: map[string][]byte{
			"user":     []byte(testUser),
			"password": []byte(testPassword),
		},
	}
	for _, mod := range mods {
		mod(s)
	}
	return s
}

func withNamespace(ns string) secretMod { return func(s *corev1.Secret) { s.Namespace = ns } }

func withName(name string) secretMod { return func(s *corev1.Secret) { s.Name = name } }

func withType(t corev1.SecretType) secretMod { return func(s *corev1.Secret) { s.Type = t } }

func withImmutable(v bool) secretMod { return func(s *corev1.Secret) { s.Immutable = &v } }

// withData replaces the data items.
func withData(data map[string][]byte) secretMod {
	return func(s *corev1.Secret) { s.Data = data }
}

func withStringData(data map[string]string) secretMod {
	return func(s *corev1.Secret) { s.StringData = data }
}

// withAnnotations adds annotations given as key, value pairs.
func withAnnotations(kv ...string) secretMod {
	return func(s *corev1.Secret) {
		if s.Annotations == nil {
			s.Annotations = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			s.Annotations[kv[i]] = kv[i+1]
		}
	}
}

// withLabels adds labels given as key, value pairs.
func withLabels(kv ...string) secretMod {
	return func(s *corev1.Secret) {
		if s.Labels == nil {
			s.Labels = map[string]string{}
		}
		for i := 0; i+1 < len(kv); i += 2 {
			s.Labels[kv[i]] = kv[i+1]
		}
	}
}

// withScope sets the kseal.dev/scope annotation.
func withScope(sc scope.Scope) secretMod {
	return withAnnotations(v1alpha1.AnnotationScope, sc.String())
}

// seal seals s with the current generation and fails the test on error.
func seal(t testing.TB, s *corev1.Secret, opts sealedsecret.SealOptions) *v1alpha1.SealedSecret {
	t.Helper()
	ss, err := sealedsecret.Seal(s, publicKey(t), opts)
	if err != nil {
		t.Fatalf("seal: %v", err)
	}
	return ss
}

// decodeItem returns the ciphertext of one sealed item.
func decodeItem(t testing.TB, ss *v1alpha1.SealedSecret, item string) []byte {
	t.Helper()
	ct, err := base64.StdEncoding.DecodeString(ss.Spec.EncryptedData[item])
	if err != nil {
		t.Fatalf("item %q is not base64: %v", item, err)
	}
	return ct
}

// unsealError asserts that err is an *sealedsecret.Error and returns it.
func unsealError(t testing.TB, err error) *sealedsecret.Error {
	t.Helper()
	if err == nil {
		t.Fatal("unsealed, want an error")
	}
	var ue *sealedsecret.Error
	if !errors.As(err, &ue) {
		t.Fatalf("error %T (%v) is not a *sealedsecret.Error", err, err)
	}
	return ue
}

// failedItems returns the item names an unseal error lists, in order.
func failedItems(ue *sealedsecret.Error) []string {
	var names []string
	for _, it := range ue.Items {
		names = append(names, it.Item)
	}
	return names
}

// assertNoLeak fails if msg contains any of the secret values.
func assertNoLeak(t testing.TB, msg string, values ...string) {
	t.Helper()
	for _, v := range values {
		if v != "" && strings.Contains(msg, v) {
			t.Errorf("error text contains the secret value %q: %s", v, msg)
		}
	}
}

// stringData converts Secret data to strings for readable comparisons.
func stringData(data map[string][]byte) map[string]string {
	out := make(map[string]string, len(data))
	for k, v := range data {
		out[k] = string(v)
	}
	return out
}

func sortedKeys[M ~map[string]V, V any](m M) []string {
	return slices.Sorted(maps.Keys(m))
}
