package chart

import (
	"bufio"
	"bytes"
	"encoding/json"
	"regexp"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
)

// prometheusSynthesized are series Prometheus makes itself for every scrape
// target, so no exporter serves them.
var prometheusSynthesized = []string{"up"}

// queriedMetrics returns, sorted, every metric name the chart's alerts and
// dashboard query (rendered with every value set), with the expressions
// that name each.
func queriedMetrics(t testing.TB) map[string][]string {
	t.Helper()
	objs := render(t, readValues(t, "values-full.yaml"))
	var spec struct {
		Groups []struct {
			Rules []struct{ Alert, Expr string }
		}
	}
	data, err := json.Marshal(mustFind(t, objs, "PrometheusRule", "kseal-controller").Object["spec"])
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(data, &spec); err != nil {
		t.Fatal(err)
	}
	out := map[string][]string{}
	add := func(where, expr string) {
		for _, name := range promqlMetricNames(expr) {
			out[name] = append(out[name], where)
		}
	}
	for _, g := range spec.Groups {
		for _, r := range g.Rules {
			add("alert "+r.Alert, r.Expr)
		}
	}
	var dash corev1.ConfigMap
	into(t, mustFind(t, objs, "ConfigMap", "kseal-controller-dashboard"), &dash)
	var board struct {
		Panels []struct {
			Title   string
			Targets []struct{ Expr string }
		}
	}
	if err := json.Unmarshal([]byte(dash.Data["kseal.json"]), &board); err != nil {
		t.Fatal(err)
	}
	for _, p := range board.Panels {
		for _, tg := range p.Targets {
			add("dashboard panel "+p.Title, tg.Expr)
		}
	}
	return out
}

var (
	promqlStrings  = regexp.MustCompile(`"(?:[^"\\]|\\.)*"|'(?:[^'\\]|\\.)*'`)
	promqlBraces   = regexp.MustCompile(`\{[^{}]*\}|\[[^\[\]]*\]`)
	promqlGrouping = regexp.MustCompile(`\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^()]*\)`)
	promqlVars     = regexp.MustCompile(`\$\{[^}]*\}|\$\w+`)
	promqlIdent    = regexp.MustCompile(`[a-zA-Z_:][a-zA-Z0-9_:]*`)
	promqlKeywords = []string{"and", "or", "unless", "bool", "offset", "inf", "nan", "Inf", "NaN"}
)

// promqlMetricNames returns the metric names a PromQL expression selects:
// identifiers that are not functions, keywords, label names (in matchers and
// grouping clauses) or Grafana variables. It is enough for the chart's own
// expressions, not a PromQL parser.
func promqlMetricNames(expr string) []string {
	s := promqlStrings.ReplaceAllString(expr, " ")
	s = promqlVars.ReplaceAllString(s, " ")
	for prev := ""; prev != s; {
		prev, s = s, promqlBraces.ReplaceAllString(s, " ")
	}
	s = promqlGrouping.ReplaceAllString(s, " ")
	var out []string
	for _, m := range promqlIdent.FindAllStringIndex(s, -1) {
		name := s[m[0]:m[1]]
		// Part of a number or duration (1e3, 5m, 0.5) or a function call.
		inNumber := m[0] > 0 && strings.ContainsRune("0123456789.", rune(s[m[0]-1]))
		call := strings.HasPrefix(strings.TrimLeft(s[m[1]:], " \t\n"), "(")
		if inNumber || call || slices.Contains(promqlKeywords, name) || slices.Contains(out, name) {
			continue
		}
		out = append(out, name)
	}
	slices.Sort(out)
	return out
}

// TestPromqlMetricNames: the extractor keeps metric names and drops
// functions, label names, strings, ranges, durations and variables.
func TestPromqlMetricNames(t *testing.T) {
	for expr, want := range map[string][]string{
		`sum by (reason) (increase(kseal_unseal_total{namespace="kseal-system",result="error"}[15m])) > 0`: {"kseal_unseal_total"},
		`(max(leader_election_master_status{name="a.b"}) or vector(0)) < 1`:                                {"leader_election_master_status"},
		`(time() - max(kseal_sealing_key_created_timestamp_seconds{namespace="x"} > 0)) > 35 * 86400`:      {"kseal_sealing_key_created_timestamp_seconds"},
		`a_total / on (namespace, secret) group_left () b{l="1h"} and c offset 1h`:                         {"a_total", "b", "c"},
		`histogram_quantile(0.5, sum by (le) (rate(x_bucket{namespace="$namespace"}[$__rate_interval])))`:  {"x_bucket"},
		`rate(process_cpu_seconds_total{namespace=~"kseal.*"}[5m]) * 1e3`:                                  {"process_cpu_seconds_total"},
	} {
		if got := promqlMetricNames(expr); !slices.Equal(got, want) {
			t.Errorf("%s: got %v, want %v", expr, got, want)
		}
	}
}

// exportedMetrics returns the metric names in a Prometheus text exposition
// (families from # TYPE lines and every sample's name).
func exportedMetrics(text []byte) map[string]bool {
	out := map[string]bool{}
	sc := bufio.NewScanner(bytes.NewReader(text))
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if f := strings.Fields(line); len(f) >= 3 && f[0] == "#" && f[1] == "TYPE" {
			out[f[2]] = true
			continue
		}
		if line == "" || line[0] == '#' {
			continue
		}
		name, _, _ := strings.Cut(line, "{")
		name, _, _ = strings.Cut(name, " ")
		out[name] = true
	}
	return out
}

// checkQueriedMetricsExported fails the test for every metric the chart's
// alerts and dashboard query that the running controller does not export.
func checkQueriedMetricsExported(t *testing.T, p *process) {
	t.Helper()
	body, err := httpGet(p.metricsURL)
	if err != nil {
		t.Fatal(err)
	}
	exported := exportedMetrics(body)
	queried := queriedMetrics(t)
	for name, where := range queried {
		if !exported[name] && !slices.Contains(prometheusSynthesized, name) {
			t.Errorf("%s queries %s, which the controller does not export", strings.Join(slices.Compact(slices.Sorted(slices.Values(where))), ", "), name)
		}
	}
	if !t.Failed() {
		t.Logf("%d metrics queried by the chart's alerts and dashboard, all exported", len(queried))
	}
}
