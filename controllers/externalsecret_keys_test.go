package controllers

import (
	"errors"
	"maps"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/template"
)

func strMap(m map[string][]byte) map[string]string {
	out := map[string]string{}
	for k, v := range m {
		out[k] = string(v)
	}
	return out
}

// TestDataFromKeys: rewrites, conversion strategies and key checks, as
// External Secrets Operator applies them.
func TestDataFromKeys(t *testing.T) {
	in := map[string][]byte{"path/to/db-user": []byte("u"), "path/to/db$pass": []byte("p")}
	rx := func(src, tgt string) v1alpha1.ExternalSecretRewrite {
		return v1alpha1.ExternalSecretRewrite{Regexp: &v1alpha1.ExternalSecretRewriteRegexp{Source: src, Target: tgt}}
	}
	tr := func(tmpl string) v1alpha1.ExternalSecretRewrite {
		return v1alpha1.ExternalSecretRewrite{Transform: &v1alpha1.ExternalSecretRewriteTransform{Template: tmpl}}
	}
	tests := []struct {
		name    string
		rewrite []v1alpha1.ExternalSecretRewrite
		conv    v1alpha1.ConversionStrategy
		want    map[string]string
		wantErr string
	}{
		{"default conversion", nil, "", map[string]string{"path_to_db-user": "u", "path_to_db_pass": "p"}, ""},
		{"unicode conversion", nil, v1alpha1.ConversionUnicode, map[string]string{"path_U002f_to_U002f_db-user": "u", "path_U002f_to_U002f_db_U0024_pass": "p"}, ""},
		{"regexp with groups, then no conversion", []v1alpha1.ExternalSecretRewrite{rx("^path/to/(.*)$", "${1}"), rx(`\$`, "_")}, "", map[string]string{"db-user": "u", "db_pass": "p"}, ""},
		{"transform", []v1alpha1.ExternalSecretRewrite{rx("^.*/", ""), tr(`ENV_{{ .value | upper | replace "-" "_" | replace "$" "_" }}`)}, "", map[string]string{"ENV_DB_USER": "u", "ENV_DB_PASS": "p"}, ""},
		{"a key removed", []v1alpha1.ExternalSecretRewrite{rx(".*user", "")}, "", map[string]string{"path/to/db$pass": "p"}, "invalid Secret key"},
		{"invalid key after rewrite", []v1alpha1.ExternalSecretRewrite{rx("db", "d b")}, "", nil, `invalid Secret key "path/to/d b$pass"`},
		{"regexp that does not compile", []v1alpha1.ExternalSecretRewrite{rx("(", "")}, "", nil, "does not compile"},
		{"two keys become one", []v1alpha1.ExternalSecretRewrite{rx(".*", "x")}, "", nil, "two keys become"},
		{"transform that fails", []v1alpha1.ExternalSecretRewrite{tr(`{{ .nosuch }}`)}, "", nil, "transform.template"},
		{"key too long", []v1alpha1.ExternalSecretRewrite{rx("^", strings.Repeat("k", 300))}, "", nil, "more than 253"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			df := v1alpha1.ExternalSecretDataFromRemoteRef{Rewrite: tt.rewrite}
			got, err := dataFromKeys(template.DefaultLimits.Session(), df, tt.conv, maps.Clone(in))
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("err %v, want %q", err, tt.wantErr)
				}
				if !errors.Is(err, errBadKeys) && !errors.Is(err, errBadRewrite) {
					t.Errorf("err %v is neither errBadKeys nor errBadRewrite", err)
				}
				if strings.Contains(err.Error(), "\"u\"") {
					t.Errorf("error quotes a value: %v", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !maps.Equal(strMap(got), tt.want) {
				t.Errorf("got %v, want %v", strMap(got), tt.want)
			}
		})
	}
}

func TestDecodeValue(t *testing.T) {
	tests := []struct {
		strategy v1alpha1.DecodingStrategy
		in, want string
		err      bool
	}{
		{"", "aGk=", "aGk=", false},
		{v1alpha1.DecodeNone, "aGk=", "aGk=", false},
		{v1alpha1.DecodeBase64, "aGk=", "hi", false},
		{v1alpha1.DecodeBase64, "_-8=", "", true},
		{v1alpha1.DecodeBase64URL, "_-8=", "\xff\xef", false},
		{v1alpha1.DecodeAuto, "aGk=", "hi", false},
		{v1alpha1.DecodeAuto, "_-8=", "\xff\xef", false},
		{v1alpha1.DecodeAuto, "not base64!", "not base64!", false},
		{"Hex", "00", "", true},
	}
	for _, tt := range tests {
		got, err := decodeValue(tt.strategy, []byte(tt.in))
		if (err != nil) != tt.err || (err == nil && string(got) != tt.want) {
			t.Errorf("%s %q: %q, %v", tt.strategy, tt.in, got, err)
		}
		if err != nil && strings.Contains(err.Error(), tt.in) {
			t.Errorf("%s: error quotes the value: %v", tt.strategy, err)
		}
	}
	if err := checkNullBytes(v1alpha1.NullBytePolicyFail, []byte("a\x00b")); err == nil {
		t.Error("nullBytePolicy Fail accepted a NUL byte")
	}
	if err := checkNullBytes(v1alpha1.NullBytePolicyIgnore, []byte("a\x00b")); err != nil {
		t.Error(err)
	}
}

// TestUpToDate_refreshPolicy: CreatedOnce never refreshes an intact
// Secret; OnChange refreshes on a spec or force-sync change only.
func TestUpToDate_refreshPolicy(t *testing.T) {
	now := time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC)
	intact := &corev1.Secret{Data: map[string][]byte{"a": []byte("1")}}
	intact.Annotations = map[string]string{AnnotationDataHash: dataHash(intact, nil)}
	es := func(p v1alpha1.RefreshPolicy, gen int64, force string) *v1alpha1.ExternalSecret {
		e := &v1alpha1.ExternalSecret{ObjectMeta: metav1.ObjectMeta{Name: "db", Generation: gen, Annotations: map[string]string{v1alpha1.AnnotationForceSync: force}}}
		e.Spec.RefreshPolicy = p
		e.Status.SyncedResourceVersion = "3"
		e.Status.RefreshTime = metav1.NewTime(now.Add(-48 * time.Hour))
		setReadyTrue(e, v1alpha1.ReasonSecretSynced, "ok")
		return e
	}
	never := es(v1alpha1.RefreshPolicyCreatedOnce, 3, "")
	never.Status.SyncedResourceVersion = ""
	tests := []struct {
		name   string
		es     *v1alpha1.ExternalSecret
		secret *corev1.Secret
		fresh  bool
	}{
		{"Periodic, due", es(v1alpha1.RefreshPolicyPeriodic, 3, ""), intact, false},
		{"CreatedOnce, due", es(v1alpha1.RefreshPolicyCreatedOnce, 3, ""), intact, true},
		{"CreatedOnce, spec changed", es(v1alpha1.RefreshPolicyCreatedOnce, 4, ""), intact, true},
		{"CreatedOnce, Secret deleted", es(v1alpha1.RefreshPolicyCreatedOnce, 3, ""), nil, false},
		{"CreatedOnce, never synced", never, intact, false},
		{"OnChange, due", es(v1alpha1.RefreshPolicyOnChange, 3, ""), intact, true},
		{"OnChange, spec changed", es(v1alpha1.RefreshPolicyOnChange, 4, ""), intact, false},
		{"OnChange, force-sync", es(v1alpha1.RefreshPolicyOnChange, 3, "now"), intact, false},
	}
	for _, tt := range tests {
		if _, fresh := upToDate(tt.es, tt.secret, now, time.Hour); fresh != tt.fresh {
			t.Errorf("%s: fresh = %v, want %v", tt.name, fresh, tt.fresh)
		}
	}
}

// TestKeysAndValues: a KeysAndValues template's output is read as a YAML
// map; scalars are written as YAML wrote them, and nothing quotes a value.
func TestKeysAndValues(t *testing.T) {
	got, err := keysAndValues([]byte("a: x\nb: true\nc: 12345678901234567890\nd:\n"))
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"a": "x", "b": "true", "c": "12345678901234567890", "d": ""}; !maps.Equal(strMap(got), want) {
		t.Errorf("got %v, want %v", strMap(got), want)
	}
	for _, bad := range []string{"s3cr3t: [unclosed", "- a list", "k: {nested: s3cr3t}"} {
		if _, err := keysAndValues([]byte(bad)); err == nil || strings.Contains(err.Error(), "s3cr3t") {
			t.Errorf("%q: %v", bad, err)
		}
	}
}

// FuzzKeysAndValues: reading any template output never panics, and its
// errors never quote it.
func FuzzKeysAndValues(f *testing.F) {
	for _, s := range []string{"a: b", "a: &x [1]\nb: *x", "- x", "{a: 1}", "a: 1.5e3\nb: null"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if _, err := keysAndValues([]byte("zq9canary: " + s)); err != nil && strings.Contains(err.Error(), "zq9canary") {
			t.Errorf("error quotes the output: %v", err)
		}
	})
}
