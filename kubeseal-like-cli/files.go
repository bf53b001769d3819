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

// limitError reports a read that went over its size limit.
type limitError struct {
	// name is the file, stdin or URL read.
	name  string
	limit int
}

func (e *limitError) Error() string {
	return fmt.Sprintf("%s: larger than %d bytes", e.name, e.limit)
}

// readLimit reads r to its end, refusing more than limit bytes. It is the
// one place where the CLI bounds a read: files (readFileLimit), stdin and
// HTTP bodies all come through it. name names the source in the error.
func readLimit(name string, r io.Reader, limit int) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, int64(limit)+1))
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", name, err)
	}
	if len(data) > limit {
		return nil, &limitError{name: name, limit: limit}
	}
	return data, nil
}

// readFileLimit reads the file at path, refusing more than limit bytes.
func readFileLimit(path string, limit int) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	return readLimit(path, f, limit)
}

// readInput reads path, or stdin when path is "" or "-", up to maxInput.
func readInput(s *streams, path string) ([]byte, error) {
	if path != "" && path != "-" {
		return readFileLimit(path, maxInput)
	}
	return readLimit("stdin", s.in, maxInput)
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
	return writeAtomic(path, data, mode, false, nil)
}

// writePrivateFile is writeFileAtomic for private keys and plaintext: the
// file is mode 0600 from its creation, even where it replaces a file that
// others could read.
func writePrivateFile(path string, data []byte) error {
	return writeAtomic(path, data, 0o600, true, nil)
}

// writeAtomic writes data to path through a temporary file created mode
// 0600 beside it: nothing is readable by others before the chmod. Unless
// private, an existing file keeps its mode. check, when not nil, runs just
// before the rename; its error leaves path as it was.
func writeAtomic(path string, data []byte, mode os.FileMode, private bool, check func() error) error {
	if fi, err := os.Stat(path); err == nil {
		if !fi.Mode().IsRegular() {
			return fmt.Errorf("%s is not a regular file", path)
		}
		if !private {
			mode = fi.Mode().Perm()
		}
	}
	// os.CreateTemp makes the file 0600.
	tmp, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // no-op after a successful rename
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return err
	}
	if _, err := tmp.Write(data); err != nil {
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
	if check != nil {
		if err := check(); err != nil {
			return err
		}
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
		data, err := readFileLimit(src, maxCertificate)
		if errors.As(err, new(*limitError)) {
			return nil, fmt.Errorf("%w, not a certificate", err)
		}
		return data, err
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
	data, err := readLimit("GET "+src, resp.Body, maxCertificate)
	if errors.As(err, new(*limitError)) {
		return nil, fmt.Errorf("%w, not a certificate", err)
	}
	return bytes.TrimSpace(data), err
}
