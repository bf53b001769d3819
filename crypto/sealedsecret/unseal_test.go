package sealedsecret_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/scope"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/crypto/sealing"
)

var (
	allScopes   = []scope.Scope{scope.Strict, scope.NamespaceWide, scope.ClusterWide}
	allVersions = []sealing.Version{sealing.V1, sealing.V2}
)

func TestUnseal_roundTrip(t *testing.T) {
	current, _ := generations(t)
	for _, sc := range allScopes {
		for _, v := range allVersions {
			t.Run(fmt.Sprintf("%v/%v", sc, v), func(t *testing.T) {
				s := newSecret(withScope(sc), withLabels("app", "db"))
				ss := seal(t, s, sealedsecret.SealOptions{Version: v})
				res, err := sealedsecret.Unseal(ss, keyring(t), sealedsecret.UnsealOptions{})
				if err != nil {
					t.Fatal(err)
				}
				got := res.Secret
				if got.Name != testName || got.Namespace != testNamespace || got.Kind != "Secret" || got.APIVersion != "v1" {
					t.Errorf("unsealed %s %s %s/%s", got.APIVersion, got.Kind, got.Namespace, got.Name)
				}
				if !maps.Equal(stringData(got.Data), stringData(s.Data)) {
					t.Errorf("data %v, want %v", stringData(got.Data), stringData(s.Data))
				}
				if got.Labels["app"] != "db" {
					t.Errorf("labels %v", got.Labels)
				}
				if res.KeyName != current.Name {
					t.Errorf("KeyName %q, want %q", res.KeyName, current.Name)
				}
				if len(got.OwnerReferences) != 0 {
					t.Errorf("owner references %v", got.OwnerReferences)
				}
			})
		}
	}
}

// TestUnseal_moved renames a SealedSecret or moves it to another namespace
// (as a copied manifest would) and checks what the scope allows.
func TestUnseal_moved(t *testing.T) {
	type move struct {
		name      string
		namespace string
	}
	var (
		renamed = move{name: "db-copy", namespace: testNamespace}
		moved   = move{name: testName, namespace: "staging"}
		both    = move{name: "db-copy", namespace: "staging"}
	)
	tests := []struct {
		scope scope.Scope
		move  move
		// want is the Ready reason per version, "" when the object opens.
		want map[sealing.Version]string
	}{
		{scope.Strict, renamed, map[sealing.Version]string{
			// RSA-OAEP cannot tell a wrong label from a wrong key.
			sealing.V1: v1alpha1.ReasonUnknownKey,
			sealing.V2: v1alpha1.ReasonScopeMismatch,
		}},
		{scope.Strict, moved, map[sealing.Version]string{
			sealing.V1: v1alpha1.ReasonUnknownKey,
			sealing.V2: v1alpha1.ReasonScopeMismatch,
		}},
		{scope.NamespaceWide, renamed, map[sealing.Version]string{}},
		{scope.NamespaceWide, moved, map[sealing.Version]string{
			sealing.V1: v1alpha1.ReasonUnknownKey,
			sealing.V2: v1alpha1.ReasonScopeMismatch,
		}},
		{scope.ClusterWide, renamed, map[sealing.Version]string{}},
		{scope.ClusterWide, both, map[sealing.Version]string{}},
	}
	for _, tt := range tests {
		for _, v := range allVersions {
			t.Run(fmt.Sprintf("%v/%v/to %s/%s", tt.scope, v, tt.move.namespace, tt.move.name), func(t *testing.T) {
				ss := seal(t, newSecret(withScope(tt.scope)), sealedsecret.SealOptions{Version: v})
				ss.Name, ss.Namespace = tt.move.name, tt.move.namespace
				res, err := sealedsecret.Unseal(ss, keyring(t), sealedsecret.UnsealOptions{})
				want := tt.want[v]
				if want == "" {
					if err != nil {
						t.Fatalf("did not open: %v", err)
					}
					if res.Secret.Name != tt.move.name || res.Secret.Namespace != tt.move.namespace {
						t.Errorf("Secret %s/%s, want the SealedSecret's own name", res.Secret.Namespace, res.Secret.Name)
					}
					return
				}
				if res != nil {
					t.Error("a result came with the error")
				}
				ue := unsealError(t, err)
				if got := sealedsecret.Reason(err); got != want {
					t.Errorf("reason %s, want %s (%v)", got, want, err)
				}
				if want == v1alpha1.ReasonScopeMismatch && !errors.Is(err, sealing.ErrScopeMismatch) {
					t.Errorf("error does not match ErrScopeMismatch: %v", err)
				}
				if want == v1alpha1.ReasonUnknownKey && !errors.Is(err, sealing.ErrUnknownKey) {
					t.Errorf("error does not match ErrUnknownKey: %v", err)
				}
				if ue.Namespace != tt.move.namespace || ue.Name != tt.move.name {
					t.Errorf("error names %s/%s", ue.Namespace, ue.Name)
				}
				if got := failedItems(ue); !slices.Equal(got, []string{"password", "user"}) {
					t.Errorf("failed items %v, want every item", got)
				}
				assertNoLeak(t, err.Error(), testPassword, testUser)
			})
		}
	}
}

// TestUnseal_scopeAnnotationChanged narrows the scope of a sealed object by
// editing its annotations: the items were sealed for a wider scope, which
// both formats can report, since the old label is among the alternatives.
func TestUnseal_scopeAnnotationChanged(t *testing.T) {
	for _, v := range allVersions {
		t.Run(v.String(), func(t *testing.T) {
			ss := seal(t, newSecret(withScope(scope.NamespaceWide)), sealedsecret.SealOptions{Version: v})
			ss.Annotations = nil
			_, err := sealedsecret.Unseal(ss, keyring(t), sealedsecret.UnsealOptions{})
			unsealError(t, err)
			if got := sealedsecret.Reason(err); got != v1alpha1.ReasonScopeMismatch {
				t.Errorf("reason %s (%v)", got, err)
			}
			if !strings.Contains(err.Error(), "namespace-wide") {
				t.Errorf("error does not say what the items were sealed for: %v", err)
			}
		})
	}
}

func TestUnseal_invalidScopeAnnotation(t *testing.T) {
	ss := seal(t, newSecret(), sealedsecret.SealOptions{})
	ss.Annotations = map[string]string{v1alpha1.AnnotationScope: "everywhere"}
	_, err := sealedsecret.Unseal(ss, keyring(t), sealedsecret.UnsealOptions{})
	ue := unsealError(t, err)
	if len(ue.Items) != 1 || ue.Items[0].Item != "" {
		t.Errorf("want one failure of the whole object, got %v", failedItems(ue))
	}
	if !strings.Contains(err.Error(), "everywhere") || sealedsecret.Reason(err) != v1alpha1.ReasonCorruptData {
		t.Errorf("reason %s: %v", sealedsecret.Reason(err), err)
	}
}

func TestUnseal_wrongKey(t *testing.T) {
	_, other := generations(t)
	otherRing := keys.Keyring([]*keys.Generation{other})
	for _, v := range allVersions {
		t.Run(v.String(), func(t *testing.T) {
			ss := seal(t, newSecret(), sealedsecret.SealOptions{Version: v})
			_, err := sealedsecret.Unseal(ss, otherRing, sealedsecret.UnsealOptions{})
			ue := unsealError(t, err)
			if sealedsecret.Reason(err) != v1alpha1.ReasonUnknownKey || !errors.Is(err, sealing.ErrUnknownKey) {
				t.Errorf("reason %s: %v", sealedsecret.Reason(err), err)
			}
			if got := failedItems(ue); !slices.Equal(got, []string{"password", "user"}) {
				t.Errorf("failed items %v", got)
			}
		})
	}
	// A keyring with no keys at all says the same.
	_, err := sealedsecret.Unseal(seal(t, newSecret(), sealedsecret.SealOptions{}), sealing.NewKeyring(), sealedsecret.UnsealOptions{})
	if sealedsecret.Reason(err) != v1alpha1.ReasonUnknownKey {
		t.Errorf("empty keyring: %v", err)
	}
}

func TestUnseal_corruptData(t *testing.T) {
	type mutate func(ct []byte) string
	b64 := base64.StdEncoding.EncodeToString
	tests := map[string]mutate{
		"not base64":         func([]byte) string { return "%%%not base64%%%" },
		"URL-safe base64":    func(ct []byte) string { return base64.URLEncoding.EncodeToString(append(ct, 0xfb, 0xff)) },
		"empty":              func([]byte) string { return "" },
		"truncated":          func(ct []byte) string { return b64(ct[:len(ct)-1]) },
		"truncated to frame": func(ct []byte) string { return b64(ct[:12]) },
		"garbled tail":       func(ct []byte) string { c := clone(ct); c[len(c)-3] ^= 0x40; return b64(c) },
		"appended bytes":     func(ct []byte) string { return b64(append(clone(ct), 0, 1, 2)) },
		"oversized":          func(ct []byte) string { return b64(append(clone(ct), make([]byte, sealing.MaxValueSize+8<<10)...)) },
	}
	for _, v := range allVersions {
		for name, mut := range tests {
			t.Run(v.String()+"/"+name, func(t *testing.T) {
				ss := seal(t, newSecret(withData(map[string][]byte{
					"a": []byte(testPassword), "b": []byte(testUser), "c": []byte("fine"),
				})), sealedsecret.SealOptions{Version: v})
				ss.Spec.EncryptedData["a"] = mut(decodeItem(t, ss, "a"))
				ss.Spec.EncryptedData["b"] = mut(decodeItem(t, ss, "b"))
				res, err := sealedsecret.Unseal(ss, keyring(t), sealedsecret.UnsealOptions{})
				if res != nil {
					t.Error("a result came with the error")
				}
				ue := unsealError(t, err)
				if got := sealedsecret.Reason(err); got != v1alpha1.ReasonCorruptData {
					t.Errorf("reason %s: %v", got, err)
				}
				if !errors.Is(err, sealing.ErrCorrupt) {
					t.Errorf("error does not match ErrCorrupt: %v", err)
				}
				if got := failedItems(ue); !slices.Equal(got, []string{"a", "b"}) {
					t.Errorf("failed items %v, want [a b]", got)
				}
				for _, item := range []string{`"a"`, `"b"`} {
					if !strings.Contains(err.Error(), item) {
						t.Errorf("error text does not name item %s: %v", item, err)
					}
				}
				assertNoLeak(t, err.Error(), testPassword, testUser, "fine")
			})
		}
	}
}

func clone(b []byte) []byte { return append([]byte(nil), b...) }

// TestReason checks the precedence of reasons when items fail differently.
func TestReason(t *testing.T) {
	_, other := generations(t)
	foreign, err := sealedsecret.Seal(newSecret(), &other.Certificate.PublicKey, sealedsecret.SealOptions{})
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := seal(t, newSecret(withNamespace("staging")), sealedsecret.SealOptions{})
	tests := map[string]struct {
		items map[string]string
		want  string
	}{
		"corrupt only":                {items: map[string]string{"a": "!"}, want: v1alpha1.ReasonCorruptData},
		"unknown key beats corrupt":   {items: map[string]string{"a": "!", "b": foreign.Spec.EncryptedData["user"]}, want: v1alpha1.ReasonUnknownKey},
		"scope mismatch beats others": {items: map[string]string{"a": "!", "b": foreign.Spec.EncryptedData["user"], "c": elsewhere.Spec.EncryptedData["user"]}, want: v1alpha1.ReasonScopeMismatch},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			ss := seal(t, newSecret(), sealedsecret.SealOptions{})
			maps.Copy(ss.Spec.EncryptedData, tt.items)
			_, err := sealedsecret.Unseal(ss, keyring(t), sealedsecret.UnsealOptions{})
			ue := unsealError(t, err)
			if got := sealedsecret.Reason(err); got != tt.want {
				t.Errorf("reason %s, want %s: %v", got, tt.want, err)
			}
			if got := failedItems(ue); !slices.Equal(got, sortedKeys(tt.items)) {
				t.Errorf("failed items %v, want %v", got, sortedKeys(tt.items))
			}
			// Wrapped errors keep their reason.
			if got := sealedsecret.Reason(fmt.Errorf("reconcile: %w", err)); got != tt.want {
				t.Errorf("wrapped: reason %s", got)
			}
		})
	}
}

func TestError_Error(t *testing.T) {
	err := &sealedsecret.Error{Namespace: "ns", Name: "n", Items: []*sealedsecret.ItemError{
		{Item: "a", Err: &sealing.CorruptError{Detail: "not valid base64"}},
		{Item: "b", Err: &sealing.UnknownKeyError{Version: sealing.V2, Keys: 2}},
		{Err: &sealedsecret.TemplateError{Detail: "boom"}},
	}}
	want := `unseal ns/n: item "a": corrupt input: not valid base64; item "b": unknown key: `
	if !strings.HasPrefix(err.Error(), want) || !strings.HasSuffix(err.Error(), "; template: boom") {
		t.Errorf("got %q", err.Error())
	}
	for _, target := range []error{sealing.ErrCorrupt, sealing.ErrUnknownKey, sealedsecret.ErrTemplate} {
		if !errors.Is(err, target) {
			t.Errorf("errors.Is(err, %v) is false", target)
		}
	}
	if errors.Is(err, sealing.ErrScopeMismatch) {
		t.Error("errors.Is matches a cause that is not there")
	}
}

func TestUnseal_templateData(t *testing.T) {
	tests := map[string]struct {
		templates map[string]string
		want      map[string]string // extra items; nil when rendering fails
		// inError must appear in the error text.
		inError string
	}{
		"index": {
			templates: map[string]string{"copy": `{{ index . "password" }}`},
			want:      map[string]string{"copy": testPassword},
		},
		"composed": {
			templates: map[string]string{"url": `postgres://{{ .user }}:{{ .password }}@db:5432`},
			want:      map[string]string{"url": "postgres://" + testUser + ":" + testPassword + "@db:5432"},
		},
		"literal": {
			templates: map[string]string{"host": "db.example.com"},
			want:      map[string]string{"host": "db.example.com"},
		},
		"missing key": {
			templates: map[string]string{"bad": `{{ .nosuch }}`},
			inError:   `map has no entry for key "nosuch"`,
		},
		"parse error": {
			templates: map[string]string{"bad": `{{ .password `},
			inError:   `item "bad"`,
		},
		"undefined function": {
			templates: map[string]string{"bad": `{{ nosuchfunc "HOME" }}`},
			inError:   `function "nosuchfunc" not defined`,
		},
		"undefined template": {
			templates: map[string]string{"bad": `{{ template "x" }}`},
			inError:   "template calls are not allowed",
		},
		"field of a string": {
			templates: map[string]string{"bad": `{{ .password.foo }}`},
			inError:   "can't evaluate field foo",
		},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			ss := seal(t, newSecret(), sealedsecret.SealOptions{})
			ss.Spec.Template.Data = tt.templates
			res, err := sealedsecret.Unseal(ss, keyring(t), sealedsecret.UnsealOptions{})
			if tt.want == nil {
				ue := unsealError(t, err)
				if res != nil {
					t.Error("a result came with the error")
				}
				if sealedsecret.Reason(err) != v1alpha1.ReasonTemplateError || !errors.Is(err, sealedsecret.ErrTemplate) {
					t.Errorf("reason %s: %v", sealedsecret.Reason(err), err)
				}
				if got := failedItems(ue); !slices.Equal(got, []string{"bad"}) {
					t.Errorf("failed items %v", got)
				}
				if !strings.Contains(err.Error(), tt.inError) {
					t.Errorf("error text lacks %q: %v", tt.inError, err)
				}
				assertNoLeak(t, err.Error(), testPassword, testUser)
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"user": testUser, "password": testPassword}
			maps.Copy(want, tt.want)
			if got := stringData(res.Secret.Data); !maps.Equal(got, want) {
				t.Errorf("data %v, want %v", got, want)
			}
		})
	}
}

// TestUnseal_templateErrorsHideValues tries templates whose error text, as
// text/template words it, would quote a decrypted value, whole or in parts.
func TestUnseal_templateErrorsHideValues(t *testing.T) {
	const (
		password = "Zq\"p4ss\nW0rd-canary"
		short    = "x7"
	)
	// Renderings of the values an error could quote.
	leaks := []string{password, short, "Zq", "p4ss", "W0rd-canary", fmt.Sprintf("%q", password), fmt.Sprintf("%x", password)}
	tests := map[string]string{
		"range over a value":        `{{ range .password }}{{ end }}`,
		"range over a short value":  `{{ range .short }}{{ end }}`,
		"call a value":              `{{ .password | print | call }}`,
		"call a quoted value":       `{{ printf "%q" .password | call }}`,
		"call a hex value":          `{{ printf "%x" .password | call }}`,
		"call a slice of a value":   `{{ slice .password 0 2 | call }}`,
		"call a short value":        `{{ .short | call }}`,
		"html of a value":           `{{ html .password | call }}`,
		"call what a value indexes": `{{ index . .password | call }}`,
		"index a value by a value":  `{{ index .password .short }}`,
		"separator in the source":   `{{ print ">: map has no entry for key " .password | call }}`,
	}
	for name, tmpl := range tests {
		t.Run(name, func(t *testing.T) {
			ss := seal(t, newSecret(withData(map[string][]byte{"password": []byte(password), "short": []byte(short)})), sealedsecret.SealOptions{})
			ss.Spec.Template.Data = map[string]string{"bad": tmpl}
			_, err := sealedsecret.Unseal(ss, keyring(t), sealedsecret.UnsealOptions{})
			unsealError(t, err)
			if sealedsecret.Reason(err) != v1alpha1.ReasonTemplateError {
				t.Errorf("reason %s: %v", sealedsecret.Reason(err), err)
			}
			assertNoLeak(t, err.Error(), leaks...)
			if !strings.Contains(err.Error(), `item "bad"`) || !strings.Contains(err.Error(), "bad:1:") {
				t.Errorf("error text does not say where the template failed: %v", err)
			}
		})
	}
}

func TestUnseal_templateOutputBounded(t *testing.T) {
	ss := seal(t, newSecret(func(s *corev1.Secret) { s.Data["big"] = bytes.Repeat([]byte("b"), 700<<10) }), sealedsecret.SealOptions{})
	// Two copies of a 700 KiB value: more than a Secret value may hold.
	ss.Spec.Template.Data = map[string]string{"huge": `{{ .big }}{{ .big }}`}
	_, err := sealedsecret.Unseal(ss, keyring(t), sealedsecret.UnsealOptions{})
	unsealError(t, err)
	if sealedsecret.Reason(err) != v1alpha1.ReasonTemplateError || !strings.Contains(err.Error(), "exceeds") {
		t.Errorf("reason %s: %v", sealedsecret.Reason(err), err)
	}
}

func TestUnseal_keyName(t *testing.T) {
	current, other := generations(t)
	// other is the older generation; current is newest and tried first.
	kr := keys.Keyring([]*keys.Generation{current, other})
	tests := map[string]struct {
		sealedTo *keys.Generation
		prefer   string
	}{
		"newest key":                     {sealedTo: current},
		"older key":                      {sealedTo: other},
		"older key, preferred":           {sealedTo: other, prefer: other.Name},
		"older key, other one preferred": {sealedTo: other, prefer: current.Name},
		"unknown preference":             {sealedTo: current, prefer: "deleted-key"},
	}
	for name, tt := range tests {
		for _, v := range allVersions {
			t.Run(name+"/"+v.String(), func(t *testing.T) {
				ss, err := sealedsecret.Seal(newSecret(), &tt.sealedTo.Certificate.PublicKey, sealedsecret.SealOptions{Version: v})
				if err != nil {
					t.Fatal(err)
				}
				res, err := sealedsecret.Unseal(ss, kr, sealedsecret.UnsealOptions{PreferKey: tt.prefer})
				if err != nil {
					t.Fatal(err)
				}
				if res.KeyName != tt.sealedTo.Name {
					t.Errorf("KeyName %q, want %q", res.KeyName, tt.sealedTo.Name)
				}
				if res.Secret.Data["password"] == nil {
					t.Error("password not unsealed")
				}
			})
		}
	}
}

func TestUnseal_secretShape(t *testing.T) {
	immutable := true
	tests := map[string]struct {
		mods      []secretMod
		wantType  corev1.SecretType
		immutable *bool
	}{
		"type defaults to Opaque": {wantType: corev1.SecretTypeOpaque},
		"type is kept":            {mods: []secretMod{withType(corev1.SecretTypeDockerConfigJson)}, wantType: corev1.SecretTypeDockerConfigJson},
		"immutable is kept":       {mods: []secretMod{withImmutable(true)}, wantType: corev1.SecretTypeOpaque, immutable: &immutable},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			ss := seal(t, newSecret(append(tt.mods, withLabels("l", "1"), withAnnotations("a", "2"))...), sealedsecret.SealOptions{})
			ss.Spec.Template.Metadata.Finalizers = []string{"example.com/keep"}
			res, err := sealedsecret.Unseal(ss, keyring(t), sealedsecret.UnsealOptions{})
			if err != nil {
				t.Fatal(err)
			}
			s := res.Secret
			if s.Type != tt.wantType {
				t.Errorf("type %q, want %q", s.Type, tt.wantType)
			}
			if (s.Immutable == nil) != (tt.immutable == nil) || (s.Immutable != nil && *s.Immutable != *tt.immutable) {
				t.Errorf("immutable %v, want %v", s.Immutable, tt.immutable)
			}
			if s.Labels["l"] != "1" || s.Annotations["a"] != "2" || !slices.Equal(s.Finalizers, []string{"example.com/keep"}) {
				t.Errorf("metadata %+v", s.ObjectMeta)
			}
			// The result does not share maps with the SealedSecret.
			s.Labels["l"] = "changed"
			if ss.Spec.Template.Metadata.Labels["l"] != "1" {
				t.Error("the Secret shares its labels with the SealedSecret")
			}
		})
	}
}

// TestUnseal_templateNameIgnored checks that the Secret is named after the
// SealedSecret, whatever its template says: otherwise a namespace-wide object
// could write a Secret of any name, or into another namespace.
func TestUnseal_templateNameIgnored(t *testing.T) {
	ss := seal(t, newSecret(withScope(scope.NamespaceWide)), sealedsecret.SealOptions{})
	ss.Spec.Template.Metadata.Name = "someone-elses"
	ss.Spec.Template.Metadata.Namespace = "kube-system"
	res, err := sealedsecret.Unseal(ss, keyring(t), sealedsecret.UnsealOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if res.Secret.Name != testName || res.Secret.Namespace != testNamespace {
		t.Errorf("Secret %s/%s, want %s/%s", res.Secret.Namespace, res.Secret.Name, testNamespace, testName)
	}
}

func TestUnseal_emptyObject(t *testing.T) {
	ss := seal(t, newSecret(withData(nil)), sealedsecret.SealOptions{AllowEmptyData: true})
	res, err := sealedsecret.Unseal(ss, keyring(t), sealedsecret.UnsealOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Secret.Data) != 0 {
		t.Errorf("data %v", res.Secret.Data)
	}
}
