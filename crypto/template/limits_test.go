package template_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	gotemplate "text/template"

	"github.com/kseal-dev/kseal/crypto/template"
)

// stdRender renders src with Go's own text/template and builtins.
func stdRender(t *testing.T, src string, data map[string]string) string {
	t.Helper()
	tmpl, err := gotemplate.New("out").Option("missingkey=error").Parse(src)
	if err != nil {
		t.Fatal(err)
	}
	var b bytes.Buffer
	if err := tmpl.Execute(&b, data); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

// small are limits small enough to reach in a test without big data.
var small = template.Limits{
	MaxTemplates: 4, MaxTemplateSize: 2000, MaxSourceSize: 3000, MaxNodes: 1000,
	MaxValueSize: 1000, MaxOutputSize: 1500, MaxWork: 5000, MaxFormatWidth: 64,
}

// limitCases reach each limit of small: the limit and the template
// (key) they stop at, and text the error must contain.
var limitCases = map[string]struct {
	templates map[string]string
	limit     template.Limit
	key       string
	inError   string
}{
	"too many templates": {
		templates: map[string]string{"a": "", "b": "", "c": "", "d": "", "e": ""},
		limit:     template.LimitTemplates, inError: "more than the 4 one object may have",
	},
	"one template too long": {
		templates: map[string]string{"a": strings.Repeat("x", 2001)},
		limit:     template.LimitTemplateSize, key: "a", inError: "more than the 2000 one template may have",
	},
	"all templates too long": {
		templates: map[string]string{"a": strings.Repeat("x", 1600), "b": strings.Repeat("x", 1600)},
		limit:     template.LimitSourceSize, inError: "more than the 3000 one object may have",
	},
	"too many nodes": {
		templates: map[string]string{"a": strings.Repeat("{{ .v }}", 130), "b": strings.Repeat("{{ .v }}", 130)},
		limit:     template.LimitNodes, key: "b", inError: "more than 1000 actions",
	},
	"output of one value": {
		templates: map[string]string{"a": strings.Repeat("{{ .v }}", 11)},
		limit:     template.LimitValueSize, key: "a", inError: "the output exceeds the 1000 bytes",
	},
	"output of all values": {
		templates: map[string]string{"a": strings.Repeat("{{ .v }}", 8), "b": strings.Repeat("{{ .v }}", 8)},
		limit:     template.LimitOutputSize, key: "b", inError: "exceed 1500 bytes in all",
	},
	"print result never written": {
		templates: map[string]string{"a": "{{ $x := print " + strings.Repeat(".v ", 11) + "}}"},
		limit:     template.LimitValueSize, key: "a", inError: "the result could exceed the 1000 bytes",
	},
	"println result": {
		templates: map[string]string{"a": "{{ $x := println " + strings.Repeat(".v ", 10) + "}}"},
		limit:     template.LimitValueSize, key: "a",
	},
	"printf index repetition": {
		templates: map[string]string{"a": `{{ $x := printf "` + strings.Repeat("%[1]s", 11) + `" .v }}`},
		limit:     template.LimitValueSize, key: "a",
	},
	"printf widths add up": {
		templates: map[string]string{"a": `{{ $x := printf "` + strings.Repeat("%64[1]d", 20) + `" 1 }}`},
		limit:     template.LimitValueSize, key: "a",
	},
	"printf width": {
		templates: map[string]string{"a": `{{ printf "%65d" 1 }}`},
		limit:     template.LimitFormat, key: "a", inError: "a width above 64",
	},
	"printf precision": {
		templates: map[string]string{"a": `{{ printf "%.65f" 1.5 }}`},
		limit:     template.LimitFormat, key: "a", inError: "a precision above 64",
	},
	"printf huge width": {
		templates: map[string]string{"a": `{{ printf "%0999999999999999999999d" 1 }}`},
		limit:     template.LimitFormat, key: "a",
	},
	"printf star width": {
		templates: map[string]string{"a": `{{ printf "%*d" 60 1 }}`},
		limit:     template.LimitFormat, key: "a", inError: "('*')",
	},
	"printf star precision": {
		templates: map[string]string{"a": `{{ printf "%.*f" 60 1.5 }}`},
		limit:     template.LimitFormat, key: "a",
	},
	"html growth": {
		templates: map[string]string{"a": `{{ $x := html (html .amp) }}`},
		limit:     template.LimitValueSize, key: "a",
	},
	"js growth": {
		templates: map[string]string{"a": `{{ $x := js (js .lt) }}`},
		limit:     template.LimitValueSize, key: "a",
	},
	"urlquery growth": {
		templates: map[string]string{"a": `{{ $x := urlquery (urlquery (urlquery .amp)) }}`},
		limit:     template.LimitValueSize, key: "a",
	},
	"escaping of many arguments": {
		templates: map[string]string{"a": `{{ $x := html .v .v .v .v .v .v .v .v .v .v .v }}`},
		limit:     template.LimitValueSize, key: "a",
	},
	"nested calls": {
		templates: map[string]string{"a": `{{ $x := print (print .v .v .v .v .v) (print .v .v .v .v .v) (print .v) }}`},
		limit:     template.LimitValueSize, key: "a",
	},
	"many calls each within limits": {
		templates: map[string]string{"a": strings.Repeat("{{ $x := print .v .v .v .v .v .v .v .v .v }}", 6)},
		limit:     template.LimitWork, key: "a", inError: "more than the 5000 units of work",
	},
	"work adds up over templates": {
		templates: map[string]string{
			"a": strings.Repeat("{{ $x := print .v .v .v .v .v .v .v .v .v }}", 3),
			"b": strings.Repeat("{{ $x := print .v .v .v .v .v .v .v .v .v }}", 3),
		},
		limit: template.LimitWork, key: "b",
	},
	"comparisons of long strings": {
		templates: map[string]string{"a": strings.Repeat("{{ if eq .v .amp }}{{ end }}", 30)},
		limit:     template.LimitWork, key: "a",
	},
	"ordering of long strings": {
		templates: map[string]string{"a": strings.Repeat("{{ if lt .v .amp }}{{ end }}", 30)},
		limit:     template.LimitWork, key: "a",
	},
	"lookups by long keys": {
		templates: map[string]string{"a": strings.Repeat("{{ index . .v }}", 60)},
		limit:     template.LimitWork, key: "a",
	},
}

var limitData = map[string]string{"v": strings.Repeat("v", 100), "amp": strings.Repeat("&", 100), "lt": strings.Repeat("<", 100)}

// TestLimits_Render: each limit, reached, refuses the object with an error
// that names the limit, and nothing is built beyond it.
func TestLimits_Render(t *testing.T) {
	data := limitData
	for name, tt := range limitCases {
		t.Run(name, func(t *testing.T) {
			d := map[string][]byte{}
			for k, v := range data {
				d[k] = []byte(v)
			}
			err := small.Render(tt.templates, d)
			te := templateError(t, err)
			if te.Limit != tt.limit || te.Key != tt.key {
				t.Errorf("limit %q key %q, want %q %q: %v", te.Limit, te.Key, tt.limit, tt.key, err)
			}
			if !strings.Contains(err.Error(), tt.inError) {
				t.Errorf("error %q lacks %q", err, tt.inError)
			}
			if strings.Contains(err.Error(), data["v"][:10]) || strings.Contains(err.Error(), data["amp"][:10]) {
				t.Errorf("error quotes a value: %v", err)
			}
			if len(d) != len(data) {
				t.Errorf("data gained keys: %d", len(d))
			}
		})
	}
}

// TestLimits_withinLimits: what stays inside every limit renders.
func TestLimits_withinLimits(t *testing.T) {
	d := map[string][]byte{"v": bytes.Repeat([]byte("v"), 100)}
	err := small.Render(map[string]string{
		"a": strings.Repeat("{{ .v }}", 9),
		"b": `{{ printf "%64s|%.64f" .v 1.5 }}{{ html .v }}`,
	}, d)
	if err != nil {
		t.Fatal(err)
	}
	if len(d["a"]) != 900 {
		t.Errorf("a: %d bytes", len(d["a"]))
	}
}

// TestLimits_zeroMeansDefault: a zero Limits is DefaultLimits.
func TestLimits_zeroMeansDefault(t *testing.T) {
	src := map[string]string{"a": strings.Repeat("x", template.DefaultLimits.MaxTemplateSize+1)}
	for _, l := range []template.Limits{{}, template.DefaultLimits} {
		err := l.Render(src, map[string][]byte{})
		if te, ok := errors.AsType[*template.Error](err); !ok || te.Limit != template.LimitTemplateSize {
			t.Errorf("%+v: %v", l, err)
		}
	}
}
