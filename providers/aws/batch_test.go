package aws

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/kseal-dev/kseal/providers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// seed creates n secrets whose value is their name.
func seed(t testing.TB, srv *awstest.Server, prefix string, n int) []string {
	t.Helper()
	keys := make([]string, n)
	for i := range keys {
		keys[i] = fmt.Sprintf("%s/%04d", prefix, i)
		srv.CreateSecret(t, keys[i], keys[i], nil)
	}
	return keys
}

// getConcurrently starts one GetSecret per key at once and returns values
// and errors by index.
func getConcurrently(p *Provider, ctx context.Context, keys []string) ([][]byte, []error) {
	vals := make([][]byte, len(keys))
	errs := make([]error, len(keys))
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i, k := range keys {
		wg.Go(func() {
			<-start
			vals[i], errs[i] = p.GetSecret(ctx, providers.Ref{Key: k})
		})
	}
	close(start)
	wg.Wait()
	return vals, errs
}

// A window wide enough that grouping never depends on scheduling: batches
// close when MaxBatch distinct ids are queued.
func wideWindow(c *Config) { c.BatchWindow = 10 * time.Second }

func TestProvider_GetSecret_coalesces(t *testing.T) {
	srv := awstest.NewServer(t)
	keys := seed(t, srv, secretName(t, "s"), 100)
	p := newTestProvider(t, srv, func(c *Config) { c.BatchWindow = 50 * time.Millisecond })
	srv.ResetCalls()

	vals, errs := getConcurrently(p, context.Background(), keys)
	for i := range keys {
		if errs[i] != nil || string(vals[i]) != keys[i] {
			t.Fatalf("%s = %q, %v", keys[i], vals[i], errs[i])
		}
	}
	batches, singles := srv.Calls("BatchGetSecretValue"), srv.Calls("GetSecretValue")
	t.Logf("100 concurrent reads: %d BatchGetSecretValue, %d GetSecretValue", batches, singles)
	if batches > 100/DefaultMaxBatch+3 || singles > 3 {
		t.Fatalf("100 concurrent reads took %d BatchGetSecretValue and %d GetSecretValue calls", batches, singles)
	}
}

func TestProvider_GetSecret_batchItemNotFound(t *testing.T) {
	srv := awstest.NewServer(t)
	keys := seed(t, srv, secretName(t, "s"), 5)
	missing := secretName(t, "missing")
	keys = append(keys, missing)
	p := newTestProvider(t, srv, wideWindow, func(c *Config) { c.MaxBatch = len(keys) })
	srv.ResetCalls()

	vals, errs := getConcurrently(p, context.Background(), keys)
	for i, k := range keys {
		switch {
		case k == missing:
			if !errors.Is(errs[i], providers.ErrNotFound) {
				t.Errorf("missing key: err = %v, want ErrNotFound", errs[i])
			}
		case errs[i] != nil || string(vals[i]) != k:
			t.Errorf("%s = %q, %v", k, vals[i], errs[i])
		}
	}
	if b, s := srv.Calls("BatchGetSecretValue"), srv.Calls("GetSecretValue"); b != 1 || s != 0 {
		t.Errorf("calls: %d BatchGetSecretValue, %d GetSecretValue; want 1, 0", b, s)
	}
}

func TestProvider_GetSecret_batchDedupes(t *testing.T) {
	srv := awstest.NewServer(t)
	two := seed(t, srv, secretName(t, "s"), 2)
	var keys []string
	for range 10 {
		keys = append(keys, two...)
	}
	// Duplicates do not count towards MaxBatch: all 20 calls share a window.
	p := newTestProvider(t, srv, func(c *Config) { c.BatchWindow = 300 * time.Millisecond })
	srv.ResetCalls()
	vals, errs := getConcurrently(p, context.Background(), keys)
	for i, k := range keys {
		if errs[i] != nil || string(vals[i]) != k {
			t.Fatalf("%s = %q, %v", k, vals[i], errs[i])
		}
	}
	if n := srv.TotalCalls(); n != 1 {
		t.Errorf("20 reads of 2 secrets took %d calls, want 1", n)
	}
}

// Without BatchGetSecretValue (an endpoint that lacks it, or an IAM policy
// that only grants GetSecretValue) reads fall back to GetSecretValue, and
// the batch call is not retried for a while.
func TestProvider_GetSecret_batchFallback(t *testing.T) {
	for _, fault := range []awstest.Fault{awstest.UnknownOperation, awstest.AccessDenied} {
		t.Run(fault.Code, func(t *testing.T) {
			srv := awstest.NewServer(t)
			keys := seed(t, srv, secretName(t, "s"), 3)
			srv.Fail("BatchGetSecretValue", awstest.Always, fault)
			p := newTestProvider(t, srv, wideWindow, func(c *Config) { c.MaxBatch = len(keys) })
			srv.ResetCalls()
			for round := 1; round <= 2; round++ {
				vals, errs := getConcurrently(p, context.Background(), keys)
				for i, k := range keys {
					if errs[i] != nil || string(vals[i]) != k {
						t.Fatalf("round %d: %s = %q, %v", round, k, vals[i], errs[i])
					}
				}
				if b, s := srv.Calls("BatchGetSecretValue"), srv.Calls("GetSecretValue"); b != 1 || s != round*len(keys) {
					t.Errorf("round %d: %d BatchGetSecretValue, %d GetSecretValue; want 1, %d", round, b, s, round*len(keys))
				}
			}
		})
	}
}

// A caller that gives up returns its context's error; the others in its
// batch still get their values.
func TestProvider_GetSecret_callerCancels(t *testing.T) {
	srv := awstest.NewServer(t)
	keys := seed(t, srv, secretName(t, "s"), 2)
	p := newTestProvider(t, srv, wideWindow, func(c *Config) { c.MaxBatch = 2 })
	srv.SetLatency(200 * time.Millisecond)

	short, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	var (
		wg       sync.WaitGroup
		errShort error
		val      []byte
		err      error
	)
	wg.Go(func() { _, errShort = p.GetSecret(short, providers.Ref{Key: keys[0]}) })
	wg.Go(func() { val, err = p.GetSecret(context.Background(), providers.Ref{Key: keys[1]}) })
	wg.Wait()
	if !errors.Is(errShort, context.DeadlineExceeded) {
		t.Errorf("cancelled caller: err = %v, want context.DeadlineExceeded", errShort)
	}
	if err != nil || string(val) != keys[1] {
		t.Errorf("other caller: %q, %v", val, err)
	}
}

// When every caller of a batch gives up, its call is cancelled too.
func TestProvider_GetSecret_allCallersCancel(t *testing.T) {
	srv := awstest.NewServer(t)
	keys := seed(t, srv, secretName(t, "s"), 2)
	reports := make(chan error, 10)
	p := newTestProvider(t, srv, wideWindow, func(c *Config) {
		c.MaxBatch = 2
		c.OnCall = func(op string, err error) {
			if op == "BatchGetSecretValue" {
				reports <- err
			}
		}
	})
	srv.SetLatency(time.Minute)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Millisecond)
	defer cancel()
	_, errs := getConcurrently(p, ctx, keys)
	for _, err := range errs {
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("err = %v, want context.DeadlineExceeded", err)
		}
	}
	select {
	case err := <-reports:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("batch call ended with %v, want context.Canceled", err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("the batch call was not cancelled")
	}
}

func TestProvider_GetSecret_versionedSkipsBatch(t *testing.T) {
	srv := awstest.NewServer(t)
	keys := seed(t, srv, secretName(t, "s"), 1)
	p := newTestProvider(t, srv, wideWindow)
	srv.ResetCalls()
	v, err := p.GetSecret(context.Background(), providers.Ref{Key: keys[0], Version: StageCurrent})
	if err != nil || string(v) != keys[0] {
		t.Fatalf("GetSecret = %q, %v", v, err)
	}
	if n := srv.Calls("GetSecretValue"); n != 1 {
		t.Errorf("GetSecretValue calls = %d, want 1", n)
	}
}

func TestProvider_Close(t *testing.T) {
	srv := awstest.NewServer(t)
	keys := seed(t, srv, secretName(t, "s"), 1)
	p := newTestProvider(t, srv, wideWindow)

	// A call waiting in the window is failed by Close.
	waiting := make(chan error, 1)
	go func() {
		_, err := p.GetSecret(context.Background(), providers.Ref{Key: keys[0]})
		waiting <- err
	}()
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-waiting; !providers.IsRetryable(err) {
		t.Errorf("waiting call: err = %v, want retryable", err)
	}
	select {
	case <-p.batch.done:
	default:
		t.Fatal("the batching goroutine is still running after Close")
	}
	for _, ref := range []providers.Ref{{Key: keys[0]}, {Key: keys[0], Version: StageCurrent}} {
		if _, err := p.GetSecret(context.Background(), ref); !providers.IsRetryable(err) {
			t.Errorf("GetSecret(%s) after Close: err = %v, want retryable", ref, err)
		}
	}
	if err := p.Validate(context.Background()); !providers.IsRetryable(err) {
		t.Errorf("Validate after Close: err = %v, want retryable", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
