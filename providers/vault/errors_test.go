package vault

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"syscall"
	"testing"

	"github.com/hashicorp/vault/api"

	"github.com/kseal-dev/kseal/providers"
)

func TestClassify(t *testing.T) {
	resp := func(code int, msgs ...string) error {
		return &api.ResponseError{HTTPMethod: "GET", URL: "http://vault/v1/secret/data/x", StatusCode: code, Errors: msgs}
	}
	refused := &url.Error{Op: "Get", URL: "http://vault/v1/secret/data/x", Err: &net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}}
	tests := []struct {
		name      string
		err       error
		is        error
		retryable bool
	}{
		{name: "nil", err: nil},
		{name: "403", err: resp(403, "permission denied"), is: providers.ErrAuth},
		{name: "401", err: resp(401), is: providers.ErrAuth},
		{name: "404", err: resp(404), is: providers.ErrNotFound},
		{name: "429", err: resp(429, "rate limit"), retryable: true},
		{name: "500", err: resp(500, "internal error"), retryable: true},
		{name: "503 sealed", err: resp(503, "Vault is sealed"), retryable: true},
		{name: "412 standby behind", err: resp(412, "required index state not present"), retryable: true},
		{name: "400", err: resp(400, "invalid version")},
		{name: "connection refused", err: fmt.Errorf("giving up: %w", refused), retryable: true},
		{name: "deadline", err: context.DeadlineExceeded, retryable: true},
		{name: "canceled", err: context.Canceled, is: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := classify("read", "secret/data/x", tt.err)
			if tt.err == nil {
				if got != nil {
					t.Fatalf("classify(nil) = %v", got)
				}
				return
			}
			if tt.is != nil && !errors.Is(got, tt.is) {
				t.Errorf("%v does not match %v", got, tt.is)
			}
			if providers.IsRetryable(got) != tt.retryable {
				t.Errorf("%v: retryable = %v, want %v", got, !tt.retryable, tt.retryable)
			}
		})
	}
}

func TestClassifyLogin(t *testing.T) {
	err := classifyLogin("approle", &api.ResponseError{StatusCode: 400, Errors: []string{"invalid role or secret ID"}})
	if !errors.Is(err, providers.ErrAuth) {
		t.Errorf("400 on login: %v, want ErrAuth", err)
	}
	err = classifyLogin("approle", &api.ResponseError{StatusCode: 502})
	if !providers.IsRetryable(err) {
		t.Errorf("502 on login: %v, want retryable", err)
	}
}

func TestResponseMessage(t *testing.T) {
	tests := []struct {
		re   *api.ResponseError
		want string
	}{
		{&api.ResponseError{StatusCode: 403, Errors: []string{"permission denied"}}, "permission denied"},
		{&api.ResponseError{StatusCode: 400, Errors: []string{`invalid role name "shop"`}}, "invalid role name"},
		{&api.ResponseError{StatusCode: 400, Errors: []string{"permission denied: SECRET"}}, "Bad Request (the response body is not shown)"},
		{&api.ResponseError{StatusCode: 403, Errors: []string{"permission denied", "SECRET"}}, "Forbidden (the response body is not shown)"},
		{&api.ResponseError{StatusCode: 500, RawError: true, Errors: []string{"permission denied"}}, "Internal Server Error (the response body is not shown)"},
		{&api.ResponseError{StatusCode: 599}, "unexpected status (the response body is not shown)"},
	}
	for _, tt := range tests {
		if got := responseMessage(tt.re); got != tt.want {
			t.Errorf("%d %q: %q, want %q", tt.re.StatusCode, tt.re.Errors, got, tt.want)
		}
	}
}
