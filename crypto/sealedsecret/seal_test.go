package sealedsecret_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"maps"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/scope"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/crypto/sealing"
)

func TestSeal_format(t *testing.T) {
	tests := map[string]struct {
		version    sealing.Version
		apiVersion string
		v2         bool
	}{
		"default is v2": {version: 0, apiVersion: sealedsecret.APIVersion, v2: true},
		"v2":            {version: sealing.V2, apiVersion: sealedsecret.APIVersion, v2: true},
		"v1 is Bitnami": {version: sealing.V1, apiVersion: sealedsecret.BitnamiAPIVersion},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			ss := seal(t, newSecret(), sealedsecret.SealOptions{Version: tt.version})
			if ss.APIVersion != tt.apiVersion || ss.Kind != v1alpha1.SealedSecretKind {
				t.Errorf("got %s %s, want %s %s", ss.APIVersion, ss.Kind, tt.apiVersion, v1alpha1.SealedSecretKind)
			}
			if ss.Name != testName || ss.Namespace != testNamespace {
				t.Errorf("object is %s/%s, want %s/%s", ss.Namespace, ss.Name, testNamespace, testName)
			}
			if got := sortedKeys(ss.Spec.EncryptedData); strings.Join(got, ",") != "password,user" {
				t.Errorf("encrypted items %v", got)
			}
			for item := range ss.Spec.EncryptedData {
				ct := decodeItem(t, ss, item)
				if sealing.IsV2(ct) != tt.v2 {
					t.Errorf("item %q: v2 framing %v, want %v", item, sealing.IsV2(ct), tt.v2)
				}
				// A v1 value starts with the length of the RSA-2048 ciphertext.
				if !tt.v2 && !bytes.HasPrefix(ct, []byte{0x01, 0x00}) {
					t.Errorf("item %q: v1 value starts with % x", item, ct[:2])
				}
			}
		})
	}
}

func TestSeal_scope(t *testing.T) {
	strict, nsWide, clusterWide := scope.Strict, scope.NamespaceWide, scope.ClusterWide
	const (
		ksealScope = v1alpha1.AnnotationScope
		bitnamiNS  = v1alpha1.AnnotationBitnamiNamespaceWide
		bitnamiCW  = v1alpha1.AnnotationBitnamiClusterWide
	)
	tests := map[string]struct {
		mods    []secretMod
		scope   *scope.Scope
		version sealing.Version
		want    scope.Scope
		// annotations is what the SealedSecret's own metadata must hold.
		annotations map[string]string
	}{
		"no annotation is strict": {want: strict},
		"no annotation is strict, v1": {
			version: sealing.V1, want: strict,
		},
		"kseal namespace-wide": {
			mods: []secretMod{withScope(nsWide)}, want: nsWide,
			annotations: map[string]string{ksealScope: "namespace-wide"},
		},
		"kseal namespace-wide, v1 adds Bitnami's": {
			mods: []secretMod{withScope(nsWide)}, version: sealing.V1, want: nsWide,
			annotations: map[string]string{ksealScope: "namespace-wide", bitnamiNS: "true"},
		},
		"kseal cluster-wide, v1 adds Bitnami's": {
			mods: []secretMod{withScope(clusterWide)}, version: sealing.V1, want: clusterWide,
			annotations: map[string]string{ksealScope: "cluster-wide", bitnamiCW: "true"},
		},
		"kseal strict is not recorded": {
			mods: []secretMod{withScope(strict)}, want: strict,
		},
		"Bitnami namespace-wide": {
			mods: []secretMod{withAnnotations(bitnamiNS, "true")}, want: nsWide,
			annotations: map[string]string{ksealScope: "namespace-wide"},
		},
		"Bitnami cluster-wide, v1": {
			mods: []secretMod{withAnnotations(bitnamiCW, "true")}, version: sealing.V1, want: clusterWide,
			annotations: map[string]string{ksealScope: "cluster-wide", bitnamiCW: "true"},
		},
		"Bitnami annotation not true is ignored": {
			mods: []secretMod{withAnnotations(bitnamiCW, "false")}, want: strict,
		},
		"kseal annotation wins over Bitnami's": {
			mods: []secretMod{withScope(nsWide), withAnnotations(bitnamiCW, "true")}, version: sealing.V1, want: nsWide,
			annotations: map[string]string{ksealScope: "namespace-wide", bitnamiNS: "true"},
		},
		"option overrides annotation": {
			mods: []secretMod{withScope(clusterWide), withAnnotations(bitnamiCW, "true")}, scope: &strict, version: sealing.V1, want: strict,
		},
		"option widens strict": {
			scope: &clusterWide, want: clusterWide,
			annotations: map[string]string{ksealScope: "cluster-wide"},
		},
		"option overrides a misspelt annotation": {
			mods: []secretMod{withAnnotations(ksealScope, "namespacewide")}, scope: &nsWide, want: nsWide,
			annotations: map[string]string{ksealScope: "namespace-wide"},
		},
	}
	kr := keyring(t)
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			ss := seal(t, newSecret(append(tt.mods, withAnnotations("example.com/keep", "yes"))...),
				sealedsecret.SealOptions{Scope: tt.scope, Version: tt.version})
			if !maps.Equal(ss.Annotations, tt.annotations) {
				t.Errorf("annotations %v, want %v", ss.Annotations, tt.annotations)
			}
			// The template carries the same scope annotations, and no stale ones.
			tmpl := ss.Spec.Template.Metadata.Annotations
			if tmpl["example.com/keep"] != "yes" {
				t.Errorf("template lost an annotation: %v", tmpl)
			}
			for _, k := range []string{ksealScope, bitnamiNS, bitnamiCW} {
				if tmpl[k] != tt.annotations[k] {
					t.Errorf("template annotation %s=%q, want %q", k, tmpl[k], tt.annotations[k])
				}
			}
			got, err := scope.FromAnnotations(ss.Annotations)
			if err != nil || got != tt.want {
				t.Errorf("sealed object reads as %v (%v), want %v", got, err, tt.want)
			}
			// Every item opens under the label of the wanted scope.
			label := tt.want.Label(testNamespace, testName)
			for item := range ss.Spec.EncryptedData {
				if _, _, err := kr.Open(decodeItem(t, ss, item), label, sealing.OpenOptions{}); err != nil {
					t.Errorf("item %q does not open under %q: %v", item, label, err)
				}
			}
		})
	}
}

func TestSeal_invalidScopeAnnotation(t *testing.T) {
	s := newSecret(withAnnotations(v1alpha1.AnnotationScope, "namespacewide"))
	_, err := sealedsecret.Seal(s, publicKey(t), sealedsecret.SealOptions{})
	if err == nil || !strings.Contains(err.Error(), "namespacewide") {
		t.Fatalf("got %v, want an error naming the misspelt scope", err)
	}
}

func TestSeal_metadata(t *testing.T) {
	const lastApplied = "kubectl.kubernetes.io/last-applied-configuration"
	s := newSecret(
		withLabels("app", "db", "tier", "backend"),
		withAnnotations("example.com/owner", "team-a", lastApplied, `{"data":{"password":"`+testPassword+`"}}`),
		withType(corev1.SecretTypeBasicAuth),
		withImmutable(true),
	)
	for _, v := range []sealing.Version{sealing.V1, sealing.V2} {
		t.Run(v.String(), func(t *testing.T) {
			ss := seal(t, s, sealedsecret.SealOptions{Version: v})
			tmpl := ss.Spec.Template
			if tmpl.Metadata.Name != testName || tmpl.Metadata.Namespace != testNamespace {
				t.Errorf("template names %s/%s", tmpl.Metadata.Namespace, tmpl.Metadata.Name)
			}
			if !maps.Equal(tmpl.Metadata.Labels, s.Labels) {
				t.Errorf("template labels %v, want %v", tmpl.Metadata.Labels, s.Labels)
			}
			want := map[string]string{"example.com/owner": "team-a"}
			if !maps.Equal(tmpl.Metadata.Annotations, want) {
				t.Errorf("template annotations %v, want %v", tmpl.Metadata.Annotations, want)
			}
			if _, ok := ss.Annotations[lastApplied]; ok {
				t.Error("last-applied-configuration copied to the SealedSecret")
			}
			if tmpl.Type != corev1.SecretTypeBasicAuth {
				t.Errorf("template type %q", tmpl.Type)
			}
			if tmpl.Immutable == nil || !*tmpl.Immutable {
				t.Errorf("template immutable %v", tmpl.Immutable)
			}
			if len(tmpl.Data) != 0 {
				t.Errorf("template data %v, want none", tmpl.Data)
			}
			// Changing the output must not change the input.
			tmpl.Metadata.Labels["app"] = "changed"
			*tmpl.Immutable = false
			if s.Labels["app"] != "db" || !*s.Immutable {
				t.Error("the SealedSecret shares labels or immutability with the input Secret")
			}
		})
	}
}

func TestSeal_stringDataWins(t *testing.T) {
	s := newSecret(
		withData(map[string][]byte{"a": []byte("from data"), "b": []byte("only in data")}),
		withStringData(map[string]string{"a": "from stringData", "c": "only in stringData"}),
	)
	for _, v := range []sealing.Version{sealing.V1, sealing.V2} {
		t.Run(v.String(), func(t *testing.T) {
			res, err := sealedsecret.Unseal(seal(t, s, sealedsecret.SealOptions{Version: v}), keyring(t), sealedsecret.UnsealOptions{})
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]string{"a": "from stringData", "b": "only in data", "c": "only in stringData"}
			if got := stringData(res.Secret.Data); !maps.Equal(got, want) {
				t.Errorf("data %v, want %v", got, want)
			}
		})
	}
}

func TestSeal_errors(t *testing.T) {
	clusterWide, nsWide := scope.ClusterWide, scope.NamespaceWide
	tests := map[string]struct {
		secret *corev1.Secret
		opts   sealedsecret.SealOptions
		want   error // nil: sealing succeeds
	}{
		"strict without namespace":                {secret: newSecret(withNamespace("")), want: sealedsecret.ErrNoNamespace},
		"namespace-wide without namespace":        {secret: newSecret(withNamespace(""), withScope(nsWide)), want: sealedsecret.ErrNoNamespace},
		"cluster-wide without namespace":          {secret: newSecret(withNamespace(""), withScope(clusterWide))},
		"option cluster-wide without namespace":   {secret: newSecret(withNamespace("")), opts: sealedsecret.SealOptions{Scope: &clusterWide}},
		"strict without name":                     {secret: newSecret(withName("")), want: sealedsecret.ErrNoName},
		"namespace-wide without name":             {secret: newSecret(withName(""), withScope(nsWide))},
		"no data":                                 {secret: newSecret(withData(nil)), want: sealedsecret.ErrEmptyData},
		"empty data and stringData":               {secret: newSecret(withData(map[string][]byte{}), withStringData(map[string]string{})), want: sealedsecret.ErrEmptyData},
		"no data, allowed":                        {secret: newSecret(withData(nil)), opts: sealedsecret.SealOptions{AllowEmptyData: true}},
		"no data, allowed, v1":                    {secret: newSecret(withData(nil)), opts: sealedsecret.SealOptions{AllowEmptyData: true, Version: sealing.V1}},
		"stringData only":                         {secret: newSecret(withData(nil), withStringData(map[string]string{"k": "v"}))},
		"an empty value is an item":               {secret: newSecret(withData(map[string][]byte{"empty": nil}))},
		"namespace check comes before data":       {secret: newSecret(withNamespace(""), withData(nil)), want: sealedsecret.ErrNoNamespace},
		"name check comes before data":            {secret: newSecret(withName(""), withData(nil)), want: sealedsecret.ErrNoName},
		"cluster-wide with neither name nor ns":   {secret: newSecret(withName(""), withNamespace("")), opts: sealedsecret.SealOptions{Scope: &clusterWide}},
		"namespace-wide with neither name nor ns": {secret: newSecret(withName(""), withNamespace(""), withScope(nsWide)), want: sealedsecret.ErrNoNamespace},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			ss, err := sealedsecret.Seal(tt.secret, publicKey(t), tt.opts)
			if tt.want != nil {
				if !errors.Is(err, tt.want) || ss != nil {
					t.Fatalf("got %v, want %v", err, tt.want)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ss.Spec.EncryptedData == nil {
				t.Error("encryptedData is nil; it is a required field")
			}
		})
	}
}

func TestSeal_publicKeyErrors(t *testing.T) {
	current, _ := generations(t)
	tests := map[string]struct {
		pk      *sealing.PublicKey
		version sealing.Version
	}{
		"v1 without RSA key":    {pk: &sealing.PublicKey{Hybrid: current.Certificate.PublicKey.Hybrid}, version: sealing.V1},
		"v2 without recipient":  {pk: &sealing.PublicKey{RSA: current.Certificate.PublicKey.RSA}, version: sealing.V2},
		"default v2, no hybrid": {pk: &sealing.PublicKey{RSA: current.Certificate.PublicKey.RSA}},
		"unknown version":       {pk: publicKey(t), version: 3},
	}
	for name, tt := range tests {
		t.Run(name, func(t *testing.T) {
			ss, err := sealedsecret.Seal(newSecret(), tt.pk, sealedsecret.SealOptions{Version: tt.version})
			if err == nil || ss != nil {
				t.Fatalf("sealed with %s", name)
			}
			assertNoLeak(t, err.Error(), testPassword, testUser)
		})
	}
	// An unknown version is refused even when there is nothing to seal.
	_, err := sealedsecret.Seal(newSecret(withData(nil)), publicKey(t), sealedsecret.SealOptions{Version: 3, AllowEmptyData: true})
	if err == nil {
		t.Error("sealed an empty Secret in an unknown format")
	}
}

func TestSeal_doesNotModifyInput(t *testing.T) {
	for _, v := range []sealing.Version{sealing.V1, sealing.V2} {
		t.Run(v.String(), func(t *testing.T) {
			s := newSecret(
				withStringData(map[string]string{"user": "from stringData"}),
				withLabels("app", "db"),
				withAnnotations(
					"kubectl.kubernetes.io/last-applied-configuration", "{}",
					v1alpha1.AnnotationBitnamiClusterWide, "true",
				),
				withImmutable(true),
			)
			before := s.DeepCopy()
			seal(t, s, sealedsecret.SealOptions{Version: v})
			if !equality.Semantic.DeepEqual(s, before) {
				t.Errorf("Seal modified its input:\nbefore %+v\nafter  %+v", before, s)
			}
		})
	}
}

func TestSeal_binaryValues(t *testing.T) {
	all := make([]byte, 256)
	for i := range all {
		all[i] = byte(i)
	}
	items := map[string][]byte{
		"all-bytes": all,
		"not-utf8":  {0x00, 0x01, 0xfe, 0xff, 0x80, 0xc3, 0x28, 0x0a, 0xe2, 0x82, 0x28, 0x7f},
		"empty":     {},
		"large":     bytes.Repeat([]byte{0xa5, 0x00}, 64<<10),
	}
	for _, v := range []sealing.Version{sealing.V1, sealing.V2} {
		t.Run(v.String(), func(t *testing.T) {
			ss := seal(t, newSecret(withData(items)), sealedsecret.SealOptions{Version: v})
			// Through YAML, as the sealed file would travel.
			b, err := sealedsecret.Encode("yaml", ss)
			if err != nil {
				t.Fatal(err)
			}
			decoded, err := sealedsecret.DecodeSealedSecret(b)
			if err != nil {
				t.Fatal(err)
			}
			res, err := sealedsecret.Unseal(decoded, keyring(t), sealedsecret.UnsealOptions{})
			if err != nil {
				t.Fatal(err)
			}
			for k, want := range items {
				if got, ok := res.Secret.Data[k]; !ok || !bytes.Equal(got, want) {
					t.Errorf("item %q: got %d bytes, want %d", k, len(got), len(want))
				}
			}
		})
	}
}

func TestSeal_ciphertextsHidePlaintext(t *testing.T) {
	s := newSecret(withAnnotations("kubectl.kubernetes.io/last-applied-configuration", `{"stringData":{"password":"`+testPassword+`"}}`))
	forbidden := []string{testPassword, testUser}
	for _, v := range []string{testPassword, testUser} {
		forbidden = append(forbidden,
			base64.StdEncoding.EncodeToString([]byte(v)),
			base64.RawStdEncoding.EncodeToString([]byte(v)))
	}
	for _, v := range []sealing.Version{sealing.V1, sealing.V2} {
		t.Run(v.String(), func(t *testing.T) {
			ss := seal(t, s, sealedsecret.SealOptions{Version: v})
			for _, format := range []string{"yaml", "json"} {
				out, err := sealedsecret.Encode(format, ss)
				if err != nil {
					t.Fatal(err)
				}
				for _, f := range forbidden {
					if bytes.Contains(out, []byte(f)) {
						t.Errorf("%s output contains %q", format, f)
					}
				}
			}
			for item := range ss.Spec.EncryptedData {
				ct := decodeItem(t, ss, item)
				if bytes.Contains(ct, []byte(testPassword)) || bytes.Contains(ct, []byte(testUser)) {
					t.Errorf("ciphertext of %q contains plaintext", item)
				}
			}
			// Sealing is randomized: the same value never seals the same way twice.
			again := seal(t, s, sealedsecret.SealOptions{Version: v})
			if again.Spec.EncryptedData["password"] == ss.Spec.EncryptedData["password"] {
				t.Error("two sealings of one value are identical")
			}
		})
	}
}
