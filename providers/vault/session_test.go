package vault

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/kseal-dev/kseal/providers"
)

// readFor reads key#k every interval for d (at least once) and fails on
// any error.
func readFor(t *testing.T, p *Provider, key string, d, interval time.Duration) {
	t.Helper()
	for end := time.Now().Add(d); ; time.Sleep(interval) {
		got, err := p.GetSecret(context.Background(), providers.Ref{Key: key, Property: "k"})
		if err != nil || string(got) != "v" {
			t.Fatalf("GetSecret at %s: %q, %v", time.Now().Format(time.StampMilli), got, err)
		}
		if !time.Now().Before(end) {
			return
		}
	}
}

func TestSession_RenewsToken(t *testing.T) {
	t.Parallel()
	s := needVault(t)
	root := rootClient(t, s)
	key := uniqueName(t)
	putKV2(t, root, key, map[string]any{"k": "v"})
	// The TTL leaves room for a renewal that runs late on a loaded machine;
	// the test reads for more than two TTLs, so only renewal (or, if a
	// renewal came too late, one new login) keeps the provider working.
	role := appRole(t, root, map[string]any{"token_policies": readerPolicy(t, root), "token_ttl": "6s", "token_max_ttl": "120s"})
	p, counts := newProvider(t, s, Auth{AppRole: role})

	readFor(t, p, key, 14*time.Second, 250*time.Millisecond)
	if n := counts.count("renew"); n < 1 {
		t.Errorf("%d renewals in 14s of a 6s token, want at least 1", n)
	}
	// 57 reads; a login per read would be 57.
	if n := counts.count("login"); n > 2 {
		t.Errorf("%d logins, want 1 (2 if a late renewal forced a new login)", n)
	}
	if errs := counts.failures("renew"); len(errs) > 0 {
		t.Logf("renewals that failed and were recovered by a new login: %v", errs)
	}
}

// A token near its max TTL cannot be renewed for its full TTL; the provider
// logs in again before it expires and revokes the old token.
func TestSession_LogsInAgainAtMaxTTL(t *testing.T) {
	t.Parallel()
	s := needVault(t)
	root := rootClient(t, s)
	key := uniqueName(t)
	putKV2(t, root, key, map[string]any{"k": "v"})
	role := appRole(t, root, map[string]any{"token_policies": readerPolicy(t, root), "token_ttl": "3s", "token_max_ttl": "4s"})
	p, counts := newProvider(t, s, Auth{AppRole: role})
	first := p.token()

	readFor(t, p, key, 7*time.Second, 250*time.Millisecond)
	if n := counts.count("login"); n < 2 {
		t.Errorf("%d logins in 7s with a 4s max TTL, want at least 2", n)
	}
	if p.token() == first {
		t.Errorf("still using the first token")
	}
	if _, err := root.Auth().Token().Lookup(first); err == nil {
		t.Errorf("the replaced token was not revoked")
	}
}

// Batch tokens are not renewable: the provider logs in again instead.
func TestSession_NotRenewable(t *testing.T) {
	t.Parallel()
	s := needVault(t)
	root := rootClient(t, s)
	key := uniqueName(t)
	putKV2(t, root, key, map[string]any{"k": "v"})
	role := appRole(t, root, map[string]any{"token_policies": readerPolicy(t, root), "token_ttl": "3s", "token_type": "batch"})
	p, counts := newProvider(t, s, Auth{AppRole: role})

	readFor(t, p, key, 5*time.Second, 250*time.Millisecond)
	if n := counts.count("login"); n < 2 {
		t.Errorf("%d logins in 5s with a 3s batch token, want at least 2", n)
	}
	if n := counts.count("renew") + len(counts.failures("renew")); n != 0 {
		t.Errorf("%d renewals of a batch token", n)
	}
}

func TestSession_LogsInAgainAfterRevoke(t *testing.T) {
	s := needVault(t)
	root := rootClient(t, s)
	key := uniqueName(t)
	putKV2(t, root, key, map[string]any{"k": "v"})
	role := appRole(t, root, map[string]any{"token_policies": readerPolicy(t, root), "token_ttl": "1h"})
	p, counts := newProvider(t, s, Auth{AppRole: role})
	readFor(t, p, key, 0, 0)

	first := p.token()
	if err := root.Auth().Token().RevokeOrphan(first); err != nil {
		t.Fatal(err)
	}
	got, err := p.GetSecret(context.Background(), providers.Ref{Key: key, Property: "k"})
	if err != nil || string(got) != "v" {
		t.Fatalf("GetSecret after the token was revoked: %q, %v", got, err)
	}
	if n := counts.count("login"); n != 2 {
		t.Errorf("%d logins, want 2", n)
	}
	if p.token() == first {
		t.Errorf("still using the revoked token")
	}
	// Further reads use the new token.
	readFor(t, p, key, 500*time.Millisecond, 100*time.Millisecond)
	if n := counts.count("login"); n != 2 {
		t.Errorf("%d logins, want 2", n)
	}
}

func TestSession_ConcurrentReadsLogInOnce(t *testing.T) {
	s := needVault(t)
	root := rootClient(t, s)
	key := uniqueName(t)
	putKV2(t, root, key, map[string]any{"k": "v"})
	role := appRole(t, root, map[string]any{"token_policies": readerPolicy(t, root), "token_ttl": "1h"})
	p, counts := newProvider(t, s, Auth{AppRole: role})
	// Revoke the token so that all readers find it invalid at once.
	if err := root.Auth().Token().RevokeOrphan(p.token()); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	errs := make(chan error, 16*10)
	for range 16 {
		wg.Go(func() {
			for range 10 {
				if _, err := p.GetSecret(context.Background(), providers.Ref{Key: key}); err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	if n := counts.count("login"); n != 2 {
		t.Errorf("%d logins, want 2 (the first and one after the revocation)", n)
	}
}

func TestClose_RevokesLoginToken(t *testing.T) {
	s := needVault(t)
	root := rootClient(t, s)
	role := appRole(t, root, map[string]any{"token_policies": readerPolicy(t, root), "token_ttl": "1h"})
	p, counts := newProvider(t, s, Auth{AppRole: role})
	tok := p.token()
	if _, err := root.Auth().Token().Lookup(tok); err != nil {
		t.Fatalf("login token not valid: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := root.Auth().Token().Lookup(tok); err == nil {
		t.Errorf("login token still valid after Close")
	}
	if counts.count("revoke") != 1 {
		t.Errorf("%d revocations, want 1", counts.count("revoke"))
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := p.GetSecret(context.Background(), providers.Ref{Key: "x"}); !errors.Is(err, errClosed) {
		t.Errorf("GetSecret after Close: %v", err)
	}
}

func TestSession_VaultDown(t *testing.T) {
	s := startVault(t)
	root := rootClient(t, s)
	putKV2(t, root, "k", map[string]any{"k": "v"})
	role := appRole(t, root, map[string]any{"token_policies": readerPolicy(t, root), "token_ttl": "3s", "token_max_ttl": "1h"})
	p, counts := newProvider(t, s, Auth{AppRole: role})
	readFor(t, p, "k", 0, 0)

	if err := s.Stop(); err != nil {
		t.Fatal(err)
	}
	for _, call := range []struct {
		name string
		do   func() error
	}{
		{"GetSecret", func() error { _, err := p.GetSecret(context.Background(), providers.Ref{Key: "k"}); return err }},
		{"Find", func() error { _, err := p.Find(context.Background(), providers.Query{}); return err }},
		{"Validate", func() error { return p.Validate(context.Background()) }},
	} {
		if err := call.do(); !providers.IsRetryable(err) {
			t.Errorf("%s with Vault down: %v, want a retryable error", call.name, err)
		}
	}
	// Past the token's TTL, renewal has failed and calls need a new login,
	// which fails the same way.
	time.Sleep(3500 * time.Millisecond)
	if _, err := p.GetSecret(context.Background(), providers.Ref{Key: "k"}); !providers.IsRetryable(err) {
		t.Errorf("GetSecret with Vault down and the token expired: %v, want a retryable error", err)
	}
	if len(counts.failures("renew")) == 0 || len(counts.failures("login")) == 0 {
		t.Errorf("want failed renewals and logins, got %d and %d", len(counts.failures("renew")), len(counts.failures("login")))
	}
	_, err := New(context.Background(), Config{Server: s.Addr, AllowHTTP: true, Auth: Auth{AppRole: role}})
	if !providers.IsRetryable(err) {
		t.Errorf("New with Vault down: %v, want a retryable error", err)
	}
	// Close cannot revoke, but returns promptly and stops the renewal.
	done := make(chan error, 1)
	go func() { done <- p.Close() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close hangs with Vault down")
	}
}
