package scale

import (
	"bytes"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
)

// cpuMeter reads the CPU time of the processes that share the machine with
// the controller during a run: this test's kube-apiserver and etcd, and the
// test process itself (its watches). On a 2-core machine they compete with
// the controller, so the report shows where the cores went.
type cpuMeter struct {
	apiserver, etcd int // process ids; 0 when not found
}

// cpuSample is the CPU seconds used so far by each process.
type cpuSample struct {
	APIServer, Etcd, Test float64
}

// newCPUMeter finds the control plane processes of this test by their
// ports: the API server serves on the port of the test's rest config, and
// etcd listens where the API server's --etcd-servers points.
func (h *harness) newCPUMeter() cpuMeter {
	var m cpuMeter
	u, err := url.Parse(h.env.Config.Host)
	if err != nil {
		return m
	}
	var etcdURL string
	m.apiserver = findProcess("kube-apiserver", func(args []string) bool {
		if !contains(args, "--secure-port="+u.Port()) {
			return false
		}
		for _, a := range args {
			if v, ok := strings.CutPrefix(a, "--etcd-servers="); ok {
				etcdURL = v
			}
		}
		return true
	})
	if etcdURL != "" {
		m.etcd = findProcess("etcd", func(args []string) bool { return contains(args, "--listen-client-urls="+etcdURL) })
	}
	return m
}

func (m cpuMeter) sample() cpuSample {
	var s cpuSample
	s.APIServer, _ = cpuOf(m.apiserver)
	s.Etcd, _ = cpuOf(m.etcd)
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) == nil {
		s.Test = float64(ru.Utime.Nano()+ru.Stime.Nano()) / 1e9
	}
	return s
}

func (s cpuSample) sub(o cpuSample) cpuSample {
	return cpuSample{APIServer: s.APIServer - o.APIServer, Etcd: s.Etcd - o.Etcd, Test: s.Test - o.Test}
}

func cpuOf(pid int) (float64, error) {
	if pid == 0 {
		return 0, fmt.Errorf("no process")
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseProcStat(string(b))
}

// findProcess returns the first process whose executable is named name and
// whose arguments satisfy match, or 0.
func findProcess(name string, match func(args []string) bool) int {
	entries, err := os.ReadDir("/proc")
	if err != nil {
		return 0
	}
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err != nil || len(b) == 0 {
			continue
		}
		args := strings.Split(string(bytes.TrimRight(b, "\x00")), "\x00")
		if filepath.Base(args[0]) == name && match(args[1:]) {
			return pid
		}
	}
	return 0
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}
