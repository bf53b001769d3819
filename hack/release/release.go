package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"
	"time"

	"github.com/kseal-dev/kseal/hack/internal/crossbuild"
)

// KrewTemplate is the krew plugin manifest, a text/template with .Version,
// .URL (the archive URL of a platform) and .SHA256 (its checksum).
const KrewTemplate = "deploy/krew/kseal.yaml"

// Options says what Build makes.
type Options struct {
	// Root is the directory of the kseal module.
	Root string
	// Out is the output directory.
	Out string
	// Platforms are the platforms to build archives for.
	Platforms []crossbuild.Platform
	// Stamp is the version and commit put into the binaries.
	Stamp crossbuild.Stamp
	// DownloadURL is where releases are published; an archive's URL is
	// DownloadURL/<version>/<archive>.
	DownloadURL string
	// Created dates every archive entry (zero: the Unix epoch).
	Created time.Time
	// Krew writes kseal.krew.yaml; every platform it lists must be built.
	Krew bool
}

// Archive is one written archive.
type Archive struct {
	Platform crossbuild.Platform
	Path     string
	SHA256   string
}

// Result lists what Build wrote.
type Result struct {
	Archives  []Archive
	Checksums string // checksums.txt
	Krew      string // the filled-in krew manifest; "" unless Options.Krew
}

// Build cross-compiles and archives every platform, then writes
// checksums.txt and (with Options.Krew) kseal.krew.yaml. Each file is written under a temporary
// name and renamed when complete.
func Build(ctx context.Context, o Options) (Result, error) {
	if o.Created.IsZero() {
		o.Created = time.Unix(0, 0).UTC()
	}
	if strings.ContainsAny(o.Stamp.Version, `/\ `) || o.Stamp.Version == "" {
		return Result{}, fmt.Errorf("version %q must be non-empty, without slashes or spaces", o.Stamp.Version)
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return Result{}, err
	}
	work, err := os.MkdirTemp(o.Out, ".work-")
	if err != nil {
		return Result{}, err
	}
	defer os.RemoveAll(work)
	var r Result
	for _, p := range o.Platforms {
		a, err := buildArchive(ctx, o, p, filepath.Join(work, p.OS+"_"+p.Arch))
		if err != nil {
			return Result{}, fmt.Errorf("%s: %w", p, err)
		}
		r.Archives = append(r.Archives, a)
	}
	var sums strings.Builder
	for _, a := range r.Archives {
		fmt.Fprintf(&sums, "%s  %s\n", a.SHA256, filepath.Base(a.Path))
	}
	r.Checksums = filepath.Join(o.Out, "checksums.txt")
	if err := writeAtomic(r.Checksums, []byte(sums.String())); err != nil {
		return Result{}, err
	}
	if !o.Krew {
		return r, nil
	}
	krew, err := renderKrew(o, r.Archives)
	if err != nil {
		return Result{}, fmt.Errorf("%w (build every platform, or skip the manifest with -krew=false)", err)
	}
	r.Krew = filepath.Join(o.Out, "kseal.krew.yaml")
	return r, writeAtomic(r.Krew, krew)
}

// ArchiveName is the file name of p's archive: kseal_<version>_<os>_<arch>
// with .tar.gz, or .zip for windows.
func ArchiveName(version string, p crossbuild.Platform) string {
	ext := ".tar.gz"
	if p.OS == "windows" {
		ext = ".zip"
	}
	return "kseal_" + version + "_" + p.OS + "_" + p.Arch + ext
}

func buildArchive(ctx context.Context, o Options, p crossbuild.Platform, dir string) (Archive, error) {
	exe := ""
	if p.OS == "windows" {
		exe = ".exe"
	}
	pkgs := map[string]string{"kseal" + exe: "./cmd/kseal"}
	if p.OS == "linux" {
		pkgs["kseal-controller"] = "./cmd/kseal-controller"
	}
	var files []archiveFile
	for name, pkg := range pkgs {
		bin := filepath.Join(dir, name)
		if err := crossbuild.Build(ctx, o.Root, pkg, p, o.Stamp, bin); err != nil {
			return Archive{}, err
		}
		files = append(files, archiveFile{name: name, src: bin, mode: 0o755})
	}
	for _, doc := range []string{"LICENSE", "README.md"} {
		src := filepath.Join(o.Root, doc)
		if _, err := os.Stat(src); err == nil {
			files = append(files, archiveFile{name: doc, src: src, mode: 0o644})
		}
	}
	out := filepath.Join(o.Out, ArchiveName(o.Stamp.Version, p))
	if err := writeArchive(out, files, o.Created); err != nil {
		return Archive{}, err
	}
	sum, err := fileSHA256(out)
	if err != nil {
		return Archive{}, err
	}
	return Archive{Platform: p, Path: out, SHA256: sum}, nil
}

// renderKrew fills in the krew manifest template; a platform it names
// without an archive is an error (build all of them for a release).
func renderKrew(o Options, archives []Archive) ([]byte, error) {
	raw, err := os.ReadFile(filepath.Join(o.Root, KrewTemplate))
	if err != nil {
		return nil, err
	}
	byPlatform := map[string]Archive{}
	for _, a := range archives {
		byPlatform[a.Platform.String()] = a
	}
	lookup := func(goos, goarch string) (Archive, error) {
		a, ok := byPlatform[goos+"/"+goarch]
		if !ok {
			return Archive{}, fmt.Errorf("no archive for %s/%s: the krew manifest lists it", goos, goarch)
		}
		return a, nil
	}
	tmpl, err := template.New("krew").Option("missingkey=error").Funcs(template.FuncMap{
		"url": func(goos, goarch string) (string, error) {
			a, err := lookup(goos, goarch)
			return strings.TrimSuffix(o.DownloadURL, "/") + "/" + o.Stamp.Version + "/" + filepath.Base(a.Path), err
		},
		"sha256": func(goos, goarch string) (string, error) {
			a, err := lookup(goos, goarch)
			return a.SHA256, err
		},
		"list": func(items ...string) []string { return items },
		"os":   func(p string) string { goos, _, _ := strings.Cut(p, "/"); return goos },
		"arch": func(p string) string { _, goarch, _ := strings.Cut(p, "/"); return goarch },
	}).Parse(string(raw))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", KrewTemplate, err)
	}
	var buf bytes.Buffer
	if err := tmpl.Execute(&buf, map[string]string{"Version": o.Stamp.Version}); err != nil {
		return nil, fmt.Errorf("%s: %w", KrewTemplate, err)
	}
	return buf.Bytes(), nil
}

func fileSHA256(path string) (string, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	sum := sha256.Sum256(data)
	return hex.EncodeToString(sum[:]), nil
}

func writeAtomic(path string, data []byte) error {
	tmp := path + ".tmp"
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		return err
	}
	return os.Rename(tmp, path)
}
