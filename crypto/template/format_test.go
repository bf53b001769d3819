package template

import (
	"fmt"
	"net/url"
	"strings"
	"testing"
	gotemplate "text/template"
)

// formatArgs are values of every type a template can pass to printf.
var formatArgs = []any{
	"", "p\x00\xff<&\"'é\u2028\U0001F600", strings.Repeat("x", 40),
	map[string]string{"k": "v\x01", "": "é"}, map[string]string{},
	0, -9223372036854775808, uint8(255), 1.5, -1.7976931348623157e308, 5e-324, complex(-1e308, 2.5), true, nil,
}

// checkBound fails if fmt writes more than printfSize promised.
func checkBound(t *testing.T, format string, args []any) {
	t.Helper()
	n, err := printfSize(format, args, 64, 1<<30)
	if err != nil {
		return
	}
	if out := fmt.Sprintf(format, args...); len(out) > n {
		t.Fatalf("printf %q %#v: %d bytes, bound %d", format, args, len(out), n)
	}
}

func TestPrintfSize_isABound(t *testing.T) {
	verbs := "bcdoOqxXUvTtsfFeEgG"
	for _, flags := range []string{"", "#", "+", " ", "-", "0", "# +0-", "# "} {
		for _, wp := range []string{"", "64", ".64", "64.64", ".", "7.0"} {
			for _, verb := range verbs {
				format := "a%" + flags + wp + string(verb) + "b"
				for _, arg := range formatArgs {
					checkBound(t, format, []any{arg})
					checkBound(t, "%[1]"+format[2:]+"%[1]v", []any{arg})
				}
			}
		}
	}
}

func TestPrintfSize_refuses(t *testing.T) {
	for _, tt := range []struct {
		format string
		args   []any
	}{
		{"%s %s", []any{"a"}}, {"%s", []any{"a", "b"}}, {"%[0]s", []any{"a"}}, {"%[2]s", []any{"a"}},
		{"%[x]s", []any{"a"}}, {"%[1", []any{"a"}}, {"%", nil}, {"%d", []any{"a"}}, {"%s", []any{1}},
		{"%!", []any{1}}, {"%65s", []any{"a"}}, {"%.65s", []any{"a"}}, {"%*s", []any{2, "a"}},
		{"%.*s", []any{2, "a"}}, {"%[1]5s", []any{"a"}}, {"%\xffs", []any{"a"}}, {"%v", []any{[]byte("a")}},
		{"%[1]%%s", []any{"a"}},
	} {
		if _, err := printfSize(tt.format, tt.args, 64, 1<<30); err == nil {
			t.Errorf("printf %q %v: accepted", tt.format, tt.args)
		}
	}
	// Reordered formats may leave arguments unused, as fmt allows.
	if _, err := printfSize("%[2]s", []any{"a", "b"}, 64, 1<<30); err != nil {
		t.Error(err)
	}
}

// FuzzPrintfBound checks that fmt never writes more than printfSize says,
// for any format over arguments of every type a template can pass.
func FuzzPrintfBound(f *testing.F) {
	for _, s := range []string{"%s", "%[1]q%[1]x", "%#v % x", "%64.64f", "%-8.3e|%U|%#U", "%v %v %v", "%[3]*d", "%%%c", "%.0d %x %X %o %O %b"} {
		f.Add(s, uint8(1), uint8(2), uint8(3))
	}
	f.Fuzz(func(t *testing.T, format string, a, b, c uint8) {
		if len(format) > 256 {
			return
		}
		args := []any{formatArgs[int(a)%len(formatArgs)], formatArgs[int(b)%len(formatArgs)], formatArgs[int(c)%len(formatArgs)]}
		for n := 0; n <= len(args); n++ {
			checkBound(t, format, args[:n])
		}
	})
}

// TestEscapeBounds: html, js and urlquery grow a string by at most the
// factor they are charged for, on every byte and on the runes they escape.
func TestEscapeBounds(t *testing.T) {
	inputs := []string{"\u2028", "\u0080", "\U000E0001", "\U0001F600", "\xff", "\xe2\x80"}
	for b := range 256 {
		inputs = append(inputs, string([]byte{byte(b)}))
	}
	for _, s := range inputs {
		s = strings.Repeat(s, 3)
		if n := len(gotemplate.HTMLEscapeString(s)); n > 5*len(s) {
			t.Errorf("html %q: %d bytes", s, n)
		}
		if n := len(gotemplate.JSEscapeString(s)); n > 6*len(s) {
			t.Errorf("js %q: %d bytes", s, n)
		}
		if n := len(url.QueryEscape(s)); n > 3*len(s) {
			t.Errorf("urlquery %q: %d bytes", s, n)
		}
	}
}
