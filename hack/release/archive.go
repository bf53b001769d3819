package main

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"
	"time"
)

// archiveFile is one file of an archive, at its root.
type archiveFile struct {
	name string // in the archive
	src  string // on disk
	mode fs.FileMode
}

// writeArchive writes files, sorted by name, to out: a zip when out ends in
// .zip, else a gzip-compressed tar. It writes out.tmp and renames it.
func writeArchive(out string, files []archiveFile, created time.Time) error {
	files = slices.Clone(files)
	slices.SortFunc(files, func(a, b archiveFile) int { return strings.Compare(a.name, b.name) })
	tmp := out + ".tmp"
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	defer f.Close()
	if strings.HasSuffix(out, ".zip") {
		err = writeZip(f, files, created)
	} else {
		err = writeTarGz(f, files, created)
	}
	if err != nil {
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	return os.Rename(tmp, out)
}

func writeTarGz(w io.Writer, files []archiveFile, created time.Time) error {
	gz := gzip.NewWriter(w)
	tw := tar.NewWriter(gz)
	for _, af := range files {
		src, size, err := open(af.src)
		if err != nil {
			return err
		}
		hdr := &tar.Header{Typeflag: tar.TypeReg, Name: af.name, Mode: int64(af.mode), Size: size, ModTime: created, Format: tar.FormatPAX}
		if err := tw.WriteHeader(hdr); err != nil {
			src.Close()
			return err
		}
		_, err = io.Copy(tw, src)
		src.Close()
		if err != nil {
			return err
		}
	}
	if err := tw.Close(); err != nil {
		return err
	}
	return gz.Close()
}

func writeZip(w io.Writer, files []archiveFile, created time.Time) error {
	zw := zip.NewWriter(w)
	for _, af := range files {
		src, _, err := open(af.src)
		if err != nil {
			return err
		}
		hdr := &zip.FileHeader{Name: af.name, Method: zip.Deflate, Modified: created}
		hdr.SetMode(af.mode)
		dst, err := zw.CreateHeader(hdr)
		if err == nil {
			_, err = io.Copy(dst, src)
		}
		src.Close()
		if err != nil {
			return err
		}
	}
	return zw.Close()
}

func open(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}
