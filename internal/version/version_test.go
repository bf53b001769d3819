package version

import (
	"runtime"
	"runtime/debug"
	"testing"
)

func TestFrom(t *testing.T) {
	bi := &debug.BuildInfo{
		GoVersion: "go1.26.8",
		Main:      debug.Module{Path: "github.com/kseal-dev/kseal", Version: "v0.2.0"},
		Settings:  []debug.BuildSetting{{Key: "vcs.revision", Value: "abc123"}, {Key: "vcs.modified", Value: "true"}},
	}
	devel := &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}
	platform := runtime.GOOS + "/" + runtime.GOARCH
	tests := []struct {
		name     string
		ver, rev string
		bi       *debug.BuildInfo
		want     Info
	}{
		{"linker flags win", "v1.0.0", "fff", bi, Info{"v1.0.0", "fff", "go1.26.8", platform}},
		{"build info fills in", "", "", bi, Info{"v0.2.0", "abc123-dirty", "go1.26.8", platform}},
		{"devel build", "", "", devel, Info{"dev", "unknown", "go1.26.8", platform}},
		{"no build info", "", "", nil, Info{"dev", "unknown", runtime.Version(), platform}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := from(tt.ver, tt.rev, tt.bi); got != tt.want {
				t.Errorf("from(%q, %q) = %+v, want %+v", tt.ver, tt.rev, got, tt.want)
			}
		})
	}
}

func TestInfo_Line(t *testing.T) {
	got := Info{"v1.0.0", "abc", "go1.26.8", "linux/arm64"}.Line("kseal")
	if want := "kseal v1.0.0 (commit abc, go1.26.8, linux/arm64)"; got != want {
		t.Errorf("Line = %q, want %q", got, want)
	}
}
