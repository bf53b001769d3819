package template_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/kseal-dev/kseal/crypto/template"
)

// fuzzData are the values FuzzTemplate renders over; none may appear in an
// error.
var fuzzData = map[string]string{
	"user":     "canary-user-7f3a",
	"password": "pw\"<&canary-91c2\n",
	"big":      strings.Repeat("canary-big-", 40),
	"n":        "42",
}

var fuzzLimits = template.Limits{
	MaxTemplates: 4, MaxTemplateSize: 4096, MaxSourceSize: 8192, MaxNodes: 2000,
	MaxValueSize: 4096, MaxOutputSize: 6144, MaxWork: 32 << 10, MaxFormatWidth: 256,
}

// FuzzTemplate renders arbitrary template source over fixed data: it never
// panics, its output stays within the limits, it allocates no more than a
// few times its work budget, and its errors never contain a value.
func FuzzTemplate(f *testing.F) {
	for _, s := range []string{
		`{{ .user }}:{{ .password }}`, `{{ printf "%[1]s%[1]s%[1]s" .big }}`, `{{ print .big .big .big .big }}`,
		`{{ $x := html .password }}{{ $x = html $x }}{{ $x = html $x }}{{ $x = html $x }}{{ $x }}`,
		`{{ js (js (js .password)) }}`, `{{ urlquery .big .big }}`, `{{ printf "%256d%256d" 1 2 }}`,
		`{{ if eq .user .big }}{{ else }}{{ index . "n" }}{{ end }}`, `{{ range 10 }}{{ end }}`,
		`{{ printf "%d" .password }}`, `{{ slice .big 3 9 }}{{ len . }}`, `{{ with .n }}{{ lt . "5" }}{{ end }}`,
		`{{ .password.x }}`, `{{ index .password 99 }}`, `{{ printf "%v %#v %q %x" . . . . }}`,
		`{{ repeat 3 .big | b64enc | b64dec }}`, `{{ $d := dict "a" .user }}{{ toJson $d }}{{ $_ := set $d "b" $d }}`,
		`{{ range $k, $v := . }}{{ $k }}{{ range until 3 }}.{{ end }}{{ end }}`, `{{ regexReplaceAll "(a)" .big "$1$1" }}`,
		`{{ fromYaml "a: &a [1]\nb: [*a, *a]" | toYaml }}`, `{{ splitList "" .big | join "," }}`, `{{ genPrivateKey "rsa" }}`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, src string) {
		data := map[string][]byte{}
		for k, v := range fuzzData {
			data[k] = []byte(v)
		}
		var before, after runtime.MemStats
		runtime.ReadMemStats(&before)
		err := fuzzLimits.Render(map[string]string{"a": src, "b": "x" + src}, data)
		runtime.ReadMemStats(&after)
		// Parsing costs a few hundred bytes per source byte; the work
		// budget bounds everything else.
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 16<<20 {
			t.Errorf("rendering allocated %d bytes", alloc)
		}
		if err != nil {
			templateError(t, err)
			for _, v := range fuzzData {
				if len(v) >= 3 && strings.Contains(err.Error(), v) {
					t.Fatalf("error contains a value: %v", err)
				}
			}
			return
		}
		a, b := len(data["a"]), len(data["b"])
		if a > fuzzLimits.MaxValueSize || b > fuzzLimits.MaxValueSize || a+b > fuzzLimits.MaxOutputSize {
			t.Fatalf("outputs of %d and %d bytes", a, b)
		}
	})
}
