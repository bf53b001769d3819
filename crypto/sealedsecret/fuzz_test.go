package sealedsecret_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"regexp"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/conversion"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/scope"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/crypto/sealing"
)

// addVectorSeeds adds every manifest of the kubeseal vectors as a seed.
func addVectorSeeds(f *testing.F) {
	for _, name := range []string{
		"secret.yaml", "sealed-strict.yaml", "sealed-namespace-wide.yaml", "sealed-cluster-wide.yaml",
		"unsealed-strict.yaml", "unsealed-cluster-wide.yaml",
	} {
		b, err := readVectorFile(name)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

// roundTripEquality is equality.Semantic adjusted for what manifests cannot
// carry: metav1.Time is written to the second and MicroTime to the
// microsecond, and managed fields are raw JSON whose spacing the encoder
// changes.
var roundTripEquality = conversion.EqualitiesOrDie(
	func(a, b metav1.Time) bool { return a.Truncate(time.Second).Equal(b.Truncate(time.Second)) },
	func(a, b metav1.MicroTime) bool {
		return a.Truncate(time.Microsecond).Equal(b.Truncate(time.Microsecond))
	},
	func(a, b metav1.FieldsV1) bool {
		var x, y bytes.Buffer
		return json.Compact(&x, a.Raw) == nil && json.Compact(&y, b.Raw) == nil && bytes.Equal(x.Bytes(), y.Bytes())
	},
)

var (
	unreadableTime = regexp.MustCompile(`"(-\d{4}|\d{5,})-\d\d-\d\dT`)
	mergeKey       = regexp.MustCompile(`(?m)^[ -]*<<:`)
)

// checkRoundTrip encodes obj in both formats and decodes it again with
// decode: the result must equal obj, and encoding it must give the same bytes.
func checkRoundTrip[T any](t *testing.T, obj T, decode func([]byte) (T, error)) {
	t.Helper()
	for _, format := range []string{"json", "yaml"} {
		out, err := sealedsecret.Encode(format, obj)
		if err != nil {
			t.Fatalf("%s: encode a decoded object: %v", format, err)
		}
		if unreadableTime.Match(out) {
			// metav1.Time writes a year beyond 0-9999 (reached through a
			// time zone offset) that its own parser refuses.
			return
		}
		if format == "yaml" && mergeKey.Match(out) {
			// The YAML encoder writes a "<<" key unquoted, and YAML readers
			// take it for a merge key. No valid Kubernetes object has such a
			// key: label, annotation and data keys exclude "<".
			continue
		}
		again, err := decode(out)
		if err != nil {
			t.Fatalf("%s: decode an encoded object: %v\n%s", format, err, out)
		}
		if !roundTripEquality.DeepEqual(obj, again) {
			t.Fatalf("%s: round trip changed the object:\n%s", format, out)
		}
		out2, err := sealedsecret.Encode(format, again)
		if err != nil || !bytes.Equal(out, out2) {
			t.Fatalf("%s: encoding is not stable (%v):\n%s\n---\n%s", format, err, out, out2)
		}
	}
}

func FuzzDecodeSecret(f *testing.F) {
	addVectorSeeds(f)
	f.Add([]byte(secretYAML))
	f.Add([]byte(`{"apiVersion":"v1","kind":"Secret","metadata":{"name":"a","labels":{"x":"y"}},"data":{"k":"AAH+/w=="},"immutable":true}`))
	f.Add([]byte("---\nkind: Secret\nstringData:\n  a: |\n    multi\n    line\n"))
	f.Add([]byte("kind: Secret\nmetadata:\n  annotations:\n    a: &x b\n    c: *x\n"))
	f.Add([]byte(`{"kind":"Secret","metadata":{"creationTimestamp":"2020-01-01T00:00:00.5+01:00","labels":{"<<":"x"},` +
		`"managedFields":[{"time":"2020-01-01T00:00:00.5Z","fieldsType":"FieldsV1","fieldsV1":{ "f:data": {} }}]}}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := sealedsecret.DecodeSecret(data)
		if err != nil {
			return
		}
		checkRoundTrip(t, s, sealedsecret.DecodeSecret)
	})
}

func FuzzDecodeSealedSecret(f *testing.F) {
	addVectorSeeds(f)
	f.Add([]byte(`{"apiVersion":"kseal.dev/v1alpha1","kind":"SealedSecret","metadata":{"name":"a","annotations":{"kseal.dev/scope":"cluster-wide"}},"spec":{"encryptedData":{"k":"S1NMMg=="},"template":{"data":{"t":"{{ .k }}"}}}}`))
	f.Add([]byte("apiVersion: bitnami.com/v1alpha1\nkind: SealedSecret\nspec:\n  template:\n    metadata:\n      finalizers: [a]\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		ss, err := sealedsecret.DecodeSealedSecret(data)
		if err != nil {
			return
		}
		checkRoundTrip(t, ss, sealedsecret.DecodeSealedSecret)
	})
}

// fuzzCanary is the plaintext sealed in FuzzUnseal's seeds; no error may
// contain it.
const fuzzCanary = "fuzz-canary-7Qx9"

// canaryRenderings are forms of fuzzCanary an error might quote.
var canaryRenderings = []string{fuzzCanary, "7Qx9", fmt.Sprintf("%x", fuzzCanary), fmt.Sprintf("% x", fuzzCanary[12:])}

// FuzzUnseal feeds Unseal arbitrary sealed items, scope annotations, names
// and a template, with a real keyring. Seeds hold valid sealings of
// fuzzCanary for each scope and format. Unseal must not panic, must not
// return a Secret along with an error, and its errors must never contain the
// canary.
func FuzzUnseal(f *testing.F) {
	kr := keyring(f)
	for _, v := range []sealing.Version{sealing.V1, sealing.V2} {
		for _, sc := range []scope.Scope{scope.Strict, scope.NamespaceWide, scope.ClusterWide} {
			ss := seal(f, newSecret(withScope(sc), withData(map[string][]byte{"a": []byte(fuzzCanary), "b": []byte(fuzzCanary + "\n")})),
				sealedsecret.SealOptions{Version: v})
			a, b := ss.Spec.EncryptedData["a"], ss.Spec.EncryptedData["b"]
			f.Add(a, b, sc.String(), "", testNamespace, testName, "")
			f.Add(a, b, sc.String(), "", testNamespace, testName, `{{ range .a }}{{ end }}`)
			f.Add(a, b, sc.String(), "", testNamespace, testName, `{{ printf "%x" .b | call }}`)
			f.Add(a, b[:len(b)-8], "", "true", testNamespace, "other", `{{ .a }}`)
			f.Add(a, a, sc.String(), "", "staging", testName, `{{ slice .a 0 4 | call }}`)
		}
	}
	f.Add("!!", "", "bogus", "false", "", "", "{{")
	f.Fuzz(func(t *testing.T, a, b, ksealScope, bitnamiNamespaceWide, namespace, name, tmpl string) {
		ss := &v1alpha1.SealedSecret{}
		ss.Namespace, ss.Name = namespace, name
		ss.Annotations = map[string]string{v1alpha1.AnnotationBitnamiNamespaceWide: bitnamiNamespaceWide}
		if ksealScope != "" {
			ss.Annotations[v1alpha1.AnnotationScope] = ksealScope
		}
		ss.Spec.EncryptedData = map[string]string{"a": a, "b": b}
		if tmpl != "" {
			ss.Spec.Template.Data = map[string]string{"t": tmpl}
		}
		res, err := sealedsecret.Unseal(ss, kr, sealedsecret.UnsealOptions{})
		if err != nil {
			if res != nil {
				t.Fatal("a result came with the error")
			}
			// Namespace, name, annotations and template are public and may be
			// quoted; only renderings of the canary they do not hold count.
			public := strings.Join([]string{namespace, name, ksealScope, bitnamiNamespaceWide, tmpl}, "\x00")
			for _, leak := range canaryRenderings {
				if strings.Contains(err.Error(), leak) && !strings.Contains(public, leak) {
					t.Fatalf("error text contains the sealed value (%q): %v", leak, err)
				}
			}
			_ = sealedsecret.Reason(err)
			return
		}
		for _, item := range []string{"a", "b"} {
			v := string(res.Secret.Data[item])
			if v != fuzzCanary && v != fuzzCanary+"\n" {
				t.Fatalf("item %q opened to %d unexpected bytes", item, len(v))
			}
		}
	})
}
