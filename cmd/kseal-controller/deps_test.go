package main

import (
	"os/exec"
	"strings"
	"testing"
)

// TestDependencies_noSopsLibrary: the controller decrypts SOPS documents
// with kseal's own decryptor (crypto/sops), so it links none of the sops
// library, whose key service brings every cloud KMS SDK into the binary
// (and its pages into the controller's memory). Only the kseal CLI, which
// re-encrypts with the library, may import it.
func TestDependencies_noSopsLibrary(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to list the dependencies with")
	}
	out, err := exec.Command(goTool, "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	deps := strings.Fields(string(out))
	if len(deps) < 100 {
		t.Fatalf("go list -deps listed only %d packages", len(deps))
	}
	for _, p := range deps {
		if strings.HasPrefix(p, "github.com/getsops/sops") {
			t.Errorf("kseal-controller depends on %s: decrypt SOPS documents with crypto/sops, not the sops library", p)
		}
	}
}
