package aws

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/kseal-dev/kseal/providers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

func TestProvider_GetSecret_faults(t *testing.T) {
	srv := awstest.NewServer(t)
	key := secretName(t, "k")
	srv.CreateSecret(t, key, "v", nil)
	tests := []struct {
		name  string
		fault awstest.Fault
	}{
		{"throttling", awstest.Throttling},
		{"429", awstest.TooManyRequests},
		{"500", awstest.InternalError},
		{"503", awstest.Unavailable},
		{"bare 502", awstest.Fault{Status: 502, Code: "BadGateway"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newTestProvider(t, srv, noBatch)
			ctx := context.Background()
			ref := providers.Ref{Key: key}

			// The SDK retries a passing fault itself.
			srv.ResetCalls()
			srv.Fail("GetSecretValue", 1, tt.fault)
			if _, err := p.GetSecret(ctx, ref); err != nil {
				t.Fatalf("one fault: %v", err)
			}
			if n := srv.Calls("GetSecretValue"); n != 2 {
				t.Errorf("calls = %d, want 2 (one retry)", n)
			}

			// Past MaxAttempts the fault reaches the controller, retryable.
			srv.ResetCalls()
			srv.Fail("GetSecretValue", DefaultMaxAttempts, tt.fault)
			_, err := p.GetSecret(ctx, ref)
			if !providers.IsRetryable(err) || errors.Is(err, providers.ErrNotFound) {
				t.Fatalf("persistent fault: err = %v, want retryable", err)
			}
			if n := srv.Calls("GetSecretValue"); n != DefaultMaxAttempts {
				t.Errorf("calls = %d, want %d", n, DefaultMaxAttempts)
			}

			// And it recovers.
			if v, err := p.GetSecret(ctx, ref); err != nil || string(v) != "v" {
				t.Fatalf("after the fault: %q, %v", v, err)
			}
		})
	}
}

// A throttled batch fails every caller in it as retryable, and later
// batches succeed.
func TestProvider_GetSecret_batchThrottled(t *testing.T) {
	srv := awstest.NewServer(t)
	keys := make([]string, 5)
	for i := range keys {
		keys[i] = secretName(t, string(rune('a'+i)))
		srv.CreateSecret(t, keys[i], keys[i], nil)
	}
	p := newTestProvider(t, srv, func(c *Config) { c.MaxAttempts = 1 })
	getAll := func() []error {
		errs := make([]error, len(keys))
		var wg sync.WaitGroup
		for i, k := range keys {
			wg.Go(func() {
				_, errs[i] = p.GetSecret(context.Background(), providers.Ref{Key: k})
			})
		}
		wg.Wait()
		return errs
	}
	// However the calls group into batches, each batch is throttled.
	srv.Fail("BatchGetSecretValue", awstest.Always, awstest.Throttling)
	srv.Fail("GetSecretValue", awstest.Always, awstest.Throttling)
	for i, err := range getAll() {
		if !providers.IsRetryable(err) {
			t.Errorf("%s: err = %v, want retryable", keys[i], err)
		}
	}
	srv.ClearFaults()
	for i, err := range getAll() {
		if err != nil {
			t.Errorf("%s after throttling: %v", keys[i], err)
		}
	}
}
