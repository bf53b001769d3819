package cli

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestRender_outputLimits(t *testing.T) {
	dir := t.TempDir()
	for _, name := range []string{"a", "b", "c"} {
		cm := "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\ndata:\n  k: " + strings.Repeat("x", 2000) + "\n"
		if err := os.WriteFile(filepath.Join(dir, name+".yaml"), []byte(cm), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	run := func(resource, total int) (string, string) {
		t.Helper()
		defer func(r, o int) { maxResourceOutput, maxOutput = r, o }(maxResourceOutput, maxOutput)
		maxResourceOutput, maxOutput = resource, total
		var out, errOut bytes.Buffer
		if code := Main(context.Background(), []string{"render", dir}, strings.NewReader(""), &out, &errOut); code != 1 {
			t.Fatalf("exit %d, want 1\n%s", code, errOut.String())
		}
		return out.String(), errOut.String()
	}
	out, errOut := run(1000, 1<<20)
	if out != "" || !strings.Contains(errOut, "error: ConfigMap a ("+filepath.Join(dir, "a.yaml")+"): 2") ||
		!strings.Contains(errOut, "bytes rendered, more than the 1000 a resource may have") {
		t.Errorf("per-resource limit: stdout %q, stderr %s", out, errOut)
	}
	out, errOut = run(1<<20, 5000)
	if out != "" || !strings.Contains(errOut, "error: the output is larger than 5000 bytes (at ConfigMap c") {
		t.Errorf("total limit: stdout %q, stderr %s", out, errOut)
	}
}
