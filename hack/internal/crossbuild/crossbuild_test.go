package crossbuild

import (
	"slices"
	"strings"
	"testing"
)

func TestParsePlatforms(t *testing.T) {
	got, err := ParsePlatforms(" linux/amd64, windows/arm64 ,")
	if err != nil || !slices.Equal(got, []Platform{{"linux", "amd64"}, {"windows", "arm64"}}) {
		t.Errorf("ParsePlatforms = %v, %v", got, err)
	}
	for _, bad := range []string{"", ",", "linux", "linux/", "/amd64", "linux/arm/v7"} {
		if _, err := ParsePlatforms(bad); err == nil || !strings.Contains(err.Error(), "GOOS/GOARCH") {
			t.Errorf("ParsePlatforms(%q) error = %v, want one that shows GOOS/GOARCH", bad, err)
		}
	}
}

func TestStamp_LDFlags(t *testing.T) {
	got := Stamp{Version: "v1.0.0", Commit: "abc"}.LDFlags()
	want := "-s -w -X " + VersionPackage + ".version=v1.0.0 -X " + VersionPackage + ".commit=abc"
	if got != want {
		t.Errorf("LDFlags = %q, want %q", got, want)
	}
	if got := (Stamp{}).LDFlags(); got != "-s -w" {
		t.Errorf("empty stamp LDFlags = %q", got)
	}
}

// FuzzParsePlatforms: any input either fails or gives platforms that print
// and parse back to themselves.
func FuzzParsePlatforms(f *testing.F) {
	f.Add("linux/amd64,linux/arm64")
	f.Add(" darwin/arm64 ,")
	f.Add("a/b/c")
	f.Fuzz(func(t *testing.T, s string) {
		ps, err := ParsePlatforms(s)
		if err != nil {
			return
		}
		var parts []string
		for _, p := range ps {
			parts = append(parts, p.String())
		}
		again, err := ParsePlatforms(strings.Join(parts, ","))
		if err != nil || !slices.Equal(again, ps) {
			t.Fatalf("%q: parsed %v, reparsed %v, %v", s, ps, again, err)
		}
	})
}
