package cli

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// maxInput bounds what kseal reads from a file or stdin.
const maxInput = 16 << 20

// readInput reads path, or stdin when path is "" or "-", up to maxInput.
func readInput(s *streams, path string) ([]byte, error) {
	var r io.Reader = s.in
	name := "stdin"
	if path != "" && path != "-" {
		f, err := os.Open(path)
		if err != nil {
			return nil, err
		}
		defer f.Close()
		r, name = f, path
	}
	data, err := io.ReadAll(io.LimitReader(r, maxInput+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(data) > maxInput {
		return nil, fmt.Errorf("read %s: input is larger than %d bytes", name, maxInput)
	}
	return data, nil
}

// writeOutput writes data to path atomically, or to stdout when path is ""
// or "-". A file is replaced only after the whole content is on disk.
func writeOutput(s *streams, path string, data []byte) error {
	if path == "" || path == "-" {
		_, err := s.out.Write(data)
		return err
	}
	return writeFileAtomic(path, data, 0o644)
}

// writeFileAtomic writes data to a temporary file beside path, syncs it, and
// renames it over path, keeping the mode of an existing file.
func writeFileAtomic(path string, data []byte, mode os.FileMode) error {
	if fi, err := os.Stat(path); err == nil {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", path)
		}
		mode = fi.Mode().Perm()
	}
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), path)
}

// refuseExisting fails when path exists, so kseal never overwrites key
// material by accident.
func refuseExisting(path, flag string) error {
	if _, err := os.Lstat(path); err == nil {
		return withHint(fmt.Errorf("%s already exists", path), "choose another path with %s, or pass --force to replace it", flag)
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// maxCertificate bounds a certificate read from a file or URL.
const maxCertificate = 64 << 10

// readCertificateSource reads a certificate from a file or an http(s) URL.
func readCertificateSource(ctx context.Context, src string) ([]byte, error) {
	if !strings.HasPrefix(src, "http://") && !strings.HasPrefix(src, "https://") {
		data, err := os.ReadFile(src)
		if err != nil {
			return nil, err
		}
		if len(data) > maxCertificate {
			return nil, fmt.Errorf("%s: larger than %d bytes, not a certificate", src, maxCertificate)
		}
		return data, nil
	}
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, src, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", src, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxCertificate+1))
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", src, err)
	}
	if len(data) > maxCertificate {
		return nil, fmt.Errorf("GET %s: response larger than %d bytes, not a certificate", src, maxCertificate)
	}
	return bytes.TrimSpace(data), nil
}
