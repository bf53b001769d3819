// Package providers defines how kseal fetches values from external secret
// stores. A Provider gets one value; listing (Finder) and validation
// (Validator) are optional interfaces a provider may also implement.
// Providers are built explicitly by the controller with a plain switch on the
// store spec (see controllers), not registered globally.
//
// Implementations: providers/aws (AWS Secrets Manager) and providers/vault
// (HashiCorp Vault KV v1/v2).
package providers

import (
	"context"
	"errors"
	"fmt"
	"regexp"
)

// Ref locates one remote value (an ExternalSecret remoteRef).
type Ref struct {
	// Key is the remote secret's name or path.
	Key string
	// Property selects a field of a JSON value; a dotted path reaches
	// nested fields ("db.password"). Empty means the whole value.
	Property string
	// Version selects a version (provider-specific; empty = current).
	Version string
	// Metadata reads the remote secret's metadata instead of its value
	// (remoteRef.metadataPolicy Fetch): a JSON object of Vault KV v2
	// custom_metadata or of AWS Secrets Manager tags, of which Property
	// selects one key. Providers without metadata return ErrUnsupported.
	Metadata bool
}

// String renders the reference for messages (never a value).
func (r Ref) String() string {
	s := r.Key
	if r.Property != "" {
		s += "#" + r.Property
	}
	if r.Version != "" {
		s += "@" + r.Version
	}
	if r.Metadata {
		s += " (metadata)"
	}
	return s
}

// Provider fetches values from one store with one set of credentials. It must
// be safe for concurrent use; the controller caches it per store and
// credentials and calls it from many workers.
type Provider interface {
	// GetSecret returns the value at ref. With a Property it returns that
	// field of the JSON value (strings as-is, other JSON values encoded).
	// Errors wrap ErrNotFound, ErrPropertyNotFound, ErrNotJSON or, for
	// failures worth retrying, carry Retryable. No error contains a value.
	GetSecret(ctx context.Context, ref Ref) ([]byte, error)
}

// Query selects remote secrets for dataFrom.find.
type Query struct {
	// Path is a name prefix; empty matches every name.
	Path string
	// NameRegexp, when set, must match the name.
	NameRegexp *regexp.Regexp
	// Tags must all be present with these values (providers without tags
	// return ErrUnsupported when Tags is set).
	Tags map[string]string
}

// Finder is implemented by providers that can list secrets.
type Finder interface {
	// Find returns the value of every secret matching q, by name.
	Find(ctx context.Context, q Query) (map[string][]byte, error)
}

// Validator is implemented by providers that can check their credentials
// without reading a secret; the store's Ready condition reports the result.
type Validator interface {
	Validate(ctx context.Context) error
}

// Closer is implemented by providers that hold resources (a Vault token to
// revoke, a batching goroutine to stop). The controller calls Close when it
// drops a cached provider.
type Closer interface {
	Close() error
}

// Sentinel errors; match with errors.Is.
var (
	// ErrNotFound: the remote secret (or version) does not exist.
	ErrNotFound = errors.New("remote secret not found")
	// ErrPropertyNotFound: the JSON value has no such property.
	ErrPropertyNotFound = errors.New("property not found")
	// ErrNotJSON: a property was asked of a value that is not a JSON object.
	ErrNotJSON = errors.New("value is not a JSON object")
	// ErrUnsupported: the provider cannot do what was asked.
	ErrUnsupported = errors.New("not supported by this provider")
	// ErrAuth: the credentials were refused.
	ErrAuth = errors.New("authentication failed")
)

// RetryableError marks a failure that may heal by itself (throttling, 5xx,
// network); the controller keeps the last good Secret and backs off.
type RetryableError struct {
	// Err is the underlying failure.
	Err error
}

func (e *RetryableError) Error() string { return e.Err.Error() }
func (e *RetryableError) Unwrap() error { return e.Err }

// Retryable wraps err as retryable; nil stays nil.
func Retryable(err error) error {
	if err == nil {
		return nil
	}
	return &RetryableError{Err: err}
}

// IsRetryable reports whether err is marked retryable.
func IsRetryable(err error) bool {
	var r *RetryableError
	return errors.As(err, &r)
}

// NotFound returns an error matching ErrNotFound for ref.
func NotFound(ref Ref) error {
	return fmt.Errorf("%w: %s", ErrNotFound, ref.Key)
}
