package vault

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/kseal-dev/kseal/providers"
)

// TestProvider_GetSecret_metadata: a metadata reference reads KV v2
// custom_metadata (never the value), an empty one gives an empty value as
// in External Secrets Operator, and KV v1, which has none, refuses it.
func TestProvider_GetSecret_metadata(t *testing.T) {
	s := needVault(t)
	root := rootClient(t, s)
	base := uniqueName(t)
	putKV2(t, root, base+"/tagged", map[string]any{"password": "pw-" + secretMarker})
	putKV2(t, root, base+"/plain", map[string]any{"password": "pw-" + secretMarker})
	write(t, root, "secret/metadata/"+base+"/tagged", map[string]any{"custom_metadata": map[string]any{"team": "payments"}})
	p, _ := newProvider(t, s, Auth{Token: s.RootToken})
	bg := context.Background()
	for _, tt := range []struct {
		name    string
		ref     providers.Ref
		want    string
		wantErr error
	}{
		{name: "whole map", ref: providers.Ref{Key: base + "/tagged", Metadata: true}, want: `{"team":"payments"}`},
		{name: "one key", ref: providers.Ref{Key: base + "/tagged", Property: "team", Metadata: true}, want: "payments"},
		{name: "no custom_metadata", ref: providers.Ref{Key: base + "/plain", Metadata: true}, want: ""},
		{name: "missing key", ref: providers.Ref{Key: base + "/tagged", Property: "nosuch", Metadata: true}, wantErr: providers.ErrPropertyNotFound},
		{name: "missing secret", ref: providers.Ref{Key: base + "/nope", Metadata: true}, wantErr: providers.ErrNotFound},
	} {
		got, err := p.GetSecret(bg, tt.ref)
		if tt.wantErr != nil {
			if !errors.Is(err, tt.wantErr) || strings.Contains(err.Error(), secretMarker) {
				t.Errorf("%s: err = %v, want %v and no value", tt.name, err, tt.wantErr)
			}
			continue
		}
		if err != nil || string(got) != tt.want {
			t.Errorf("%s: got %q, %v; want %q", tt.name, got, err, tt.want)
		}
	}

	mount := uniqueName(t)
	if err := root.Sys().Mount(mount, &api.MountInput{Type: "kv", Options: map[string]string{"version": "1"}}); err != nil {
		t.Fatal(err)
	}
	write(t, root, mount+"/a", map[string]any{"name": "a"})
	v1, _ := newProvider(t, s, Auth{Token: s.RootToken}, func(c *Config) {
		c.MountPath = mount
		c.KVVersion = KVv1
	})
	if _, err := v1.GetSecret(bg, providers.Ref{Key: "a", Metadata: true}); !errors.Is(err, providers.ErrUnsupported) || !strings.Contains(err.Error(), "KV v1") {
		t.Errorf("KV v1: err = %v, want ErrUnsupported naming KV v1", err)
	}
}
