package sealing

import (
	"errors"
	"fmt"

	"github.com/kseal-dev/kseal/crypto/scope"
)

// Sentinel causes of an open failure; test with errors.Is.
var (
	// ErrUnknownKey: no key held opened the value.
	ErrUnknownKey = errors.New("unknown key")
	// ErrScopeMismatch: a key opened the value, but it was sealed for another
	// scope, namespace or name.
	ErrScopeMismatch = errors.New("scope mismatch")
	// ErrCorrupt: the value is malformed, truncated or garbled.
	ErrCorrupt = errors.New("corrupt input")
	// ErrLegacyAmbiguous: a v2 value under a key generation whose identity
	// also opens SOPS documents has the length of a SOPS data key, so it is
	// refused (LegacyKeyError). Such errors match ErrCorrupt too.
	ErrLegacyAmbiguous = errors.New("ambiguous under a legacy key")
)

// errWrongKeyOrLabel is the internal result of one failed key attempt.
var errWrongKeyOrLabel = errors.New("wrong key or label")

// CorruptError says how a value is malformed. It matches ErrCorrupt.
type CorruptError struct {
	// Detail describes the defect; it never contains plaintext.
	Detail string
}

func corrupt(format string, args ...any) error {
	return &CorruptError{Detail: fmt.Sprintf(format, args...)}
}

func (e *CorruptError) Error() string { return "corrupt input: " + e.Detail }

// Is makes errors.Is(err, ErrCorrupt) true.
func (e *CorruptError) Is(target error) bool { return target == ErrCorrupt }

// UnknownKeyError says that no key held opened a value. It matches
// ErrUnknownKey.
type UnknownKeyError struct {
	// Version is the format of the value.
	Version Version
	// KeyID is the key id a v2 value names.
	KeyID KeyID
	// Keys is how many keys of the needed kind were tried (v1: RSA keys; v2:
	// keys with a hybrid identity).
	Keys int
	// Label is the label the value was expected to be sealed under.
	Label []byte
}

func (e *UnknownKeyError) Error() string {
	if e.Version == V2 {
		return fmt.Sprintf("unknown key: sealed to key id %s, which is not among the %d keys held (sealed for another cluster, or with a key generation that was deleted)", e.KeyID, e.Keys)
	}
	return fmt.Sprintf("unknown key: none of the %d RSA keys held opens it under %s (sealed for another cluster, with a deleted key, or for another namespace or name)", e.Keys, scope.Describe(e.Label))
}

// Is makes errors.Is(err, ErrUnknownKey) true.
func (e *UnknownKeyError) Is(target error) bool { return target == ErrUnknownKey }

// ScopeMismatchError says that a key opened a value sealed for another place.
// It matches ErrScopeMismatch.
type ScopeMismatchError struct {
	// Expected is the label the object requires.
	Expected []byte
	// Found is the label the value was sealed under.
	Found []byte
}

func (e *ScopeMismatchError) Error() string {
	return fmt.Sprintf("scope mismatch: sealed for %s, but this object requires %s (re-seal it for this namespace and name, or seal with a wider scope)",
		scope.Describe(e.Found), scope.Describe(e.Expected))
}

// Is makes errors.Is(err, ErrScopeMismatch) true.
func (e *ScopeMismatchError) Is(target error) bool { return target == ErrScopeMismatch }

// SizeError says that a value exceeds MaxValueSize.
type SizeError struct {
	// Size is the size of the value in bytes.
	Size int
	// Limit is the largest size allowed.
	Limit int
}

func (e *SizeError) Error() string {
	return fmt.Sprintf("value of %d bytes exceeds the limit of %d bytes", e.Size, e.Limit)
}

// LegacyKeyError refuses a v2 value that opens under a key generation made
// before kseal separated v2 and SOPS identities, when its content is as long
// as a SOPS data key (or a Shamir share of one): such a value may be a SOPS
// document's data key presented as a v2 value, and opening it would reveal
// that key. It matches ErrLegacyAmbiguous and ErrCorrupt.
type LegacyKeyError struct {
	// Key names the key generation the value opened under.
	Key string
}

func (e *LegacyKeyError) Error() string {
	return fmt.Sprintf("refused: the value is sealed to key generation %s, whose identity also opens SOPS documents, "+
		"and its content has the length of a SOPS data key, so it cannot be told apart from one; "+
		"seal the value again from its plaintext with the current certificate (kseal seal), which uses a newer generation", e.Key)
}

// Is makes errors.Is true for ErrLegacyAmbiguous and ErrCorrupt.
func (e *LegacyKeyError) Is(target error) bool {
	return target == ErrLegacyAmbiguous || target == ErrCorrupt
}
