package rekey

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"time"

	gosops "github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	sopskeys "github.com/getsops/sops/v3/keys"
	"github.com/getsops/sops/v3/keyservice"

	"github.com/kseal-dev/kseal/crypto/sops"
)

// Options say how Rekey moves a document to a new recipient.
type Options struct {
	// To is the age recipient (age1... or age1pq1...) that every key group
	// holding one of Replace, or To itself, holds afterwards.
	To string
	// Replace are the recipients To takes over from (the SOPS recipients
	// of a cluster's older key generations); they are removed. Every other
	// master key, key group and the Shamir threshold stay as they are.
	Replace []string
	// RotateDataKey makes a new data key: every value is encrypted again,
	// the MAC is rewritten, and each master key gets the new key (or its
	// Shamir part). Only documents whose master keys are all age keys can
	// be rotated: kseal encrypts to nothing else.
	RotateDataKey bool
}

// ErrNotOurs: the document is encrypted neither to Options.To nor to
// any of Options.Replace, so Rekey leaves it alone.
var ErrNotOurs = errors.New("not encrypted to any of the recipients to replace")

// ErrRotateForeign: Options.RotateDataKey on a document that also has
// PGP or cloud KMS keys, which kseal does not encrypt to.
var ErrRotateForeign = errors.New("cannot rotate the data key: the document has keys other than age, which kseal does not encrypt to")

// Rekey moves the SOPS document data, opened with the identities of dec, in format f, to opts.To: in each key
// group that holds one of opts.Replace or opts.To, the data key (or the
// group's Shamir part) is opened with the identities held and encrypted to
// opts.To, and opts.Replace's keys are removed, as `sops updatekeys` does
// with such a change of .sops.yaml. The values and the MAC stay unless
// opts.RotateDataKey, which works like `sops rotate`.
//
// Before anything changes, the whole data key must open with the identities
// held and the MAC must match, so a changed document is refused rather than
// passed on with new keys. It returns the new document and true, or nil
// and false when it is up to date already. Errors are *Error values (with
// ErrNotOurs, ErrRotateForeign or a decryption cause) and never contain
// decrypted values.
func Rekey(dec *sops.Decryptor, name string, data []byte, f sops.Format, opts Options) (out []byte, changed bool, err error) {
	d := &rekeyer{identities: dec.Identities(), held: dec.Recipients(), maxSize: dec.MaxSize()}
	return d.rekey(name, data, f, opts)
}

func (d *rekeyer) rekey(name string, data []byte, f sops.Format, opts Options) (out []byte, changed bool, err error) {
	quiet()
	var values []string
	defer func() {
		if r := recover(); r != nil {
			out, changed = nil, false
			err = &sops.Error{Name: name, Err: fmt.Errorf("%w: the SOPS library failed on it (%s)", sops.ErrMalformed, redact(fmt.Sprint(r), values))}
		}
	}()
	if len(data) > d.maxSize {
		return nil, false, &sops.Error{Name: name, Err: fmt.Errorf("%w: %d bytes, the limit is %d", sops.ErrTooLarge, len(data), d.maxSize)}
	}
	if _, err := parseRecipient(opts.To); err != nil {
		return nil, false, &sops.Error{Name: name, Err: err}
	}
	st, err := store(f)
	if err != nil {
		return nil, false, &sops.Error{Name: name, Err: err}
	}
	load := func() (gosops.Tree, error) {
		tree, err := st.LoadEncryptedFile(data)
		if err != nil {
			return tree, &sops.Error{Name: name, Err: loadError(err, f)}
		}
		return tree, nil
	}
	tree, err := load()
	if err != nil {
		return nil, false, err
	}
	values = leafStrings(tree.Branches, nil)
	ours := append(slices.Clone(opts.Replace), opts.To)
	if !holdsAny(&tree.Metadata, ours) {
		return nil, false, &sops.Error{Name: name, Err: ErrNotOurs}
	}
	key, err := d.verified(&tree, &values)
	if err != nil {
		return nil, false, &sops.Error{Name: name, Err: err}
	}
	defer clear(key)
	if !opts.RotateDataKey {
		// Start again from the encrypted values: verified decrypted them.
		if tree, err = load(); err != nil {
			return nil, false, err
		}
	}
	changed, err = d.regroup(&tree.Metadata, ours, opts, key)
	if err != nil {
		return nil, false, &sops.Error{Name: name, Err: err}
	}
	if opts.RotateDataKey {
		if err := rotate(&tree); err != nil {
			return nil, false, &sops.Error{Name: name, Err: fmt.Errorf("%w: %s", sops.ErrCorrupt, redact(err.Error(), values))}
		}
		changed = true
	}
	if !changed {
		return nil, false, nil
	}
	out, err = st.EmitEncryptedFile(tree)
	if err != nil {
		return nil, false, &sops.Error{Name: name, Err: fmt.Errorf("%w as %s: %s", sops.ErrOutput, f, redact(err.Error(), values))}
	}
	return out, true, nil
}

// verified opens the document's whole data key, decrypts tree in place and
// checks its MAC (always: a document is not passed on with new keys unless
// it is the one its author encrypted). values collects what to redact.
func (d *rekeyer) verified(tree *gosops.Tree, values *[]string) ([]byte, error) {
	key, err := d.dataKey(&tree.Metadata)
	if err != nil {
		return nil, err
	}
	key = slices.Clone(key) // the cache keeps its own copy
	cipher := aes.NewCipher()
	computed, err := tree.Decrypt(key, cipher)
	*values = leafStrings(tree.Branches, *values)
	if err != nil {
		clear(key)
		return nil, decryptError(err, *values)
	}
	stored, err := cipher.Decrypt(tree.Metadata.MessageAuthenticationCode, key, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil {
		clear(key)
		return nil, errUndecryptable
	}
	if s, ok := stored.(string); !ok || s != computed {
		clear(key)
		return nil, sops.ErrMACMismatch
	}
	return key, nil
}

// holdsAny reports whether a key group of md holds an age key to one of
// recipients.
func holdsAny(md *gosops.Metadata, recipients []string) bool {
	for _, g := range md.KeyGroups {
		for _, k := range g {
			if ak, ok := k.(*sopsage.MasterKey); ok && slices.Contains(recipients, ak.Recipient) {
				return true
			}
		}
	}
	return false
}

// regroup puts opts.To in place of opts.Replace in every key group that
// holds one of ours, encrypting the group's part of the data key (opened
// with the identities held) to opts.To. It reports whether a group changed.
// key is the whole data key: with one group, the part must be it (a stanza
// holding something else is not passed on).
func (d *rekeyer) regroup(md *gosops.Metadata, ours []string, opts Options, key []byte) (bool, error) {
	changed := false
	for gi, group := range md.KeyGroups {
		var kept gosops.KeyGroup
		var part []byte
		hasTo, touched, at := false, false, -1
		for _, k := range group {
			ak, ok := k.(*sopsage.MasterKey)
			if !ok || !slices.Contains(ours, ak.Recipient) {
				kept = append(kept, k)
				continue
			}
			if part == nil {
				p, err := d.openStanza(ak)
				if err == nil {
					part = p
				}
			}
			if ak.Recipient == opts.To && !hasTo {
				hasTo = true
				kept = append(kept, k)
				continue
			}
			// A recipient to replace (or To a second time): drop it.
			touched = true
			if at < 0 {
				at = len(kept)
			}
		}
		if !hasTo && !touched {
			continue // a group kseal has no key in
		}
		if part == nil || (len(md.KeyGroups) == 1 && !bytes.Equal(part, key)) {
			clear(part)
			return false, errUndecryptable
		}
		if !hasTo {
			mk, err := sopsage.MasterKeyFromRecipient(opts.To)
			if err != nil {
				clear(part)
				return false, err
			}
			if err := mk.Encrypt(part); err != nil {
				clear(part)
				return false, fmt.Errorf("encrypt the data key to the new recipient: %w", err)
			}
			kept = slices.Insert(kept, at, sopskeys.MasterKey(mk))
		}
		clear(part)
		if touched {
			md.KeyGroups[gi] = kept
			changed = true
		}
	}
	if opts.RotateDataKey {
		for _, g := range md.KeyGroups {
			for _, k := range g {
				if _, ok := k.(*sopsage.MasterKey); !ok {
					return false, ErrRotateForeign
				}
			}
		}
	}
	return changed, nil
}

// openStanza opens one age key of a document with the identities held.
func (d *rekeyer) openStanza(ak *sopsage.MasterKey) ([]byte, error) {
	ks := &ageKeyService{identities: d.identities}
	k := keyservice.KeyFromMasterKey(ak)
	resp, err := ks.Decrypt(context.Background(), &keyservice.DecryptRequest{Key: &k, Ciphertext: ak.EncryptedDataKey()})
	if err != nil {
		return nil, err
	}
	return resp.Plaintext, nil
}

// rotate gives the decrypted tree a new data key: the master keys (all age)
// get it, split into Shamir parts as the threshold says, and the values and
// the MAC are encrypted with it.
func rotate(tree *gosops.Tree) error {
	key := make([]byte, dataKeySize)
	if _, err := rand.Read(key); err != nil {
		return err
	}
	defer clear(key)
	svc := []keyservice.KeyServiceClient{keyservice.NewCustomLocalClient(ageEncryptService{})}
	if errs := tree.Metadata.UpdateMasterKeysWithKeyServices(key, svc); len(errs) > 0 {
		return fmt.Errorf("encrypt the new data key: %w", errors.Join(errs...))
	}
	cipher := aes.NewCipher()
	mac, err := tree.Encrypt(key, cipher)
	if err != nil {
		return fmt.Errorf("encrypt the values: %w", err)
	}
	tree.Metadata.LastModified = time.Now().UTC()
	tree.Metadata.MessageAuthenticationCode, err = cipher.Encrypt(mac, key, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil {
		return fmt.Errorf("encrypt the MAC: %w", err)
	}
	return nil
}

// ageEncryptService is a SOPS key service that encrypts to age recipients
// and nothing else (no KMS, no PGP, no network). It never decrypts.
type ageEncryptService struct{}

var _ keyservice.KeyServiceServer = ageEncryptService{}

// Encrypt encrypts a data key (or Shamir part) to an age recipient.
func (ageEncryptService) Encrypt(_ context.Context, req *keyservice.EncryptRequest) (*keyservice.EncryptResponse, error) {
	ak := req.GetKey().GetAgeKey()
	if ak == nil {
		return nil, ErrRotateForeign
	}
	mk, err := sopsage.MasterKeyFromRecipient(ak.Recipient)
	if err != nil {
		return nil, err
	}
	if err := mk.Encrypt(req.GetPlaintext()); err != nil {
		return nil, err
	}
	return &keyservice.EncryptResponse{Ciphertext: mk.EncryptedDataKey()}, nil
}

// Decrypt is refused.
func (ageEncryptService) Decrypt(context.Context, *keyservice.DecryptRequest) (*keyservice.DecryptResponse, error) {
	return nil, errors.New("kseal's encrypting key service does not decrypt")
}

// parseRecipient checks an age recipient given to Rekey.
func parseRecipient(r string) (*sopsage.MasterKey, error) {
	if r == "" {
		return nil, errors.New("no recipient to re-encrypt to")
	}
	mk, err := sopsage.MasterKeyFromRecipient(r)
	if err != nil {
		return nil, fmt.Errorf("recipient %s is not an age recipient (age1... or age1pq1...)", sops.ShortRecipient(r))
	}
	return mk, nil
}
