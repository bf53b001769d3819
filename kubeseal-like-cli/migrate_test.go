package cli

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestMigrate_files converts real files: the mode of a converted file is
// kept, no temporary file is left beside it, a symbolic link is reported
// and not followed, and --check writes nothing.
func TestMigrate_files(t *testing.T) {
	dir := t.TempDir()
	src := "apiVersion: external-secrets.io/v1\nkind: ExternalSecret\nmetadata: {name: a}\n"
	path := filepath.Join(dir, "es.yaml")
	if err := os.WriteFile(path, []byte(src), 0o640); err != nil {
		t.Fatal(err)
	}
	target := filepath.Join(t.TempDir(), "elsewhere.yaml")
	if err := os.WriteFile(target, []byte(src), 0o644); err != nil {
		t.Fatal(err)
	}
	link := filepath.Join(dir, "link.yaml")
	if err := os.Symlink(target, link); err != nil {
		t.Fatal(err)
	}
	run := func(args ...string) (string, error) {
		var out bytes.Buffer
		s := &streams{in: strings.NewReader(""), out: &out, err: &out}
		o := &migrateOptions{check: args[0] == "--check"}
		if o.check {
			args = args[1:]
		}
		err := o.run(s, args)
		return out.String(), err
	}
	out, err := run("--check", dir)
	if err == nil || !strings.Contains(out, "es.yaml: would convert 1 document(s)") {
		t.Fatalf("--check: %v\n%s", err, out)
	}
	if got, _ := os.ReadFile(path); string(got) != src {
		t.Fatal("--check wrote the file")
	}
	out, err = run(dir, path)
	if err == nil || !strings.Contains(out, "link.yaml: not a regular file") {
		t.Fatalf("the symbolic link was not reported: %v\n%s", err, out)
	}
	got, _ := os.ReadFile(path)
	if string(got) != strings.Replace(src, "external-secrets.io/v1", "kseal.dev/v1alpha1", 1) {
		t.Errorf("converted:\n%s", got)
	}
	if fi, _ := os.Stat(path); fi.Mode().Perm() != 0o640 {
		t.Errorf("mode %v, want 0640", fi.Mode().Perm())
	}
	if elsewhere, _ := os.ReadFile(target); string(elsewhere) != src {
		t.Error("the link's target was rewritten")
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 2 {
		t.Errorf("directory holds %d entries, want es.yaml and link.yaml", len(entries))
	}
}
