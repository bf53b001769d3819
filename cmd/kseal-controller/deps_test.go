package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
)

// TestDependencies_noSopsLibrary: the controller decrypts SOPS documents
// with kseal's own decryptor (crypto/sops), so it links none of the sops
// library, whose key service brings every cloud KMS SDK into the binary
// (and its pages into the controller's memory). Only the kseal CLI, which
// re-encrypts with the library, may import it.
func TestDependencies_noSopsLibrary(t *testing.T) {
	for _, p := range controllerDeps(t) {
		if strings.HasPrefix(p, "github.com/getsops/sops") {
			t.Errorf("kseal-controller depends on %s: decrypt SOPS documents with crypto/sops, not the sops library", p)
		}
	}
}

// TestDependencies_noAWSSDK: the controller calls AWS with kseal's own
// client (providers/aws: SigV4, the JSON and query protocols, the
// credential chain), so it links none of the AWS SDK, whose code and init
// tables were most of what the controller's memory held beyond its own.
// The SDK stays in tests (the emulator, the signer cross-check).
func TestDependencies_noAWSSDK(t *testing.T) {
	for _, p := range controllerDeps(t) {
		if strings.HasPrefix(p, "github.com/aws/") {
			t.Errorf("kseal-controller depends on %s: call AWS through providers/aws's own client", p)
		}
	}
}

// controllerDeps lists the packages the controller links.
func controllerDeps(t *testing.T) []string {
	t.Helper()
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
	return deps
}

// maxInitAlloc bounds what the init of each kseal package may allocate:
// whatever a package builds at init (a compiled pattern, a table) stays on
// the heap for the life of the controller.
const maxInitAlloc = 128 << 10

// TestInit_ksealPackagesAllocateLittle runs this test binary (which links
// everything the controller does) with GODEBUG=inittrace=1 and checks that
// no kseal package allocates more than maxInitAlloc at init, and that the
// package that parses Mozilla's CA roots at init on every start is not
// linked (installFallbackRoots parses them only without system roots).
func TestInit_ksealPackagesAllocateLittle(t *testing.T) {
	cmd := exec.Command(os.Args[0], "-test.run=^$")
	cmd.Env = append(os.Environ(), "GODEBUG=inittrace=1")
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("%v\n%s", err, out)
	}
	seen := 0
	for _, line := range strings.Split(string(out), "\n") {
		// init <package> @<t> ms, <t> ms clock, <n> bytes, <n> allocs
		f := strings.Fields(line)
		if len(f) < 11 || f[0] != "init" || f[8] != "bytes," {
			continue
		}
		seen++
		if f[1] == "golang.org/x/crypto/x509roots/fallback" {
			t.Errorf("%s is linked: it parses every fallback CA root at init; use installFallbackRoots", f[1])
		}
		n, err := strconv.Atoi(f[7])
		if err != nil {
			t.Fatalf("init trace line %q: %v", line, err)
		}
		if strings.HasPrefix(f[1], "github.com/kseal-dev/kseal/") && n > maxInitAlloc {
			t.Errorf("init of %s allocates %d bytes, more than %d (%s)", f[1], n, maxInitAlloc, line)
		}
	}
	if seen < 100 {
		t.Fatalf("only %d init trace lines in the output:\n%s", seen, out)
	}
}

// TestLink_noUnusedHeavyCode builds the controller and reads its symbol
// table: the typed clients of API groups it never calls must not be linked.
// The whole clientset (kubernetes.NewForConfig) links a client for every
// group, about 13 MB of code resident in each replica; the controller needs
// only core/v1 (tokens, config maps), and controller-runtime brings
// coordination (leases) and events.
func TestLink_noUnusedHeavyCode(t *testing.T) {
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command to build the controller with")
	}
	bin := filepath.Join(t.TempDir(), "kseal-controller")
	if out, err := exec.Command(goTool, "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	out, err := exec.Command(goTool, "tool", "nm", bin).Output()
	if err != nil {
		t.Fatalf("go tool nm: %v", err)
	}
	const typed = "k8s.io/client-go/kubernetes/typed/"
	allowed := []string{typed + "core/v1", typed + "coordination/v1", typed + "events/v1"}
	groups := map[string]int{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 3 {
			continue
		}
		sym := f[len(f)-1]
		if strings.HasPrefix(sym, "k8s.io/client-go/kubernetes.") {
			t.Errorf("the whole clientset is linked (%s): use the typed client of the group needed", sym)
		}
		i := strings.Index(sym, typed)
		if i < 0 {
			continue
		}
		rest := strings.SplitN(sym[i+len(typed):], "/", 3)
		if len(rest) < 2 {
			continue
		}
		g := typed + rest[0] + "/" + strings.SplitN(rest[1], ".", 2)[0]
		groups[g]++
	}
	if groups[typed+"core/v1"] == 0 {
		t.Fatalf("no core/v1 client symbols found: is the symbol table read right?")
	}
	for g, n := range groups {
		if !slices.Contains(allowed, g) {
			t.Errorf("%d symbols of %s are linked; the controller does not call that group", n, g)
		}
	}
}
