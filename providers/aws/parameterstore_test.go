package aws

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/kseal-dev/kseal/providers"
	"github.com/kseal-dev/kseal/providers/aws/awstest"
)

// newTestParameterStore builds a ParameterStore for srv; mods adjust the
// Config.
func newTestParameterStore(t testing.TB, srv *awstest.Server, mods ...func(*Config)) *ParameterStore {
	t.Helper()
	cfg := testConfig(srv)
	for _, m := range mods {
		m(&cfg)
	}
	p, err := NewParameterStore(context.Background(), cfg)
	if err != nil {
		t.Fatalf("NewParameterStore: %v", err)
	}
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// paramName is a parameter name unique to the test.
func paramName(t testing.TB, name string) string { return "/" + secretName(t, name) }

func TestParameterStore_GetSecret(t *testing.T) {
	srv := awstest.NewServer(t)
	p := newTestParameterStore(t, srv, noBatch)
	plain, secure, js := paramName(t, "plain"), paramName(t, "secure"), paramName(t, "json")
	srv.PutParameter(t, plain, "v1", false)
	srv.PutParameter(t, plain, "v2", false)
	srv.PutParameter(t, secure, "s3cr3t", true)
	srv.PutParameter(t, js, `{"db":{"user":"app","password":"pw"}}`, true)
	for _, tc := range []struct {
		name string
		ref  providers.Ref
		want string
		err  error
	}{
		{"current", providers.Ref{Key: plain}, "v2", nil},
		{"version", providers.Ref{Key: plain, Version: "1"}, "v1", nil},
		{"missing version", providers.Ref{Key: plain, Version: "9"}, "", providers.ErrNotFound},
		{"secure string is decrypted", providers.Ref{Key: secure}, "s3cr3t", nil},
		{"property", providers.Ref{Key: js, Property: "db.password"}, "pw", nil},
		{"missing property", providers.Ref{Key: js, Property: "db.nope"}, "", providers.ErrPropertyNotFound},
		{"missing", providers.Ref{Key: paramName(t, "nope")}, "", providers.ErrNotFound},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := p.GetSecret(context.Background(), tc.ref)
			if tc.err != nil {
				if !errors.Is(err, tc.err) {
					t.Fatalf("err = %v, want %v", err, tc.err)
				}
				mustContainNone(t, err, "pw", "app", "s3cr3t")
				return
			}
			if err != nil || string(got) != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestParameterStore_GetSecret_badRef(t *testing.T) {
	srv := awstest.NewServer(t)
	p := newTestParameterStore(t, srv)
	for _, ref := range []providers.Ref{
		{Key: "/a/b:3"},
		{Key: "/a/b", Version: "0"},
		{Key: "/a/b", Version: "1:2"},
		{Key: strings.Repeat("a", 2049)},
	} {
		if _, err := p.GetSecret(context.Background(), ref); err == nil {
			t.Errorf("%s: no error", ref)
		}
	}
	if n := srv.TotalCalls(); n != 0 {
		t.Fatalf("%d calls reached AWS for refused references", n)
	}
}

// readConcurrently reads keys at once and returns the values by key.
func readConcurrently(t *testing.T, p providers.Provider, keys []string) (map[string]string, map[string]error) {
	t.Helper()
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		vals = map[string]string{}
		errs = map[string]error{}
	)
	for _, k := range keys {
		wg.Go(func() {
			v, err := p.GetSecret(context.Background(), providers.Ref{Key: k})
			mu.Lock()
			defer mu.Unlock()
			vals[k], errs[k] = string(v), err
		})
	}
	wg.Wait()
	return vals, errs
}

func TestParameterStore_batching(t *testing.T) {
	srv := awstest.NewServer(t)
	p := newTestParameterStore(t, srv, func(c *Config) { c.BatchWindow = 200 * time.Millisecond })
	var keys []string
	for i := range 25 {
		k := paramName(t, fmt.Sprint("p", i))
		srv.PutParameter(t, k, fmt.Sprint("value-", i), i%2 == 0)
		keys = append(keys, k)
	}
	missing := paramName(t, "missing")
	srv.ResetCalls()
	vals, errs := readConcurrently(t, p, append(keys, missing))
	for i, k := range keys {
		if errs[k] != nil || vals[k] != fmt.Sprint("value-", i) {
			t.Errorf("%s: %q, %v", k, vals[k], errs[k])
		}
	}
	if !errors.Is(errs[missing], providers.ErrNotFound) {
		t.Errorf("missing: %v, want not found", errs[missing])
	}
	// 26 names, at most 10 per call (the emulator refuses more, as AWS).
	if got, single := srv.Calls("GetParameters"), srv.Calls("GetParameter"); got > 3 || got+single > 4 {
		t.Fatalf("26 reads took %d GetParameters and %d GetParameter calls", got, single)
	}
}

func TestParameterStore_batchFallback(t *testing.T) {
	srv := awstest.NewServer(t)
	p := newTestParameterStore(t, srv, func(c *Config) { c.BatchWindow = 200 * time.Millisecond })
	a, b := paramName(t, "a"), paramName(t, "b")
	srv.PutParameter(t, a, "A", false)
	srv.PutParameter(t, b, "B", false)
	srv.Fail("GetParameters", awstest.Always, awstest.AccessDenied)
	defer srv.ClearFaults()
	vals, errs := readConcurrently(t, p, []string{a, b})
	if errs[a] != nil || errs[b] != nil || vals[a] != "A" || vals[b] != "B" {
		t.Fatalf("without ssm:GetParameters: %v %v %v", vals, errs[a], errs[b])
	}
	if n := srv.Calls("GetParameter"); n != 2 {
		t.Fatalf("%d GetParameter calls, want 2", n)
	}
}

func TestParameterStore_Find(t *testing.T) {
	srv := awstest.NewServer(t)
	p := newTestParameterStore(t, srv)
	root := paramName(t, "app")
	srv.PutParameter(t, root+"/db/password", "pw", true)
	srv.PutParameter(t, root+"/db/user", "app", false)
	srv.PutParameter(t, root+"/api/token", "tok", true)
	srv.PutParameter(t, root+"x/other", "no", false)
	got, err := p.Find(context.Background(), providers.Query{Path: root, NameRegexp: regexp.MustCompile(`/db/`)})
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]string{root + "/db/password": "pw", root + "/db/user": "app"}
	if len(got) != len(want) {
		t.Fatalf("found %d parameters, want %d: %v", len(got), len(want), keysOf(got))
	}
	for k, v := range want {
		if string(got[k]) != v {
			t.Errorf("%s = %q, want %q", k, got[k], v)
		}
	}
}

func TestParameterStore_Find_bounded(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 1,001 parameters")
	}
	srv := awstest.NewServer(t)
	p := newTestParameterStore(t, srv)
	root := paramName(t, "many")
	for i := range MaxFindParameters + 1 {
		srv.PutParameter(t, fmt.Sprintf("%s/p%04d", root, i), "v", false)
	}
	srv.ResetCalls()
	_, err := p.Find(context.Background(), providers.Query{Path: root})
	if err == nil || !strings.Contains(err.Error(), "narrow find.path") {
		t.Fatalf("err = %v, want the parameter bound", err)
	}
	if n := srv.Calls("GetParametersByPath"); n > MaxFindParameters/parameterPageSize+1 {
		t.Fatalf("%d pages read past the bound", n)
	}
}

func TestParameterStore_Validate(t *testing.T) {
	srv := awstest.NewServer(t)
	if err := newTestParameterStore(t, srv).Validate(context.Background()); err != nil {
		t.Fatalf("valid credentials: %v", err)
	}
	bad := newTestParameterStore(t, srv, func(c *Config) { c.Static.SecretAccessKey = "wrong" })
	if err := bad.Validate(context.Background()); !errors.Is(err, providers.ErrAuth) {
		t.Fatalf("wrong key: %v, want ErrAuth", err)
	}
}

func keysOf(m map[string][]byte) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

func TestParameterStore_prefix(t *testing.T) {
	srv := awstest.NewServer(t)
	name := paramName(t, "app/db")
	srv.PutParameter(t, name, `{"password":"p"}`, true)
	cut := strings.LastIndex(name, "/app/")
	prefix, rest := name[:cut+1], name[cut+1:]
	for _, mode := range []func(*Config){noBatch, func(*Config) {}} {
		p := newTestParameterStore(t, srv, mode, func(c *Config) { c.Prefix = prefix })
		if v, err := p.GetSecret(context.Background(), providers.Ref{Key: rest, Property: "password"}); err != nil || string(v) != "p" {
			t.Fatalf("GetSecret(%q) with prefix %q = %q, %v", rest, prefix, v, err)
		}
	}
}
