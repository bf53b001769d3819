package sops

import (
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"sync"
	"time"

	"filippo.io/age"
)

// DefaultMaxSize bounds one document when Options.MaxSize is zero: a
// Kubernetes Secret holds at most 1 MiB, and encryption grows it by about
// a third plus metadata.
const DefaultMaxSize = 4 << 20

// Options tune a Decryptor.
type Options struct {
	// SkipMACCheck decrypts documents whose MAC does not match their
	// values. The MAC is what detects a changed or swapped value; skip it
	// only when a tool in between rewrites unencrypted fields the MAC
	// covers. Encrypting with sops --mac-only-encrypted (mac_only_encrypted
	// in .sops.yaml) is the better way: the MAC then covers only the
	// encrypted values, so kustomize may change names, namespaces and
	// labels, and the check stays on.
	SkipMACCheck bool
	// MaxSize bounds the size in bytes of one document; DefaultMaxSize
	// when zero.
	MaxSize int
}

// Decryptor decrypts SOPS documents with a fixed set of age identities. It
// is safe for concurrent use.
type Decryptor struct {
	// identities are X25519 and hybrid identities only.
	identities []age.Identity
	// held are the recipients of identities, for KeyError.
	held []string
	opts Options

	// mu guards dataKeys.
	mu sync.Mutex
	// dataKeys caches the data keys opened, by a hash of the encrypted
	// data keys in a document's metadata: decrypting the same document
	// again (kseal render checks a file's MAC, then decrypts the resource
	// kustomize made of it) costs no second age decryption.
	dataKeys map[[sha256.Size]byte][]byte
}

// dataKeySize is the size of a SOPS data key (AES-256).
const dataKeySize = 32

// maxCachedDataKeys bounds Decryptor.dataKeys; the cache starts over when
// it is full.
const maxCachedDataKeys = 1 << 14

// New returns a Decryptor holding identities, which must be *age.X25519Identity
// or *age.HybridIdentity values (as ParseIdentities returns).
func New(identities []age.Identity, opts Options) (*Decryptor, error) {
	if len(identities) == 0 {
		return nil, errors.New("no age identity given")
	}
	d := &Decryptor{opts: opts}
	for i, id := range identities {
		r, ok := Recipient(id)
		if !ok {
			return nil, fmt.Errorf("identity %d is a %T; only age X25519 and post-quantum hybrid identities are supported", i+1, id)
		}
		d.identities = append(d.identities, id)
		d.held = append(d.held, r)
	}
	if d.opts.MaxSize <= 0 {
		d.opts.MaxSize = DefaultMaxSize
	}
	return d, nil
}

// Recipients returns the recipients of the identities held.
func (d *Decryptor) Recipients() []string { return append([]string(nil), d.held...) }

// Identities returns the identities held (for package rekey).
func (d *Decryptor) Identities() []age.Identity { return append([]age.Identity(nil), d.identities...) }

// MaxSize returns the size limit of one document.
func (d *Decryptor) MaxSize() int { return d.opts.MaxSize }

// Decrypt decrypts the SOPS document data, stored in format f, and returns
// it in the same format without its SOPS metadata. name names the document
// in errors. Errors are *Error values and never contain decrypted values.
func (d *Decryptor) Decrypt(name string, data []byte, f Format) ([]byte, error) {
	return d.DecryptTo(name, data, f, f)
}

// Verify decrypts a document and checks its MAC (unless SkipMACCheck),
// returning the error Decrypt would, but no plaintext.
func (d *Decryptor) Verify(name string, data []byte, f Format) error {
	_, err := d.decrypt(name, data, f, f, false, nil)
	return err
}

// DecryptTo decrypts a document stored in format in and writes it in format
// out: FormatBinary writes the original bytes of a file sops encrypted as
// binary.
func (d *Decryptor) DecryptTo(name string, data []byte, in, out Format) ([]byte, error) {
	return d.decrypt(name, data, in, out, true, nil)
}

// decrypt decrypts data; emit says whether to write the plaintext. A
// non-nil at requires the document to be bound to it (DecryptBound). The
// order of the checks is fixed: size, syntax and metadata, data key,
// values, MAC, binding.
func (d *Decryptor) decrypt(name string, data []byte, in, out Format, emit bool, at *Target) (plain []byte, err error) {
	defer func() {
		// A panic would be a bug in this package; its value is never
		// shown, as it might hold input.
		if r := recover(); r != nil {
			plain = nil
			err = &Error{Name: name, Err: fmt.Errorf("%w: kseal's SOPS decryptor failed on it", ErrMalformed)}
		}
	}()
	if len(data) > d.opts.MaxSize {
		return nil, &Error{Name: name, Err: fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(data), d.opts.MaxSize)}
	}
	if _, ok := formatNames[in]; !ok {
		return nil, &Error{Name: name, Err: fmt.Errorf("unknown SOPS format %d", int(in))}
	}
	if _, ok := formatNames[out]; !ok {
		return nil, &Error{Name: name, Err: fmt.Errorf("unknown SOPS format %d", int(out))}
	}
	docs, md, err := loadEncrypted(data, in)
	if err != nil {
		return nil, &Error{Name: name, Err: err}
	}
	scopeAt, scopeStored := -1, any(nil)
	if at != nil {
		if scopeAt, scopeStored, err = scopeEntry(docs); err != nil {
			return nil, &Error{Name: name, Err: err}
		}
	}
	key, err := d.dataKey(md)
	if err != nil {
		return nil, &Error{Name: name, Err: err}
	}
	computed, err := decryptTree(docs, md, key)
	if err != nil {
		return nil, &Error{Name: name, Err: err}
	}
	if !d.opts.SkipMACCheck {
		stored, err := openValue(md.mac, key, md.lastModified.Format(time.RFC3339))
		if err != nil {
			return nil, &Error{Name: name, Err: errUndecryptable}
		}
		if s, ok := stored.(string); !ok || subtle.ConstantTimeCompare([]byte(s), []byte(computed)) != 1 {
			return nil, &Error{Name: name, Err: ErrMACMismatch}
		}
	}
	if at != nil {
		if err := checkBinding(docs, md, scopeAt, scopeStored, at); err != nil {
			return nil, &Error{Name: name, Err: err}
		}
	}
	if !emit {
		return nil, nil
	}
	plain, err = emitDoc(docs, out)
	if err != nil {
		return nil, &Error{Name: name, Err: fmt.Errorf("%w as %s: %s", ErrOutput, out, err)}
	}
	return plain, nil
}

// loadEncrypted parses a document and its metadata.
func loadEncrypted(data []byte, f Format) ([]branch, *metadata, error) {
	docs, err := load(data, f)
	if err != nil {
		return nil, nil, err
	}
	docs, md, err := extractMetadata(docs, f)
	switch {
	case errors.Is(err, errNoMetadata):
		return nil, nil, ErrNotEncrypted
	case err != nil:
		return nil, nil, fmt.Errorf("%w: %w", ErrMalformed, err)
	}
	return docs, md, nil
}
