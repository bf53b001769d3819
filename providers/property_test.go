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

func FuzzExtractProperty(f *testing.F) {
	f.Add([]byte(`{"a":{"b":"c"}}`), "a.b")
	f.Add([]byte(`{"a.b":1}`), "a.b.c")
	f.Fuzz(func(t *testing.T, value []byte, property string) {
		_, _ = ExtractProperty(value, property)
		_, _ = ExtractAll(value)
	})
}
