package controllers

import (
	"errors"
	"strings"
	"testing"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/template"
	"github.com/kseal-dev/kseal/providers"
)

// TestRewriteMerge: the merge rewrite as External Secrets Operator
// documents it (docs/guides/datafrom-rewrite.md) and its code does it.
func TestRewriteMerge(t *testing.T) {
	in := map[string][]byte{
		"path/object-storage-credentials": []byte(`{"ACCESS_KEY":"XXXX","SECRET_KEY":"YYYY"}`),
		"path/mongo-credentials":          []byte(`{"USERNAME":"XXXX","PASSWORD":"YYYY"}`),
	}
	clash := map[string][]byte{
		"a": []byte(`{"user":"from-a","n":1.5,"ok":true,"nested":{"x":"<y>"},"list":[1,"two"],"none":null}`),
		"b": []byte(`{"user":"from-b"}`),
		"c": []byte(`{"host":"h"}`),
	}
	tests := []struct {
		name    string
		merge   v1alpha1.ExternalSecretRewriteMerge
		in      map[string][]byte
		want    map[string]string
		wantErr string
		isErr   error
	}{
		{"empty merge: every field at top level", v1alpha1.ExternalSecretRewriteMerge{}, in,
			map[string]string{"ACCESS_KEY": "XXXX", "SECRET_KEY": "YYYY", "USERNAME": "XXXX", "PASSWORD": "YYYY"}, "", nil},
		{"conflict fails by default, naming the field", v1alpha1.ExternalSecretRewriteMerge{}, clash, nil, "fields user are in more than one value", errMergeConflict},
		{"conflict ignored: alphabetical order, the later wins", v1alpha1.ExternalSecretRewriteMerge{ConflictPolicy: v1alpha1.MergeConflictIgnore}, clash,
			map[string]string{"user": "from-b", "n": "1.5", "ok": "true", "nested": `{"x":"\u003cy\u003e"}`, "list": `[1,"two"]`, "none": "", "host": "h"}, "", nil},
		{"priority: merged last, so it wins", v1alpha1.ExternalSecretRewriteMerge{ConflictPolicy: v1alpha1.MergeConflictIgnore, Priority: []string{"a"}}, clash,
			map[string]string{"user": "from-a", "n": "1.5", "ok": "true", "nested": `{"x":"\u003cy\u003e"}`, "list": `[1,"two"]`, "none": "", "host": "h"}, "", nil},
		{"missing priority key, Strict", v1alpha1.ExternalSecretRewriteMerge{Priority: []string{"zz"}}, map[string][]byte{"c": clash["c"]}, nil, "priority key zz", errBadRewrite},
		{"missing priority key, IgnoreNotFound", v1alpha1.ExternalSecretRewriteMerge{Priority: []string{"zz"}, PriorityPolicy: v1alpha1.MergePriorityIgnoreNotFound},
			map[string][]byte{"c": clash["c"]}, map[string]string{"host": "h"}, "", nil},
		{"JSON into a key, others kept", v1alpha1.ExternalSecretRewriteMerge{Strategy: v1alpha1.MergeStrategyJSON, Into: "merged", ConflictPolicy: v1alpha1.MergeConflictIgnore},
			map[string][]byte{"b": clash["b"], "c": clash["c"]},
			map[string]string{"b": `{"user":"from-b"}`, "c": `{"host":"h"}`, "merged": `{"host":"h","user":"from-b"}`}, "", nil},
		{"JSON without into", v1alpha1.ExternalSecretRewriteMerge{Strategy: v1alpha1.MergeStrategyJSON}, in, nil, "needs into", errBadRewrite},
		{"not a JSON object", v1alpha1.ExternalSecretRewriteMerge{}, map[string][]byte{"k": []byte("s3cr3t-not-json")}, nil, "value of key k is not a JSON object", errBadRewrite},
		{"a JSON array is not an object", v1alpha1.ExternalSecretRewriteMerge{}, map[string][]byte{"k": []byte(`["s3cr3t"]`)}, nil, "not a JSON object", errBadRewrite},
		{"JSON null is not an object", v1alpha1.ExternalSecretRewriteMerge{}, map[string][]byte{"k": []byte(`null`)}, nil, "not a JSON object", errBadRewrite},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := rewriteMerge(tc.merge, tc.in)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tc.wantErr) || !errors.Is(err, tc.isErr) {
					t.Fatalf("err = %v, want %q (%v)", err, tc.wantErr, tc.isErr)
				}
				for _, secret := range []string{"s3cr3t", "from-a", "XXXX"} {
					if strings.Contains(err.Error(), secret) {
						t.Fatalf("error shows a value: %v", err)
					}
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if s := strMap(got); !equalStrMap(s, tc.want) {
				t.Fatalf("got %v, want %v", s, tc.want)
			}
		})
	}
}

// TestRewriteMerge_inDataFrom: a merge is one rewrite among others, and
// the keys it makes are checked like any other.
func TestRewriteMerge_inDataFrom(t *testing.T) {
	s := template.DefaultLimits.Session()
	df := v1alpha1.ExternalSecretDataFromRemoteRef{Rewrite: []v1alpha1.ExternalSecretRewrite{
		{Merge: &v1alpha1.ExternalSecretRewriteMerge{}},
		{Regexp: &v1alpha1.ExternalSecretRewriteRegexp{Source: "^", Target: "db_"}},
	}}
	got, err := dataFromKeys(s, df, "", map[string][]byte{"x": []byte(`{"user":"u","pass":"p"}`)})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"db_user": "u", "db_pass": "p"}; !equalStrMap(strMap(got), want) {
		t.Fatalf("got %v, want %v", strMap(got), want)
	}
	df.Rewrite = df.Rewrite[:1]
	if _, err := dataFromKeys(s, df, "", map[string][]byte{"x": []byte(`{"bad key":"v"}`)}); !errors.Is(err, errBadKeys) {
		t.Fatalf("err = %v, want an invalid key", err)
	}
	// The result is bounded like a Secret.
	// (a nested object is written as JSON with '<' escaped: six bytes each)
	big := `{"a":{"b":"` + strings.Repeat("<", providers.MaxValueSize/6+1) + `"}}`
	_, err = rewriteMerge(v1alpha1.ExternalSecretRewriteMerge{}, map[string][]byte{"x": []byte(big)})
	if err == nil || !strings.Contains(err.Error(), "more than") {
		t.Fatalf("err = %v, want the size bound", err)
	}
}

func equalStrMap(a, b map[string]string) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}

// FuzzRewriteMerge: any values give a result or an error, never a panic,
// and an error never quotes a value.
func FuzzRewriteMerge(f *testing.F) {
	f.Add([]byte(`{"a":"1"}`), []byte(`{"a":{"b":[1,null,true]}}`), uint8(0))
	f.Add([]byte(`not json s3cr3t`), []byte(`[]`), uint8(3))
	f.Fuzz(func(t *testing.T, a, b []byte, mode uint8) {
		m := v1alpha1.ExternalSecretRewriteMerge{}
		if mode&1 != 0 {
			m.ConflictPolicy = v1alpha1.MergeConflictIgnore
		}
		if mode&2 != 0 {
			m.Strategy, m.Into = v1alpha1.MergeStrategyJSON, "into"
		}
		if mode&4 != 0 {
			m.Priority = []string{"b", "missing"}
			m.PriorityPolicy = v1alpha1.MergePriorityIgnoreNotFound
		}
		_, err := rewriteMerge(m, map[string][]byte{"a": a, "b": b})
		if err != nil && len(a) >= 8 && strings.Contains(err.Error(), string(a)) {
			t.Fatalf("error quotes a value: %v", err)
		}
	})
}
