package vault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"

	"github.com/hashicorp/vault/api"

	"github.com/kseal-dev/kseal/providers"
)

// classify turns an error of one Vault call into the kinds the providers
// package defines. op is the operation ("read", "login", ...) and what the
// path or reference it was about; neither ever holds a secret value, and
// neither do Vault's own error messages, which are kept for the reader.
func classify(op, what string, err error) error {
	if err == nil {
		return nil
	}
	prefix := "vault " + op
	if what != "" {
		prefix += " " + what
	}
	var re *api.ResponseError
	if errors.As(err, &re) {
		msg := responseMessage(re)
		switch code := re.StatusCode; {
		case code == http.StatusForbidden || code == http.StatusUnauthorized:
			return fmt.Errorf("%s: %w (HTTP %d: %s)", prefix, providers.ErrAuth, code, msg)
		case code == http.StatusNotFound:
			return fmt.Errorf("%s: %w (HTTP 404: %s)", prefix, providers.ErrNotFound, msg)
		case code == http.StatusTooManyRequests || code >= 500 ||
			// 412: a performance standby has not caught up yet.
			code == http.StatusPreconditionFailed:
			return providers.Retryable(fmt.Errorf("%s: HTTP %d: %s", prefix, code, msg))
		default:
			return fmt.Errorf("%s: HTTP %d: %s", prefix, code, msg)
		}
	}
	if errors.Is(err, context.Canceled) {
		// The caller gave up; nothing to retry on our side.
		return fmt.Errorf("%s: %w", prefix, err)
	}
	var netErr net.Error
	if errors.As(err, &netErr) || errors.Is(err, context.DeadlineExceeded) ||
		errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
		return providers.Retryable(fmt.Errorf("%s: %w", prefix, err))
	}
	return fmt.Errorf("%s: %w", prefix, err)
}

// responseMessage is Vault's error list in one line, bounded in length.
func responseMessage(re *api.ResponseError) string {
	msg := strings.Join(re.Errors, "; ")
	if msg == "" {
		msg = http.StatusText(re.StatusCode)
	}
	msg = strings.Join(strings.Fields(msg), " ")
	const maxLen = 300
	if len(msg) > maxLen {
		msg = msg[:maxLen] + "..."
	}
	return msg
}

// isForbidden reports whether err is Vault refusing the token (HTTP 403).
func isForbidden(err error) bool {
	var re *api.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusForbidden
}
