package main

import (
	"archive/tar"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/layout"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/kseal-dev/kseal/hack/internal/crossbuild"
)

// labels are the OCI annotation keys kseal sets as image labels and as
// annotations of manifests and index.
func labels(o Options, spec imageSpec) map[string]string {
	l := map[string]string{
		"org.opencontainers.image.title":       spec.name,
		"org.opencontainers.image.description": spec.description,
		"org.opencontainers.image.source":      o.Source,
		"org.opencontainers.image.url":         o.Source,
		"org.opencontainers.image.version":     o.Stamp.Version,
		"org.opencontainers.image.created":     o.Created.UTC().Format("2006-01-02T15:04:05Z"),
	}
	if o.Stamp.Commit != "" {
		l["org.opencontainers.image.revision"] = o.Stamp.Commit
	}
	return l
}

// platformImage is the image of one platform.
type platformImage struct {
	platform crossbuild.Platform
	image    v1.Image
}

// newImage is the OCI image of spec for p with the one layer.
func newImage(o Options, spec imageSpec, p crossbuild.Platform, layer v1.Layer) (v1.Image, error) {
	img, err := mutate.Append(empty.Image, mutate.Addendum{
		Layer:     layer,
		MediaType: types.OCILayer,
		History:   v1.History{Created: v1.Time{Time: o.Created}, CreatedBy: "kseal hack/image", Comment: spec.description},
	})
	if err != nil {
		return nil, err
	}
	cf, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cf = cf.DeepCopy()
	cf.OS, cf.Architecture = p.OS, p.Arch
	cf.Created = v1.Time{Time: o.Created}
	cf.Author = o.Source
	cf.Config = v1.Config{
		User:       User,
		Entrypoint: spec.entrypoint,
		WorkingDir: "/",
		Env:        []string{"PATH=/usr/local/bin:/bin"},
		Labels:     labels(o, spec),
	}
	img, err = mutate.ConfigFile(img, cf)
	if err != nil {
		return nil, err
	}
	img = mutate.MediaType(img, types.OCIManifestSchema1)
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	return mutate.Annotations(img, labels(o, spec)).(v1.Image), nil
}

// writeIndex writes the multi-platform index of images as the OCI layout
// Out/<name> and the archive Out/<name>.tar, each replaced only once
// complete.
func writeIndex(o Options, spec imageSpec, images []platformImage) (Built, error) {
	idx := mutate.IndexMediaType(empty.Index, types.OCIImageIndex)
	for _, pi := range images {
		idx = mutate.AppendManifests(idx, mutate.IndexAddendum{
			Add: pi.image,
			Descriptor: v1.Descriptor{
				MediaType: types.OCIManifestSchema1,
				Platform:  &v1.Platform{OS: pi.platform.OS, Architecture: pi.platform.Arch},
			},
		})
	}
	idx = mutate.Annotations(idx, labels(o, spec)).(v1.ImageIndex)
	digest, err := idx.Digest()
	if err != nil {
		return Built{}, err
	}
	ref := o.Repository + "/" + spec.name + ":" + o.Stamp.Version
	b := Built{Name: spec.name, Ref: ref, Digest: digest,
		Layout: filepath.Join(o.Out, spec.name), Tarball: filepath.Join(o.Out, spec.name+".tar")}

	tmp := b.Layout + ".tmp"
	if err := os.RemoveAll(tmp); err != nil {
		return Built{}, err
	}
	lp, err := layout.Write(tmp, empty.Index)
	if err != nil {
		return Built{}, err
	}
	if err := lp.AppendIndex(idx, layout.WithAnnotations(map[string]string{
		"org.opencontainers.image.ref.name": ref,
		"io.containerd.image.name":          ref,
	})); err != nil {
		return Built{}, fmt.Errorf("write OCI layout: %w", err)
	}
	if err := tarDir(tmp, b.Tarball+".tmp", o.Created); err != nil {
		return Built{}, err
	}
	if err := os.Rename(b.Tarball+".tmp", b.Tarball); err != nil {
		return Built{}, err
	}
	if err := os.RemoveAll(b.Layout); err != nil {
		return Built{}, err
	}
	return b, os.Rename(tmp, b.Layout)
}

// tarDir writes the files under dir, relative to it, to the tar file out.
func tarDir(dir, out string, created time.Time) error {
	f, err := os.Create(out)
	if err != nil {
		return err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	err = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || p == dir {
			return err
		}
		rel, err := filepath.Rel(dir, p)
		if err != nil {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		hdr, err := tar.FileInfoHeader(info, "")
		if err != nil {
			return err
		}
		hdr.Name, hdr.Uid, hdr.Gid, hdr.Uname, hdr.Gname = filepath.ToSlash(rel), 0, 0, "", ""
		hdr.ModTime, hdr.Format = created, tar.FormatPAX
		if d.IsDir() {
			hdr.Name += "/"
		}
		if err := tw.WriteHeader(hdr); err != nil || d.IsDir() {
			return err
		}
		src, err := os.Open(p)
		if err != nil {
			return err
		}
		defer src.Close()
		_, err = io.Copy(tw, src)
		return err
	})
	if err != nil {
		os.Remove(out)
		return err
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return f.Close()
}
