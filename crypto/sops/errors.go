package sops

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// Causes of a failed decryption, matched with errors.Is. Every error of a
// Decryptor is an *Error wrapping one of these or a *KeyError.
var (
	// ErrNotEncrypted: the document has no SOPS metadata.
	ErrNotEncrypted = errors.New("not a SOPS document: no sops metadata found")
	// ErrTooLarge: the document exceeds Options.MaxSize.
	ErrTooLarge = errors.New("document too large")
	// ErrMalformed: the document or its SOPS metadata does not parse, or a
	// value is not in SOPS's encrypted form.
	ErrMalformed = errors.New("malformed SOPS document")
	// ErrMACMismatch: the values do not match the document's MAC, so the
	// document was changed after it was encrypted.
	ErrMACMismatch = errors.New("MAC mismatch: the document was changed after it was encrypted")
	// ErrCorrupt: the data key opened, but a value did not decrypt with it.
	ErrCorrupt = errors.New("corrupt SOPS document")
	// ErrOutput: the decrypted document cannot be written in the requested
	// format.
	ErrOutput = errors.New("cannot write the decrypted document")
)

// errUndecryptable is the one cause given for every failure after an age
// stanza of the document opened: a data key of the wrong size, Shamir parts
// that do not combine, values or a MAC that do not decrypt with the key.
// One message for all of them keeps a stanza copied from elsewhere from
// telling anything about its plaintext.
var errUndecryptable = fmt.Errorf("%w: the document's values do not decrypt with its data key (a value or the data key was changed, or copied from another file)", ErrCorrupt)

// Error is a failure to decrypt one document. It names the document and
// never holds a decrypted value.
type Error struct {
	// Name names the document: a file path, or a resource and field.
	Name string
	// Err is the cause: one of the Err* values (possibly wrapped with
	// detail) or a *KeyError.
	Err error
}

func (e *Error) Error() string { return e.Name + ": " + e.Err.Error() }
func (e *Error) Unwrap() error { return e.Err }

// KeyError says that none of the identities held opens a document's data
// key. It lists both sides by their public recipients, so the user can see
// which key is missing.
type KeyError struct {
	// Recipients are the age recipients the document is encrypted to.
	Recipients []string
	// OtherKeys are the document's non-age master keys ("pgp: FINGERPRINT",
	// "kms: ARN", ...), which a Decryptor never uses.
	OtherKeys []string
	// Held are the recipients of the identities the Decryptor holds.
	Held []string
	// Corrupt is set when the age-encrypted data key itself is malformed,
	// rather than encrypted to other recipients.
	Corrupt bool
}

func (e *KeyError) Error() string {
	var b strings.Builder
	if e.Corrupt {
		fmt.Fprintf(&b, "the age-encrypted data key in the sops metadata is malformed (recipients %s)", joinShort(e.Recipients))
		return b.String()
	}
	b.WriteString("no identity held opens it: ")
	switch {
	case len(e.Recipients) > 0:
		fmt.Fprintf(&b, "it is encrypted to age recipient(s) %s", joinShort(e.Recipients))
		if len(e.OtherKeys) > 0 {
			fmt.Fprintf(&b, " and to key(s) kseal does not use (%s)", strings.Join(e.OtherKeys, ", "))
		}
	case len(e.OtherKeys) > 0:
		fmt.Fprintf(&b, "it is encrypted only to keys kseal does not use (%s); kseal decrypts with age keys", strings.Join(e.OtherKeys, ", "))
	default:
		b.WriteString("its sops metadata lists no key")
	}
	if len(e.Held) == 1 {
		fmt.Fprintf(&b, "; the identity held is for %s", joinShort(e.Held))
	} else {
		fmt.Fprintf(&b, "; the %d identities held are for %s", len(e.Held), joinShort(e.Held))
	}
	return b.String()
}

func joinShort(rs []string) string {
	if len(rs) == 0 {
		return "nothing"
	}
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = ShortRecipient(r)
	}
	return strings.Join(out, ", ")
}

// lineOf keeps the "line N" part of a parser message, dropping the rest.
var lineOf = regexp.MustCompile(`line \d+`)

// parseDetail describes a parser failure by position only.
func parseDetail(msg string) string {
	if m := lineOf.FindString(msg); m != "" {
		return "syntax error at " + m
	}
	return "syntax error"
}
