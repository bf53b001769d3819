// Package sopstest makes SOPS-encrypted documents for tests, with the sops
// library and age recipients, the way `sops --encrypt` does. It is for tests
// and benchmarks only; kseal itself never encrypts with SOPS.
package sopstest

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"filippo.io/age"
	"filippo.io/age/armor"

	gosops "github.com/getsops/sops/v3"
	"github.com/getsops/sops/v3/aes"
	sopsage "github.com/getsops/sops/v3/age"
	"github.com/getsops/sops/v3/config"
	"github.com/getsops/sops/v3/keys"
	"github.com/getsops/sops/v3/keyservice"
	"github.com/getsops/sops/v3/stores/dotenv"
	"github.com/getsops/sops/v3/stores/ini"
	"github.com/getsops/sops/v3/stores/json"
	"github.com/getsops/sops/v3/stores/yaml"
	"github.com/getsops/sops/v3/version"

	"github.com/kseal-dev/kseal/crypto/sops"
)

// Options say how to encrypt, as the flags of sops --encrypt do.
type Options struct {
	// Recipients are the age recipients (age1... or age1pq1...); one key
	// group holds them all.
	Recipients []string
	// EncryptedRegex encrypts only values under matching keys, as
	// --encrypted-regex; everything else stays readable (kustomize needs
	// apiVersion, kind and metadata in the clear).
	EncryptedRegex string
	// MACOnlyEncrypted computes the MAC over encrypted values only, as
	// --mac-only-encrypted.
	MACOnlyEncrypted bool
	// DataKey is the 32-byte data key to use instead of a random one.
	DataKey []byte
	// WrappedKey, when set, is what the age stanzas hold instead of the
	// data key (for documents whose stanza was replaced).
	WrappedKey []byte
	// KeyGroups, when set, are key groups of age recipients, as
	// key_groups in .sops.yaml: the data key is split with Shamir's scheme,
	// one part per group, ShamirThreshold of them needed (every group when
	// zero). Recipients, if any, make one more group before them.
	KeyGroups [][]string
	// ShamirThreshold is the number of key groups needed (shamir_threshold).
	ShamirThreshold int
	// UnencryptedSuffix, EncryptedSuffix, UnencryptedRegex,
	// EncryptedCommentRegex and UnencryptedCommentRegex are the other rules
	// of sops --encrypt (at most one rule per document).
	UnencryptedSuffix, EncryptedSuffix, UnencryptedRegex string
	EncryptedCommentRegex, UnencryptedCommentRegex       string
}

// Encrypt encrypts the plaintext document plain, in format f.
func Encrypt(plain []byte, f sops.Format, opts Options) ([]byte, error) {
	store, err := storeFor(f)
	if err != nil {
		return nil, err
	}
	branches, err := store.LoadPlainFile(plain)
	if err != nil {
		return nil, fmt.Errorf("load plaintext: %w", err)
	}
	var groups []gosops.KeyGroup
	lists := opts.KeyGroups
	if len(opts.Recipients) > 0 || len(lists) == 0 {
		lists = append([][]string{opts.Recipients}, lists...)
	}
	for _, list := range lists {
		var group gosops.KeyGroup
		for _, r := range list {
			mk, err := sopsage.MasterKeyFromRecipient(r)
			if err != nil {
				return nil, err
			}
			group = append(group, keys.MasterKey(mk))
		}
		groups = append(groups, group)
	}
	if opts.UnencryptedSuffix == "" && opts.EncryptedSuffix == "" && opts.UnencryptedRegex == "" && opts.EncryptedRegex == "" &&
		opts.EncryptedCommentRegex == "" && opts.UnencryptedCommentRegex == "" {
		opts.UnencryptedSuffix = gosops.DefaultUnencryptedSuffix
	}
	tree := gosops.Tree{
		Branches: branches,
		Metadata: gosops.Metadata{
			KeyGroups:               groups,
			ShamirThreshold:         opts.ShamirThreshold,
			EncryptedRegex:          opts.EncryptedRegex,
			MACOnlyEncrypted:        opts.MACOnlyEncrypted,
			UnencryptedSuffix:       opts.UnencryptedSuffix,
			EncryptedSuffix:         opts.EncryptedSuffix,
			UnencryptedRegex:        opts.UnencryptedRegex,
			EncryptedCommentRegex:   opts.EncryptedCommentRegex,
			UnencryptedCommentRegex: opts.UnencryptedCommentRegex,
			Version:                 version.Version,
		},
	}
	svcs := []keyservice.KeyServiceClient{keyservice.NewLocalClient()}
	dataKey, errs := tree.GenerateDataKeyWithKeyServices(svcs)
	if len(errs) > 0 {
		return nil, fmt.Errorf("encrypt the data key: %v", errs)
	}
	if opts.DataKey != nil || opts.WrappedKey != nil {
		if opts.DataKey != nil {
			dataKey = opts.DataKey
		}
		wrapped := dataKey
		if opts.WrappedKey != nil {
			wrapped = opts.WrappedKey
		}
		if errs := tree.Metadata.UpdateMasterKeysWithKeyServices(wrapped, svcs); len(errs) > 0 {
			return nil, fmt.Errorf("encrypt the data key: %v", errs)
		}
	}
	cipher := aes.NewCipher()
	mac, err := tree.Encrypt(dataKey, cipher)
	if err != nil {
		return nil, fmt.Errorf("encrypt: %w", err)
	}
	tree.Metadata.LastModified = time.Now().UTC()
	tree.Metadata.MessageAuthenticationCode, err = cipher.Encrypt(mac, dataKey, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil {
		return nil, fmt.Errorf("encrypt the MAC: %w", err)
	}
	return store.EmitEncryptedFile(tree)
}

// MustEncrypt is Encrypt for tests: it panics on error.
func MustEncrypt(plain []byte, f sops.Format, opts Options) []byte {
	out, err := Encrypt(plain, f, opts)
	if err != nil {
		panic(err)
	}
	return out
}

// SecretsOnly is the EncryptedRegex that keeps a Kubernetes manifest
// readable by kustomize and encrypts the values of a Secret.
const SecretsOnly = "^(data|stringData)$"

func storeFor(f sops.Format) (gosops.Store, error) {
	switch f {
	case sops.FormatYAML:
		return yaml.NewStore(&config.YAMLStoreConfig{}), nil
	case sops.FormatJSON:
		return json.NewStore(&config.JSONStoreConfig{}), nil
	case sops.FormatBinary:
		return json.NewBinaryStore(&config.JSONBinaryStoreConfig{}), nil
	case sops.FormatDotenv:
		return dotenv.NewStore(&config.DotenvStoreConfig{}), nil
	case sops.FormatINI:
		return ini.NewStore(&config.INIStoreConfig{}), nil
	}
	return nil, fmt.Errorf("unknown format %v", f)
}

// DataKey opens the data key of the SOPS document data (format f) with id,
// so tests can tell whether it changed.
func DataKey(data []byte, f sops.Format, id age.Identity) ([]byte, error) {
	store, err := storeFor(f)
	if err != nil {
		return nil, err
	}
	tree, err := store.LoadEncryptedFile(data)
	if err != nil {
		return nil, err
	}
	svc := keyservice.NewCustomLocalClient(ageOpener{id})
	return tree.Metadata.GetDataKeyWithKeyServices([]keyservice.KeyServiceClient{svc}, nil)
}

// ageOpener is a key service that opens age stanzas with one identity.
type ageOpener struct{ id age.Identity }

func (o ageOpener) Decrypt(_ context.Context, req *keyservice.DecryptRequest) (*keyservice.DecryptResponse, error) {
	r, err := age.Decrypt(armor.NewReader(bytes.NewReader(req.GetCiphertext())), o.id)
	if err != nil {
		return nil, err
	}
	key, err := io.ReadAll(r)
	if err != nil {
		return nil, err
	}
	return &keyservice.DecryptResponse{Plaintext: key}, nil
}

func (ageOpener) Encrypt(context.Context, *keyservice.EncryptRequest) (*keyservice.EncryptResponse, error) {
	return nil, fmt.Errorf("sopstest: ageOpener does not encrypt")
}

// LibraryDecrypt decrypts the SOPS document data (format in) with the sops
// library and id, checks its MAC, and writes it in format out: the
// reference kseal's own decryptor is compared with.
func LibraryDecrypt(data []byte, in, out sops.Format, id age.Identity) ([]byte, error) {
	inStore, err := storeFor(in)
	if err != nil {
		return nil, err
	}
	outStore, err := storeFor(out)
	if err != nil {
		return nil, err
	}
	tree, err := inStore.LoadEncryptedFile(data)
	if err != nil {
		return nil, err
	}
	svc := keyservice.NewCustomLocalClient(ageOpener{id})
	key, err := tree.Metadata.GetDataKeyWithKeyServices([]keyservice.KeyServiceClient{svc}, nil)
	if err != nil {
		return nil, err
	}
	cipher := aes.NewCipher()
	computed, err := tree.Decrypt(key, cipher)
	if err != nil {
		return nil, err
	}
	stored, err := cipher.Decrypt(tree.Metadata.MessageAuthenticationCode, key, tree.Metadata.LastModified.Format(time.RFC3339))
	if err != nil {
		return nil, err
	}
	if s, ok := stored.(string); !ok || s != computed {
		return nil, fmt.Errorf("MAC mismatch")
	}
	return outStore.EmitPlainFile(tree.Branches)
}
