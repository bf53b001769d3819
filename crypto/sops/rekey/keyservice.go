package rekey

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"

	"filippo.io/age"
	"filippo.io/age/armor"
	"github.com/getsops/sops/v3/keyservice"
)

// maxDataKey bounds a decrypted SOPS data key (32 bytes in practice).
const maxDataKey = 1 << 10

// ageKeyService is a SOPS key service that opens data keys with the given
// age identities and nothing else: no environment, no files, no KMS. One
// serves one document, and remembers why age failed for the error message.
type ageKeyService struct {
	identities []age.Identity
	// noMatch counts age stanzas that none of the identities opened.
	noMatch int
	// failed counts age keys that failed for another reason (corrupt
	// armor or header), and unsupported counts non-age keys asked for.
	failed, unsupported int
	// opened counts age stanzas an identity opened. Once one has, every
	// later failure is reported the same way (errUndecryptable), whatever
	// the opened plaintext was: a stanza copied from elsewhere (say a v2
	// SealedSecret value under a legacy key) must not reveal its length.
	opened int
	// oversized counts opened stanzas whose plaintext exceeded maxDataKey.
	oversized int
}

var _ keyservice.KeyServiceServer = &ageKeyService{}

// Encrypt is refused: a Decryptor only decrypts.
func (s *ageKeyService) Encrypt(context.Context, *keyservice.EncryptRequest) (*keyservice.EncryptResponse, error) {
	return nil, errors.New("kseal's SOPS key service does not encrypt")
}

// Decrypt opens a data key encrypted to an age recipient.
func (s *ageKeyService) Decrypt(_ context.Context, req *keyservice.DecryptRequest) (*keyservice.DecryptResponse, error) {
	ak := req.GetKey().GetAgeKey()
	if ak == nil {
		s.unsupported++
		return nil, errors.New("only age keys are used")
	}
	r, err := age.Decrypt(armor.NewReader(bytes.NewReader(req.GetCiphertext())), s.identities...)
	if err != nil {
		var nm *age.NoIdentityMatchError
		if errors.As(err, &nm) {
			s.noMatch++
		} else {
			s.failed++
		}
		return nil, fmt.Errorf("age: %w", err)
	}
	s.opened++
	key, err := io.ReadAll(io.LimitReader(r, maxDataKey+1))
	if err != nil || len(key) > maxDataKey {
		clear(key)
		s.oversized++
		return nil, errUndecryptable
	}
	return &keyservice.DecryptResponse{Plaintext: key}, nil
}
