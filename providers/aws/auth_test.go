package aws

import (
	"context"
	"errors"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/kseal-dev/kseal/providers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

const testRole = "arn:aws:iam::123456789012:role/kseal-reader"

func TestProvider_wrongCredentials(t *testing.T) {
	srv := awstest.NewServer(t)
	key := secretName(t, "k")
	srv.CreateSecret(t, key, "v", nil)
	tests := []struct {
		name string
		cred StaticCredentials
	}{
		{"unknown key id", StaticCredentials{AccessKeyID: "AKIAUNKNOWN000000000", SecretAccessKey: awstest.SecretAccessKey}},
		{"wrong secret", StaticCredentials{AccessKeyID: awstest.AccessKeyID, SecretAccessKey: "wrong"}},
		{"stray session token", StaticCredentials{AccessKeyID: awstest.AccessKeyID, SecretAccessKey: awstest.SecretAccessKey, SessionToken: "x"}},
	}
	for _, tt := range tests {
		for _, mode := range []struct {
			name string
			mod  func(*Config)
		}{{"batched", func(*Config) {}}, {"unbatched", noBatch}} {
			t.Run(tt.name+"/"+mode.name, func(t *testing.T) {
				p := newTestProvider(t, srv, mode.mod, func(c *Config) { c.Static = &tt.cred })
				_, err := p.GetSecret(context.Background(), providers.Ref{Key: key})
				if !errors.Is(err, providers.ErrAuth) || providers.IsRetryable(err) {
					t.Fatalf("err = %v, want ErrAuth, not retryable", err)
				}
				if err := p.Validate(context.Background()); !errors.Is(err, providers.ErrAuth) {
					t.Fatalf("Validate: err = %v, want ErrAuth", err)
				}
			})
		}
	}
}

func TestProvider_wrongRegion(t *testing.T) {
	srv := awstest.NewServer(t)
	p := newTestProvider(t, srv, func(c *Config) { c.Region = "eu-west-1" })
	if err := p.Validate(context.Background()); !errors.Is(err, providers.ErrAuth) {
		t.Fatalf("Validate signed for another region: err = %v, want ErrAuth", err)
	}
}

func TestProvider_webIdentity(t *testing.T) {
	srv := awstest.NewServer(t)
	srv.SetTokenVerifier(func(_ context.Context, token, role string) error {
		if token != "good-token" || role != testRole {
			return errors.New("rejected")
		}
		return nil
	})
	key := secretName(t, "k")
	srv.CreateSecret(t, key, "v", nil)

	var fetched atomic.Int32
	webIdentity := func(token string) func(*Config) {
		return func(c *Config) {
			c.Static = nil
			c.Role = testRole
			c.WebIdentityToken = func(ctx context.Context) (string, error) {
				fetched.Add(1)
				return token, ctx.Err()
			}
		}
	}

	p := newTestProvider(t, srv, noBatch, webIdentity("good-token"))
	for range 3 {
		v, err := p.GetSecret(context.Background(), providers.Ref{Key: key})
		if err != nil || string(v) != "v" {
			t.Fatalf("GetSecret = %q, %v", v, err)
		}
	}
	if n := srv.Calls("AssumeRoleWithWebIdentity"); n != 1 {
		t.Errorf("AssumeRoleWithWebIdentity calls = %d, want 1 (credentials cached)", n)
	}
	if n := fetched.Load(); n != 1 {
		t.Errorf("token fetched %d times, want 1", n)
	}
	if err := p.Validate(context.Background()); err != nil {
		t.Errorf("Validate: %v", err)
	}

	bad := newTestProvider(t, srv, noBatch, webIdentity("stolen-token"))
	_, err := bad.GetSecret(context.Background(), providers.Ref{Key: key})
	if !errors.Is(err, providers.ErrAuth) {
		t.Fatalf("rejected token: err = %v, want ErrAuth", err)
	}
	if err := bad.Validate(context.Background()); !errors.Is(err, providers.ErrAuth) {
		t.Fatalf("Validate with a rejected token: err = %v, want ErrAuth", err)
	}

	// The role's trust policy refusing the identity is an auth failure,
	// not the IAM AccessDeniedException that Validate tolerates.
	untrusted := newTestProvider(t, srv, noBatch, webIdentity("good-token"))
	srv.Fail("AssumeRoleWithWebIdentity", 1, awstest.Fault{Status: 403, Code: "AccessDenied", Message: "Not authorized to perform sts:AssumeRoleWithWebIdentity"})
	if err := untrusted.Validate(context.Background()); !errors.Is(err, providers.ErrAuth) {
		t.Fatalf("role refused by STS: Validate err = %v, want ErrAuth", err)
	}

	failing := newTestProvider(t, srv, noBatch, func(c *Config) {
		webIdentity("")(c)
		c.WebIdentityToken = func(context.Context) (string, error) {
			return "", providers.Retryable(errors.New("token request refused"))
		}
	})
	_, err = failing.GetSecret(context.Background(), providers.Ref{Key: key})
	if !providers.IsRetryable(err) {
		t.Fatalf("failing token source: err = %v, want its retryable error", err)
	}
}

func TestProvider_assumeRole(t *testing.T) {
	srv := awstest.NewServer(t)
	key := secretName(t, "k")
	srv.CreateSecret(t, key, "v", nil)
	var ops []string
	p := newTestProvider(t, srv, noBatch, func(c *Config) {
		c.Role = testRole
		c.OnCall = func(op string, _ error) { ops = append(ops, op) }
	})
	for range 2 {
		if v, err := p.GetSecret(context.Background(), providers.Ref{Key: key}); err != nil || string(v) != "v" {
			t.Fatalf("GetSecret = %q, %v", v, err)
		}
	}
	if n := srv.Calls("AssumeRole"); n != 1 {
		t.Errorf("AssumeRole calls = %d, want 1", n)
	}
	if want := "AssumeRole GetSecretValue GetSecretValue"; strings.Join(ops, " ") != want {
		t.Errorf("OnCall saw %q, want %q", strings.Join(ops, " "), want)
	}
}

func TestProvider_Validate(t *testing.T) {
	srv := awstest.NewServer(t)
	p := newTestProvider(t, srv)
	ctx := context.Background()
	if err := p.Validate(ctx); err != nil {
		t.Fatalf("Validate: %v", err)
	}
	// Authenticated but not allowed to list: the credentials work.
	srv.Fail("ListSecrets", 1, awstest.AccessDenied)
	if err := p.Validate(ctx); err != nil {
		t.Fatalf("access denied to ListSecrets: %v, want success", err)
	}
	srv.Fail("ListSecrets", awstest.Always, awstest.Unavailable)
	defer srv.ClearFaults()
	if err := p.Validate(ctx); !providers.IsRetryable(err) {
		t.Fatalf("unavailable: err = %v, want retryable", err)
	}
}

// A throttled role assumption is retried by the STS call itself, not once
// more per attempt of the operation that needed the credentials.
func TestProvider_assumeRoleThrottled(t *testing.T) {
	srv := awstest.NewServer(t)
	key := secretName(t, "k")
	srv.CreateSecret(t, key, "v", nil)
	p := newTestProvider(t, srv, noBatch, func(c *Config) { c.Role = testRole })
	srv.Fail("AssumeRole", awstest.Always, awstest.Fault{Status: 400, Code: "Throttling", Message: "Rate exceeded"})
	_, err := p.GetSecret(context.Background(), providers.Ref{Key: key})
	if !providers.IsRetryable(err) {
		t.Fatalf("err = %v, want retryable", err)
	}
	if n := srv.Calls("AssumeRole"); n != DefaultMaxAttempts {
		t.Errorf("AssumeRole calls = %d, want %d", n, DefaultMaxAttempts)
	}
	if n := srv.Calls("GetSecretValue"); n != 0 {
		t.Errorf("GetSecretValue calls = %d, want 0", n)
	}
	srv.ClearFaults()
	if v, err := p.GetSecret(context.Background(), providers.Ref{Key: key}); err != nil || string(v) != "v" {
		t.Fatalf("after the throttling: %q, %v", v, err)
	}
}
