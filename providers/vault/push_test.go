package vault

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kseal-dev/kseal/providers"
)

func TestProvider_PushSecret(t *testing.T) {
	s := needVault(t)
	root := rootClient(t, s)
	base := uniqueName(t)
	p, _ := newProvider(t, s, Auth{Token: s.RootToken})
	ctx := context.Background()
	ref := func(key, prop string) providers.PushRef {
		return providers.PushRef{Key: base + "/" + key, Property: prop, Owner: "team-a/app"}
	}
	if err := p.PushSecret(ctx, ref("db", "user"), []byte("app")); err != nil {
		t.Fatal(err)
	}
	if err := p.PushSecret(ctx, ref("db", "password"), []byte("pw-"+secretMarker)); err != nil {
		t.Fatal(err)
	}
	got, err := root.KVv2("secret").Get(ctx, base+"/db")
	if err != nil || got.Data["user"] != "app" || got.Data["password"] != "pw-"+secretMarker || got.VersionMetadata.Version != 2 {
		t.Fatalf("after two pushes: %v %v", got, err)
	}
	if err := p.PushSecret(ctx, ref("db", "user"), []byte("app")); err != nil {
		t.Fatal(err)
	}
	if got, _ = root.KVv2("secret").Get(ctx, base+"/db"); got.VersionMetadata.Version != 2 {
		t.Fatalf("an unchanged push wrote version %d", got.VersionMetadata.Version)
	}
	// Whole values must be JSON objects; the error shows no value.
	err = p.PushSecret(ctx, ref("whole", ""), []byte("not-json-"+secretMarker))
	if err == nil || strings.Contains(err.Error(), secretMarker) {
		t.Fatalf("non-JSON whole value: %v", err)
	}
	// Another owner and a secret kseal did not write are refused.
	other := ref("db", "user")
	other.Owner = "team-b/app"
	if err := p.PushSecret(ctx, other, []byte("x")); !errors.Is(err, providers.ErrNotOwned) {
		t.Fatalf("other owner: %v", err)
	}
	putKV2(t, root, base+"/foreign", map[string]any{"k": "theirs"})
	if err := p.PushSecret(ctx, ref("foreign", "k"), []byte("mine")); !errors.Is(err, providers.ErrNotOwned) {
		t.Fatalf("foreign: %v", err)
	}
	if err := p.DeleteSecret(ctx, ref("foreign", "")); err != nil {
		t.Fatal(err)
	}
	if f, err := root.KVv2("secret").Get(ctx, base+"/foreign"); err != nil || f.Data["k"] != "theirs" {
		t.Fatalf("a foreign secret was touched: %v", err)
	}
	if ok, err := p.SecretExists(ctx, ref("foreign", "k")); err != nil || !ok {
		t.Fatalf("exists: %v %v", ok, err)
	}
	// Deleting one property keeps the other; deleting the secret removes it.
	if err := p.DeleteSecret(ctx, ref("db", "user")); err != nil {
		t.Fatal(err)
	}
	if got, _ = root.KVv2("secret").Get(ctx, base+"/db"); len(got.Data) != 1 || got.Data["password"] == nil {
		t.Fatalf("after deleting user: %d fields", len(got.Data))
	}
	if err := p.DeleteSecret(ctx, ref("db", "")); err != nil {
		t.Fatal(err)
	}
	if _, err := root.KVv2("secret").GetMetadata(ctx, base+"/db"); err == nil {
		t.Fatal("the secret survived its deletion")
	}
}

func TestProvider_PushSecret_KVv1(t *testing.T) {
	s := needVault(t)
	p, _ := newProvider(t, s, Auth{Token: s.RootToken}, func(c *Config) { c.KVVersion = KVv1 })
	err := p.PushSecret(context.Background(), providers.PushRef{Key: "a", Owner: "x/y"}, []byte(`{"a":"b"}`))
	if !errors.Is(err, providers.ErrUnsupported) {
		t.Fatalf("KV v1 push: %v, want ErrUnsupported", err)
	}
}
