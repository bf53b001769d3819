package scale

import (
	"debug/buildinfo"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/sealing"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// Sizes of TestSmoke: small enough for every `make test`, large enough that
// batching and the restart check mean something.
const (
	smokeSealed   = 50
	smokeExternal = 50
)

// TestSmoke runs the harness once at a small N and checks only
// correctness: every object becomes Ready with the right values, a restart
// with nothing changed decrypts nothing, and ExternalSecret reads are
// batched (fewer provider calls than ExternalSecrets). It never asserts on
// time.
func TestSmoke(t *testing.T) {
	h := setup(t)
	h.runSealed(t, "v2", smokeSealed)
	h.runExternal(t, awstest.NewServer(t), smokeExternal, 0)
}

// TestScale is the full measurement; it runs only with -scale.n (see the
// package documentation and `make bench-scale`).
func TestScale(t *testing.T) {
	if *flagN == "" {
		t.Skip("the full scale run needs -scale.n (make bench-scale)")
	}
	counts, err := parseCounts(*flagN)
	if err != nil {
		t.Fatalf("-scale.n: %v", err)
	}
	var formats []string // empty: ExternalSecret and mixed runs only
	if *flagFormats != "" {
		formats = strings.Split(*flagFormats, ",")
	}
	for _, f := range formats {
		if f != "v1" && f != "v2" {
			t.Fatalf("-scale.formats: unknown format %q", f)
		}
	}
	h := setup(t)
	res := &results{Machine: describeMachine(), Controller: describeSource(h.binary, h.root), Defaults: tunableDefaults(h.binary), ControllerArgs: *flagArgs, ControllerEnv: *flagEnv, Started: time.Now()}
	for _, n := range counts {
		for _, f := range formats {
			t.Run(fmt.Sprintf("%s-%d", f, n), func(t *testing.T) {
				res.Sealed = append(res.Sealed, h.runSealed(t, f, n))
			})
		}
	}
	if *flagBitnami != "" {
		bitnamiCounts := counts
		if *flagBitnamiN != "" {
			if bitnamiCounts, err = parseCounts(*flagBitnamiN); err != nil {
				t.Fatalf("-scale.bitnami-n: %v", err)
			}
		}
		for _, n := range bitnamiCounts {
			t.Run(fmt.Sprintf("bitnami-v1-%d", n), func(t *testing.T) {
				res.Bitnami = append(res.Bitnami, h.runBitnami(t, n))
			})
		}
	}
	srv := awstest.NewServer(t)
	if *flagES > 0 {
		t.Run(fmt.Sprintf("external-%d", *flagES), func(t *testing.T) {
			res.External = h.runExternal(t, srv, *flagES, *flagESRefresh)
		})
	}
	if *flagPush > 0 {
		t.Run(fmt.Sprintf("push-%d", *flagPush), func(t *testing.T) {
			h.runPush(t, srv, *flagPush)
		})
	}
	if *flagMixed && *flagES > 0 && len(counts) > 0 {
		n := slices.Max(counts)
		t.Run(fmt.Sprintf("mixed-%d-%d", n, *flagES), func(t *testing.T) {
			res.Mixed = h.runMixed(t, srv, n, *flagES)
		})
	}
	res.Duration = time.Since(res.Started)

	report := res.markdown()
	t.Log("\n" + report)
	if *flagReport != "" {
		if err := writeFileAtomic(h.path(*flagReport), []byte(report)); err != nil {
			t.Error(err)
		}
	}
	if *flagPNG != "" {
		png, err := res.chart().png()
		if err != nil {
			t.Fatal(err)
		}
		if err := writeFileAtomic(h.path(*flagPNG), png); err != nil {
			t.Error(err)
		}
	}
}

// mixedRun is the controller started with SealedSecrets and ExternalSecrets
// together, for peak memory.
type mixedRun struct {
	Sealed, External int
	Cold             *phase
}

// runMixed creates n v2 SealedSecrets and nES ExternalSecrets before the
// controller starts and measures the cold start until all are Ready.
func (h *harness) runMixed(t *testing.T, srv *awstest.Server, n, nES int) *mixedRun {
	t.Helper()
	ssNS := h.namespace(t, fmt.Sprintf("mixed-ss-%d", n))
	defer h.cleanup(t, ssNS)
	esNS := h.namespace(t, fmt.Sprintf("mixed-es-%d", nES))
	defer h.cleanup(t, esNS)
	if err := h.createSealed(ssNS, n, sealing.V2); err != nil {
		t.Fatal(err)
	}
	if err := h.createExternal(srv, esNS, nES, time.Hour); err != nil {
		t.Fatal(err)
	}
	cold, err := h.coldStart(t, fmt.Sprintf("mixed-%d-%d", n, nES),
		trackSpec{ssNS, &v1alpha1.SealedSecret{}, n, sealedReady},
		trackSpec{esNS, &v1alpha1.ExternalSecret{}, nES, externalReady})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("%d SealedSecrets (v2) + %d ExternalSecrets: cold start %s", n, nES, cold)
	return &mixedRun{Sealed: n, External: nES, Cold: cold}
}

// results is everything TestScale measured.
type results struct {
	Machine        machine
	Controller     string // revision the controller binary was built from
	Defaults       string // defaults of the controller's tuning flags
	ControllerArgs string
	ControllerEnv  string
	Started        time.Time
	Duration       time.Duration
	Sealed         []*sealedRun
	Bitnami        []*bitnamiRun // side by side with Bitnami's controller (-scale.bitnami)
	External       *externalRun
	Mixed          *mixedRun
}

// machine describes where the figures were measured.
type machine struct {
	CPUs      int
	Model     string
	MemoryGiB float64
	Kernel    string
	Go        string
	LoadAvg   string // at the start of the run
}

func describeMachine() machine {
	m := machine{CPUs: runtime.NumCPU(), Go: runtime.Version()}
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(line, ":"); ok && strings.TrimSpace(k) == "model name" {
				m.Model = strings.TrimSpace(v)
				break
			}
		}
	}
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		var kb float64
		if _, err := fmt.Sscanf(string(b), "MemTotal: %f kB", &kb); err == nil {
			m.MemoryGiB = kb / (1 << 20)
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		m.Kernel = strings.TrimSpace(string(b))
	}
	if b, err := os.ReadFile("/proc/loadavg"); err == nil {
		m.LoadAvg = strings.Join(strings.Fields(string(b))[:3], " ")
	}
	return m
}

// describeSource names the commit the controller was built from: the
// binary's embedded VCS stamp, else the repository's HEAD, noting local
// changes to the controller's packages.
func describeSource(binary, root string) string {
	if info, err := buildinfo.ReadFile(binary); err == nil {
		var rev, modified string
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				modified = s.Value
			}
		}
		if rev != "" {
			if modified == "true" {
				return "commit " + rev[:min(12, len(rev))] + " with local changes"
			}
			return "commit " + rev[:min(12, len(rev))]
		}
	}
	git := func(args ...string) (string, error) {
		cmd := exec.Command("git", args...)
		cmd.Dir = root
		out, err := cmd.Output()
		return strings.TrimSpace(string(out)), err
	}
	rev, err := git("rev-parse", "--short=12", "HEAD")
	if err != nil {
		return "unknown commit"
	}
	if changed, err := git("status", "--porcelain", "--", "api", "cmd", "controllers", "crypto", "providers"); err == nil && changed != "" {
		return "commit " + rev + " with local changes"
	}
	return "commit " + rev
}

// tunables are the controller flags that bear on the figures.
var tunables = []string{"workers", "external-secret-workers", "aws-batch-window", "parameter-store-batch-window", "kube-api-qps", "kube-api-burst"}

// tunableDefaults reads the defaults of the tuning flags from the binary's
// -h output ("--workers 4 --kube-api-qps 200 ...").
func tunableDefaults(binary string) string {
	out, _ := exec.Command(binary, "-h").CombinedOutput()
	lines := strings.Split(string(out), "\n")
	var parts []string
	for _, name := range tunables {
		for i, l := range lines {
			f := strings.Fields(l)
			if len(f) == 0 || f[0] != "-"+name || i+1 >= len(lines) {
				continue
			}
			help := lines[i+1]
			if j := strings.LastIndex(help, "(default "); j >= 0 {
				parts = append(parts, "--"+name+" "+strings.TrimSuffix(help[j+len("(default "):], ")"))
			}
		}
	}
	return strings.Join(parts, " ")
}

// writeFileAtomic writes data to a temporary file beside path and renames
// it into place, so a failed run never leaves a half-written file.
func writeFileAtomic(path string, data []byte) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.CreateTemp(filepath.Dir(path), ".tmp-"+filepath.Base(path))
	if err != nil {
		return err
	}
	defer os.Remove(f.Name())
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Chmod(f.Name(), 0o644); err != nil {
		return err
	}
	return os.Rename(f.Name(), path)
}
