package template_test

import (
	"errors"
	"fmt"
	"maps"
	"strings"
	"testing"

	"github.com/kseal-dev/kseal/crypto/template"
)

// render renders one template "out" over data with limits l and returns its
// output.
func render(l template.Limits, src string, data map[string]string) (string, error) {
	d := map[string][]byte{}
	for k, v := range data {
		d[k] = []byte(v)
	}
	if err := l.Render(map[string]string{"out": src}, d); err != nil {
		return "", err
	}
	return string(d["out"]), nil
}

// templateError checks that err is an *Error and returns it.
func templateError(t *testing.T, err error) *template.Error {
	t.Helper()
	te, ok := errors.AsType[*template.Error](err)
	if !ok || !errors.Is(err, template.ErrTemplate) {
		t.Fatalf("got %v (%T), want a *template.Error", err, err)
	}
	return te
}

var sample = map[string]string{"user": "u5er-x", "password": "pw", "amp": `<a href="x">&'`, "n": "42", "empty": ""}

// TestRender_sameAsTextTemplate: the bounded functions give what Go's
// builtins give.
func TestRender_sameAsTextTemplate(t *testing.T) {
	tests := map[string]string{
		"field":             `{{ .user }}:{{ .password }}`,
		"index":             `{{ index . "password" }}`,
		"index missing":     `[{{ index . "nosuch" }}]`,
		"index of a string": `{{ index .user 0 }} {{ index . "user" 1 }}`,
		"literal":           "db.example.com",
		"empty":             "",
		"if else":           `{{ if .empty }}a{{ else if .user }}b{{ else }}c{{ end }}`,
		"with":              `{{ with .user }}{{ . }}{{ end }}`,
		"variables":         `{{ $u := .user }}{{ $u = print $u "!" }}{{ $u }}`,
		"and or not":        `{{ and .user .password }} {{ or .empty .user }} {{ not .empty }}`,
		"len slice":         `{{ len .amp }} {{ slice .amp 1 3 }}`,
		"eq":                `{{ eq .user "u5er-x" }} {{ eq .user "x" "u5er-x" }} {{ eq 1 1 }} {{ eq (index .user 0) 97 }} {{ eq nil nil }}`,
		"ne":                `{{ ne .user "u5er-x" }} {{ ne 1 2 }}`,
		"ordering":          `{{ lt .user "b" }} {{ le 2 2 }} {{ gt 2.5 1.5 }} {{ ge "a" "b" }} {{ lt -1 (index .user 0) }}`,
		"print":             `{{ print .user 1 2 "x" true nil 1.5 2i }}`,
		"print the map":     `{{ print . }}`,
		"println":           `{{ println .user 1 2 }}`,
		"printf":            `{{ printf "%s:%5.1f|%-6d|%x|%q|%v|%t|%08.3f|%+d|%U|%c" .user 3.14159 42 .user .amp . true 2.5 7 65 66 }}`,
		"printf index":      `{{ printf "%[2]s-%[1]s-%[2]s" .user .password }}`,
		"printf percent":    `{{ printf "100%% %s" .n }}`,
		"printf type":       `{{ printf "%T %T %T" .user . nil }}`,
		"printf sharp":      `{{ printf "%#v %#x % x %#q" .amp .user .user .user }}`,
		"html js urlquery":  `{{ html .amp }} {{ js .amp }} {{ urlquery .amp }} {{ html .user 1 }} {{ .amp | urlquery }}`,
		"pipeline":          `{{ .user | printf "%s@%s" .password | html }}`,
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			got, err := render(template.Limits{}, src, sample)
			if err != nil {
				t.Fatal(err)
			}
			if want := stdRender(t, src, sample); got != want {
				t.Errorf("got %q, want %q (text/template)", got, want)
			}
		})
	}
}

func TestRender_refusesUnboundedConstructs(t *testing.T) {
	for name, src := range map[string]string{
		"define":             `{{ define "x" }}y{{ end }}z`,
		"template call":      `{{ define "x" }}{{ template "x" }}{{ end }}{{ template "x" }}`,
		"block":              `{{ block "x" . }}{{ end }}`,
		"call":               `{{ call .user }}`,
		"call in a pipeline": `{{ .user | call }}`,
		"undefined function": `{{ nosuchfunc "HOME" }}`,
		"env":                `{{ env "HOME" }}`,
		"parse error":        `{{ .password `,
		"missing key":        `{{ .nosuch }}`,
	} {
		_, err := render(template.Limits{}, src, sample)
		te := templateError(t, err)
		if te.Key != "out" || te.Limit != "" {
			t.Errorf("%s: key %q limit %q: %v", name, te.Key, te.Limit, err)
		}
	}
}

// TestRender_printfMisuse: formats whose output would be garbage in a Secret
// ("%!d(string=...)", "%!(EXTRA ...)") are refused with a message.
func TestRender_printfMisuse(t *testing.T) {
	for src, inError := range map[string]string{
		`{{ printf "%s %s" .user }}`:    "verb 2 (%s) has no argument",
		`{{ printf "%s" .user .n }}`:    "2 arguments but only 1 are used",
		`{{ printf "%[3]s" .user .n }}`: "argument index of verb 1 must be between 1 and 2",
		`{{ printf "%[1s" .user }}`:     "no closing ]",
		`{{ printf "%d" .user }}`:       "verb %d does not apply to a string",
		`{{ printf "%s" 1 }}`:           "verb %s does not apply to a int",
		`{{ printf "%w" .user }}`:       "verb %w does not apply",
		`{{ printf "abc%" .user }}`:     "not followed by a verb",
		`{{ printf "%[1]%" .user }}`:    "takes no argument index",
		`{{ printf "%[1]5s" .user }}`:   "verb %5 does not apply",
	} {
		_, err := render(template.Limits{}, src, sample)
		te := templateError(t, err)
		if !strings.Contains(err.Error(), inError) || !strings.Contains(err.Error(), "out:1:") {
			t.Errorf("%s: error %q lacks %q and where", src, err, inError)
		}
		if te.Limit != "" {
			t.Errorf("%s: limit %q", src, te.Limit)
		}
	}
}

// TestRender_errorsHideValues tries templates whose error text, as
// text/template words it, would quote a value, whole or in parts.
func TestRender_errorsHideValues(t *testing.T) {
	const password = "Zq\"p4ss\nW0rd-canary"
	data := map[string]string{"password": password, "short": "x7"}
	leaks := []string{password, "x7", "Zq", "p4ss", "W0rd-canary", fmt.Sprintf("%q", password), fmt.Sprintf("%x", password)}
	tests := map[string]string{
		"range over a value":       `{{ range .password }}{{ end }}`,
		"call a value":             `{{ .password | print | call }}`,
		"slice out of range":       `{{ slice .password 0 (len .password | printf "%d" | len | print | len) 99 }}`,
		"index out of range":       `{{ index .password (len .password) }}`,
		"index a value by a value": `{{ index .password .short }}`,
		"compare a value":          `{{ eq .password 1 }}`,
		"compare map":              `{{ eq . . }}`,
		"separator in the source":  `{{ print ">: map has no entry for key " .password | printf "%d" }}`,
		"source spells a value":    `{{ .password }}{{ "W0rd-canary" | printf "%d" }}`,
		"field of a value":         `{{ .password.foo }}`,
		"printf verb on a value":   `{{ printf "%d" .password }}`,
	}
	for name, src := range tests {
		t.Run(name, func(t *testing.T) {
			_, err := render(template.Limits{}, src, data)
			templateError(t, err)
			for _, l := range leaks {
				if strings.Contains(err.Error(), l) {
					t.Errorf("error text contains %q: %v", l, err)
				}
			}
		})
	}
}

func TestRender_addsNothingOnFailure(t *testing.T) {
	d := map[string][]byte{"a": []byte("x")}
	before := maps.Clone(d)
	err := template.Render(map[string]string{"ok": "{{ .a }}", "bad": "{{ .nosuch }}"}, d)
	templateError(t, err)
	if !maps.EqualFunc(d, before, func(a, b []byte) bool { return string(a) == string(b) }) {
		t.Errorf("data changed: %v", d)
	}
}
