package scope

import (
	"testing"
)

func TestScope_Label(t *testing.T) {
	tests := []struct {
		scope Scope
		want  string
	}{
		{Strict, "ns/name"},
		{NamespaceWide, "ns"},
		{ClusterWide, ""},
	}
	for _, tt := range tests {
		if got := string(tt.scope.Label("ns", "name")); got != tt.want {
			t.Errorf("%v.Label = %q, want %q", tt.scope, got, tt.want)
		}
	}
}

func TestFromAnnotations(t *testing.T) {
	tests := []struct {
		name    string
		ann     map[string]string
		want    Scope
		wantErr bool
	}{
		{"none", nil, Strict, false},
		{"kseal strict", map[string]string{"kseal.dev/scope": "strict"}, Strict, false},
		{"kseal namespace", map[string]string{"kseal.dev/scope": "namespace-wide"}, NamespaceWide, false},
		{"kseal cluster", map[string]string{"kseal.dev/scope": "cluster-wide"}, ClusterWide, false},
		{"kseal wins over bitnami", map[string]string{"kseal.dev/scope": "strict", "sealedsecrets.bitnami.com/cluster-wide": "true"}, Strict, false},
		{"bitnami cluster", map[string]string{"sealedsecrets.bitnami.com/cluster-wide": "true"}, ClusterWide, false},
		{"bitnami namespace", map[string]string{"sealedsecrets.bitnami.com/namespace-wide": "true"}, NamespaceWide, false},
		{"bitnami false", map[string]string{"sealedsecrets.bitnami.com/cluster-wide": "false"}, Strict, false},
		{"typo", map[string]string{"kseal.dev/scope": "clusterwide"}, Strict, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := FromAnnotations(tt.ann)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, wantErr %v", err, tt.wantErr)
			}
			if got != tt.want {
				t.Errorf("got %v, want %v", got, tt.want)
			}
		})
	}
}

func TestAnnotations_roundTrip(t *testing.T) {
	for _, s := range []Scope{Strict, NamespaceWide, ClusterWide} {
		for _, bitnami := range []bool{false, true} {
			got, err := FromAnnotations(Annotations(s, bitnami))
			if err != nil || got != s {
				t.Errorf("Annotations(%v, %v) reads back as %v, %v", s, bitnami, got, err)
			}
		}
	}
}

func TestDescribe(t *testing.T) {
	tests := map[string]string{
		"":          "cluster-wide scope",
		"prod":      `namespace-wide scope in namespace "prod"`,
		"prod/db":   `strict scope for namespace "prod" and name "db"`,
		"S3CR3T!!":  "an invalid scope label",
		"a/b/c":     "an invalid scope label",
		"has space": "an invalid scope label",
	}
	for in, want := range tests {
		if got := Describe([]byte(in)); got != want {
			t.Errorf("Describe(%q) = %q, want %q", in, got, want)
		}
	}
}
