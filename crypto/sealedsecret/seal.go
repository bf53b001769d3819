package sealedsecret

import (
	"encoding/base64"
	"errors"
	"fmt"
	"maps"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/scope"
	"github.com/kseal-dev/kseal/crypto/sealing"
)

// lastAppliedAnnotation is stripped: it would carry the plaintext Secret.
const lastAppliedAnnotation = "kubectl.kubernetes.io/last-applied-configuration"

// Errors of Seal, matched with errors.Is by the CLI to add hints.
var (
	// ErrEmptyData: the Secret has no data and AllowEmptyData is false.
	ErrEmptyData = errors.New("the Secret has no data or stringData")
	// ErrNoNamespace: the scope needs a namespace and none was given.
	ErrNoNamespace = errors.New("the scope needs a namespace, and the Secret has none")
	// ErrNoName: strict scope needs a name and none was given.
	ErrNoName = errors.New("strict scope needs a name, and the Secret has none")
)

// SealOptions tunes Seal.
type SealOptions struct {
	// Scope overrides the scope read from the Secret's annotations.
	Scope *scope.Scope
	// Version is the format of every sealed item; V2 when zero.
	Version sealing.Version
	// AllowEmptyData seals a Secret without items.
	AllowEmptyData bool
}

// Seal seals every item of secret (data and stringData; stringData wins) with
// pk. The result is a kseal.dev SealedSecret for V2 and a bitnami.com one for
// V1, carrying the Secret's labels, annotations, type and immutability in its
// template, and the scope in annotations. The input is not modified.
func Seal(secret *corev1.Secret, pk *sealing.PublicKey, opts SealOptions) (*v1alpha1.SealedSecret, error) {
	version := opts.Version
	if version == 0 {
		version = sealing.V2
	}
	if version != sealing.V1 && version != sealing.V2 {
		return nil, fmt.Errorf("unknown format version %d", version)
	}
	var sc scope.Scope
	if opts.Scope != nil {
		sc = *opts.Scope
	} else {
		var err error
		if sc, err = scope.FromAnnotations(secret.Annotations); err != nil {
			return nil, err
		}
	}
	if sc != scope.ClusterWide && secret.Namespace == "" {
		return nil, ErrNoNamespace
	}
	if sc == scope.Strict && secret.Name == "" {
		return nil, ErrNoName
	}
	items := make(map[string][]byte, len(secret.Data)+len(secret.StringData))
	maps.Copy(items, secret.Data)
	for k, v := range secret.StringData {
		items[k] = []byte(v)
	}
	if len(items) == 0 && !opts.AllowEmptyData {
		return nil, ErrEmptyData
	}
	encrypted, err := SealItems(items, pk, version, sc.Label(secret.Namespace, secret.Name))
	if err != nil {
		return nil, err
	}

	bitnami := version == sealing.V1
	annotations := maps.Clone(secret.Annotations)
	if annotations == nil {
		annotations = map[string]string{}
	}
	delete(annotations, lastAppliedAnnotation)
	scope.ClearAnnotations(annotations)
	maps.Copy(annotations, scope.Annotations(sc, bitnami))

	ss := &v1alpha1.SealedSecret{
		TypeMeta: metav1.TypeMeta{APIVersion: APIVersion, Kind: v1alpha1.SealedSecretKind},
		ObjectMeta: metav1.ObjectMeta{
			Name:        secret.Name,
			Namespace:   secret.Namespace,
			Annotations: nilIfEmpty(scope.Annotations(sc, bitnami)),
		},
		Spec: v1alpha1.SealedSecretSpec{
			EncryptedData: encrypted,
			Template: v1alpha1.SecretTemplateSpec{
				Metadata: metav1.ObjectMeta{
					Name:        secret.Name,
					Namespace:   secret.Namespace,
					Labels:      maps.Clone(secret.Labels),
					Annotations: nilIfEmpty(annotations),
				},
				Type:      secret.Type,
				Immutable: cloneBool(secret.Immutable),
			},
		},
	}
	if bitnami {
		ss.APIVersion = BitnamiAPIVersion
	}
	return ss, nil
}

// SealItems seals each value under label and returns the base64 (std)
// ciphertexts by item name. Errors name the item, never its value.
func SealItems(items map[string][]byte, pk *sealing.PublicKey, version sealing.Version, label []byte) (map[string]string, error) {
	out := make(map[string]string, len(items))
	for k, v := range items {
		ct, err := pk.Seal(version, label, v)
		if err != nil {
			return nil, fmt.Errorf("item %q: %w", k, err)
		}
		out[k] = base64.StdEncoding.EncodeToString(ct)
	}
	return out, nil
}

func cloneBool(b *bool) *bool {
	if b == nil {
		return nil
	}
	v := *b
	return &v
}

func nilIfEmpty(m map[string]string) map[string]string {
	if len(m) == 0 {
		return nil
	}
	return m
}
