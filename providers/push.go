package providers

import (
	"context"
	"errors"
	"fmt"
)

// PushRef locates a remote value a PushSecret writes.
type PushRef struct {
	// Key is the remote secret's name (AWS) or path (Vault).
	Key string
	// Property, when set, is the top-level field of the remote JSON object
	// that holds the value; the object's other fields are kept.
	Property string
	// Owner names the pusher ("<namespace>/<name>" of a PushSecret). A
	// remote secret is written and deleted only when its OwnerKey mark is
	// Owner, so a PushSecret in one namespace never takes over a secret
	// another one pushed.
	Owner string
	// ManagedBy is the managed-by mark the pusher writes and requires; ""
	// is kseal's (ManagedByValue). PushSecrets taken over from External
	// Secrets Operator use ESO's ("external-secrets"), so that ESO can take
	// its remote secrets back.
	ManagedBy string
	// Recorded says the pusher's own status lists this remote secret as
	// pushed by it. ESO's marks name no PushSecret: a remote secret with
	// the ManagedBy mark and no OwnerKey mark is the pusher's only when
	// Recorded.
	Recorded bool
}

// Mark is the managed-by mark of ref: ManagedBy, or kseal's.
func (r PushRef) Mark() string {
	if r.ManagedBy != "" {
		return r.ManagedBy
	}
	return ManagedByValue
}

// String renders the reference for messages (never a value).
func (r PushRef) String() string {
	if r.Property != "" {
		return r.Key + "#" + r.Property
	}
	return r.Key
}

// Pusher is implemented by providers that can write values. Writes are
// limited to remote secrets the provider marks as kseal's when it creates
// them (an AWS tag, Vault custom metadata): a remote secret without that
// mark is never changed or deleted.
type Pusher interface {
	// PushSecret writes value at ref, creating the remote secret (with
	// kseal's mark) when it does not exist. It makes no write when the
	// remote value is already value. A remote secret without kseal's mark
	// gives ErrNotOwned.
	PushSecret(ctx context.Context, ref PushRef, value []byte) error
	// SecretExists reports whether the remote secret (and, with a
	// Property, that field) exists, whoever owns it.
	SecretExists(ctx context.Context, ref PushRef) (bool, error)
	// DeleteSecret deletes the remote secret, or with a Property only that
	// field, when kseal owns it. A missing secret, or one kseal does not
	// own, is left alone and is not an error.
	DeleteSecret(ctx context.Context, ref PushRef) error
}

// ErrNotOwned is wrapped by a push to a remote secret kseal did not create.
var ErrNotOwned = errors.New("the remote secret exists and is not managed by this PushSecret")

// ManagedByKey=ManagedByValue and OwnerKey=<PushRef.Owner> mark remote
// secrets kseal created (AWS tags, Vault KV v2 custom_metadata entries). To
// hand an existing remote secret over to a PushSecret, set both on it.
const (
	ManagedByKey   = "managed-by"
	ManagedByValue = "kseal"
	OwnerKey       = "kseal.dev/push-secret"
)

// Owns reports whether marks (tags or custom metadata) make the remote
// secret ref.Owner's.
func (r PushRef) Owns(marks map[string]string) bool {
	if r.Owner == "" || marks[ManagedByKey] != r.Mark() {
		return false
	}
	return marks[OwnerKey] == r.Owner || r.ManagedBy != "" && r.Recorded && marks[OwnerKey] == ""
}

// NotOwned is the error of a push to a remote secret ref.Owner does not own.
func NotOwned(ref PushRef) error {
	return fmt.Errorf("%w (it lacks the marks %s=%s and %s=%s; kseal never overwrites a secret it did not create: delete it, or set those marks to hand it over)",
		ErrNotOwned, ManagedByKey, ref.Mark(), OwnerKey, ref.Owner)
}
