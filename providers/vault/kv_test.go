package vault

import (
	"context"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/kseal-dev/kseal/providers"
)

// secretMarker is part of every stored value, so tests can check that no
// error message carries a value.
const secretMarker = "s3cr3t-marker"

func TestProvider_GetSecret_KVv2(t *testing.T) {
	s := needVault(t)
	root := rootClient(t, s)
	base := uniqueName(t)
	putKV2(t, root, base+"/db", map[string]any{
		"user":     "app",
		"password": "pw-" + secretMarker,
		"port":     5432,
		"nested":   map[string]any{"a": map[string]any{"b": "deep-" + secretMarker}},
		"dotted.k": "dot-" + secretMarker,
		"config":   `{"tls":{"ca":"ca-` + secretMarker + `"}}`,
		"value":    "text-" + secretMarker,
	})
	putKV2(t, root, base+"/versions", map[string]any{"v": "one"})
	putKV2(t, root, base+"/versions", map[string]any{"v": "two"})
	putKV2(t, root, base+"/deleted", map[string]any{"v": "gone-" + secretMarker})
	if err := root.KVv2("secret").Delete(context.Background(), base+"/deleted"); err != nil {
		t.Fatal(err)
	}
	p, _ := newProvider(t, s, Auth{Token: s.RootToken})

	tests := []struct {
		name    string
		ref     providers.Ref
		want    string
		wantErr error
	}{
		{name: "property", ref: providers.Ref{Key: base + "/db", Property: "password"}, want: "pw-" + secretMarker},
		{name: "number property", ref: providers.Ref{Key: base + "/db", Property: "port"}, want: "5432"},
		{name: "nested property", ref: providers.Ref{Key: base + "/db", Property: "nested.a.b"}, want: "deep-" + secretMarker},
		{name: "object property", ref: providers.Ref{Key: base + "/db", Property: "nested.a"}, want: `{"b":"deep-` + secretMarker + `"}`},
		{name: "key with a dot", ref: providers.Ref{Key: base + "/db", Property: "dotted.k"}, want: "dot-" + secretMarker},
		{name: "inside a JSON string field", ref: providers.Ref{Key: base + "/db", Property: "config.tls.ca"}, want: "ca-" + secretMarker},
		{name: "latest version", ref: providers.Ref{Key: base + "/versions", Property: "v"}, want: "two"},
		{name: "version 1", ref: providers.Ref{Key: base + "/versions", Property: "v", Version: "1"}, want: "one"},
		{name: "version 2", ref: providers.Ref{Key: base + "/versions", Property: "v", Version: "2"}, want: "two"},
		{name: "ESO-style key with mount", ref: providers.Ref{Key: "secret/" + base + "/versions", Property: "v"}, want: "two"},
		{name: "ESO-style key with mount and data", ref: providers.Ref{Key: "secret/data/" + base + "/versions", Property: "v"}, want: "two"},
		{name: "leading slash", ref: providers.Ref{Key: "/" + base + "/versions", Property: "v"}, want: "two"},

		{name: "missing key", ref: providers.Ref{Key: base + "/nope"}, wantErr: providers.ErrNotFound},
		{name: "missing version", ref: providers.Ref{Key: base + "/versions", Version: "9"}, wantErr: providers.ErrNotFound},
		{name: "deleted", ref: providers.Ref{Key: base + "/deleted"}, wantErr: providers.ErrNotFound},
		{name: "missing property", ref: providers.Ref{Key: base + "/db", Property: "nope"}, wantErr: providers.ErrPropertyNotFound},
		{name: "missing nested property", ref: providers.Ref{Key: base + "/db", Property: "nested.a.c"}, wantErr: providers.ErrPropertyNotFound},
		{name: "property of a text field", ref: providers.Ref{Key: base + "/db", Property: "value.x"}, wantErr: providers.ErrNotJSON},
		{name: "property of a number", ref: providers.Ref{Key: base + "/db", Property: "port.x"}, wantErr: providers.ErrNotJSON},
		{name: "bad version", ref: providers.Ref{Key: base + "/versions", Version: "latest"}, wantErr: errAny},
		{name: "dot-dot key", ref: providers.Ref{Key: base + "/../x"}, wantErr: errAny},
		{name: "empty key", ref: providers.Ref{Key: ""}, wantErr: errAny},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.GetSecret(context.Background(), tt.ref)
			checkResult(t, got, err, tt.want, tt.wantErr)
		})
	}

	t.Run("whole secret is a JSON object", func(t *testing.T) {
		got, err := p.GetSecret(context.Background(), providers.Ref{Key: base + "/db"})
		if err != nil {
			t.Fatal(err)
		}
		all, err := providers.ExtractAll(got)
		if err != nil {
			t.Fatal(err)
		}
		want := map[string]string{
			"user": "app", "password": "pw-" + secretMarker, "port": "5432",
			"nested":   `{"a":{"b":"deep-` + secretMarker + `"}}`,
			"dotted.k": "dot-" + secretMarker,
			"config":   `{"tls":{"ca":"ca-` + secretMarker + `"}}`,
			"value":    "text-" + secretMarker,
		}
		if len(all) != len(want) {
			t.Errorf("got %d fields, want %d", len(all), len(want))
		}
		for k, v := range want {
			if string(all[k]) != v {
				t.Errorf("field %s = %q, want %q", k, all[k], v)
			}
		}
	})
}

func TestProvider_GetSecret_KVv1(t *testing.T) {
	s := needVault(t)
	root := rootClient(t, s)
	mount := uniqueName(t)
	if err := root.Sys().Mount(mount, &api.MountInput{Type: "kv", Options: map[string]string{"version": "1"}}); err != nil {
		t.Fatal(err)
	}
	write(t, root, mount+"/app/db", map[string]any{
		"password": "pw-" + secretMarker,
		"nested":   map[string]any{"k": "v1-nested"},
	})
	p, _ := newProvider(t, s, Auth{Token: s.RootToken}, func(c *Config) {
		c.MountPath = mount
		c.KVVersion = KVv1
	})

	tests := []struct {
		name    string
		ref     providers.Ref
		want    string
		wantErr error
	}{
		{name: "whole", ref: providers.Ref{Key: "app/db"}, want: `{"nested":{"k":"v1-nested"},"password":"pw-` + secretMarker + `"}`},
		{name: "property", ref: providers.Ref{Key: "app/db", Property: "password"}, want: "pw-" + secretMarker},
		{name: "nested property", ref: providers.Ref{Key: "app/db", Property: "nested.k"}, want: "v1-nested"},
		{name: "ESO-style key with mount", ref: providers.Ref{Key: mount + "/app/db", Property: "nested.k"}, want: "v1-nested"},
		{name: "missing key", ref: providers.Ref{Key: "app/nope"}, wantErr: providers.ErrNotFound},
		{name: "missing property", ref: providers.Ref{Key: "app/db", Property: "nope"}, wantErr: providers.ErrPropertyNotFound},
		{name: "versions are KV v2 only", ref: providers.Ref{Key: "app/db", Version: "1"}, wantErr: providers.ErrUnsupported},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := p.GetSecret(context.Background(), tt.ref)
			checkResult(t, got, err, tt.want, tt.wantErr)
		})
	}
}

// errAny stands for "some error" in test tables.
var errAny = errors.New("any error")

// checkResult compares a GetSecret result with the expected value or error,
// and checks that an error carries no secret value.
func checkResult(t *testing.T, got []byte, err error, want string, wantErr error) {
	t.Helper()
	if wantErr != nil {
		if err == nil {
			t.Fatalf("got value %q, want error %v", got, wantErr)
		}
		if wantErr != errAny && !errors.Is(err, wantErr) {
			t.Fatalf("error %q does not match %v", err, wantErr)
		}
		if providers.IsRetryable(err) {
			t.Errorf("error %q is marked retryable", err)
		}
		if strings.Contains(err.Error(), secretMarker) {
			t.Errorf("error carries a value: %q", err)
		}
		return
	}
	if err != nil {
		t.Fatalf("unexpected error: %v", err)
	}
	if string(got) != want {
		if json.Valid(got) && json.Valid([]byte(want)) {
			var g, w any
			_ = json.Unmarshal(got, &g)
			_ = json.Unmarshal([]byte(want), &w)
			if gs, _ := json.Marshal(g); string(gs) == mustMarshal(w) {
				return
			}
		}
		t.Errorf("got %q, want %q", got, want)
	}
}

func mustMarshal(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}
