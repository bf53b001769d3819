package sealedsecret_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/scope"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/crypto/sealing"
)

// countingOpener passes every Open to a keyring and bounds, from what each
// call is asked to do, the RSA operations it can make: one per RSA key for
// the object's label and one per key for each alternative label.
type countingOpener struct {
	kr      *sealing.Keyring
	rsaKeys int

	mu        sync.Mutex
	opens     int
	withAlts  int // calls that were given alternative labels
	rsaBound  int
	afterOpen func(n int)
}

func (c *countingOpener) Open(ct, label []byte, opts sealing.OpenOptions) ([]byte, *sealing.DecryptionKey, error) {
	c.mu.Lock()
	c.opens++
	n := c.opens
	if !sealing.IsV2(ct) {
		c.rsaBound += c.rsaKeys * (1 + len(opts.Alternatives))
		if len(opts.Alternatives) > 0 {
			c.withAlts++
		}
	}
	c.mu.Unlock()
	pt, k, err := c.kr.Open(ct, label, opts)
	if c.afterOpen != nil {
		c.afterOpen(n)
	}
	return pt, k, err
}

// manyItems seals n values (item0, item1, ...) in format v with scope sc.
func manyItems(t testing.TB, n int, v sealing.Version, sc scope.Scope) *v1alpha1.SealedSecret {
	t.Helper()
	data := map[string]string{}
	for i := range n {
		data[fmt.Sprintf("item%d", i)] = fmt.Sprintf("value-%d", i)
	}
	only := func(s *corev1.Secret) { s.Data, s.StringData = nil, data }
	return seal(t, newSecret(only, withScope(sc)), sealedsecret.SealOptions{Version: v})
}

// TestOpenItems_ignoresTemplates: a template that cannot render does not
// change what OpenItems answers.
func TestOpenItems_ignoresTemplates(t *testing.T) {
	for _, v := range allVersions {
		ss := seal(t, newSecret(), sealedsecret.SealOptions{Version: v})
		ss.Spec.Template.Data = map[string]string{"x": `{{ index .password 999 }}{{ .missing }}`}
		o, err := sealedsecret.OpenItems(context.Background(), ss, keyring(t), sealedsecret.OpenOptions{})
		if err != nil {
			t.Fatalf("%v: %v", v, err)
		}
		if len(o.Data) != 2 || string(o.Data["password"]) != testPassword {
			t.Errorf("%v: opened %v", v, sortedKeys(o.Data))
		}
		o.Wipe()
	}
}

// TestOpenItems_alternativesOncePerObject: a v1 object whose items were
// sealed for another scope tries the other labels for one item only, and the
// work stays within OpenCost.
func TestOpenItems_alternativesOncePerObject(t *testing.T) {
	ss := manyItems(t, 6, sealing.V1, scope.NamespaceWide)
	ss.Annotations = nil // now strict: every item was sealed for another scope
	kr := keyring(t)
	c := &countingOpener{kr: kr, rsaKeys: 1}
	_, err := sealedsecret.OpenItems(context.Background(), ss, c, sealedsecret.OpenOptions{})
	if got := sealedsecret.Reason(err); got != v1alpha1.ReasonScopeMismatch {
		t.Fatalf("reason %s (%v)", got, err)
	}
	if got := failedItems(unsealError(t, err)); len(got) != 6 {
		t.Errorf("failed items %v, want all 6", got)
	}
	if c.withAlts != 1 {
		t.Errorf("%d of %d items tried the other scope labels, want 1", c.withAlts, c.opens)
	}
	cost := sealedsecret.OpenCost(ss, kr.Keys())
	if cost.V1Items != 6 || cost.RSAOps != 6+2 {
		t.Errorf("cost %+v, want 6 v1 items and 8 RSA operations", cost)
	}
	if c.rsaBound > cost.RSAOps {
		t.Errorf("the work done may take %d RSA operations, more than OpenCost's %d", c.rsaBound, cost.RSAOps)
	}
}

func TestOpenCost(t *testing.T) {
	current, other := generations(t)
	two := sealing.NewKeyring(current.DecryptionKey(), other.DecryptionKey())
	v1 := manyItems(t, 3, sealing.V1, scope.Strict)
	mixed := manyItems(t, 2, sealing.V2, scope.Strict)
	mixed.Spec.EncryptedData["v1"] = v1.Spec.EncryptedData["item0"]
	mixed.Spec.EncryptedData["garbage"] = "!!"
	mixed.Spec.EncryptedData["short"] = "AA=="
	tests := []struct {
		name string
		ss   *v1alpha1.SealedSecret
		want sealedsecret.Cost
	}{
		// 3 items x 2 keys, plus 2 alternative labels x 2 keys once.
		{"v1", v1, sealedsecret.Cost{Items: 3, V1Items: 3, RSAOps: 3*2 + 2*2}},
		{"v2", manyItems(t, 4, sealing.V2, scope.Strict), sealedsecret.Cost{Items: 4}},
		// Undecodable and truncated values cost no RSA operation.
		{"mixed", mixed, sealedsecret.Cost{Items: 5, V1Items: 2, RSAOps: 2 + 2*2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := sealedsecret.OpenCost(tt.ss, two.Keys()); got != tt.want {
				t.Errorf("got %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestOpenItems_stopsWhenCancelled: the context is checked between items.
func TestOpenItems_stopsWhenCancelled(t *testing.T) {
	ss := manyItems(t, 5, sealing.V2, scope.Strict)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := &countingOpener{kr: keyring(t), afterOpen: func(n int) {
		if n == 2 {
			cancel()
		}
	}}
	o, err := sealedsecret.OpenItems(ctx, ss, c, sealedsecret.OpenOptions{})
	if !errors.Is(err, context.Canceled) || o != nil {
		t.Fatalf("got %v, %v; want context.Canceled", o, err)
	}
	if c.opens != 2 {
		t.Errorf("%d items opened after the cancel at the second, want 2", c.opens)
	}
}

// FuzzOpenCost: for any two item values OpenCost and OpenItems do not
// panic, and the cost stays within its formula.
func FuzzOpenCost(f *testing.F) {
	v1 := manyItems(f, 1, sealing.V1, scope.Strict).Spec.EncryptedData["item0"]
	v2 := manyItems(f, 1, sealing.V2, scope.Strict).Spec.EncryptedData["item0"]
	f.Add(v1, v2)
	f.Add(v1, v1)
	f.Add("AQA=", "!")
	f.Add("", "S1NMMg==")
	kr := keyring(f)
	f.Fuzz(func(t *testing.T, a, b string) {
		ss := &v1alpha1.SealedSecret{}
		ss.Namespace, ss.Name = testNamespace, testName
		ss.Spec.EncryptedData = map[string]string{"a": a, "b": b}
		cost := sealedsecret.OpenCost(ss, kr.Keys())
		if cost.Items != 2 || cost.V1Items > 2 || cost.RSAOps > (cost.V1Items+2)*len(kr.Keys()) {
			t.Errorf("cost %+v", cost)
		}
		if o, err := sealedsecret.OpenItems(context.Background(), ss, kr, sealedsecret.OpenOptions{}); err == nil {
			o.Wipe()
		}
	})
}
