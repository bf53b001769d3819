package main

import (
	"archive/tar"
	"context"
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

	"filippo.io/age"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"

	"github.com/kseal-dev/kseal/hack/internal/crossbuild"
	"github.com/kseal-dev/kseal/internal/argocdplugin"
)

const (
	testVersion = "v9.9.9-test"
	testCommit  = "0123456789abcdef0123456789abcdef01234567"
)

// TestBuild builds both images for the host's architecture, opens each OCI
// layout and archive with go-containerregistry, checks the config and the
// layer, and runs the binaries taken from the layer.
func TestBuild(t *testing.T) {
	if runtime.GOOS != "linux" {
		t.Skip("images hold linux binaries; the test runs them")
	}
	o := Options{
		Root: "../..", Out: t.TempDir(), Platforms: []crossbuild.Platform{crossbuild.Host()},
		Stamp:  crossbuild.Stamp{Version: testVersion, Commit: testCommit},
		Source: "https://example.com/kseal", Repository: "registry.example.com/team",
		Created: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC),
	}
	built, err := Build(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if len(built) != len(specs) {
		t.Fatalf("built %d images, want %d", len(built), len(specs))
	}
	root := map[string]string{}
	for _, b := range built {
		img := openLayout(t, b.Layout, b)
		checkConfig(t, img, b.Name)
		root[b.Name] = extractLayer(t, img)
		checkArchive(t, b)
	}

	ctrl := root["kseal-controller"]
	want := "kseal-controller " + testVersion + " (commit " + testCommit + ", " + runtime.Version() + ", linux/" + runtime.GOARCH + ")\n"
	if got := runBin(t, "", nil, filepath.Join(ctrl, "usr/local/bin/kseal-controller"), "--version"); got != want {
		t.Errorf("kseal-controller --version = %q, want %q", got, want)
	}
	cmp := root["kseal-cmp"]
	want = "kseal " + testVersion + " (commit " + testCommit + ", " + runtime.Version() + ", linux/" + runtime.GOARCH + ")\n"
	if got := runBin(t, "", nil, filepath.Join(cmp, "usr/local/bin/kseal"), "version"); got != want {
		t.Errorf("kseal version = %q, want %q", got, want)
	}
	for name, file := range map[string]string{"kseal-controller": "kseal-controller.txt", "kseal-cmp": "kseal.txt"} {
		info, err := os.ReadFile(filepath.Join(root[name], BuildInfoDir, file))
		if err != nil {
			t.Fatalf("%s: build info: %v", name, err)
		}
		for _, s := range []string{"mod\tgithub.com/kseal-dev/kseal\t", "dep\tsigs.k8s.io/", "CGO_ENABLED=0", "-trimpath=true", "GOOS=linux"} {
			if !strings.Contains(string(info), s) {
				t.Errorf("%s: build info lacks %q:\n%s", name, s, info)
			}
		}
	}
	checkPluginShell(t, cmp)
}

// openLayout opens the OCI layout dir and returns the image of the host
// platform, after checking the index names b.Ref and has one image per
// platform.
func openLayout(t *testing.T, dir string, b Built) v1.Image {
	t.Helper()
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatal(err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	tm, err := top.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(tm.Manifests) != 1 || tm.Manifests[0].Digest != b.Digest ||
		tm.Manifests[0].Annotations["org.opencontainers.image.ref.name"] != "registry.example.com/team/"+b.Name+":"+testVersion {
		t.Fatalf("%s: index.json = %+v, want one index %s named %s", b.Name, tm.Manifests, b.Digest, b.Ref)
	}
	idx, err := top.ImageIndex(b.Digest)
	if err != nil {
		t.Fatal(err)
	}
	im, err := idx.IndexManifest()
	if err != nil {
		t.Fatal(err)
	}
	if len(im.Manifests) != 1 || im.Manifests[0].Platform == nil ||
		im.Manifests[0].Platform.OS != "linux" || im.Manifests[0].Platform.Architecture != runtime.GOARCH {
		t.Fatalf("%s: image index = %+v, want one linux/%s image", b.Name, im.Manifests, runtime.GOARCH)
	}
	if im.Annotations["org.opencontainers.image.revision"] != testCommit {
		t.Errorf("%s: index annotations = %v", b.Name, im.Annotations)
	}
	img, err := idx.Image(im.Manifests[0].Digest)
	if err != nil {
		t.Fatal(err)
	}
	return img
}

func checkConfig(t *testing.T, img v1.Image, name string) {
	t.Helper()
	cf, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	c := cf.Config
	if c.User != "65532:65532" {
		t.Errorf("%s: user %q, want 65532:65532", name, c.User)
	}
	wantEntry := map[string]string{"kseal-controller": "/usr/local/bin/kseal-controller", "kseal-cmp": "/usr/local/bin/kseal"}[name]
	if !slices.Equal(c.Entrypoint, []string{wantEntry}) || len(c.Cmd) != 0 {
		t.Errorf("%s: entrypoint %q cmd %q, want [%s]", name, c.Entrypoint, c.Cmd, wantEntry)
	}
	for k, v := range map[string]string{
		"org.opencontainers.image.source":   "https://example.com/kseal",
		"org.opencontainers.image.version":  testVersion,
		"org.opencontainers.image.revision": testCommit,
		"org.opencontainers.image.title":    name,
		"org.opencontainers.image.created":  "2026-01-02T03:04:05Z",
	} {
		if c.Labels[k] != v {
			t.Errorf("%s: label %s = %q, want %q", name, k, c.Labels[k], v)
		}
	}
	if cf.OS != "linux" || cf.Architecture != runtime.GOARCH || c.WorkingDir != "/" {
		t.Errorf("%s: os %s arch %s workdir %q", name, cf.OS, cf.Architecture, c.WorkingDir)
	}
}

// extractLayer checks the image's one layer (every entry root-owned, not
// writable by others except /tmp, binaries executable) and extracts it
// into a new directory, which it returns.
func extractLayer(t *testing.T, img v1.Image) string {
	t.Helper()
	layers, err := img.Layers()
	if err != nil || len(layers) != 1 {
		t.Fatalf("layers = %d, %v; want 1", len(layers), err)
	}
	dir := t.TempDir()
	rc := mutate.Extract(img)
	defer rc.Close()
	tr := tar.NewReader(rc)
	var names []string
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		name := strings.TrimSuffix(hdr.Name, "/")
		names = append(names, name)
		if hdr.Uid != 0 || hdr.Gid != 0 || (hdr.Mode&0o002 != 0 && name != "tmp") {
			t.Errorf("/%s: owner %d:%d mode %o, want root-owned and not world-writable", hdr.Name, hdr.Uid, hdr.Gid, hdr.Mode)
		}
		dst := filepath.Join(dir, filepath.FromSlash(hdr.Name))
		switch hdr.Typeflag {
		case tar.TypeDir:
			if err := os.MkdirAll(dst, 0o755); err != nil {
				t.Fatal(err)
			}
		case tar.TypeReg:
			data, err := io.ReadAll(tr)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(dst, data, os.FileMode(hdr.Mode)&0o777); err != nil {
				t.Fatal(err)
			}
		default:
			t.Errorf("/%s: type %c, want only directories and files", hdr.Name, hdr.Typeflag)
		}
	}
	if !slices.Contains(names, "tmp") {
		t.Errorf("layer lacks /tmp: %v", names)
	}
	return dir
}

// checkArchive unpacks the tar archive and opens it as an OCI layout: the
// same index as the directory.
func checkArchive(t *testing.T, b Built) {
	t.Helper()
	dir := t.TempDir()
	f, err := os.Open(b.Tarball)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	tr := tar.NewReader(f)
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		dst := filepath.Join(dir, filepath.FromSlash(hdr.Name))
		if hdr.Typeflag == tar.TypeDir {
			os.MkdirAll(dst, 0o755)
			continue
		}
		data, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	p, err := layout.FromPath(dir)
	if err != nil {
		t.Fatalf("%s: %v", b.Tarball, err)
	}
	top, err := p.ImageIndex()
	if err != nil {
		t.Fatal(err)
	}
	idx, err := top.ImageIndex(b.Digest)
	if err != nil {
		t.Fatalf("%s: index %s: %v", b.Tarball, b.Digest, err)
	}
	if d, err := idx.Digest(); err != nil || d != b.Digest {
		t.Errorf("%s: index digest %s, %v; want %s", b.Tarball, d, err, b.Digest)
	}
}

// checkPluginShell runs the Argo CD plugin's generate command
// (config/argocd/plugin.yaml) with only the sidecar image's programs on
// PATH: its /bin/sh runs the script, which runs its kseal.
func checkPluginShell(t *testing.T, root string) {
	t.Helper()
	gen, err := argocdplugin.Generate("../..")
	if err != nil {
		t.Fatal(err)
	}
	if gen[0] != "sh" {
		t.Fatalf("plugin generate command %q, want sh ...", gen)
	}
	id, err := age.GenerateX25519Identity()
	if err != nil {
		t.Fatal(err)
	}
	app := t.TempDir()
	cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app-settings\ndata:\n  k: v\n"
	if err := os.WriteFile(filepath.Join(app, "cm.yaml"), []byte(cm), 0o644); err != nil {
		t.Fatal(err)
	}
	env := []string{
		"PATH=" + filepath.Join(root, "usr/local/bin") + string(os.PathListSeparator) + filepath.Join(root, "bin"),
		"KSEAL_AGE_KEY=" + id.String(),
	}
	got := runBin(t, app, env, filepath.Join(root, "bin/sh"), gen[1:]...)
	if !strings.Contains(got, "name: app-settings") {
		t.Errorf("plugin output:\n%s\nwant the ConfigMap app-settings", got)
	}
}

// runBin runs bin with args in dir and returns its standard output.
func runBin(t *testing.T, dir string, env []string, bin string, args ...string) string {
	t.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Dir, cmd.Env = dir, env
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %q: %v\n%s", filepath.Base(bin), args, err, stderr.String())
	}
	return string(out)
}
