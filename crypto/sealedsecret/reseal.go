package sealedsecret

import (
	"context"
	"errors"
	"fmt"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sealing"
)

// ErrNoRecipient is Reseal's error for a kseal.dev SealedSecret when the
// newest generation has no post-quantum recipient, so format v2 cannot be
// sealed to it.
var ErrNoRecipient = errors.New("the newest key generation has no post-quantum recipient (it was imported from sealed-secrets), so it cannot seal format v2; create a kseal key generation or convert the object to bitnami.com/v1alpha1")

// Reseal opens every item of ss with kr and, unless each one is already
// sealed to newest in the object's format (v2 for kseal.dev, v1 for
// bitnami.com), seals them all again to newest under the same scope label.
// It returns the new spec.encryptedData and whether it differs from the old
// one; when nothing changes the map is nil. newest must have a certificate.
//
// Like OpenItems it never renders templates. Decrypted values are wiped
// before it returns. An open failure is a *Error (see Reason); a v2 object
// with a newest generation that cannot seal v2 is ErrNoRecipient.
func Reseal(ctx context.Context, ss *v1alpha1.SealedSecret, kr Opener, newest *keys.Generation) (map[string]string, bool, error) {
	version := sealing.V2
	if ss.APIVersion == BitnamiAPIVersion {
		version = sealing.V1
	}
	pk := &newest.Certificate.PublicKey
	newestID, hasID := newest.Certificate.KeyID()
	if version == sealing.V2 && !hasID {
		return nil, false, ErrNoRecipient
	}
	opened, err := OpenItems(ctx, ss, kr, OpenOptions{PreferKey: newest.Name})
	if err != nil {
		return nil, false, err
	}
	defer opened.Wipe()
	current := true
	for item, key := range opened.Keys {
		if version == sealing.V2 {
			current = current && opened.V2[item] && key.ID == newestID
		} else {
			current = current && !opened.V2[item] && key.RSA != nil && key.RSA.PublicKey.Equal(pk.RSA)
		}
	}
	if current {
		return nil, false, nil
	}
	sealed, err := SealItems(opened.Data, pk, version, opened.Label)
	if err != nil {
		return nil, false, fmt.Errorf("seal again: %w", err)
	}
	return sealed, true, nil
}
