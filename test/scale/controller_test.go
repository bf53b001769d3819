package scale

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

var ctx = context.Background()

// clockTicks is USER_HZ, the unit of utime and stime in /proc/<pid>/stat;
// it is 100 on every Linux architecture Go supports.
const clockTicks = 100

// controllerProc is one kseal-controller process.
type controllerProc struct {
	name       string
	cmd        *exec.Cmd
	started    time.Time // just before the process was started
	apiURL     string
	metricsURL string
	logPath    string
	// exited is closed when the process has exited; waitErr is then its
	// exit status.
	exited  chan struct{}
	waitErr error
	// perf records a CPU profile of the process when -scale.perf is set.
	perf *exec.Cmd
}

// startController starts the controller binary with the flags of a
// single-replica install, on free loopback ports, plus extra and
// -scale.args. name labels its log file.
func (h *harness) startController(name string, extra ...string) (*controllerProc, error) {
	ports, err := freePorts(3)
	if err != nil {
		return nil, err
	}
	args := []string{
		"--namespace", controllerNamespace,
		"--leader-elect=false",
		"--listen-addr", ports[0],
		"--metrics-bind-address", ports[1],
		"--health-probe-bind-address", ports[2],
	}
	args = append(args, extra...)
	args = append(args, strings.Fields(*flagArgs)...)
	args = append(args, h.extraArgs...)
	p := &controllerProc{
		name:       name,
		apiURL:     "http://" + ports[0],
		metricsURL: "http://" + ports[1] + "/metrics",
		logPath:    filepath.Join(h.workDir, name+".log"),
		exited:     make(chan struct{}),
	}
	logFile, err := os.Create(p.logPath)
	if err != nil {
		return nil, err
	}
	p.cmd = exec.Command(h.binary, args...)
	p.cmd.Env = append(os.Environ(), "KUBECONFIG="+h.kubeconfig)
	p.cmd.Env = append(p.cmd.Env, strings.Fields(*flagEnv)...)
	return p, p.start(logFile)
}

// start starts p.cmd with its output in logFile and watches for its exit.
func (p *controllerProc) start(logFile *os.File) error {
	p.cmd.Stdout, p.cmd.Stderr = logFile, logFile
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		logFile.Close()
		return err
	}
	go func() {
		p.waitErr = p.cmd.Wait()
		logFile.Close()
		close(p.exited)
	}()
	return nil
}

// pid returns the process id.
func (p *controllerProc) pid() int { return p.cmd.Process.Pid }

// running reports whether the process has not exited.
func (p *controllerProc) running() bool {
	select {
	case <-p.exited:
		return false
	default:
		return true
	}
}

// errExited reports a controller that stopped on its own.
func (p *controllerProc) errExited() error {
	return fmt.Errorf("controller %s exited: %v\n%s", p.name, p.waitErr, p.logTail(40))
}

// stop asks the process to shut down (SIGTERM, as the kubelet does) and
// kills it after 30 s. An exit status other than 0 is an error.
func (p *controllerProc) stop() error {
	p.stopPerf()
	if !p.running() {
		return p.errExited()
	}
	_ = p.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-p.exited:
	case <-time.After(30 * time.Second):
		_ = p.cmd.Process.Kill()
		<-p.exited
		return fmt.Errorf("controller %s did not stop within 30s after SIGTERM", p.name)
	}
	if p.waitErr != nil {
		return fmt.Errorf("controller %s: %v\n%s", p.name, p.waitErr, p.logTail(40))
	}
	return nil
}

// kill ends the process if it still runs (test cleanup).
func (p *controllerProc) kill() {
	p.stopPerf()
	if p.running() {
		_ = p.cmd.Process.Kill()
		<-p.exited
	}
}

// waitCert waits until the HTTP API serves a certificate and returns it.
func (p *controllerProc) waitCert(timeout time.Duration) ([]byte, error) {
	deadline := time.Now().Add(timeout)
	for {
		if !p.running() {
			return nil, p.errExited()
		}
		resp, err := http.Get(p.apiURL + "/v1/cert.pem")
		if err == nil {
			b, rerr := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
			resp.Body.Close()
			if rerr == nil && resp.StatusCode == http.StatusOK && bytes.Contains(b, []byte("BEGIN CERTIFICATE")) {
				return b, nil
			}
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("no certificate from %s within %v (last error: %v)", p.apiURL, timeout, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// scrape reads the controller's /metrics endpoint.
func (p *controllerProc) scrape() (metricSet, error) {
	c := http.Client{Timeout: 10 * time.Second}
	resp, err := c.Get(p.metricsURL)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", p.metricsURL, resp.Status)
	}
	return parseMetrics(io.LimitReader(resp.Body, 64<<20))
}

// cpuSeconds returns the user plus system CPU time of the process so far,
// from /proc/<pid>/stat.
func (p *controllerProc) cpuSeconds() (float64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", p.pid()))
	if err != nil {
		return 0, err
	}
	return parseProcStat(string(b))
}

// parseProcStat returns utime+stime in seconds from the text of
// /proc/<pid>/stat. The command name (field 2) is in parentheses and may
// contain spaces, so fields are counted after its closing parenthesis.
func parseProcStat(s string) (float64, error) {
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, errors.New("/proc stat: no command name")
	}
	f := strings.Fields(s[i+1:])
	// f[0] is field 3 (state); utime and stime are fields 14 and 15.
	if len(f) < 13 {
		return 0, errors.New("/proc stat: too few fields")
	}
	utime, err1 := strconv.ParseUint(f[11], 10, 64)
	stime, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc stat: %w", err)
	}
	return float64(utime+stime) / clockTicks, nil
}

// memory reads /proc/<pid>/status: the peak resident set (VmHWM) and the
// current resident set split into anonymous memory (heap, stacks) and
// file-backed pages (mostly the binary's code).
func (p *controllerProc) memory() (peak, anon, file int64, err error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", p.pid()))
	if err != nil {
		return 0, 0, 0, err
	}
	defer f.Close()
	st, err := parseProcStatus(f)
	if err != nil {
		return 0, 0, 0, err
	}
	if _, ok := st["VmHWM"]; !ok {
		return 0, 0, 0, errors.New("/proc status: no VmHWM line")
	}
	return st["VmHWM"], st["RssAnon"], st["RssFile"], nil
}

// parseProcStatus returns the "<Name>: <n> kB" fields of /proc/<pid>/status
// in bytes.
func parseProcStatus(r io.Reader) (map[string]int64, error) {
	out := map[string]int64{}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		name, rest, ok := strings.Cut(sc.Text(), ":")
		f := strings.Fields(rest)
		if !ok || len(f) != 2 || f[1] != "kB" {
			continue
		}
		kb, err := strconv.ParseInt(f[0], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("/proc status %s: %w", name, err)
		}
		out[name] = kb * 1024
	}
	return out, sc.Err()
}

// usage is what /proc says about the process at one moment.
type usage struct {
	CPU     float64 // seconds of user+system time since start
	PeakRSS int64   // bytes (VmHWM)
	// RSSAnon and RSSFile split the current resident set.
	RSSAnon, RSSFile int64
}

func (p *controllerProc) usage() (usage, error) {
	cpu, err := p.cpuSeconds()
	if err != nil {
		return usage{}, err
	}
	peak, anon, file, err := p.memory()
	return usage{CPU: cpu, PeakRSS: peak, RSSAnon: anon, RSSFile: file}, err
}

// logTail returns the last n lines of the controller's log.
func (p *controllerProc) logTail(n int) string {
	b, err := os.ReadFile(p.logPath)
	if err != nil {
		return ""
	}
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "controller log " + p.logPath + " (last lines):\n" + strings.Join(lines, "\n")
}

// startPerf attaches `perf record` to the process; the profile goes to
// dir/<name>.perf.data. Threads the Go runtime starts later are followed
// (perf's default inherit mode).
func (p *controllerProc) startPerf(dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	out := filepath.Join(dir, p.name+".perf.data")
	p.perf = exec.Command("perf", "record", "-q", "-F", "499", "-g", "-p", strconv.Itoa(p.pid()), "-o", out)
	p.perf.Stdout, p.perf.Stderr = os.Stderr, os.Stderr
	return p.perf.Start()
}

// stopPerf ends the recording (SIGINT makes perf write its file).
func (p *controllerProc) stopPerf() {
	if p.perf == nil {
		return
	}
	_ = p.perf.Process.Signal(os.Interrupt)
	done := make(chan struct{})
	go func() { _ = p.perf.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(60 * time.Second):
		_ = p.perf.Process.Kill()
		<-done
	}
	p.perf = nil
}

// freePorts returns n loopback addresses whose ports were free a moment
// ago.
func freePorts(n int) ([]string, error) {
	var out []string
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().String())
	}
	return out, nil
}
