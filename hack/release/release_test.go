package main

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"sigs.k8s.io/yaml"

	"github.com/kseal-dev/kseal/hack/internal/crossbuild"
)

const (
	testVersion = "v9.9.9-test"
	testCommit  = "0123456789abcdef0123456789abcdef01234567"
)

// TestBuild builds the archive of the host platform (linux only, where
// it includes the controller) and checks its files, the binaries' version
// and checksums.txt.
func TestBuild(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("checks the linux archive by running its binaries")
	}
	created := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	o := Options{Root: "../..", Out: t.TempDir(), Platforms: []crossbuild.Platform{crossbuild.Host()},
		Stamp: crossbuild.Stamp{Version: testVersion, Commit: testCommit}, Created: created}
	r, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Archives) != 1 || r.Krew != "" {
		t.Fatalf("result = %+v, want one archive and no krew manifest", r)
	}
	a := r.Archives[0]
	if want := "kseal_v9.9.9-test_linux_" + runtime.GOARCH + ".tar.gz"; filepath.Base(a.Path) != want {
		t.Errorf("archive %s, want %s", a.Path, want)
	}
	dir := t.TempDir()
	names := extractTarGz(t, a.Path, dir, created)
	want := []string{"README.md", "kseal", "kseal-controller"}
	if _, err := os.Stat("../../LICENSE"); err == nil {
		want = []string{"LICENSE", "README.md", "kseal", "kseal-controller"}
	}
	if !slices.Equal(names, want) {
		t.Errorf("archive holds %v, want %v", names, want)
	}
	for _, bin := range []struct{ name, arg string }{{"kseal", "version"}, {"kseal-controller", "--version"}} {
		out, err := exec.Command(filepath.Join(dir, bin.name), bin.arg).Output()
		if err != nil {
			t.Fatalf("%s %s: %v", bin.name, bin.arg, err)
		}
		line := bin.name + " " + testVersion + " (commit " + testCommit + ", " + runtime.Version() + ", linux/" + runtime.GOARCH + ")\n"
		if string(out) != line {
			t.Errorf("%s %s = %q, want %q", bin.name, bin.arg, out, line)
		}
	}
	sums, err := os.ReadFile(r.Checksums)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(a.Path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(data)
	if want := hex.EncodeToString(sum[:]) + "  " + filepath.Base(a.Path) + "\n"; string(sums) != want || a.SHA256 != hex.EncodeToString(sum[:]) {
		t.Errorf("checksums.txt = %q, want %q", sums, want)
	}
}

// extractTarGz extracts the archive into dir and returns its entry names
// in order, checking each is a root-owned regular file dated created.
func extractTarGz(t *testing.T, path, dir string, created time.Time) []string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return names
		}
		if err != nil {
			t.Fatal(err)
		}
		names = append(names, hdr.Name)
		if hdr.Typeflag != tar.TypeReg || hdr.Uid != 0 || !hdr.ModTime.Equal(created) || strings.Contains(hdr.Name, "/") {
			t.Errorf("%s: type %c uid %d time %s, want a root-owned file at the top dated %s", hdr.Name, hdr.Typeflag, hdr.Uid, hdr.ModTime, created)
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, filepath.Base(hdr.Name)), data, os.FileMode(hdr.Mode)&0o755); err != nil {
			t.Fatal(err)
		}
	}
}

func TestWriteArchive_zip(t *testing.T) {
	dir := t.TempDir()
	for name, content := range map[string]string{"kseal.exe": "MZ binary", "README.md": "# kseal\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	out := filepath.Join(dir, ArchiveName("v1.0.0", crossbuild.Platform{OS: "windows", Arch: "arm64"}))
	if filepath.Base(out) != "kseal_v1.0.0_windows_arm64.zip" {
		t.Fatalf("archive name %s", out)
	}
	created := time.Date(2026, 1, 2, 3, 4, 6, 0, time.UTC)
	files := []archiveFile{{"kseal.exe", filepath.Join(dir, "kseal.exe"), 0o755}, {"README.md", filepath.Join(dir, "README.md"), 0o644}}
	if err := writeArchive(out, files, created); err != nil {
		t.Fatal(err)
	}
	zr, err := zip.OpenReader(out)
	if err != nil {
		t.Fatal(err)
	}
	defer zr.Close()
	var got []string
	for _, f := range zr.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, f.Name+" "+f.Mode().String()+" "+string(data))
		if !f.Modified.Equal(created) {
			t.Errorf("%s: modified %s, want %s", f.Name, f.Modified, created)
		}
	}
	want := []string{"README.md -rw-r--r-- # kseal\n", "kseal.exe -rwxr-xr-x MZ binary"}
	if !slices.Equal(got, want) {
		t.Errorf("zip holds %q, want %q", got, want)
	}
	if _, err := os.Stat(out + ".tmp"); !os.IsNotExist(err) {
		t.Errorf("temporary file left behind: %v", err)
	}
}

// TestRenderKrew fills in the repository's krew manifest for every release
// platform and checks each entry points at its archive and checksum.
func TestRenderKrew(t *testing.T) {
	platforms, err := crossbuild.ParsePlatforms("linux/amd64,linux/arm64,darwin/amd64,darwin/arm64,windows/amd64,windows/arm64")
	if err != nil {
		t.Fatal(err)
	}
	o := Options{Root: "../..", Stamp: crossbuild.Stamp{Version: "v1.2.3"}, DownloadURL: "https://example.com/dl/"}
	var archives []Archive
	for i, p := range platforms {
		archives = append(archives, Archive{Platform: p, Path: "/x/" + ArchiveName("v1.2.3", p), SHA256: strings.Repeat(string(rune('a'+i)), 64)})
	}
	raw, err := renderKrew(o, archives)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		APIVersion string
		Kind       string
		Spec       struct {
			Version   string
			Platforms []struct {
				Selector struct{ MatchLabels map[string]string }
				URI      string
				SHA256   string
				Bin      string
				Files    []struct{ From, To string }
			}
		}
	}
	if err := yaml.Unmarshal(raw, &m); err != nil {
		t.Fatalf("%v\n%s", err, raw)
	}
	if m.APIVersion != "krew.googlecontainertools.github.com/v1alpha2" || m.Kind != "Plugin" || m.Spec.Version != "v1.2.3" || len(m.Spec.Platforms) != len(platforms) {
		t.Fatalf("manifest kind %s version %s with %d platforms:\n%s", m.Kind, m.Spec.Version, len(m.Spec.Platforms), raw)
	}
	for i, p := range m.Spec.Platforms {
		a := archives[i]
		bin := "kseal"
		if a.Platform.OS == "windows" {
			bin = "kseal.exe"
		}
		if p.Selector.MatchLabels["os"] != a.Platform.OS || p.Selector.MatchLabels["arch"] != a.Platform.Arch ||
			p.URI != "https://example.com/dl/v1.2.3/"+filepath.Base(a.Path) || p.SHA256 != a.SHA256 || p.Bin != bin ||
			len(p.Files) == 0 || p.Files[0].From != bin {
			t.Errorf("platform %d = %+v, want %s with %s", i, p, a.Platform, filepath.Base(a.Path))
		}
	}
	if _, err := renderKrew(o, archives[:5]); err == nil || !strings.Contains(err.Error(), "windows/arm64") {
		t.Errorf("renderKrew without windows/arm64: %v, want an error naming it", err)
	}
}
