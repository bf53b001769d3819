package sops

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
	key, err := io.ReadAll(io.LimitReader(r, maxDataKey+1))
	if err != nil || len(key) > maxDataKey {
		s.failed++
		return nil, errors.New("age: the data key does not decrypt")
	}
	return &keyservice.DecryptResponse{Plaintext: key}, nil
}
