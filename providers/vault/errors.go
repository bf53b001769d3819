package vault

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"

	"github.com/hashicorp/vault/api"

	"github.com/kseal-dev/kseal/providers"
)

// classify turns an error of one Vault call into the kinds the providers
// package defines. op is the operation ("read", "login", ...) and what the
// path or reference it was about; neither ever holds a secret value.
//
// Nothing of the response body reaches the error: a store may name any
// server, and its answer (an internal service's page, a value) must not come
// back through a status condition or an event. An error response gives its
// HTTP status and a fixed text, plus a known Vault message when Vault's JSON
// error list is exactly one (see vaultMessages); a body that is not Vault's
// JSON gives only "malformed response".
func classify(op, what string, err error) error {
	if err == nil {
		return nil
	}
	prefix := "vault " + op
	if what != "" {
		prefix += " " + what
	}
	if providers.IsResponseTooLarge(err) {
		return fmt.Errorf("%s: %w", prefix, providers.ErrResponseTooLarge)
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
		// Transport failures name the URL kseal built and the network
		// error, never the body.
		return providers.Retryable(fmt.Errorf("%s: %w", prefix, err))
	}
	// Anything else comes from decoding the answer (a JSON syntax error
	// quotes a byte of it): replaced by a fixed text.
	return fmt.Errorf("%s: %w", prefix, errMalformed)
}

// errMalformed replaces errors of decoding a Vault answer.
var errMalformed = errors.New("malformed response (not the JSON Vault sends; is the store's server a Vault?)")

// vaultMessages are Vault error messages worth showing. A response's
// message is shown only when Vault's JSON error list is exactly one of them,
// or starts with one of vaultPrefixes (and then only that start is shown).
// Everything else Vault, or a server posing as Vault, sends stays out of
// status and events.
var vaultMessages = []string{
	"permission denied",
	"missing client token",
	"invalid token",
	"bad token",
	"Vault is sealed",
	"invalid role ID",
	"invalid secret id",
	"invalid role or secret ID",
	"role not found",
	"service account name not authorized",
	"namespace not authorized",
	"unsupported path",
	"upgrade required",
}

var vaultPrefixes = []string{
	"invalid role name",
	"invalid audience (aud) claim",
	"error validating token: invalid audience (aud) claim",
	"claim \"aud\" is invalid",
	"no handler for route",
}

// responseMessage is a fixed description of an error response: a known
// Vault message (see vaultMessages) or the HTTP status text.
func responseMessage(re *api.ResponseError) string {
	if !re.RawError && len(re.Errors) == 1 {
		got := strings.TrimSpace(re.Errors[0])
		if slices.Contains(vaultMessages, got) {
			return got
		}
		for _, m := range vaultPrefixes {
			if strings.HasPrefix(got, m) {
				return m
			}
		}
	}
	text := http.StatusText(re.StatusCode)
	if text == "" {
		text = "unexpected status"
	}
	return text + " (the response body is not shown)"
}

// isForbidden reports whether err is Vault refusing the token (HTTP 403).
func isForbidden(err error) bool {
	var re *api.ResponseError
	return errors.As(err, &re) && re.StatusCode == http.StatusForbidden
}
