// Package crossbuild builds kseal's static release binaries for any
// GOOS/GOARCH with the go command on PATH: CGO_ENABLED=0, -trimpath, and
// the version and commit stamped into package internal/version. The image
// builder (hack/image) and the release builder (hack/release) share it, so
// an image and an archive of one commit hold the same binary.
package crossbuild

import (
	"bytes"
	"context"
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"
)

// VersionPackage is the import path whose version and commit variables the
// linker sets.
const VersionPackage = "github.com/kseal-dev/kseal/internal/version"

// Platform is one GOOS/GOARCH pair.
type Platform struct {
	OS, Arch string
}

// String is "linux/amd64".
func (p Platform) String() string { return p.OS + "/" + p.Arch }

// Host is the platform of the running process.
func Host() Platform { return Platform{OS: runtime.GOOS, Arch: runtime.GOARCH} }

// ParsePlatforms reads a comma-separated list such as
// "linux/amd64,linux/arm64".
func ParsePlatforms(s string) ([]Platform, error) {
	var out []Platform
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		goos, goarch, ok := strings.Cut(item, "/")
		if !ok || goos == "" || goarch == "" || strings.Contains(goarch, "/") {
			return nil, fmt.Errorf("platform %q: want GOOS/GOARCH, such as linux/amd64", item)
		}
		out = append(out, Platform{OS: goos, Arch: goarch})
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no platform given: want GOOS/GOARCH[,GOOS/GOARCH...]")
	}
	return out, nil
}

// Stamp is what the linker writes into internal/version.
type Stamp struct {
	// Version is the release version (v0.3.0, or `git describe` output).
	Version string
	// Commit is the full VCS revision.
	Commit string
}

// LDFlags are the linker flags of a release build: no symbol table or
// DWARF (the Go build info stays, for `go version -m`), and the stamp.
func (s Stamp) LDFlags() string {
	flags := "-s -w"
	if s.Version != "" {
		flags += " -X " + VersionPackage + ".version=" + s.Version
	}
	if s.Commit != "" {
		flags += " -X " + VersionPackage + ".commit=" + s.Commit
	}
	return flags
}

// Build compiles the main package pkg (./cmd/kseal, or a module path) for
// platform p into the file out, with the module in dir. It writes out only
// when the build succeeds (through a temporary file renamed into place).
func Build(ctx context.Context, dir, pkg string, p Platform, s Stamp, out string) error {
	if strings.ContainsAny(s.Version+s.Commit, " \t\n'\"") {
		return fmt.Errorf("version %q and commit %q must not contain spaces or quotes", s.Version, s.Commit)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	tmp := out + ".tmp"
	cmd := exec.CommandContext(ctx, "go", "build", "-trimpath", "-ldflags", s.LDFlags(), "-o", tmp, pkg)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS="+p.OS, "GOARCH="+p.Arch)
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stderr, &stderr
	if err := cmd.Run(); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("go build %s for %s: %w\n%s", pkg, p, err, stderr.Bytes())
	}
	return os.Rename(tmp, out)
}

// BuildInfo is the `go version -m` report of the binary at path: Go
// version, module path and the version and checksum of every dependency
// compiled in, and the build settings. Images and archives carry it as a
// minimal software bill of materials.
func BuildInfo(path string) ([]byte, error) {
	bi, err := buildinfo.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read build info of %s: %w", path, err)
	}
	return []byte(bi.String()), nil
}

// Main runs a builder's run function with a context cancelled by an
// interrupt, and exits 1 with the error.
func Main(run func(ctx context.Context, args []string) error) {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	err := run(ctx, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "error:", err)
		os.Exit(1)
	}
}

// ParseEpoch reads a -created value (Unix seconds, as SOURCE_DATE_EPOCH);
// empty is the zero time, for reproducible output.
func ParseEpoch(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	sec, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		return time.Time{}, fmt.Errorf("-created %q: want Unix seconds: %w", s, err)
	}
	return time.Unix(sec, 0).UTC(), nil
}
