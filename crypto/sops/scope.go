package sops

import (
	"errors"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
)

// ScopeKey is the reserved top-level key that binds a SOPS document to
// where it may be used, as kseal.dev/scope and the scope label bind a
// SealedSecret. A Secret's data keys match [-._a-zA-Z0-9]+, so a key with a
// '/' never collides with one. Its value is one of:
//
//	"NAMESPACE/NAME"  only the object NAME in NAMESPACE (strict)
//	"NAMESPACE/*"     any object in NAMESPACE (namespace-wide)
//	"*"               any namespace (cluster-wide)
//
// The value must be covered by the document's MAC: with mac_only_encrypted
// it must be encrypted too.
const ScopeKey = "kseal.dev/scope"

// ErrScope: the document does not carry a valid ScopeKey covered by its
// MAC, or it names another place than the one it is used in.
var ErrScope = errors.New("scope")

// ScopeError explains why a document may not be used where it is. It
// matches ErrScope. Its message never contains a decrypted value other than
// a well-formed scope.
type ScopeError struct {
	// Namespace and Name are where the document is used.
	Namespace, Name string
	// Found is the document's scope when it is well-formed, or "".
	Found string
	// Problem is what is wrong, for the message.
	Problem string
}

func (e *ScopeError) Error() string { return "scope: " + e.Problem }

// Is makes errors.Is(err, ErrScope) true.
func (e *ScopeError) Is(target error) bool { return target == ErrScope }

func missingScope(namespace, name string) *ScopeError {
	return &ScopeError{Namespace: namespace, Name: name, Problem: fmt.Sprintf(
		"the document does not say where it may be used: add the top-level key %s with the value %q (only here), %q (any object in the namespace) or \"*\" (any namespace), "+
			"for example `sops set FILE '[\"%s\"]' '\"%s/%s\"'`, and apply it again",
		ScopeKey, namespace+"/"+name, namespace+"/*", ScopeKey, namespace, name)}
}

// CheckScope checks a document's ScopeKey value against the place it is
// used: namespace and name. Callers must have checked that the value is
// covered by the document's MAC (the Decryptor's DecryptBound does both).
func CheckScope(value, namespace, name string) error {
	ns, obj, ok := parseScope(value)
	if !ok {
		return &ScopeError{Namespace: namespace, Name: name, Problem: fmt.Sprintf(
			"%s is not a valid scope: expected \"NAMESPACE/NAME\", \"NAMESPACE/*\" or \"*\" (for this object: %q)", ScopeKey, namespace+"/"+name)}
	}
	if (ns == "*" || ns == namespace) && (obj == "*" || obj == name) {
		return nil
	}
	return &ScopeError{Namespace: namespace, Name: name, Found: value, Problem: fmt.Sprintf(
		"the document is bound to %s (%s %q), but it is used as %s/%s: encrypt a document for this namespace and name",
		describeScope(ns, obj), ScopeKey, value, namespace, name)}
}

// parseScope splits a well-formed scope into namespace and name ("*" for
// any).
func parseScope(v string) (ns, name string, ok bool) {
	if v == "*" {
		return "*", "*", true
	}
	ns, name, found := strings.Cut(v, "/")
	if !found || len(validation.IsDNS1123Label(ns)) > 0 {
		return "", "", false
	}
	if name != "*" && len(validation.IsDNS1123Subdomain(name)) > 0 {
		return "", "", false
	}
	return ns, name, true
}

func describeScope(ns, name string) string {
	switch {
	case ns == "*":
		return "any namespace"
	case name == "*":
		return fmt.Sprintf("namespace %q", ns)
	}
	return fmt.Sprintf("namespace %q and name %q", ns, name)
}

// scopeEntry finds the ScopeKey item of a loaded, still encrypted document
// and returns its index and value as stored (ciphertext when encrypted),
// or -1.
func scopeEntry(docs []branch) (int, any, error) {
	if len(docs) != 1 {
		return -1, nil, fmt.Errorf("%w: a bound document holds exactly one document, not %d", ErrMalformed, len(docs))
	}
	for i, it := range docs[0] {
		if k, ok := it.key.(string); ok && k == ScopeKey {
			return i, it.value, nil
		}
	}
	return -1, nil, nil
}

// checkBinding checks the decrypted document's ScopeKey against where it
// is used and removes it from the document. stored is its value before
// decryption; the value is MAC-covered unless the MAC covers only
// encrypted values and this one was not encrypted.
func checkBinding(docs []branch, md *metadata, idx int, stored any, at *Target) error {
	if idx < 0 {
		return missingScope(at.Namespace, at.Name)
	}
	value, isString := docs[0][idx].value.(string)
	if !isString {
		return &ScopeError{Namespace: at.Namespace, Name: at.Name, Problem: ScopeKey + " must be a string"}
	}
	if md.macOnlyEncrypted {
		if s, ok := stored.(string); ok && s == value {
			return &ScopeError{Namespace: at.Namespace, Name: at.Name, Problem: fmt.Sprintf(
				"%s is not covered by the document's MAC (mac_only_encrypted is set and the key is not encrypted): encrypt it too, or encrypt without mac_only_encrypted", ScopeKey)}
		}
	}
	if err := CheckScope(value, at.Namespace, at.Name); err != nil {
		return err
	}
	b := docs[0]
	docs[0] = append(b[:idx:idx], b[idx+1:]...)
	return nil
}

// Target is where a bound document is used: the namespace and name of the
// object that holds it.
type Target struct {
	Namespace, Name string
}

// DecryptBound decrypts a document that must be bound to target by its
// ScopeKey (see there), and returns it in format f without SOPS metadata and
// without the ScopeKey. Nothing is returned unless the binding holds; a
// Decryptor with SkipMACCheck refuses, as it cannot tell that the binding
// is the author's.
func (d *Decryptor) DecryptBound(name string, data []byte, f Format, target Target) ([]byte, error) {
	if d.opts.SkipMACCheck {
		return nil, &Error{Name: name, Err: &ScopeError{Namespace: target.Namespace, Name: target.Name,
			Problem: "a bound document needs the MAC check, and it is turned off"}}
	}
	return d.decrypt(name, data, f, f, true, &target)
}
