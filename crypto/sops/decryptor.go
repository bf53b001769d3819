package sops

import (
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"filippo.io/age"
	gosops "github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/keyservice"
	"github.com/getsops/sops/v3/logging"
	"github.com/getsops/sops/v3/stores/dotenv"
	"github.com/getsops/sops/v3/stores/ini"
	"github.com/getsops/sops/v3/stores/json"
	"github.com/getsops/sops/v3/stores/yaml"
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

// quietOnce silences the SOPS library's loggers, which write to stderr and
// may print values (for example a comment it could not decrypt).
var quietOnce sync.Once

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
	quietOnce.Do(func() {
		for _, l := range logging.Loggers {
			l.SetOutput(io.Discard)
		}
	})
	return d, nil
}

// Recipients returns the recipients of the identities held.
func (d *Decryptor) Recipients() []string { return append([]string(nil), d.held...) }

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
// non-nil at requires the document to be bound to it (DecryptBound).
func (d *Decryptor) decrypt(name string, data []byte, in, out Format, emit bool, at *Target) (plain []byte, err error) {
	var values []string
	defer func() {
		// Malformed input has made the SOPS library panic before; the
		// panic value may hold input, so it is redacted like any message.
		if r := recover(); r != nil {
			plain = nil
			err = &Error{Name: name, Err: fmt.Errorf("%w: the SOPS library failed on it (%s)", ErrMalformed, redact(fmt.Sprint(r), values))}
		}
	}()
	if len(data) > d.opts.MaxSize {
		return nil, &Error{Name: name, Err: fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(data), d.opts.MaxSize)}
	}
	inStore, err := store(in)
	if err != nil {
		return nil, &Error{Name: name, Err: err}
	}
	outStore, err := store(out)
	if err != nil {
		return nil, &Error{Name: name, Err: err}
	}
	tree, err := inStore.LoadEncryptedFile(data)
	if err != nil {
		return nil, &Error{Name: name, Err: loadError(err, in)}
	}
	values = leafStrings(tree.Branches, nil)
	scopeAt, scopeStored := -1, any(nil)
	if at != nil {
		if scopeAt, scopeStored, err = scopeEntry(&tree); err != nil {
			return nil, &Error{Name: name, Err: err}
		}
	}
	key, err := d.dataKey(&tree.Metadata)
	if err != nil {
		return nil, &Error{Name: name, Err: err}
	}
	cipher := aes.NewCipher()
	computed, err := tree.Decrypt(key, cipher)
	values = leafStrings(tree.Branches, values)
	if err != nil {
		return nil, &Error{Name: name, Err: decryptError(err, values)}
	}
	if !d.opts.SkipMACCheck {
		stored, err := cipher.Decrypt(tree.Metadata.MessageAuthenticationCode, key, tree.Metadata.LastModified.Format(time.RFC3339))
		if err != nil {
			return nil, &Error{Name: name, Err: errUndecryptable}
		}
		if s, ok := stored.(string); !ok || s != computed {
			return nil, &Error{Name: name, Err: ErrMACMismatch}
		}
	}
	if at != nil {
		if err := checkBinding(&tree, scopeAt, scopeStored, at); err != nil {
			return nil, &Error{Name: name, Err: err}
		}
	}
	if !emit {
		return nil, nil
	}
	plain, err = outStore.EmitPlainFile(tree.Branches)
	if err != nil {
		return nil, &Error{Name: name, Err: fmt.Errorf("%w as %s: %s", ErrOutput, out, redact(err.Error(), values))}
	}
	return plain, nil
}

// dataKey opens the document's data key with the identities held, or
// takes it from the cache.
func (d *Decryptor) dataKey(md *gosops.Metadata) ([]byte, error) {
	h := sha256.New()
	for _, group := range md.KeyGroups {
		for _, k := range group {
			fmt.Fprintf(h, "%s\x00%s\x00%x\x00", k.TypeToIdentifier(), k.ToString(), k.EncryptedDataKey())
		}
		h.Write([]byte{0xff})
	}
	var id [sha256.Size]byte
	h.Sum(id[:0])
	d.mu.Lock()
	cached, ok := d.dataKeys[id]
	d.mu.Unlock()
	if ok {
		return cached, nil
	}
	ks := &ageKeyService{identities: d.identities}
	key, err := md.GetDataKeyWithKeyServices([]keyservice.KeyServiceClient{keyservice.NewCustomLocalClient(ks)}, nil)
	switch {
	case err == nil && len(key) != dataKeySize:
		clear(key)
		return nil, errUndecryptable
	case err != nil && (ks.oversized > 0 || (ks.opened > 0 && strings.Contains(err.Error(), "shamir"))):
		// An opened stanza was too large, or opened Shamir parts do not
		// combine: both depend on what the stanzas hold.
		return nil, errUndecryptable
	case err != nil:
		return nil, d.keyError(md, ks)
	}
	d.mu.Lock()
	if d.dataKeys == nil || len(d.dataKeys) >= maxCachedDataKeys {
		d.dataKeys = map[[sha256.Size]byte][]byte{}
	}
	d.dataKeys[id] = key
	d.mu.Unlock()
	return key, nil
}

// store returns the SOPS store for f.
func store(f Format) (gosops.Store, error) {
	switch f {
	case FormatYAML:
		return yaml.NewStore(&config.YAMLStoreConfig{}), nil
	case FormatJSON:
		return json.NewStore(&config.JSONStoreConfig{}), nil
	case FormatBinary:
		return json.NewBinaryStore(&config.JSONBinaryStoreConfig{}), nil
	case FormatDotenv:
		return dotenv.NewStore(&config.DotenvStoreConfig{}), nil
	case FormatINI:
		return ini.NewStore(&config.INIStoreConfig{}), nil
	}
	return nil, fmt.Errorf("unknown SOPS format %d", int(f))
}

// loadError explains why a document did not load, without its content.
func loadError(err error, f Format) error {
	if errors.Is(err, gosops.MetadataNotFound) {
		return ErrNotEncrypted
	}
	msg := err.Error()
	switch {
	case strings.Contains(msg, "Error unmarshaling input YAML"), strings.Contains(msg, "Could not unmarshal input data"),
		strings.Contains(msg, "invalid dotenv input line"):
		return fmt.Errorf("%w: not a valid %s document (%s)", ErrMalformed, f, parseDetail(msg))
	}
	return fmt.Errorf("%w: %s", ErrMalformed, redact(msg, nil))
}

// decryptError explains a failure of Tree.Decrypt.
func decryptError(err error, values []string) error {
	msg := err.Error()
	switch {
	case strings.Contains(msg, "does not match sops' data format"):
		return fmt.Errorf("%w: a value that should be encrypted is not in SOPS's ENC[...] form (was it added or edited after encryption? edit with `sops FILE`)", ErrMalformed)
	case strings.Contains(msg, "Could not decrypt with AES_GCM"):
		return errUndecryptable
	case strings.Contains(msg, "Expected encrypted value as string"):
		return fmt.Errorf("%w: a value that should be encrypted is not a string", ErrMalformed)
	}
	return fmt.Errorf("%w: %s", ErrCorrupt, redact(msg, values))
}

// keyError describes why no data key was found.
func (d *Decryptor) keyError(md *gosops.Metadata, ks *ageKeyService) error {
	ke := &KeyError{Held: d.held}
	for _, group := range md.KeyGroups {
		for _, k := range group {
			if ak, ok := k.(*sopsage.MasterKey); ok {
				ke.Recipients = append(ke.Recipients, ak.Recipient)
				continue
			}
			ke.OtherKeys = append(ke.OtherKeys, k.TypeToIdentifier()+": "+k.ToString())
		}
	}
	if ks.failed > 0 && ks.noMatch == 0 {
		ke.Corrupt = true
	}
	return ke
}

// leafStrings appends the string values of branches (plaintext or
// ciphertext) to out, for redaction.
func leafStrings(branches gosops.TreeBranches, out []string) []string {
	var walk func(v any)
	walk = func(v any) {
		switch v := v.(type) {
		case string:
			out = append(out, v)
		case gosops.TreeBranch:
			for _, item := range v {
				walk(item.Value)
			}
		case []any:
			for _, e := range v {
				walk(e)
			}
		case gosops.Comment:
			out = append(out, v.Value)
		}
	}
	for _, b := range branches {
		walk(b)
	}
	return out
}
