package sealedsecret

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"maps"
	"slices"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/scope"
	"github.com/kseal-dev/kseal/crypto/sealing"
)

// Opener opens one sealed value bound to label. *sealing.Keyring is the
// Opener to use; the interface lets callers count or limit the work.
type Opener interface {
	Open(ciphertext, label []byte, opts sealing.OpenOptions) ([]byte, *sealing.DecryptionKey, error)
}

var _ Opener = (*sealing.Keyring)(nil)

// OpenOptions tunes OpenItems.
type OpenOptions struct {
	// PreferKey names the key that opened this object last; v1 items try it
	// first.
	PreferKey string
}

// Opened holds the decrypted items of a SealedSecret. Call Wipe when done.
type Opened struct {
	// Label is the scope label the object's items must be sealed under.
	Label []byte
	// Data maps each item of spec.encryptedData to its plaintext.
	Data map[string][]byte
	// Keys maps each item to the key that opened it.
	Keys map[string]*sealing.DecryptionKey
	// V2 holds the items that are in format v2.
	V2 map[string]bool
	// KeyName is the name of the key that opened the last item.
	KeyName string
}

// Wipe clears every decrypted value.
func (o *Opened) Wipe() { wipe(o.Data) }

// OpenItems opens every item of ss's spec.encryptedData under the label of
// its scope. It never reads spec.template, so its result (and its error)
// depends only on the ciphertexts, the object's scope and the keys, never on
// the plaintext. It checks ctx before each item and stops with ctx's error
// once it is done.
//
// v1 items try the key that opened the previous item first. Other scope
// labels are tried once per object, for the first v1 item that no key opens,
// so that the error can say "scope mismatch"; later such items are reported
// as unknown key. OpenCost tells the most RSA work this can take. On failure
// it returns an *Error listing each failed item, and nothing decrypted.
func OpenItems(ctx context.Context, ss *v1alpha1.SealedSecret, kr Opener, opts OpenOptions) (*Opened, error) {
	sc, err := scope.FromAnnotations(ss.Annotations)
	if err != nil {
		return nil, &Error{Namespace: ss.Namespace, Name: ss.Name, Items: []*ItemError{{Err: &sealing.CorruptError{Detail: err.Error()}}}}
	}
	label := sc.Label(ss.Namespace, ss.Name)
	alternatives := otherLabels(sc, ss.Namespace, ss.Name)
	n := len(ss.Spec.EncryptedData)
	o := &Opened{Label: label, Data: make(map[string][]byte, n), Keys: make(map[string]*sealing.DecryptionKey, n), V2: map[string]bool{}, KeyName: opts.PreferKey}
	var failed []*ItemError
	for _, item := range slices.Sorted(maps.Keys(ss.Spec.EncryptedData)) {
		if err := ctx.Err(); err != nil {
			o.Wipe()
			return nil, fmt.Errorf("unseal %s/%s: stopped: %w", ss.Namespace, ss.Name, err)
		}
		ct, err := base64.StdEncoding.DecodeString(ss.Spec.EncryptedData[item])
		if err != nil {
			failed = append(failed, &ItemError{Item: item, Err: &sealing.CorruptError{Detail: "not valid base64"}})
			continue
		}
		v2 := sealing.IsV2(ct)
		open := sealing.OpenOptions{Prefer: o.KeyName}
		if !v2 {
			open.Alternatives = alternatives
		}
		plaintext, key, err := kr.Open(ct, label, open)
		if err != nil {
			if !v2 && (errors.Is(err, sealing.ErrUnknownKey) || errors.Is(err, sealing.ErrScopeMismatch)) {
				// Every key failed under label, so the alternatives were
				// tried: not again for this object.
				alternatives = nil
			}
			failed = append(failed, &ItemError{Item: item, Err: classify(err)})
			continue
		}
		o.KeyName = key.Name
		o.Data[item], o.Keys[item], o.V2[item] = plaintext, key, v2
	}
	if len(failed) > 0 {
		o.Wipe()
		return nil, &Error{Namespace: ss.Namespace, Name: ss.Name, Items: failed}
	}
	return o, nil
}

// otherLabels returns the labels of the scopes other than sc.
func otherLabels(sc scope.Scope, namespace, name string) [][]byte {
	var out [][]byte
	for _, other := range []scope.Scope{scope.Strict, scope.NamespaceWide, scope.ClusterWide} {
		if other != sc {
			out = append(out, other.Label(namespace, name))
		}
	}
	return out
}

// Cost is the most work OpenItems can do for one object, known before any
// decryption.
type Cost struct {
	// Items is the number of items in spec.encryptedData.
	Items int
	// V1Items is the number of items that are not format v2.
	V1Items int
	// RSAOps is the most RSA private-key operations OpenItems can make: for
	// each v1 item, one per RSA key of the item's size, plus, once per
	// object, one per key and alternative scope label.
	RSAOps int
}

// OpenCost returns the most work OpenItems(ss) can do with keys. It reads
// only the framing of the ciphertexts.
func OpenCost(ss *v1alpha1.SealedSecret, keys []*sealing.DecryptionKey) Cost {
	sizes := map[int]int{} // RSA modulus size in bytes -> keys of that size
	for _, k := range keys {
		if k.RSA != nil {
			sizes[k.RSA.Size()]++
		}
	}
	c := Cost{Items: len(ss.Spec.EncryptedData)}
	most := 0 // the largest number of keys one v1 item is tried with
	for _, v := range ss.Spec.EncryptedData {
		ct, err := base64.StdEncoding.DecodeString(v)
		if err != nil || sealing.IsV2(ct) {
			continue
		}
		c.V1Items++
		if len(ct) < 2 {
			continue
		}
		tried := sizes[int(binary.BigEndian.Uint16(ct))]
		c.RSAOps += tried
		most = max(most, tried)
	}
	// Two alternative labels, tried once, with every key of the item's size.
	c.RSAOps += 2 * most
	return c
}
