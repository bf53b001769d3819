package aws

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/kseal-dev/kseal/providers"
)

// hostileBody is what an internal service a store points at might answer;
// none of it may reach an error.
const hostileBody = "INTERNAL-SECRET-5d41402abc4b2a76"

// TestProvider_hostileEndpoint: an endpoint override that is not AWS never
// gets its body (nor the message of an AWS-shaped error) back through an
// error, and an oversized body is refused rather than buffered.
func TestProvider_hostileEndpoint(t *testing.T) {
	for _, tt := range []struct {
		mode   string
		tooBig bool
	}{
		{mode: "500 text"},
		{mode: "200 text"},
		{mode: "400 aws json"},
		{mode: "403 aws json"},
		{mode: "200 batch errors"},
		{mode: "huge declared", tooBig: true},
		{mode: "huge streamed", tooBig: true},
	} {
		t.Run(tt.mode, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				w.Header().Set("Content-Type", "application/x-amz-json-1.1")
				switch tt.mode {
				case "500 text":
					w.WriteHeader(500)
					_, _ = w.Write([]byte(hostileBody))
				case "200 text":
					_, _ = w.Write([]byte(hostileBody))
				case "400 aws json":
					w.WriteHeader(400)
					_, _ = w.Write([]byte(`{"__type":"` + hostileBody + `","message":"` + hostileBody + `"}`))
				case "403 aws json":
					w.WriteHeader(403)
					_, _ = w.Write([]byte(`{"__type":"AccessDeniedException","message":"` + hostileBody + `"}`))
				case "200 batch errors":
					_, _ = w.Write([]byte(`{"Errors":[{"SecretId":"a","ErrorCode":"` + hostileBody + `","Message":"` + hostileBody + `"},{"SecretId":"b","ErrorCode":"` + hostileBody + `","Message":"` + hostileBody + `"}]}`))
				case "huge declared":
					w.Header().Set("Content-Length", "104857600")
					w.WriteHeader(200)
				case "huge streamed":
					chunk := []byte(`{"SecretString":"` + strings.Repeat("A", 64<<10))
					for range providers.MaxResponseSize/len(chunk) + 2 {
						if _, err := w.Write(chunk); err != nil {
							return
						}
						w.(http.Flusher).Flush()
					}
				}
			}))
			defer srv.Close()
			// Two reads share one BatchGetSecretValue call only for the
			// batch case (its per-item errors); the rest read one by one.
			window := time.Duration(-1)
			if tt.mode == "200 batch errors" {
				window = time.Minute
			}
			p, err := New(context.Background(), Config{Region: "us-east-1", Endpoint: srv.URL, MaxAttempts: 1, BatchWindow: window, MaxBatch: 2,
				Static: &StaticCredentials{AccessKeyID: "AKIDEXAMPLE", SecretAccessKey: "x"}})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			errs := make(chan error, 2)
			for _, k := range []string{"a", "b"} {
				go func() {
					_, err := p.GetSecret(context.Background(), providers.Ref{Key: k})
					errs <- err
				}()
			}
			for range 2 {
				err := <-errs
				if err == nil {
					t.Fatal("no error")
				}

				if strings.Contains(err.Error(), hostileBody) || strings.Contains(err.Error(), "AAAA") {
					t.Fatalf("the error carries the response body: %v", err)
				}
				if tt.tooBig != errors.Is(err, providers.ErrResponseTooLarge) {
					t.Fatalf("error %v: too large = %v, want %v", err, !tt.tooBig, tt.tooBig)
				}
			}
		})
	}
}
