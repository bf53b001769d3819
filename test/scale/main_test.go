// Package scale measures the kseal controller at cluster scale: thousands of
// SealedSecrets and ExternalSecrets against a real kube-apiserver and etcd,
// with the controller binary running as its own process, exactly as built
// from cmd/kseal-controller.
//
// `go test ./...` runs only TestSmoke: 50 SealedSecrets and 50
// ExternalSecrets, checking correctness (everything becomes Ready, a restart
// decrypts nothing, provider calls are batched) so the harness cannot rot.
// It never asserts on time. The full run is TestScale, which is skipped
// unless -scale.n is given:
//
//	make bench-scale
//	# or
//	go test ./test/scale -run '^TestScale$' -timeout 120m -v -args \
//		-scale.n=100,1000,5000 -scale.es=1000 \
//		-scale.png=docs/scale-time-to-ready.png -scale.report=bin/scale-results.md
//
// Relative output paths are taken from the repository root. For every N and
// format (v1, v2) TestScale creates N SealedSecrets of 5 items before the
// controller starts, and measures the cold start (process start until every
// SealedSecret is Ready) and a restart with nothing changed. It then measures
// ExternalSecrets on one AWS store (the awstest emulator, in this process)
// and the controller's memory with SealedSecrets and ExternalSecrets
// together. With -scale.bitnami (make bench-scale passes the binary
// hack/build-bitnami.sh builds) it also runs Bitnami's sealed-secrets
// controller v0.40.0 on the same v1 data and reports kseal ÷ Bitnami (see
// bitnami_test.go). The results go to a markdown report and a PNG chart of
// time to Ready against N; docs/BENCHMARKS.md holds a measured run.
//
// Figures come from outside the controller: wall time from the test's own
// watch on the objects, CPU time and peak RSS from /proc/<pid>, counters
// from the controller's /metrics endpoint, and provider calls from the
// emulator's counters.
//
// For looking into a figure: -scale.args and -scale.env pass flags and
// environment to the controller (--kube-api-qps=1000, GOMEMLIMIT=120MiB,
// GODEBUG=gctrace=1, whose lines land in the controller's log),
// -scale.perf records each cold start with `perf record -g` (read it with
// `perf report -i <file> --children`), -scale.heap measures the Go heap of
// an informer cache like the controller's, -scale.logs keeps the logs, and
// -scale.formats= (empty) with -scale.mixed=false runs the ExternalSecrets
// alone.
package scale

import (
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	ctrl "sigs.k8s.io/controller-runtime"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/test/envtestenv"
)

// Flags of the full run (TestScale). TestSmoke ignores them except
// -scale.controller and -scale.args.
var (
	flagN          = flag.String("scale.n", "", "comma-separated SealedSecret counts for TestScale (empty skips it), e.g. 100,1000,5000")
	flagFormats    = flag.String("scale.formats", "v1,v2", "SealedSecret formats to measure (empty: none, for ExternalSecret-only runs)")
	flagES         = flag.Int("scale.es", 1000, "ExternalSecrets in the ExternalSecret run (0 skips it)")
	flagESService  = flag.String("scale.es-service", "SecretsManager", "AWS service of the ExternalSecret run: SecretsManager or ParameterStore")
	flagESRefresh  = flag.Duration("scale.es-refresh", time.Minute, "refreshInterval of the ExternalSecret run; one refresh cycle after the first sync is measured (0 skips that)")
	flagMixed      = flag.Bool("scale.mixed", true, "also run the largest N of v2 SealedSecrets together with the ExternalSecrets, for peak memory")
	flagController = flag.String("scale.controller", "", "kseal-controller binary to run (default: go build ./cmd/kseal-controller once)")
	flagArgs       = flag.String("scale.args", "", "extra controller flags, space-separated (e.g. \"--workers=8 --kube-api-qps=500\")")
	flagEnv        = flag.String("scale.env", "", "extra controller environment, space-separated KEY=VALUE (e.g. GOMEMLIMIT=120MiB)")
	flagPNG        = flag.String("scale.png", "", "write the time-to-Ready chart to this PNG file")
	flagReport     = flag.String("scale.report", "", "write the markdown report to this file")
	flagPerf       = flag.String("scale.perf", "", "directory: record every cold start with `perf record -g` attached to the controller")
	flagHeap       = flag.String("scale.heap", "", "directory: after each SealedSecret run, measure the Go heap of an informer cache like the controller's, in this process, and write a heap profile")
	flagLogs       = flag.String("scale.logs", "", "directory to keep controller logs in (default: a temporary directory, removed)")
	flagBitnami    = flag.String("scale.bitnami", "", "Bitnami sealed-secrets controller binary (hack/build-bitnami.sh): also run it on the same v1 data at every N and report kseal ÷ Bitnami")
	flagBitnamiN   = flag.String("scale.bitnami-n", "", "comma-separated counts for the side-by-side run with Bitnami's controller (default: those of -scale.n)")
	flagPhase      = flag.Duration("scale.phase-timeout", 20*time.Minute, "longest a single phase may take")
)

// controllerNamespace holds the controller's key Secrets.
const controllerNamespace = "kseal-system"

// harness is what every test of the package shares: one control plane, one
// controller binary and one key generation. It is set up on first use, so
// the unit tests of the package (chart, metrics parser) need no control
// plane.
type harness struct {
	env        *envtestenv.Env
	binary     string // kseal-controller to run
	kubeconfig string // kubeconfig file for the controller process
	workDir    string // temporary files and controller logs
	root       string // repository root
	// certPEM is the certificate of the key generation the first controller
	// run made; every later run reuses that generation.
	certPEM []byte
	// extraArgs are added to the controller's flags (the side-by-side run
	// with Bitnami's controller imports its key).
	extraArgs []string
	// starter, when set, starts the process a cold start measures instead
	// of kseal-controller (Bitnami's controller).
	starter func(name string) (*controllerProc, error)
	// bitnamiCert is the certificate of the key Bitnami's controller made
	// on its first run (-scale.bitnami only).
	bitnamiCert []byte
	// bitnamiBinary is the copy of -scale.bitnami the harness runs (see
	// stageBinary).
	bitnamiBinary string
}

var (
	shared     *harness
	sharedErr  error
	sharedOnce sync.Once
	// skipReason is set when the control plane binaries are missing and
	// KSEAL_REQUIRE_TOOLS is not set.
	skipReason string
)

func TestMain(m *testing.M) {
	flag.Parse()
	ctrl.SetLogger(logr.Discard()) // the test's own watches; the controller logs to its own files
	code := m.Run()
	if shared != nil {
		if shared.env != nil {
			if err := shared.env.Stop(); err != nil {
				fmt.Fprintln(os.Stderr, err)
			}
		}
		if *flagLogs == "" && shared.workDir != "" {
			os.RemoveAll(shared.workDir)
		}
	}
	os.Exit(code)
}

// setup returns the shared harness, starting it on first use. It skips the
// test when the control plane binaries are missing (unless
// KSEAL_REQUIRE_TOOLS is set, as in `make test`).
func setup(t *testing.T) *harness {
	t.Helper()
	sharedOnce.Do(func() { shared, sharedErr = start() })
	if skipReason != "" {
		t.Skip(skipReason)
	}
	if sharedErr != nil {
		t.Fatal(sharedErr)
	}
	return shared
}

func start() (*harness, error) {
	h := &harness{}
	var err error
	if h.root, err = envtestenv.RepoRoot(); err != nil {
		return nil, err
	}
	if *flagLogs != "" {
		h.workDir = h.path(*flagLogs)
		err = os.MkdirAll(h.workDir, 0o755)
	} else {
		h.workDir, err = os.MkdirTemp("", "kseal-scale-")
	}
	if err != nil {
		return h, err
	}
	h.env, err = envtestenv.Start(v1alpha1.AddToScheme)
	if err != nil {
		if os.Getenv("KSEAL_REQUIRE_TOOLS") == "" && errors.Is(err, envtestenv.ErrBinariesNotFound) {
			skipReason = "control plane binaries not found: " + err.Error()
			return h, nil
		}
		return h, err
	}
	if h.binary, err = h.controllerBinary(); err != nil {
		return h, err
	}
	h.kubeconfig = filepath.Join(h.workDir, "kubeconfig")
	if err := os.WriteFile(h.kubeconfig, h.env.Environment.KubeConfig, 0o600); err != nil {
		return h, err
	}
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: controllerNamespace}}
	if err := h.env.Client.Create(ctx, ns); err != nil {
		return h, err
	}
	if err := h.makeKeys(); err != nil {
		return h, fmt.Errorf("first controller run (key generation): %w", err)
	}
	return h, nil
}

// controllerBinary returns a copy of -scale.controller, or builds the
// controller once; either way it runs from a copy in the work directory
// (see stageBinary).
func (h *harness) controllerBinary() (string, error) {
	if *flagController != "" {
		p := h.path(*flagController)
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("-scale.controller: %w", err)
		}
		return h.stageBinary(p, "kseal-controller")
	}
	out := filepath.Join(h.workDir, "kseal-controller.linked")
	gobin, err := exec.LookPath("go")
	if err != nil {
		return "", fmt.Errorf("building the controller needs the go command (or pass -scale.controller): %w", err)
	}
	cmd := exec.Command(gobin, "build", "-o", out, "./cmd/kseal-controller")
	cmd.Dir = h.root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./cmd/kseal-controller: %w\n%s", err, b)
	}
	return h.stageBinary(out, "kseal-controller")
}

// makeKeys runs the controller once on an empty cluster: it makes the key
// generation that every later run loads (so they measure unsealing, not key
// generation), and its certificate is what the test seals with.
func (h *harness) makeKeys() error {
	p, err := h.startController("keys")
	if err != nil {
		return err
	}
	cert, err := p.waitCert(3 * time.Minute)
	if stopErr := p.stop(); err == nil {
		err = stopErr
	}
	if err != nil {
		return fmt.Errorf("%w\n%s", err, p.logTail(30))
	}
	h.certPEM = cert
	return nil
}

// path resolves p against the repository root when it is relative.
func (h *harness) path(p string) string {
	if filepath.IsAbs(p) {
		return p
	}
	return filepath.Join(h.root, p)
}

// parseCounts parses a comma-separated list of positive integers.
func parseCounts(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		n, err := strconv.Atoi(f)
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad count %q", f)
		}
		out = append(out, n)
	}
	return out, nil
}
