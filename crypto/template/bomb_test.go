package template_test

import (
	"runtime"
	"strings"
	"testing"

	"github.com/kseal-dev/kseal/crypto/template"
)

// bomb is an object's templates, about 100 KB of source where repetition makes
// the bomb, that would make an unbounded engine allocate from tens of megabytes to
// more than the machine has, and the data it renders over.
type bomb struct {
	name      string
	templates map[string]string
	data      map[string]string
	limit     template.Limit
}

func bombs() []bomb {
	one := func(src string) map[string]string { return map[string]string{"bomb": src} }
	rep := strings.Repeat
	small := map[string]string{"v": rep("v", 1024), "amp": rep("&", 4096), "lt": rep("<", 4096)}
	bigv := rep("b", 600<<10)
	big := map[string]string{"big": bigv, "big2": bigv[1:] + "c"}
	many := map[string]string{}
	for i := range 256 {
		many[string(rune('a'+i/26))+string(rune('a'+i%26))] = "{{ .big }}"
	}
	return []bomb{
		{"print repetition", one("{{ print " + rep(".v ", 33000) + "}}"), small, template.LimitValueSize},
		{"println repetition", one("{{ println " + rep(".v ", 2000) + "}}"), small, template.LimitValueSize},
		{"printf %[1]s repetition", one(`{{ printf "` + rep("%[1]s", 20000) + `" .v }}`), small, template.LimitValueSize},
		{"printf width repetition", one(`{{ printf "` + rep("%4096[1]d", 11000) + `" 1 }}`), small, template.LimitValueSize},
		{"printf verbs over many arguments", one(`{{ printf "` + rep("%s", 16000) + `"` + rep(" .v", 16000) + ` }}`), small, template.LimitValueSize},
		// Growth needs no long source: each step multiplies.
		{"html growth", one("{{ $x := html .amp }}" + rep("{{ $x = html $x }}", 100)), small, template.LimitWork},
		{"js growth", one("{{ $x := js .lt }}" + rep("{{ $x = js $x }}", 100)), small, template.LimitWork},
		{"urlquery growth", one("{{ $x := urlquery .amp }}" + rep("{{ $x = urlquery $x }}", 100)), small, template.LimitWork},
		{"doubling", one("{{ $x := print .v .v }}" + rep("{{ $x = print $x $x }}", 100)), small, template.LimitValueSize},
		{"nested calls", one("{{ print " + rep("(print .v .v .v .v .v .v .v .v) ", 3000) + "}}"), small, template.LimitWork},
		{"many calls within the per-call limit", one(rep("{{ $x := print .big }}", 100)), big, template.LimitWork},
		{"comparisons of long values", one(rep("{{ if eq .big .big2 }}{{ end }}", 100)), big, template.LimitWork},
		{"lookups by long keys", one(rep("{{ index . .big }}", 100)), big, template.LimitWork},
		{"output repetition", one(rep("{{.v}}", 2000)), small, template.LimitValueSize},
		{"output over many templates", many, big, template.LimitOutputSize},
		{"too many nodes", one(rep("{{.v}}", 12600)), small, template.LimitNodes},
	}
}

// TestRender_bombs renders every bomb: each is refused with the limit that
// stops it, and all of them together allocate less than 64 MiB.
func TestRender_bombs(t *testing.T) {
	bs := bombs()
	data := make([]map[string][]byte, len(bs))
	for i, b := range bs {
		data[i] = map[string][]byte{}
		for k, v := range b.data {
			data[i][k] = []byte(v)
		}
	}
	errs := make([]error, len(bs))
	runtime.GC()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	for i, b := range bs {
		errs[i] = template.Render(b.templates, data[i])
	}
	runtime.ReadMemStats(&after)
	for i, b := range bs {
		if errs[i] == nil {
			t.Errorf("%s: rendered", b.name)
			continue
		}
		te := templateError(t, errs[i])
		if te.Limit != b.limit {
			t.Errorf("%s: limit %q, want %q: %v", b.name, te.Limit, b.limit, errs[i])
		}
		if strings.Contains(errs[i].Error(), "vvvvvvvv") || strings.Contains(errs[i].Error(), "bbbbbbbb") {
			t.Errorf("%s: error quotes a value", b.name)
		}
		t.Logf("%s: %v", b.name, errs[i])
	}
	alloc := after.TotalAlloc - before.TotalAlloc
	t.Logf("all bombs: %d KiB allocated", alloc>>10)
	if alloc >= 64<<20 {
		t.Errorf("rendering the bombs allocated %d MiB", alloc>>20)
	}
}
