package aws

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/kseal-dev/kseal/providers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

func TestProvider_PushSecret(t *testing.T) {
	srv := awstest.NewServer(t)
	p := newTestProvider(t, srv, noBatch)
	key := secretName(t, "db")
	owner := "team-a/app"
	ref := func(prop string) providers.PushRef { return providers.PushRef{Key: key, Property: prop, Owner: owner} }
	read := func() string {
		v, err := p.GetSecret(context.Background(), providers.Ref{Key: key})
		if err != nil {
			t.Fatal(err)
		}
		return string(v)
	}
	if err := p.PushSecret(context.Background(), ref("user"), []byte("app")); err != nil {
		t.Fatal(err)
	}
	if err := p.PushSecret(context.Background(), ref("password"), []byte("pw")); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != `{"password":"pw","user":"app"}` {
		t.Fatalf("remote value %q", got)
	}
	srv.ResetCalls()
	if err := p.PushSecret(context.Background(), ref("password"), []byte("pw")); err != nil {
		t.Fatal(err)
	}
	if n := srv.Calls("PutSecretValue"); n != 0 {
		t.Fatalf("an unchanged push wrote %d versions", n)
	}
	if ok, err := p.SecretExists(context.Background(), ref("user")); err != nil || !ok {
		t.Fatalf("exists: %v %v", ok, err)
	}
	// Another owner, and a secret kseal did not create, are refused.
	other := ref("user")
	other.Owner = "team-b/app"
	if err := p.PushSecret(context.Background(), other, []byte("x")); !errors.Is(err, providers.ErrNotOwned) {
		t.Fatalf("other owner: %v", err)
	}
	foreign := secretName(t, "foreign")
	srv.CreateSecret(t, foreign, "theirs-s3cr3t", map[string]string{"managed-by": "kseal"})
	err := p.PushSecret(context.Background(), providers.PushRef{Key: foreign, Owner: owner}, []byte("mine"))
	if !errors.Is(err, providers.ErrNotOwned) {
		t.Fatalf("foreign: %v", err)
	}
	mustContainNone(t, err, "theirs-s3cr3t", "mine")
	if err := p.DeleteSecret(context.Background(), providers.PushRef{Key: foreign, Owner: owner}); err != nil {
		t.Fatal(err)
	}
	if v, err := p.GetSecret(context.Background(), providers.Ref{Key: foreign}); err != nil || string(v) != "theirs-s3cr3t" {
		t.Fatalf("a foreign secret was deleted: %v", err)
	}
	// Deleting a property keeps the others; the last one deletes the secret.
	if err := p.DeleteSecret(context.Background(), ref("user")); err != nil {
		t.Fatal(err)
	}
	if got := read(); got != `{"password":"pw"}` {
		t.Fatalf("after deleting user: %q", got)
	}
	if err := p.DeleteSecret(context.Background(), ref("password")); err != nil {
		t.Fatal(err)
	}
	if _, err := p.GetSecret(context.Background(), providers.Ref{Key: key}); err == nil {
		t.Fatal("the secret survived the deletion of its last property")
	}
}

func TestProvider_PushSecret_bounds(t *testing.T) {
	srv := awstest.NewServer(t)
	p := newTestProvider(t, srv)
	for name, tc := range map[string]struct {
		ref   providers.PushRef
		value []byte
	}{
		"too large":  {providers.PushRef{Key: "k", Owner: "a/b"}, make([]byte, MaxPushSize+1)},
		"no owner":   {providers.PushRef{Key: "k"}, []byte("v")},
		"long name":  {providers.PushRef{Key: strings.Repeat("k", 513), Owner: "a/b"}, []byte("v")},
		"long owner": {providers.PushRef{Key: "k", Owner: strings.Repeat("o", 257)}, []byte("v")},
	} {
		if err := p.PushSecret(context.Background(), tc.ref, tc.value); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if n := srv.TotalCalls(); n != 0 {
		t.Fatalf("%d calls for refused pushes", n)
	}
}
