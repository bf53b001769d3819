package scale

import (
	"bufio"
	"fmt"
	"io"
	"strconv"
	"strings"
)

// sample is one line of the Prometheus text format: a series and its value.
type sample struct {
	name   string
	labels map[string]string
	value  float64
}

// metricSet is one scrape of a /metrics endpoint.
type metricSet []sample

// parseMetrics reads the Prometheus text exposition format (version 0.0.4):
// comments and blank lines are skipped, timestamps ignored. It reads only
// what the harness needs, not every corner of the format (no exemplars).
func parseMetrics(r io.Reader) (metricSet, error) {
	var out metricSet
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for line := 1; sc.Scan(); line++ {
		text := strings.TrimSpace(sc.Text())
		if text == "" || text[0] == '#' {
			continue
		}
		s, err := parseSample(text)
		if err != nil {
			return nil, fmt.Errorf("metrics line %d: %w", line, err)
		}
		out = append(out, s)
	}
	return out, sc.Err()
}

func parseSample(text string) (sample, error) {
	end := strings.IndexAny(text, "{ \t")
	if end <= 0 {
		return sample{}, fmt.Errorf("no value in %q", text)
	}
	s := sample{name: text[:end]}
	rest := text[end:]
	if rest[0] == '{' {
		var err error
		if s.labels, rest, err = parseLabels(rest[1:]); err != nil {
			return sample{}, err
		}
	}
	fields := strings.Fields(rest)
	if len(fields) == 0 {
		return sample{}, fmt.Errorf("no value in %q", text)
	}
	v, err := strconv.ParseFloat(fields[0], 64)
	if err != nil {
		return sample{}, fmt.Errorf("value of %s: %w", s.name, err)
	}
	s.value = v
	return s, nil
}

// parseLabels reads `a="x",b="y"}` and returns the labels and what follows
// the closing brace.
func parseLabels(s string) (map[string]string, string, error) {
	labels := map[string]string{}
	for {
		s = strings.TrimLeft(s, " ,")
		if s == "" {
			return nil, "", fmt.Errorf("unterminated labels")
		}
		if s[0] == '}' {
			return labels, s[1:], nil
		}
		eq := strings.IndexByte(s, '=')
		if eq <= 0 || eq+1 >= len(s) || s[eq+1] != '"' {
			return nil, "", fmt.Errorf("bad label in %q", s)
		}
		name := strings.TrimSpace(s[:eq])
		var b strings.Builder
		i := eq + 2
		for ; i < len(s) && s[i] != '"'; i++ {
			if s[i] == '\\' && i+1 < len(s) {
				i++
				switch s[i] {
				case 'n':
					b.WriteByte('\n')
				default: // \\ and \"
					b.WriteByte(s[i])
				}
				continue
			}
			b.WriteByte(s[i])
		}
		if i >= len(s) {
			return nil, "", fmt.Errorf("unterminated label value of %s", name)
		}
		labels[name] = b.String()
		s = s[i+1:]
	}
}

// sum adds the values of every series named name whose labels match the
// label/value pairs given.
func (m metricSet) sum(name string, match ...string) float64 {
	var total float64
	for _, s := range m {
		if s.name == name && s.matches(match) {
			total += s.value
		}
	}
	return total
}

// by sums the series named name (matching match) grouped by the value of
// label.
func (m metricSet) by(name, label string, match ...string) map[string]float64 {
	out := map[string]float64{}
	for _, s := range m {
		if s.name == name && s.matches(match) {
			out[s.labels[label]] += s.value
		}
	}
	return out
}

func (s sample) matches(pairs []string) bool {
	for i := 0; i+1 < len(pairs); i += 2 {
		if s.labels[pairs[i]] != pairs[i+1] {
			return false
		}
	}
	return true
}
