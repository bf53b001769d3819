package scale

import (
	"strings"
	"testing"
)

func TestParseMetrics(t *testing.T) {
	const text = `# HELP kseal_decryptions_total Sealed items decrypted, by format (v1, v2).
# TYPE kseal_decryptions_total counter
kseal_decryptions_total{format="v1"} 25000
kseal_decryptions_total{format="v2"} 1.5e+03

controller_runtime_reconcile_total{controller="sealedsecret",result="success"} 4999
controller_runtime_reconcile_total{controller="sealedsecret",result="requeue_after"} 12
controller_runtime_reconcile_total{controller="externalsecret",result="success"} 7
odd_labels{a="x,y}",b="say \"hi\"\\",} 2 1700000000000
process_start_time_seconds 1.7e+09
go_gc_duration_seconds{quantile="NaN"} NaN
`
	m, err := parseMetrics(strings.NewReader(text))
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name  string
		match []string
		want  float64
	}{
		{"kseal_decryptions_total", nil, 26500},
		{"kseal_decryptions_total", []string{"format", "v1"}, 25000},
		{"controller_runtime_reconcile_total", []string{"controller", "sealedsecret"}, 5011},
		{"controller_runtime_reconcile_total", []string{"controller", "sealedsecret", "result", "success"}, 4999},
		{"odd_labels", []string{"a", "x,y}", "b", `say "hi"\`}, 2},
		{"process_start_time_seconds", nil, 1.7e9},
		{"missing", nil, 0},
	}
	for _, tc := range cases {
		if got := m.sum(tc.name, tc.match...); got != tc.want {
			t.Errorf("sum(%s, %v) = %v, want %v", tc.name, tc.match, got, tc.want)
		}
	}
	by := m.by("controller_runtime_reconcile_total", "result", "controller", "sealedsecret")
	if len(by) != 2 || by["success"] != 4999 || by["requeue_after"] != 12 {
		t.Errorf("by result: %v", by)
	}
}

func TestParseMetrics_errors(t *testing.T) {
	for _, text := range []string{
		"novalue",
		`x{a="b"`,
		`x{a=b} 1`,
		`x{a="b} 1`,
		"x abc",
	} {
		if _, err := parseMetrics(strings.NewReader(text)); err == nil {
			t.Errorf("%q: no error", text)
		}
	}
}

func TestParseProcStat(t *testing.T) {
	// A command name with spaces and parentheses, as a process may set it.
	const stat = "4242 (kseal (ctl) x) S 1 4242 4242 0 -1 4194560 21330 0 0 0 1234 567 0 0 20 0 9 0 1000 800000000 30000 18446744073709551615"
	got, err := parseProcStat(stat)
	if err != nil {
		t.Fatal(err)
	}
	if got != 18.01 {
		t.Errorf("cpu = %v, want 18.01", got)
	}
	if _, err := parseProcStat("4242 (x) S 1 2"); err == nil {
		t.Error("short stat: no error")
	}
}

func TestParseProcStatus(t *testing.T) {
	got, err := parseProcStatus(strings.NewReader("Name:\tkseal-controller\nState:\tS (sleeping)\nVmPeak:\t 2000000 kB\nVmHWM:\t   98304 kB\nRssAnon:\t   60000 kB\nRssFile:\t   30000 kB\nThreads:\t12\n"))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int64{"VmPeak": 2000000 << 10, "VmHWM": 98304 << 10, "RssAnon": 60000 << 10, "RssFile": 30000 << 10}
	if len(got) != len(want) {
		t.Errorf("fields %v, want %v", got, want)
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s = %d, want %d", k, got[k], v)
		}
	}
}
