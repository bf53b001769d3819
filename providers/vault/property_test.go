package vault

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/kseal-dev/kseal/providers"
)

func TestExtractProperty(t *testing.T) {
	data := `{
		"plain": "text-` + secretMarker + `",
		"n": 7,
		"obj": {"a": {"b": "ab"}, "list": [1, 2]},
		"json": "{\"tls\": {\"ca\": \"pem\"}, \"inner\": \"{\\\"x\\\": \\\"deep\\\"}\"}",
		"a.b": "dotted",
		"arr": "[1, 2]"
	}`
	tests := []struct {
		property string
		want     string
		wantErr  error
		// field the error must name, if any.
		field string
	}{
		{property: "plain", want: "text-" + secretMarker},
		{property: "n", want: "7"},
		{property: "obj.a.b", want: "ab"},
		{property: "obj.list", want: "[1,2]"},
		{property: "a.b", want: "dotted"},
		{property: "json.tls.ca", want: "pem"},
		{property: "json.tls", want: `{"ca":"pem"}`},
		{property: "json.inner.x", want: "deep"},
		{property: "missing", wantErr: providers.ErrPropertyNotFound},
		{property: "obj.a.c", wantErr: providers.ErrPropertyNotFound},
		{property: "json.tls.key", wantErr: providers.ErrPropertyNotFound},
		{property: "plain.x", wantErr: providers.ErrNotJSON, field: "plain"},
		{property: "n.x", wantErr: providers.ErrNotJSON, field: "n"},
		{property: "arr.0", want: "1"}, // arrays index as in gjson, also inside a JSON string
		{property: "obj.list.1", want: "2"},
		{property: "obj.a.b.c", wantErr: providers.ErrNotJSON, field: "obj.a.b"},
		{property: "json.tls.ca.x", wantErr: providers.ErrNotJSON, field: "json.tls.ca"},
	}
	for _, tt := range tests {
		t.Run(tt.property, func(t *testing.T) {
			got, err := extractProperty([]byte(data), tt.property)
			if tt.wantErr == nil {
				if err != nil || string(got) != tt.want {
					t.Fatalf("got %q, %v; want %q", got, err, tt.want)
				}
				return
			}
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("got %q, %v; want error %v", got, err, tt.wantErr)
			}
			if tt.field != "" && !strings.Contains(err.Error(), `field "`+tt.field+`"`) {
				t.Errorf("error %q does not name field %q", err, tt.field)
			}
			if strings.Contains(err.Error(), secretMarker) {
				t.Errorf("error carries a value: %q", err)
			}
		})
	}
	if _, err := extractProperty([]byte("not json"), "a"); !errors.Is(err, providers.ErrNotJSON) {
		t.Errorf("value not JSON: %v", err)
	}
}

// A long property over fields that all hold JSON strings stays within the
// parse budget instead of trying every split.
func TestExtractProperty_budget(t *testing.T) {
	inner := `{}`
	for range 10 {
		b, _ := json.Marshal(map[string]any{"a": inner, "a.a": inner})
		inner = string(b)
	}
	prop := strings.Repeat("a.", 40) + "z"
	if _, err := extractProperty([]byte(inner), prop); !errors.Is(err, providers.ErrPropertyNotFound) {
		t.Errorf("got %v, want ErrPropertyNotFound", err)
	}
}

// FuzzExtractProperty checks that property selection never panics, always
// fails with one of the documented errors, and never puts a value in an
// error message.
func FuzzExtractProperty(f *testing.F) {
	f.Add(`{"a":{"b":"x"}}`, "a.b")
	f.Add(`{"a":"{\"b\":\"x\"}"}`, "a.b")
	f.Add(`{"a.b":"x","a":{"b":"y"}}`, "a.b")
	f.Add(`{"a":"text"}`, "a.x")
	f.Add(`{"a":1}`, "a..b")
	f.Add(`[1]`, "0")
	f.Add(`{"a":"[\"x\"]"}`, "a.0")
	f.Fuzz(func(t *testing.T, data, property string) {
		const marker = "\x00fuzz-value\x00"
		// Put a recognisable value next to whatever the input holds.
		var obj map[string]any
		if json.Unmarshal([]byte(data), &obj) == nil && obj != nil {
			obj["__marker"] = marker
			b, err := json.Marshal(obj)
			if err != nil {
				t.Skip()
			}
			data = string(b)
		}
		v, err := extractProperty([]byte(data), property)
		if err == nil {
			if v == nil {
				t.Fatalf("nil value without error")
			}
			return
		}
		if !errors.Is(err, providers.ErrPropertyNotFound) && !errors.Is(err, providers.ErrNotJSON) {
			t.Fatalf("undocumented error: %v", err)
		}
		if strings.Contains(err.Error(), "fuzz-value") && !strings.Contains(property, "fuzz-value") {
			t.Fatalf("error carries a value: %v", err)
		}
	})
}
