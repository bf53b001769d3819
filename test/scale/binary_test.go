package scale

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// stageBinary copies the executable src into the work directory as name,
// in 32 KiB writes, and returns the copy's path; every controller the
// harness measures runs from such a copy.
//
// Why: the resident set of a process counts the pages of its executable
// that are mapped, and the kernel maps whole page-cache folios around a
// page fault, so the same binary shows a different RSS depending on how its
// file was written. Measured with kseal-controller idle (Linux 6.18, ext4):
// 36.7 MiB of it resident when read back from disk or written in 32 KiB
// writes, 45–56 MiB when just written by the Go linker (mixed folios), and
// 55.7 MiB when written in 1 MiB writes. 32 KiB is the buffer a container
// runtime unpacks an image layer with (io.Copy's), so the copy matches a
// controller started from an image, and both controllers of the
// side-by-side run (kseal, linked right before by `make bench-scale`, and
// Bitnami's, from a cache built long before) are measured in the same
// state. Plain writes: copy_file_range or a reflink would share the
// original's page cache state.
func (h *harness) stageBinary(src, name string) (string, error) {
	in, err := os.Open(src)
	if err != nil {
		return "", err
	}
	defer in.Close()
	dst := filepath.Join(h.workDir, name)
	tmp, err := os.CreateTemp(h.workDir, name+".tmp-*")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp.Name()) // no-op after the rename
	buf := make([]byte, 32<<10)
	for {
		n, rerr := in.Read(buf)
		if n > 0 {
			if _, werr := tmp.Write(buf[:n]); werr != nil {
				tmp.Close()
				return "", werr
			}
		}
		if errors.Is(rerr, io.EOF) {
			break
		}
		if rerr != nil {
			tmp.Close()
			return "", rerr
		}
	}
	if err := tmp.Chmod(0o755); err != nil {
		tmp.Close()
		return "", err
	}
	if err := tmp.Close(); err != nil {
		return "", err
	}
	if err := os.Rename(tmp.Name(), dst); err != nil {
		return "", fmt.Errorf("stage %s: %w", src, err)
	}
	return dst, nil
}

// TestStageBinary: the copy has the same bytes, is executable, lives in the
// work directory and is a file of its own (not a link to the original).
func TestStageBinary(t *testing.T) {
	src := filepath.Join(t.TempDir(), "prog")
	want := make([]byte, 3<<20+17) // more than one buffer, not a multiple of it
	for i := range want {
		want[i] = byte(i * 7)
	}
	if err := os.WriteFile(src, want, 0o700); err != nil {
		t.Fatal(err)
	}
	h := &harness{workDir: t.TempDir()}
	got, err := h.stageBinary(src, "prog")
	if err != nil {
		t.Fatal(err)
	}
	if filepath.Dir(got) != h.workDir {
		t.Errorf("staged at %s, want in %s", got, h.workDir)
	}
	b, err := os.ReadFile(got)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(b, want) {
		t.Errorf("staged copy differs: %d bytes, want %d", len(b), len(want))
	}
	st, err := os.Stat(got)
	if err != nil {
		t.Fatal(err)
	}
	if st.Mode().Perm()&0o111 == 0 {
		t.Errorf("staged copy is not executable: %v", st.Mode())
	}
	orig, err := os.Stat(src)
	if err != nil {
		t.Fatal(err)
	}
	if os.SameFile(st, orig) {
		t.Error("staged copy is the original file")
	}
	if entries, _ := os.ReadDir(h.workDir); len(entries) != 1 {
		t.Errorf("work directory holds %d entries, want only the copy", len(entries))
	}
}
