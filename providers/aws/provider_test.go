package aws

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kseal-dev/kseal/providers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

func TestProvider_GetSecret(t *testing.T) {
	srv := awstest.NewServer(t)
	str := secretName(t, "string")
	bin := secretName(t, "binary")
	versioned := secretName(t, "versioned")
	plain := secretName(t, "plain")
	srv.CreateSecret(t, str, `{"user":"app","db":{"password":"s3cret","port":5432},"a.b":"dotted"}`, nil)
	srv.CreateSecret(t, bin, []byte{0, 1, 2, 0xff}, nil)
	_, v1 := srv.CreateSecret(t, versioned, "one", nil)
	srv.PutSecretValue(t, versioned, "two")
	srv.CreateSecret(t, plain, "not json", nil)

	tests := []struct {
		name    string
		ref     providers.Ref
		want    string
		wantErr error
	}{
		{name: "string", ref: providers.Ref{Key: str}, want: `{"user":"app","db":{"password":"s3cret","port":5432},"a.b":"dotted"}`},
		{name: "binary", ref: providers.Ref{Key: bin}, want: "\x00\x01\x02\xff"},
		{name: "current", ref: providers.Ref{Key: versioned}, want: "two"},
		{name: "stage current", ref: providers.Ref{Key: versioned, Version: "AWSCURRENT"}, want: "two"},
		{name: "stage previous", ref: providers.Ref{Key: versioned, Version: "AWSPREVIOUS"}, want: "one"},
		{name: "version id", ref: providers.Ref{Key: versioned, Version: "uuid/" + v1}, want: "one"},
		{name: "property", ref: providers.Ref{Key: str, Property: "user"}, want: "app"},
		{name: "nested property", ref: providers.Ref{Key: str, Property: "db.password"}, want: "s3cret"},
		{name: "number property", ref: providers.Ref{Key: str, Property: "db.port"}, want: "5432"},
		{name: "object property", ref: providers.Ref{Key: str, Property: "db"}, want: `{"password":"s3cret","port":5432}`},
		{name: "dotted key", ref: providers.Ref{Key: str, Property: "a.b"}, want: "dotted"},
		{name: "property of non-JSON", ref: providers.Ref{Key: plain, Property: "x"}, wantErr: providers.ErrNotJSON},
		{name: "missing property", ref: providers.Ref{Key: str, Property: "nope"}, wantErr: providers.ErrPropertyNotFound},
		{name: "missing key", ref: providers.Ref{Key: secretName(t, "missing")}, wantErr: providers.ErrNotFound},
		{name: "missing versioned key", ref: providers.Ref{Key: secretName(t, "missing"), Version: "AWSPREVIOUS"}, wantErr: providers.ErrNotFound},
		{name: "missing stage", ref: providers.Ref{Key: versioned, Version: "NOSUCHSTAGE"}, wantErr: providers.ErrNotFound},
		{name: "missing version id", ref: providers.Ref{Key: versioned, Version: "uuid/00000000-0000-0000-0000-000000000000"}, wantErr: providers.ErrNotFound},
	}
	for _, mode := range []struct {
		name string
		mods []func(*Config)
	}{{"batched", nil}, {"unbatched", []func(*Config){noBatch}}} {
		p := newTestProvider(t, srv, mode.mods...)
		for _, tt := range tests {
			t.Run(mode.name+"/"+tt.name, func(t *testing.T) {
				got, err := p.GetSecret(context.Background(), tt.ref)
				if tt.wantErr != nil {
					if !errors.Is(err, tt.wantErr) {
						t.Fatalf("err = %v, want %v", err, tt.wantErr)
					}
					if providers.IsRetryable(err) {
						t.Errorf("%v is marked retryable", err)
					}
					if !strings.Contains(err.Error(), tt.ref.Key) {
						t.Errorf("error %q does not name the key", err)
					}
					return
				}
				if err != nil {
					t.Fatalf("GetSecret: %v", err)
				}
				if string(got) != tt.want {
					t.Errorf("got %q, want %q", got, tt.want)
				}
			})
		}
	}
}

// Errors never carry a value: a canary secret is read every way that fails.
func TestProvider_GetSecret_errorsHoldNoValue(t *testing.T) {
	const canary = "CANARY-7f3a9c-value"
	srv := awstest.NewServer(t)
	jsonKey := secretName(t, "json")
	textKey := secretName(t, "text")
	srv.CreateSecret(t, jsonKey, `{"k":"`+canary+`"}`, nil)
	srv.CreateSecret(t, textKey, canary, nil)
	p := newTestProvider(t, srv)
	ctx := context.Background()
	refs := []providers.Ref{
		{Key: textKey, Property: "k"},
		{Key: jsonKey, Property: "missing"},
		{Key: jsonKey, Property: "k.deeper"},
		{Key: jsonKey, Version: "AWSPREVIOUS"},
	}
	for _, ref := range refs {
		_, err := p.GetSecret(ctx, ref)
		if err == nil {
			t.Fatalf("GetSecret(%s) succeeded", ref)
		}
		mustContainNone(t, err, canary)
	}
	srv.Fail("", 3, awstest.InternalError)
	_, err := p.GetSecret(ctx, providers.Ref{Key: textKey})
	mustContainNone(t, err, canary)
}

func TestProvider_GetSecret_sizeCap(t *testing.T) {
	srv := awstest.NewServer(t)
	key := secretName(t, "big")
	srv.CreateSecret(t, key, strings.Repeat("x", providers.MaxValueSize+1), nil)
	p := newTestProvider(t, srv, noBatch)
	_, err := p.GetSecret(context.Background(), providers.Ref{Key: key})
	if err == nil || !strings.Contains(err.Error(), "limit") {
		t.Fatalf("err = %v, want a size limit error", err)
	}
	mustContainNone(t, err, "xxxx")
}

func TestNew_config(t *testing.T) {
	static := &StaticCredentials{AccessKeyID: "a", SecretAccessKey: "b"}
	token := func(context.Context) (string, error) { return "t", nil }
	tests := []struct {
		name string
		cfg  Config
		want string
	}{
		{"no region", Config{}, "region"},
		{"bad endpoint", Config{Region: "r", Endpoint: "ftp://x"}, "endpoint"},
		{"relative endpoint", Config{Region: "r", Endpoint: "/x"}, "endpoint"},
		{"bad STS endpoint", Config{Region: "r", STSEndpoint: "::"}, "STS endpoint"},
		{"half static", Config{Region: "r", Static: &StaticCredentials{AccessKeyID: "a"}}, "secret access key"},
		{"static and token", Config{Region: "r", Static: static, WebIdentityToken: token, Role: "arn"}, "not both"},
		{"token without role", Config{Region: "r", WebIdentityToken: token}, "role"},
		{"batch too big", Config{Region: "r", Static: static, MaxBatch: 21}, "max batch"},
		{"negative attempts", Config{Region: "r", Static: static, MaxAttempts: -1}, "negative"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := New(context.Background(), tt.cfg)
			if err == nil {
				_ = p.Close()
				t.Fatal("New succeeded")
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("err = %v, want it to mention %q", err, tt.want)
			}
		})
	}
}

// The endpoint override is where every call goes; an unreachable one is a
// retryable failure.
func TestProvider_endpointOverride(t *testing.T) {
	srv := awstest.NewServer(t)
	key := secretName(t, "k")
	srv.CreateSecret(t, key, "v", nil)
	p := newTestProvider(t, srv, noBatch)
	if _, err := p.GetSecret(context.Background(), providers.Ref{Key: key}); err != nil {
		t.Fatal(err)
	}
	if n := srv.Calls("GetSecretValue"); n != 1 {
		t.Fatalf("GetSecretValue calls at the override = %d, want 1", n)
	}

	dead := newTestProvider(t, srv, noBatch, func(c *Config) { c.Endpoint = "http://127.0.0.1:1" })
	_, err := dead.GetSecret(context.Background(), providers.Ref{Key: key})
	if !providers.IsRetryable(err) {
		t.Fatalf("unreachable endpoint: err = %v, want retryable", err)
	}
}

func TestProvider_OnCall(t *testing.T) {
	srv := awstest.NewServer(t)
	key := secretName(t, "k")
	srv.CreateSecret(t, key, "v", nil)
	var (
		mu    sync.Mutex
		calls []string
	)
	p := newTestProvider(t, srv, noBatch, func(c *Config) {
		c.OnCall = func(op string, err error) {
			mu.Lock()
			defer mu.Unlock()
			s := op
			if errors.Is(classify(err), providers.ErrNotFound) {
				s += ":notfound"
			}
			calls = append(calls, s)
		}
	})
	ctx := context.Background()
	_, _ = p.GetSecret(ctx, providers.Ref{Key: key})
	_, _ = p.GetSecret(ctx, providers.Ref{Key: key + "-missing"})
	_ = p.Validate(ctx)
	// One report per call, after the SDK's retries.
	srv.Fail("GetSecretValue", 1, awstest.Throttling)
	_, _ = p.GetSecret(ctx, providers.Ref{Key: key})
	want := []string{"GetSecretValue", "GetSecretValue:notfound", "ListSecrets", "GetSecretValue"}
	mu.Lock()
	defer mu.Unlock()
	if strings.Join(calls, ",") != strings.Join(want, ",") {
		t.Fatalf("OnCall saw %v, want %v", calls, want)
	}
}

func TestProvider_GetSecret_callerOwnsBytes(t *testing.T) {
	srv := awstest.NewServer(t)
	key := secretName(t, "k")
	srv.CreateSecret(t, key, "value", nil)
	p := newTestProvider(t, srv, func(c *Config) { c.BatchWindow = 50 * time.Millisecond })
	var wg sync.WaitGroup
	got := make([][]byte, 4)
	for i := range got {
		wg.Go(func() {
			v, err := p.GetSecret(context.Background(), providers.Ref{Key: key})
			if err != nil {
				t.Error(err)
			}
			got[i] = v
		})
	}
	wg.Wait()
	got[0][0] = 'X'
	for _, v := range got[1:] {
		if !bytes.Equal(v, []byte("value")) {
			t.Fatalf("a caller's change leaked into another's value: %q", v)
		}
	}
}
