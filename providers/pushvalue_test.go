package providers

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"
)

func TestSetProperty(t *testing.T) {
	for _, tc := range []struct {
		name, cur, prop, value, want string
		err                          error
	}{
		{"whole value", `{"a":"1"}`, "", "raw", "raw", nil},
		{"new object", "", "pw", "s3", `{"pw":"s3"}`, nil},
		{"keeps other fields", `{"user":"app","n":5}`, "pw", "s3", `{"n":5,"pw":"s3","user":"app"}`, nil},
		{"unchanged is cur", `{ "pw" : "s3" }`, "pw", "s3", `{ "pw" : "s3" }`, nil},
		{"not an object", `["x"]`, "pw", "s3", "", errRemoteNotObject},
		{"not json", `secret-text`, "pw", "s3", "", errRemoteNotObject},
		{"null", `null`, "pw", "s3", "", errRemoteNotObject},
		{"binary value", "", "pw", "\xff\xfe", "", errValueNotUTF8},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := SetProperty([]byte(tc.cur), tc.prop, []byte(tc.value))
			if !errors.Is(err, tc.err) || string(got) != tc.want {
				t.Fatalf("got %q, %v; want %q, %v", got, err, tc.want, tc.err)
			}
			if err != nil && strings.Contains(err.Error(), "secret-text") {
				t.Fatalf("error quotes the remote value: %v", err)
			}
		})
	}
}

func TestRemoveProperty(t *testing.T) {
	rest, empty, err := RemoveProperty([]byte(`{"a":"1","b":"2"}`), "a")
	if err != nil || empty || string(rest) != `{"b":"2"}` {
		t.Fatalf("remove a: %q %v %v", rest, empty, err)
	}
	if _, empty, err := RemoveProperty(rest, "b"); err != nil || !empty {
		t.Fatalf("remove last: %v %v", empty, err)
	}
	if !HasProperty([]byte(`{"a":1}`), "a") || HasProperty([]byte(`{"a":1}`), "b") || HasProperty([]byte(`x`), "a") {
		t.Fatal("HasProperty")
	}
}

// FuzzSetProperty: any remote value and pushed value either give a clear
// error or a JSON object whose field holds exactly the pushed value.
func FuzzSetProperty(f *testing.F) {
	f.Add([]byte(`{"a":"b"}`), "p", []byte("v"))
	f.Add([]byte(`[1]`), "a", []byte("\xff"))
	f.Add([]byte(``), "", []byte("x"))
	f.Fuzz(func(t *testing.T, cur []byte, prop string, value []byte) {
		out, err := SetProperty(cur, prop, value)
		if err != nil || prop == "" {
			return
		}
		var obj map[string]json.RawMessage
		if err := json.Unmarshal(out, &obj); err != nil {
			t.Fatalf("result is not a JSON object: %v", err)
		}
		var s string
		if err := json.Unmarshal(obj[prop], &s); err != nil || s != string(value) {
			t.Fatalf("field %q = %q, want %q", prop, obj[prop], value)
		}
	})
}
