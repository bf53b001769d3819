package aws

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/kseal-dev/kseal/providers"
)

// AWS error codes, by what they mean to the controller.
var (
	notFoundCodes = codes("ResourceNotFoundException")
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

// errMalformed replaces SDK deserialization errors, whose text may quote
// bytes of the response body (a secret value).
var errMalformed = errors.New("malformed response from AWS")

// classify maps an SDK error onto the providers contract: ErrNotFound,
// ErrAuth, Retryable, or the error itself. Context errors pass unchanged.
func classify(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	var de *smithy.DeserializationError
	if errors.As(err, &de) {
		return providers.Retryable(errMalformed)
	}
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if e := classifyCode(ae.ErrorCode(), err); e != nil {
			return e
		}
	}
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		switch status := re.HTTPStatusCode(); {
		case status == http.StatusTooManyRequests || status >= 500:
			return providers.Retryable(err)
		case status == http.StatusUnauthorized || status == http.StatusForbidden:
			return fmt.Errorf("%w: %w", providers.ErrAuth, err)
		}
	}
	var se *smithyhttp.RequestSendError
	var ne net.Error
	if errors.As(err, &se) || errors.As(err, &ne) {
		return providers.Retryable(err)
	}
	return err
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

// itemError maps one entry of BatchGetSecretValue's Errors list.
func itemError(code, message string) error {
	err := fmt.Errorf("api error %s: %s", code, message)
	if e := classifyCode(code, err); e != nil {
		return e
	}
	return err
}

// isUnknownOperation reports whether the endpoint does not implement the
// operation.
func isUnknownOperation(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && unknownOperationCodes[ae.ErrorCode()]
}

// isAccessDenied reports whether Secrets Manager's IAM check refused the
// operation to credentials it accepted. (STS refusals, code AccessDenied,
// are credential failures and do not match.)
func isAccessDenied(err error) bool {
	var ae smithy.APIError
	return errors.As(err, &ae) && ae.ErrorCode() == "AccessDeniedException"
}
