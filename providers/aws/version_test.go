package aws

import (
	"strings"
	"testing"
)

func TestParseVersion(t *testing.T) {
	tests := []struct {
		in, id, stage string
	}{
		{"", "", StageCurrent},
		{"AWSCURRENT", "", "AWSCURRENT"},
		{"AWSPREVIOUS", "", "AWSPREVIOUS"},
		{"uuid/6c1d2e3f-0000-4000-8000-000000000001", "6c1d2e3f-0000-4000-8000-000000000001", ""},
		{"uuid/", "", "uuid/"},
		{"UUID/x", "", "UUID/x"},
	}
	for _, tt := range tests {
		id, stage := ParseVersion(tt.in)
		if id != tt.id || stage != tt.stage {
			t.Errorf("ParseVersion(%q) = %q, %q; want %q, %q", tt.in, id, stage, tt.id, tt.stage)
		}
	}
}

func FuzzParseVersion(f *testing.F) {
	for _, s := range []string{"", "AWSCURRENT", "uuid/", "uuid/abc", "uuid/uuid/x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		id, stage := ParseVersion(s)
		if (id == "") == (stage == "") {
			t.Fatalf("ParseVersion(%q) = %q, %q: want exactly one", s, id, stage)
		}
		if id != "" && VersionIDPrefix+id != s {
			t.Fatalf("ParseVersion(%q) id %q does not round-trip", s, id)
		}
		if stage != "" && stage != s && s != "" {
			t.Fatalf("ParseVersion(%q) stage %q changed the input", s, stage)
		}
		if strings.HasPrefix(s, VersionIDPrefix) && len(s) > len(VersionIDPrefix) && id == "" {
			t.Fatalf("ParseVersion(%q) missed the version id", s)
		}
	})
}
