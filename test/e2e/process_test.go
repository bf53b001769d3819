package e2e

import (
	"bufio"
	"bytes"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/kseal-dev/kseal/test/envtestenv"
)

// ctrlProcess is a kseal-controller binary running against the test
// apiserver, with its API, probes and metrics on free loopback ports.
type ctrlProcess struct {
	apiURL, metricsURL string
	logs               *syncBuffer
	cmd                *exec.Cmd
	stopped            bool
}

// freeAddr returns a loopback address nothing listens on right now.
func freeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startProcess runs bin (without leader election) with extra flags and waits
// until its API answers /healthz, which it does once the keys are loaded.
func startProcess(t testing.TB, bin string, extra ...string) *ctrlProcess {
	t.Helper()
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.Environment.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	api, metrics := freeAddr(t), freeAddr(t)
	args := append([]string{"--namespace=" + controllerNamespace, "--leader-elect=false",
		"--metrics-bind-address=" + metrics, "--health-probe-bind-address=0", "--listen-addr=" + api}, extra...)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	p := &ctrlProcess{apiURL: "http://" + api, metricsURL: "http://" + metrics + "/metrics", logs: &syncBuffer{}, cmd: cmd}
	cmd.Stdout, cmd.Stderr = p.logs, p.logs
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(p.stop)
	waitFor(t, 90*time.Second, "the controller's API", func() bool {
		resp, err := http.Get(p.apiURL + "/healthz")
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	})
	t.Cleanup(func() {
		if t.Failed() {
			t.Logf("%s log (last lines):\n%s", filepath.Base(bin), lastLines(p.logs.String(), 15))
		}
	})
	return p
}

// stop ends the process with SIGTERM, as the kubelet does on a rollout.
func (p *ctrlProcess) stop() {
	if p.stopped {
		return
	}
	p.stopped = true
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	_ = p.cmd.Wait()
}

// scrape reads the process's /metrics and returns, for each metric family
// in it, the sum of its samples whose labels include every label=value pair
// of match (a family with no sample is present with sum 0).
func (p *ctrlProcess) scrape(t testing.TB, match ...string) map[string]float64 {
	t.Helper()
	return sumSamples(t, httpGet(t, p.metricsURL), match...)
}

// sumSamples sums the samples of Prometheus text exposition by metric name.
// Histogram and summary parts (_bucket, _sum, _count) count under their own
// names.
func sumSamples(t testing.TB, text []byte, match ...string) map[string]float64 {
	t.Helper()
	out := map[string]float64{}
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "# TYPE ") {
			if f := strings.Fields(line); len(f) >= 3 {
				out[f[2]] += 0
			}
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		sp := strings.LastIndexByte(line, ' ')
		series, value := line[:sp], line[sp+1:]
		name, labels, _ := strings.Cut(series, "{")
		ok := true
		for _, m := range match {
			k, v, _ := strings.Cut(m, "=")
			ok = ok && strings.Contains(","+strings.TrimSuffix(labels, "}")+",", ","+k+"="+strconv.Quote(v)+",")
		}
		if !ok {
			continue
		}
		f, err := strconv.ParseFloat(value, 64)
		if err != nil {
			t.Fatalf("metrics line %q: %v", line, err)
		}
		out[name] += f
	}
	return out
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	return strings.Join(lines[max(0, len(lines)-n):], "\n")
}

var (
	currentOnce sync.Once
	currentBin  string
	currentErr  error
	currentLog  []byte
)

// currentController builds kseal-controller from this checkout, once per
// test binary, as the new version of an upgrade.
func currentController(t testing.TB) string {
	t.Helper()
	currentOnce.Do(func() {
		root, err := envtestenv.RepoRoot()
		if err != nil {
			currentErr = err
			return
		}
		dir, err := os.MkdirTemp("", "kseal-e2e-controller-")
		if err != nil {
			currentErr = err
			return
		}
		currentBin = filepath.Join(dir, "kseal-controller")
		cmd := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", currentBin, "./cmd/kseal-controller")
		cmd.Dir = root
		currentLog, currentErr = cmd.CombinedOutput()
	})
	if currentErr != nil {
		t.Fatalf("go build ./cmd/kseal-controller: %v\n%s", currentErr, currentLog)
	}
	return currentBin
}

// removeCurrentController deletes what currentController built.
func removeCurrentController() {
	if currentBin != "" {
		_ = os.RemoveAll(filepath.Dir(currentBin))
	}
}
