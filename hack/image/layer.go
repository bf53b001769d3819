package main

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"path"
	"slices"
	"strings"
	"time"

	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"
)

// layerFile is one regular file of a layer: its content is data, or the
// file src on disk.
type layerFile struct {
	path string // in the image, without the leading /
	src  string
	data []byte
	mode int64
}

// writeLayer writes the uncompressed layer tar to file and returns it as an
// OCI layer (gzip-compressed when read). Every entry is owned by root and
// dated created, so a layer depends only on its files; /tmp exists
// (world-writable, sticky) as the mount point of an emptyDir.
func writeLayer(file string, files []layerFile, created time.Time) (v1.Layer, error) {
	f, err := os.Create(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	tw := tar.NewWriter(f)
	dirs := map[string]bool{"tmp": true}
	for _, lf := range files {
		for d := path.Dir(lf.path); d != "."; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	names := make([]string, 0, len(dirs))
	for d := range dirs {
		names = append(names, d)
	}
	slices.Sort(names)
	for _, d := range names {
		mode := int64(0o755)
		if d == "tmp" {
			mode = 0o1777
		}
		hdr := &tar.Header{Typeflag: tar.TypeDir, Name: d + "/", Mode: mode, ModTime: created, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, err
		}
	}
	slices.SortFunc(files, func(a, b layerFile) int { return strings.Compare(a.path, b.path) })
	for _, lf := range files {
		if err := writeFile(tw, lf, created); err != nil {
			return nil, fmt.Errorf("layer file /%s: %w", lf.path, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	if err := f.Close(); err != nil {
		return nil, err
	}
	return tarball.LayerFromFile(file, tarball.WithMediaType(types.OCILayer))
}

func writeFile(tw *tar.Writer, lf layerFile, created time.Time) error {
	var r io.Reader
	size := int64(len(lf.data))
	if lf.src != "" {
		src, err := os.Open(lf.src)
		if err != nil {
			return err
		}
		defer src.Close()
		st, err := src.Stat()
		if err != nil {
			return err
		}
		r, size = src, st.Size()
	} else {
		r = bytes.NewReader(lf.data)
	}
	hdr := &tar.Header{Typeflag: tar.TypeReg, Name: lf.path, Mode: lf.mode, Size: size, ModTime: created, Format: tar.FormatPAX}
	if err := tw.WriteHeader(hdr); err != nil {
		return err
	}
	_, err := io.Copy(tw, r)
	return err
}
