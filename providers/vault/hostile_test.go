package vault

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/kseal-dev/kseal/providers"
)

// hostileBody is what an internal service a store points at might answer;
// none of it may reach an error.
const hostileBody = "INTERNAL-SECRET-d41d8cd98f00b204"

// hostileServer answers every request as mode says.
func hostileServer(t *testing.T, mode string) string {
	t.Helper()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		switch mode {
		case "500 text":
			w.WriteHeader(500)
			_, _ = w.Write([]byte(hostileBody))
		case "200 text":
			_, _ = w.Write([]byte(hostileBody))
		case "404 text":
			w.WriteHeader(404)
			_, _ = w.Write([]byte(hostileBody))
		case "403 vault json":
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(403)
			_, _ = w.Write([]byte(`{"errors":["` + hostileBody + `"]}`))
		case "403 permission denied":
			w.WriteHeader(403)
			_, _ = w.Write([]byte(`{"errors":["permission denied"]}`))
		case "huge declared":
			w.Header().Set("Content-Length", "104857600")
			w.WriteHeader(200)
		case "huge streamed":
			w.WriteHeader(200)
			chunk := []byte(`{"data":{"data":{"x":"` + strings.Repeat("A", 64<<10))
			for range (providers.MaxResponseSize / len(chunk)) + 2 {
				if _, err := w.Write(chunk); err != nil {
					return
				}
				w.(http.Flusher).Flush()
			}
		}
	}))
	t.Cleanup(srv.Close)
	return srv.URL
}

// TestProvider_hostileServer: a store pointed at something that is not Vault
// never gets the body back through an error, and an oversized body is
// refused rather than buffered.
func TestProvider_hostileServer(t *testing.T) {
	for _, tt := range []struct {
		mode    string
		tooBig  bool
		wantMsg string
	}{
		{mode: "500 text", wantMsg: "HTTP 500"},
		{mode: "200 text", wantMsg: "malformed response"},
		{mode: "404 text", wantMsg: "malformed response"},
		{mode: "403 vault json", wantMsg: "HTTP 403"},
		{mode: "403 permission denied", wantMsg: "permission denied"},
		{mode: "huge declared", tooBig: true},
		{mode: "huge streamed", tooBig: true},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			p, err := New(context.Background(), Config{Server: hostileServer(t, tt.mode), AllowHTTP: true, Auth: Auth{Token: "t"}})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			_, err = p.GetSecret(context.Background(), providers.Ref{Key: "app", Property: "x"})
			if err == nil {
				t.Fatal("no error")
			}
			t.Log(err)
			if strings.Contains(err.Error(), hostileBody) || strings.Contains(err.Error(), "AAAA") {
				t.Fatalf("the error carries the response body: %v", err)
			}
			if tt.tooBig != errors.Is(err, providers.ErrResponseTooLarge) {
				t.Fatalf("error %v: too large = %v, want %v", err, !tt.tooBig, tt.tooBig)
			}
			if !strings.Contains(err.Error(), tt.wantMsg) {
				t.Fatalf("error %q does not say %q", err, tt.wantMsg)
			}
		})
	}
}
