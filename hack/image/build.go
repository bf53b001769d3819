package main

import (
	"context"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"

	"github.com/kseal-dev/kseal/hack/internal/crossbuild"
)

// User is the numeric user and group the images run as (the "nonroot" user
// of distroless images).
const User = "65532:65532"

// BuildInfoDir is where each image keeps the Go build info of its binaries.
const BuildInfoDir = "usr/local/share/kseal/buildinfo"

// Options says what Build makes.
type Options struct {
	// Root is the directory of the kseal module.
	Root string
	// Out is the output directory: Out/<image>/ (OCI layout) and
	// Out/<image>.tar for each image.
	Out string
	// Platforms are the platforms of each image index; each must be linux.
	Platforms []crossbuild.Platform
	// Images names the images to build; empty means all.
	Images []string
	// Stamp is the version and commit put into binaries and labels.
	Stamp crossbuild.Stamp
	// Source is the repository URL of the org.opencontainers.image.source label.
	Source string
	// Repository prefixes each image name in the ref.name annotation.
	Repository string
	// Created is the creation time in configs and file times (zero: the Unix epoch).
	Created time.Time
}

// binary is one program in an image.
type binary struct {
	pkg  string // main package: ./cmd/kseal or a module path
	path string // where it goes in the image, without the leading /
}

// imageSpec describes one image.
type imageSpec struct {
	name, description string
	binaries          []binary
	entrypoint        []string
}

// specs are the images kseal ships.
var specs = []imageSpec{
	{
		name:        "kseal-controller",
		description: "kseal controller: SealedSecrets, ExternalSecrets and SopsSecrets to Secrets",
		binaries:    []binary{{"./cmd/kseal-controller", "usr/local/bin/kseal-controller"}},
		entrypoint:  []string{"/usr/local/bin/kseal-controller"},
	},
	{
		// The Argo CD config management plugin sidecar: Argo CD starts its
		// own argocd-cmp-server in it (see config/argocd), which runs the
		// plugin's `sh -c` generate command, which runs kseal.
		name:        "kseal-cmp",
		description: "kseal Argo CD plugin sidecar: the kseal CLI and a POSIX shell (mvdan.cc/sh)",
		binaries: []binary{
			{"./cmd/kseal", "usr/local/bin/kseal"},
			{"mvdan.cc/sh/v3/cmd/gosh", "bin/sh"},
		},
		entrypoint: []string{"/usr/local/bin/kseal"},
	},
}

func imageNames() []string {
	var names []string
	for _, s := range specs {
		names = append(names, s.name)
	}
	return names
}

// Built is one image Build wrote.
type Built struct {
	Name, Ref string
	Digest    v1.Hash // of the image index
	Layout    string  // the OCI layout directory
	Tarball   string  // the tar archive of Layout
}

// Build cross-compiles the binaries of the selected images for every
// platform and writes each image's index.
func Build(ctx context.Context, o Options) ([]Built, error) {
	selected, err := selectSpecs(o.Images)
	if err != nil {
		return nil, err
	}
	for _, p := range o.Platforms {
		if p.OS != "linux" {
			return nil, fmt.Errorf("platform %s: images are linux only", p)
		}
	}
	if o.Created.IsZero() {
		o.Created = time.Unix(0, 0).UTC()
	}
	if err := os.MkdirAll(o.Out, 0o755); err != nil {
		return nil, err
	}
	work, err := os.MkdirTemp(o.Out, ".work-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(work)
	var out []Built
	for _, spec := range selected {
		var images []platformImage
		for _, p := range o.Platforms {
			img, err := buildImage(ctx, o, spec, p, filepath.Join(work, spec.name, p.OS+"_"+p.Arch))
			if err != nil {
				return nil, fmt.Errorf("image %s for %s: %w", spec.name, p, err)
			}
			images = append(images, platformImage{p, img})
		}
		b, err := writeIndex(o, spec, images)
		if err != nil {
			return nil, fmt.Errorf("image %s: %w", spec.name, err)
		}
		out = append(out, b)
	}
	return out, nil
}

func selectSpecs(names []string) ([]imageSpec, error) {
	if len(names) == 0 {
		return specs, nil
	}
	var out []imageSpec
	for _, name := range names {
		i := slices.IndexFunc(specs, func(s imageSpec) bool { return s.name == name })
		if i < 0 {
			return nil, fmt.Errorf("no image %q: want one of %v", name, imageNames())
		}
		out = append(out, specs[i])
	}
	return out, nil
}

// buildImage compiles spec's binaries for p into dir and makes the image.
func buildImage(ctx context.Context, o Options, spec imageSpec, p crossbuild.Platform, dir string) (v1.Image, error) {
	var files []layerFile
	for _, b := range spec.binaries {
		bin := filepath.Join(dir, path.Base(b.path))
		if err := crossbuild.Build(ctx, o.Root, b.pkg, p, o.Stamp, bin); err != nil {
			return nil, err
		}
		info, err := crossbuild.BuildInfo(bin)
		if err != nil {
			return nil, err
		}
		files = append(files,
			layerFile{path: b.path, src: bin, mode: 0o755},
			layerFile{path: path.Join(BuildInfoDir, path.Base(b.path)+".txt"), data: info, mode: 0o644})
	}
	layer, err := writeLayer(filepath.Join(dir, "layer.tar"), files, o.Created)
	if err != nil {
		return nil, err
	}
	return newImage(o, spec, p, layer)
}
