package httpapi_test

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"

	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/crypto/sealing"
	"github.com/kseal-dev/kseal/httpapi"
	"github.com/kseal-dev/kseal/httpapi/wire"
)

// countOpens wraps every request's keyring to count the items opened; hook,
// when set, runs before each Open with its number (from 1).
type countOpens struct {
	n    atomic.Int64
	hook func(n int64)
}

func (c *countOpens) wrap(o sealedsecret.Opener) sealedsecret.Opener {
	return openerFunc(func(ct, label []byte, opts sealing.OpenOptions) ([]byte, *sealing.DecryptionKey, error) {
		n := c.n.Add(1)
		if c.hook != nil {
			c.hook(n)
		}
		return o.Open(ct, label, opts)
	})
}

type openerFunc func(ct, label []byte, opts sealing.OpenOptions) ([]byte, *sealing.DecryptionKey, error)

func (f openerFunc) Open(ct, label []byte, opts sealing.OpenOptions) ([]byte, *sealing.DecryptionKey, error) {
	return f(ct, label, opts)
}

// withItems gives the test Secret n items.
func withItems(n int) func(*corev1.Secret) {
	return func(s *corev1.Secret) {
		s.StringData = map[string]string{}
		for i := range n {
			s.StringData[fmt.Sprintf("item%d", i)] = fmt.Sprintf("value-%d", i)
		}
	}
}

func TestAPI_itemLimit(t *testing.T) {
	old, _ := apiGenerations(t)
	c := &countOpens{}
	opts := unlimited()
	opts.MaxItems = 3
	base := apiServer(t, keys.NewSet(old), httpapi.WithOpenerWrapper(opts, c.wrap))
	for _, path := range []string{wire.PathVerify, wire.PathRotate} {
		r := apiDo(t, base, http.MethodPost, path, apiEncode(t, "yaml", apiSeal(t, old, sealing.V2, withItems(4))))
		wantCode(t, r, http.StatusRequestEntityTooLarge)
		if !bytes.Contains(r.body, []byte("prod/db has 4 items, more than the 3")) || !bytes.Contains(r.body, []byte("--api-max-items")) {
			t.Errorf("%s: body %q", path, r.body)
		}
	}
	if n := c.n.Load(); n != 0 {
		t.Errorf("%d items opened for objects over the item limit", n)
	}
	wantCode(t, apiDo(t, base, http.MethodPost, wire.PathVerify, apiEncode(t, "yaml", apiSeal(t, old, sealing.V2, withItems(3)))), http.StatusOK)
}

// TestAPI_rsaLimit: the RSA work an object may need is bounded before any
// item is opened.
func TestAPI_rsaLimit(t *testing.T) {
	old, renewed := apiGenerations(t)
	src := keys.NewSet(old, renewed)
	ss := apiSeal(t, old, sealing.V1, withItems(5))
	// 5 items x 2 keys, and 2 other scope labels x 2 keys once.
	const worst = 5*2 + 2*2
	if got := sealedsecret.OpenCost(ss, src.Keyring().Keys()).RSAOps; got != worst {
		t.Fatalf("OpenCost %d, want %d", got, worst)
	}
	body := apiEncode(t, "yaml", ss)
	for _, path := range []string{wire.PathVerify, wire.PathRotate} {
		t.Run(path, func(t *testing.T) {
			c := &countOpens{}
			opts := unlimited()
			opts.MaxRSAOps = worst - 1
			base := apiServer(t, src, httpapi.WithOpenerWrapper(opts, c.wrap))
			r := apiDo(t, base, http.MethodPost, path, body)
			wantCode(t, r, http.StatusRequestEntityTooLarge)
			if !bytes.Contains(r.body, []byte(fmt.Sprintf("may take %d RSA decryptions, more than the %d allowed", worst, worst-1))) {
				t.Errorf("body %q", r.body)
			}
			if n := c.n.Load(); n != 0 {
				t.Errorf("%d items opened before the refusal", n)
			}
			opts.MaxRSAOps = worst
			base = apiServer(t, src, httpapi.WithOpenerWrapper(opts, c.wrap))
			wantCode(t, apiDo(t, base, http.MethodPost, path, body), http.StatusOK)
		})
	}
}

// TestAPI_clientCancelStopsWork: once the client has gone, no further item is
// opened.
func TestAPI_clientCancelStopsWork(t *testing.T) {
	old, _ := apiGenerations(t)
	reqCtx := make(chan context.Context, 1)
	started := make(chan struct{})
	c := &countOpens{}
	c.hook = func(n int64) {
		if n != 1 {
			return
		}
		ctx := <-reqCtx
		close(started)
		select {
		case <-ctx.Done():
		case <-time.After(time.Minute):
			t.Error("the request context was not cancelled when the client went away")
		}
	}
	done := make(chan int, 1)
	opts := unlimited()
	opts.Observe = func(endpoint string, code int, _ time.Duration) { done <- code }
	h := httpapi.NewHandler(keys.NewSet(old), httpapi.WithOpenerWrapper(opts, c.wrap))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reqCtx <- r.Context()
		h.ServeHTTP(w, r)
	}))
	defer srv.Close()

	ctx, cancel := context.WithCancel(context.Background())
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+wire.PathVerify, bytes.NewReader(apiEncode(t, "yaml", apiSeal(t, old, sealing.V2, withItems(5)))))
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() {
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		errc <- err
	}()
	<-started
	cancel()
	if err := <-errc; err == nil {
		t.Error("the request succeeded although it was cancelled")
	}
	if code := <-done; code != http.StatusServiceUnavailable {
		t.Errorf("recorded status %d, want 503", code)
	}
	if n := c.n.Load(); n != 1 {
		t.Errorf("%d of 5 items opened, want 1 (the one under way when the client left)", n)
	}
}

// TestAPI_concurrencyLimit: requests beyond the decryption and in-flight
// slots are refused with 429 and Retry-After while the slots are held.
func TestAPI_concurrencyLimit(t *testing.T) {
	old, _ := apiGenerations(t)
	body := apiEncode(t, "yaml", apiSeal(t, old, sealing.V2))
	for _, tt := range []struct {
		name               string
		inFlight, decrypts int
		want               string
	}{
		{"decrypting", 4, 1, "too many decryptions in progress on /v1/verify"},
		{"in flight", 1, 4, "too many requests in progress on /v1/verify"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			holding, release := make(chan struct{}), make(chan struct{})
			var releaseOnce sync.Once
			free := func() { releaseOnce.Do(func() { close(release) }) }
			defer free() // also when the test fails, so the server can stop
			c := &countOpens{hook: func(n int64) {
				if n == 1 {
					close(holding)
					<-release
				}
			}}
			opts := unlimited()
			opts.MaxInFlight, opts.MaxDecrypting = tt.inFlight, tt.decrypts
			base := apiServer(t, keys.NewSet(old), httpapi.WithOpenerWrapper(opts, c.wrap))
			first := make(chan apiResponse, 1)
			go func() { first <- apiDo(t, base, http.MethodPost, wire.PathVerify, body) }()
			<-holding
			r := apiDo(t, base, http.MethodPost, wire.PathVerify, body)
			wantCode(t, r, http.StatusTooManyRequests)
			if r.header.Get("Retry-After") != "1" || !bytes.Contains(r.body, []byte(tt.want)) {
				t.Errorf("Retry-After %q, body %q", r.header.Get("Retry-After"), r.body)
			}
			// Requests that decrypt nothing are not held up.
			wantCode(t, apiDo(t, base, http.MethodGet, wire.PathCert, nil), http.StatusOK)
			free()
			wantCode(t, <-first, http.StatusOK)
			wantCode(t, apiDo(t, base, http.MethodPost, wire.PathVerify, body), http.StatusOK)
		})
	}
}

// apiDoAs sends a verify request with the given X-Forwarded-For header (none
// when empty) and returns the status code.
func apiDoAs(t *testing.T, base, xff string, body []byte) int {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, base+wire.PathVerify, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if xff != "" {
		req.Header.Set("X-Forwarded-For", xff)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// TestAPI_perClientRateLimits: behind the API server's service proxy every
// request comes from one address, and X-Forwarded-For's last entry (which
// the proxy appends) tells the clients apart; each gets a bucket, and the
// global bucket caps them all, however many clients a caller pretends to be.
func TestAPI_perClientRateLimits(t *testing.T) {
	old, _ := apiGenerations(t)
	body := apiEncode(t, "yaml", apiSeal(t, old, sealing.V2))
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	opts := httpapi.Options{
		// Client buckets refill too slowly to matter here.
		Verify: httpapi.RateLimit{PerSecond: 0.001, Burst: 2},
		Global: httpapi.RateLimit{PerSecond: 1, Burst: 5},
		Now:    clock.Now,
	}
	base := apiServer(t, keys.NewSet(old), opts)
	steps := []struct {
		xff  string
		want int
	}{
		{"10.0.0.1", 200}, {"10.0.0.1", 200}, {"10.0.0.1", 429},
		// Another client has a bucket of its own.
		{"10.0.0.2", 200},
		// Entries before the last are the caller's own words: ignored.
		{"10.0.0.2, 10.0.0.1", 429},
		{"10.0.0.1, 10.0.0.2", 200},
		{"10.0.0.2", 429},
		// A fresh client, but the global bucket (5) is spent.
		{"10.0.0.3", 200},
		{"10.0.0.4", 429},
		{"192.0.2.99", 429},
	}
	for i, s := range steps {
		if got := apiDoAs(t, base, s.xff, body); got != s.want {
			t.Errorf("step %d (X-Forwarded-For %q): %d, want %d", i, s.xff, got, s.want)
		}
	}
	// A refusal by the global bucket took no token from the client: with one
	// global token a second, 10.0.0.4 still has both of its own.
	for i := range 2 {
		clock.Advance(time.Second)
		if got := apiDoAs(t, base, "10.0.0.4", body); got != 200 {
			t.Errorf("after %d s: %d, want 200", i+1, got)
		}
	}
}

// TestAPI_untrustedForwardedFor: a peer outside TrustedProxies cannot choose
// its bucket with X-Forwarded-For.
func TestAPI_untrustedForwardedFor(t *testing.T) {
	old, _ := apiGenerations(t)
	body := apiEncode(t, "yaml", apiSeal(t, old, sealing.V2))
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	base := apiServer(t, keys.NewSet(old), httpapi.Options{
		Verify:         httpapi.RateLimit{PerSecond: 1, Burst: 1},
		TrustedProxies: []netip.Prefix{netip.MustParsePrefix("192.0.2.0/24")},
		Now:            clock.Now,
	})
	if got := apiDoAs(t, base, "10.0.0.1", body); got != 200 {
		t.Fatalf("first: %d", got)
	}
	if got := apiDoAs(t, base, "10.0.0.2", body); got != 429 {
		t.Errorf("a second client named by an untrusted peer: %d, want 429", got)
	}
}

// TestAPI_clientTableBounded: clients beyond MaxClients share one bucket, so
// inventing names does not grow memory.
func TestAPI_clientTableBounded(t *testing.T) {
	old, _ := apiGenerations(t)
	body := apiEncode(t, "yaml", apiSeal(t, old, sealing.V2))
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	base := apiServer(t, keys.NewSet(old), httpapi.Options{
		Verify:     httpapi.RateLimit{PerSecond: 1, Burst: 1},
		Global:     httpapi.RateLimit{PerSecond: -1},
		MaxClients: 1,
		Now:        clock.Now,
	})
	for i, s := range []struct {
		xff  string
		want int
	}{{"10.0.0.1", 200}, {"10.0.0.2", 200}, {"10.0.0.3", 429}, {"10.0.0.1", 429}} {
		if got := apiDoAs(t, base, s.xff, body); got != s.want {
			t.Errorf("step %d (%s): %d, want %d", i, s.xff, got, s.want)
		}
	}
}

func TestParseTrustedProxies(t *testing.T) {
	tests := []struct {
		in      string
		want    []netip.Prefix
		wantErr bool
	}{
		{in: "*", want: httpapi.TrustAnyProxy},
		{in: "none", want: []netip.Prefix{}},
		{in: "10.0.0.0/8, 192.0.2.7,2001:db8::/32", want: []netip.Prefix{
			netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("192.0.2.7/32"), netip.MustParsePrefix("2001:db8::/32")}},
		{in: "10.0.0.1/8", want: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}},
		{in: "apiserver", wantErr: true},
	}
	for _, tt := range tests {
		got, err := httpapi.ParseTrustedProxies(tt.in)
		if (err != nil) != tt.wantErr {
			t.Errorf("%q: error %v", tt.in, err)
			continue
		}
		if fmt.Sprint(got) != fmt.Sprint(tt.want) {
			t.Errorf("%q: %v, want %v", tt.in, got, tt.want)
		}
	}
}
