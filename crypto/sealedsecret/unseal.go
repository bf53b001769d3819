package sealedsecret

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/sealing"
	"github.com/kseal-dev/kseal/crypto/template"
)

// UnsealOptions tunes Unseal.
type UnsealOptions struct {
	// PreferKey names the key that opened this object last; v1 items try it
	// first.
	PreferKey string
}

// Result is an unsealed SealedSecret.
type Result struct {
	// Secret is the Secret described by the SealedSecret, without owner
	// references.
	Secret *corev1.Secret
	// KeyName is the name of the key that opened the items (the last one, if
	// several keys were involved).
	KeyName string
}

// Unseal opens every item of ss with kr and renders the Secret its template
// describes. On failure it returns an *Error listing each failed item, and
// no Secret. No error contains plaintext.
func Unseal(ss *v1alpha1.SealedSecret, kr *sealing.Keyring, opts UnsealOptions) (*Result, error) {
	opened, err := OpenItems(context.Background(), ss, kr, OpenOptions{PreferKey: opts.PreferKey})
	if err != nil {
		return nil, err
	}
	keyName, data := opened.KeyName, opened.Data
	if err := renderTemplateData(ss.Spec.Template.Data, data); err != nil {
		wipe(data)
		return nil, &Error{Namespace: ss.Namespace, Name: ss.Name, Items: []*ItemError{err}}
	}

	meta := ss.Spec.Template.Metadata
	secret := &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        ss.Name,
			Namespace:   ss.Namespace,
			Labels:      maps.Clone(meta.Labels),
			Annotations: maps.Clone(meta.Annotations),
			Finalizers:  slices.Clone(meta.Finalizers),
		},
		Type:      ss.Spec.Template.Type,
		Immutable: cloneBool(ss.Spec.Template.Immutable),
		Data:      data,
	}
	if secret.Type == "" {
		secret.Type = corev1.SecretTypeOpaque
	}
	return &Result{Secret: secret, KeyName: keyName}, nil
}

// classify makes every open failure match one of the causes ItemError
// promises: an oversized value (a sealing.SizeError) counts as corrupt.
func classify(err error) error {
	if errors.Is(err, sealing.ErrUnknownKey) || errors.Is(err, sealing.ErrScopeMismatch) || errors.Is(err, sealing.ErrCorrupt) {
		return err
	}
	return &sealing.CorruptError{Detail: err.Error()}
}

// renderTemplateData renders spec.template.data over the decrypted items; a
// failure is reported as the item of the template that failed.
func renderTemplateData(templates map[string]string, data map[string][]byte) *ItemError {
	err := template.Render(templates, data)
	if err == nil {
		return nil
	}
	te, ok := errors.AsType[*template.Error](err)
	if !ok {
		te = &template.Error{Detail: "rendering failed"}
	}
	return &ItemError{Item: te.Key, Err: &TemplateError{Limit: te.Limit, Detail: te.Detail}}
}

func wipe(data map[string][]byte) {
	for _, v := range data {
		clear(v)
	}
}

// ErrTemplate matches a TemplateError.
var ErrTemplate = template.ErrTemplate

// TemplateError says that spec.template.data could not be rendered. Its Key
// is empty: the ItemError holding it names the template.
type TemplateError = template.Error

// ItemError is the failure of one item.
type ItemError struct {
	// Item is the key in spec.encryptedData (or spec.template.data); empty
	// for a failure of the whole object.
	Item string
	// Err matches sealing.ErrUnknownKey, sealing.ErrScopeMismatch,
	// sealing.ErrCorrupt or ErrTemplate.
	Err error
}

func (e *ItemError) Error() string {
	if e.Item == "" {
		return e.Err.Error()
	}
	return fmt.Sprintf("item %q: %v", e.Item, e.Err)
}

func (e *ItemError) Unwrap() error { return e.Err }

// Error lists why a SealedSecret could not be unsealed, item by item.
type Error struct {
	// Namespace and Name identify the SealedSecret.
	Namespace, Name string
	// Items holds one entry per failed item, in item order.
	Items []*ItemError
}

func (e *Error) Error() string {
	// Items that failed for the same reason are listed together, so a
	// SealedSecret moved to another namespace gives one line, not one per item.
	var causes []string
	items := map[string][]string{}
	for _, it := range e.Items {
		cause := it.Err.Error()
		if _, seen := items[cause]; !seen {
			causes = append(causes, cause)
		}
		items[cause] = append(items[cause], it.Item)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "unseal %s/%s: ", e.Namespace, e.Name)
	for i, cause := range causes {
		if i > 0 {
			b.WriteString("; ")
		}
		switch names := items[cause]; {
		case len(names) == 1 && names[0] == "":
		case len(names) == 1:
			fmt.Fprintf(&b, "item %q: ", names[0])
		default:
			fmt.Fprintf(&b, "items %s: ", quoteAll(names))
		}
		b.WriteString(cause)
	}
	return b.String()
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// Unwrap returns the item errors, so errors.Is finds any cause.
func (e *Error) Unwrap() []error {
	out := make([]error, len(e.Items))
	for i, it := range e.Items {
		out[i] = it
	}
	return out
}

// Reason returns the v1alpha1 Ready reason for an unseal error: scope
// mismatch first (the most actionable), then unknown key, then corrupt data
// and template errors.
func Reason(err error) string {
	switch {
	case errors.Is(err, sealing.ErrScopeMismatch):
		return v1alpha1.ReasonScopeMismatch
	case errors.Is(err, sealing.ErrUnknownKey):
		return v1alpha1.ReasonUnknownKey
	case errors.Is(err, ErrTemplate):
		return v1alpha1.ReasonTemplateError
	default:
		return v1alpha1.ReasonCorruptData
	}
}
