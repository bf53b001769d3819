package aws

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"

	"github.com/kseal-dev/kseal/providers"
)

// AWS error codes, by what they mean to the controller.
var (
	// Parameter Store: ParameterNotFound, ParameterVersionNotFound.
	notFoundCodes = codes("ResourceNotFoundException", "ParameterNotFound", "ParameterVersionNotFound")
	// Throttling and server-side failures heal by themselves.
	retryableCodes = codes("ThrottlingException", "Throttling", "TooManyRequestsException",
		"RequestLimitExceeded", "ProvisionedThroughputExceededException", "RequestThrottled",
		"InternalServiceError", "InternalFailure", "InternalError", "ServiceUnavailable",
		"ServiceUnavailableException", "IDPCommunicationError", "RequestTimeout")
	// Credentials refused: by Secrets Manager (JSON protocol) or STS.
	authCodes = codes("AccessDeniedException", "AccessDenied", "UnrecognizedClientException",
		"InvalidSignatureException", "SignatureDoesNotMatch", "IncompleteSignature",
		"MissingAuthenticationToken", "MissingAuthenticationTokenException", "InvalidClientTokenId",
		"ExpiredToken", "ExpiredTokenException", "InvalidIdentityToken", "IDPRejectedClaim",
		"NotAuthorized", "AuthFailure")
	// The endpoint does not know the operation (an older emulator or a
	// proxy): BatchGetSecretValue falls back to GetSecretValue.
	unknownOperationCodes = codes("UnknownOperationException", "InvalidAction", "UnknownOperation")
)

func codes(cs ...string) map[string]bool {
	m := make(map[string]bool, len(cs))
	for _, c := range cs {
		m[c] = true
	}
	return m
}

// errMalformed replaces decoding errors, whose text may quote bytes of the
// response body (a secret value).
var errMalformed = errors.New("malformed response from AWS")

// knownCode returns code when kseal knows it (one of the lists above), else
// "": an error code is read from the response body, and a store may point
// at a server that is not AWS.
func knownCode(code string) string {
	if notFoundCodes[code] || retryableCodes[code] || authCodes[code] || unknownOperationCodes[code] {
		return code
	}
	return ""
}

// apiError is all kseal keeps of an AWS error response: the operation, the
// HTTP status and a known error code. The error message, and anything else
// of the body, never reaches an error (and so never a status condition or an
// event): a store pointed at an internal service must not read it back.
type apiError struct {
	// op is the API operation ("GetSecretValue", "AssumeRoleWithWebIdentity").
	op string
	// status is the HTTP status; 0 for an item of BatchGetSecretValue.
	status int
	// code is the AWS error code when knownCode accepts it.
	code string
}

func (e *apiError) Error() string {
	var b strings.Builder
	b.WriteString("aws")
	if e.op != "" {
		b.WriteString(" " + e.op)
	}
	if e.status != 0 {
		fmt.Fprintf(&b, ": HTTP %d", e.status)
	} else {
		b.WriteString(": error")
	}
	if e.code != "" {
		b.WriteString(" " + e.code)
	} else {
		b.WriteString(" (unrecognized error code; the response body is not shown)")
	}
	return b.String()
}

// classify maps a client error onto the providers contract: ErrNotFound,
// ErrAuth, Retryable, or an apiError. Error answers are reduced to an
// apiError (see there); context errors keep matching errors.Is.
func classify(err error) error {
	if err == nil {
		return nil
	}
	var op string
	var oe *opError
	var se *sendError
	var ae *apiError
	switch {
	case errors.As(err, &ae):
		op = ae.op
	case errors.As(err, &oe):
		op = oe.op
	case errors.As(err, &se):
		op = se.op
	}
	switch {
	case errors.Is(err, context.Canceled):
		return fmt.Errorf("aws %s: %w", op, context.Canceled)
	case errors.Is(err, context.DeadlineExceeded) && se == nil:
		return fmt.Errorf("aws %s: %w", op, context.DeadlineExceeded)
	case providers.IsResponseTooLarge(err):
		return fmt.Errorf("aws %s: %w", op, providers.ErrResponseTooLarge)
	case ae != nil:
		if e := classifyCode(ae.code, ae); e != nil {
			return e
		}
		return classifyStatus(ae)
	case errors.Is(err, errMalformed):
		return providers.Retryable(fmt.Errorf("aws %s: %w", op, errMalformed))
	case se != nil:
		// The URL kseal built and the network error; no body.
		return providers.Retryable(err)
	}
	var ne net.Error
	if errors.As(err, &ne) {
		return providers.Retryable(err)
	}
	return err
}

// classifyStatus maps an error response by its HTTP status.
func classifyStatus(e *apiError) error {
	switch {
	case e.status == http.StatusTooManyRequests || e.status >= 500:
		return providers.Retryable(e)
	case e.status == http.StatusUnauthorized || e.status == http.StatusForbidden:
		return fmt.Errorf("%w: %w", providers.ErrAuth, e)
	}
	return e
}

// classifyCode maps one AWS error code; nil when the code says nothing the
// controller acts on.
func classifyCode(code string, err error) error {
	switch {
	case notFoundCodes[code]:
		return providers.ErrNotFound
	case retryableCodes[code]:
		return providers.Retryable(err)
	case authCodes[code]:
		return fmt.Errorf("%w: %w", providers.ErrAuth, err)
	}
	return nil
}

// itemError maps one entry of BatchGetSecretValue's Errors list; its
// message is dropped like every message of a response.
func itemError(code, _ string) error {
	err := &apiError{op: "BatchGetSecretValue", code: knownCode(code)}
	if e := classifyCode(err.code, err); e != nil {
		return e
	}
	return err
}

// isUnknownOperation reports whether the endpoint does not implement the
// operation.
func isUnknownOperation(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && unknownOperationCodes[ae.code]
}

// isAccessDenied reports whether Secrets Manager's IAM check refused the
// operation to credentials it accepted. (STS refusals, code AccessDenied,
// are credential failures and do not match.)
func isAccessDenied(err error) bool {
	var ae *apiError
	return errors.As(err, &ae) && ae.code == "AccessDeniedException"
}
