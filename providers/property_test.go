package providers

import (
	"errors"
	"strings"
	"testing"
)

func TestExtractProperty(t *testing.T) {
	value := []byte(`{"user":"app","db":{"password":"pw","port":5432,"opts":{"ssl":true}},"a.b":"dotted","n":1.50}`)
	tests := []struct {
		property string
		want     string
		err      error
	}{
		{"user", "app", nil},
		{"db.password", "pw", nil},
		{"db.port", "5432", nil},
		{"db.opts", `{"ssl":true}`, nil},
		{"db.opts.ssl", "true", nil},
		{"a.b", "dotted", nil},
		{"n", "1.50", nil},
		{"missing", "", ErrPropertyNotFound},
		{"db.missing", "", ErrPropertyNotFound},
		{"user.x", "", ErrPropertyNotFound},
	}
	for _, tt := range tests {
		got, err := ExtractProperty(value, tt.property)
		if !errors.Is(err, tt.err) || string(got) != tt.want {
			t.Errorf("%q: got %q, %v; want %q, %v", tt.property, got, err, tt.want, tt.err)
		}
	}
	// gjson paths, as External Secrets Operator resolves them.
	people := []byte(`{"friends":[{"first":"Dale","age":44},{"first":"Roger","nets":["fb","tw"]}],"k.v":{"x":"escaped"}}`)
	for _, tt := range []struct{ property, want string }{
		{"friends.1.first", "Roger"},
		{"friends.0.age", "44"},
		{"friends.1.nets.0", "fb"},
		{"friends.#", "2"},
		{"friends.#.first", `["Dale","Roger"]`},
		{"friends.1", `{"first":"Roger","nets":["fb","tw"]}`},
		{`k\.v.x`, "escaped"},
		{"k.v.x", "escaped"},
	} {
		if got, err := ExtractProperty(people, tt.property); err != nil || string(got) != tt.want {
			t.Errorf("%q: got %q, %v; want %q", tt.property, got, err, tt.want)
		}
	}
	for _, missing := range []string{"friends.2.first", "friends.-1", "friends.x", "friends.0.first.x"} {
		if _, err := ExtractProperty(people, missing); !errors.Is(err, ErrPropertyNotFound) {
			t.Errorf("%q: %v, want not found", missing, err)
		}
	}
	if got, err := ExtractProperty([]byte(`["a","b"]`), "1"); err != nil || string(got) != "b" {
		t.Errorf("top-level array: %q, %v", got, err)
	}
	if _, err := ExtractProperty([]byte("plain-secret-text"), "x"); !errors.Is(err, ErrNotJSON) {
		t.Errorf("non-JSON: %v", err)
	}
	if _, err := ExtractProperty([]byte("plain-secret-text"), "x"); err != nil && strings.Contains(err.Error(), "plain-secret-text") {
		t.Errorf("error leaks the value: %v", err)
	}
}

func TestExtractAll(t *testing.T) {
	got, err := ExtractAll([]byte(`{"a":"x","b":{"c":1}}`))
	if err != nil || string(got["a"]) != "x" || string(got["b"]) != `{"c":1}` {
		t.Errorf("got %q, %v", got, err)
	}
	if _, err := ExtractAll([]byte(`[1,2]`)); !errors.Is(err, ErrNotJSON) {
		t.Errorf("array: %v", err)
	}
}

// TestExtractProperty_dottedKeysEverywhere: a value whose keys all contain
// dots gives a path many ways to split; each subtree is still looked at
// once, and a path that exists under one split is found.
func TestExtractProperty_dottedKeysEverywhere(t *testing.T) {
	// {"a":{"a":...}, "a.a":{...}, ...} nested: each level has keys "a",
	// "a.a", "a.a.a", so a path of n "a"s splits in 2^n ways.
	var b strings.Builder
	var build func(depth int)
	build = func(depth int) {
		if depth == 0 {
			b.WriteString(`"leaf"`)
			return
		}
		b.WriteString("{")
		for i, k := range []string{"a", "a.a", "a.a.a"} {
			if i > 0 {
				b.WriteString(",")
			}
			b.WriteString(`"` + k + `":`)
			build(depth - 1)
		}
		b.WriteString("}")
	}
	build(9)
	path := strings.TrimSuffix(strings.Repeat("a.", 30), ".") + ".missing"
	if _, err := ExtractProperty([]byte(b.String()), path); !errors.Is(err, ErrPropertyNotFound) {
		t.Errorf("got %v, want not found", err)
	}
	if got, err := ExtractProperty([]byte(b.String()), "a.a.a.a.a.a.a.a.a.a.a.a.a.a"); err != nil || string(got) != "leaf" {
		t.Errorf("got %q, %v, want leaf", got, err)
	}
}

func FuzzExtractProperty(f *testing.F) {
	f.Add([]byte(`{"a":[{"b":"c"}]}`), "a.0.b")
	f.Add([]byte(`{"a":[1,2]}`), "a.#")
	f.Add([]byte(`{"a":{"b":"c"}}`), "a.b")
	f.Add([]byte(`{"a.b":1}`), "a.b.c")
	f.Fuzz(func(t *testing.T, value []byte, property string) {
		_, _ = ExtractProperty(value, property)
		_, _ = ExtractAll(value)
	})
}
