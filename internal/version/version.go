// Package version reports which build of kseal is running: the release
// version and commit stamped by the Makefile with -ldflags -X, completed
// from the Go build info that every Go binary carries (module version, VCS
// revision, toolchain). Both kseal and kseal-controller print it with
// [Info.Line]; start there.
//
// The Makefile sets, for a build from a git checkout:
//
//	-X github.com/kseal-dev/kseal/internal/version.version=v0.3.0
//	-X github.com/kseal-dev/kseal/internal/version.commit=<40 hex digits>
package version

import (
	"fmt"
	"runtime"
	"runtime/debug"
	"strings"
)

// Set at link time (see the package comment); empty when the build did not
// set them, and then filled from the build info.
var (
	version string
	commit  string
)

// Info describes one build.
type Info struct {
	// Version is a release tag (v0.3.0), `git describe` output, the module
	// version of a `go install ...@v0.3.0` build, or "dev".
	Version string
	// Commit is the VCS revision the binary was built from, "unknown" when
	// neither the linker flags nor the build info say; "-dirty" is appended
	// when the work tree had uncommitted changes.
	Commit string
	// GoVersion is the toolchain that built the binary (go1.26.8).
	GoVersion string
	// Platform is GOOS/GOARCH of the binary.
	Platform string
}

// Get returns the Info of the running binary.
func Get() Info {
	bi, _ := debug.ReadBuildInfo()
	return from(version, commit, bi)
}

// from combines the linker-set values with the build info bi (nil when the
// binary has none).
func from(ver, rev string, bi *debug.BuildInfo) Info {
	info := Info{Version: ver, Commit: rev, GoVersion: runtime.Version(), Platform: runtime.GOOS + "/" + runtime.GOARCH}
	if bi != nil {
		info.GoVersion = bi.GoVersion
		if info.Version == "" && bi.Main.Version != "" && bi.Main.Version != "(devel)" {
			info.Version = bi.Main.Version
		}
		if info.Commit == "" {
			info.Commit = vcsRevision(bi)
		}
	}
	if info.Version == "" {
		info.Version = "dev"
	}
	if info.Commit == "" {
		info.Commit = "unknown"
	}
	return info
}

// vcsRevision reads the revision Go stamps into binaries built inside a git
// work tree (go build -buildvcs=auto), "" when there is none.
func vcsRevision(bi *debug.BuildInfo) string {
	var rev string
	dirty := false
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if rev != "" && dirty && !strings.HasSuffix(rev, "-dirty") {
		rev += "-dirty"
	}
	return rev
}

// Line is the one-line report printed by `kseal version` and
// `kseal-controller --version`:
//
//	kseal v0.3.0 (commit 0123abcd..., go1.26.8, linux/amd64)
func (i Info) Line(program string) string {
	return fmt.Sprintf("%s %s (commit %s, %s, %s)", program, i.Version, i.Commit, i.GoVersion, i.Platform)
}
