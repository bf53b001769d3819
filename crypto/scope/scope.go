// Package scope defines the sealing scopes of kseal and the labels that bind
// a sealed value to where it may be unsealed. The CLI and the controller both
// use it, so a value sealed by one is expected by the other.
//
// Use FromAnnotations to read an object's scope, then Scope.Label to get the
// label a value is sealed under.
package scope

import (
	"fmt"
	"strings"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// Scope says where a sealed value may be unsealed.
type Scope int

const (
	// Strict binds a value to one namespace and one name (the default).
	Strict Scope = iota
	// NamespaceWide binds a value to one namespace; the SealedSecret may be
	// renamed within it.
	NamespaceWide
	// ClusterWide does not bind a value to a namespace or name.
	ClusterWide
)

// Names are the spellings accepted by Parse, in Scope order.
var Names = []string{"strict", "namespace-wide", "cluster-wide"}

// String returns the name used in flags and in the kseal.dev/scope annotation.
func (s Scope) String() string {
	if s < Strict || s > ClusterWide {
		return fmt.Sprintf("Scope(%d)", int(s))
	}
	return Names[s]
}

// Parse reads a scope name: "strict", "namespace-wide" or "cluster-wide".
func Parse(name string) (Scope, error) {
	for i, n := range Names {
		if name == n {
			return Scope(i), nil
		}
	}
	return Strict, fmt.Errorf("unknown scope %q: must be one of %s", name, strings.Join(Names, ", "))
}

// FromAnnotations reads the scope of an object from its annotations:
// kseal.dev/scope first, then sealed-secrets' "sealedsecrets.bitnami.com/
// cluster-wide" and ".../namespace-wide" set to "true". No annotation means
// Strict. An unknown kseal.dev/scope value is an error rather than a silent
// fallback, so a typo cannot weaken the binding.
func FromAnnotations(annotations map[string]string) (Scope, error) {
	if v, ok := annotations[v1alpha1.AnnotationScope]; ok {
		s, err := Parse(v)
		if err != nil {
			return Strict, fmt.Errorf("annotation %s: %w", v1alpha1.AnnotationScope, err)
		}
		return s, nil
	}
	if annotations[v1alpha1.AnnotationBitnamiClusterWide] == "true" {
		return ClusterWide, nil
	}
	if annotations[v1alpha1.AnnotationBitnamiNamespaceWide] == "true" {
		return NamespaceWide, nil
	}
	return Strict, nil
}

// Label returns the label a value of this scope is sealed under: strict
// "namespace/name", namespace-wide "namespace", cluster-wide empty. These are
// the RSA-OAEP labels of the sealed-secrets format and the bound prefix of the
// kseal v2 format.
func (s Scope) Label(namespace, name string) []byte {
	switch s {
	case NamespaceWide:
		return []byte(namespace)
	case ClusterWide:
		return nil
	default:
		return []byte(namespace + "/" + name)
	}
}

// Describe tells a user what a label binds, for error messages: for example
// `namespace "prod" and name "db"`. A label that is not a plausible scope
// label is not echoed.
func Describe(label []byte) string {
	if len(label) == 0 {
		return "cluster-wide scope"
	}
	if !plausibleLabel(label) {
		return "an invalid scope label"
	}
	ns, name, found := strings.Cut(string(label), "/")
	if !found {
		return fmt.Sprintf("namespace-wide scope in namespace %q", ns)
	}
	return fmt.Sprintf("strict scope for namespace %q and name %q", ns, name)
}

// plausibleLabel reports whether label looks like "ns", or "ns/name" made of
// the characters Kubernetes allows in names.
func plausibleLabel(label []byte) bool {
	if len(label) > 63+1+253 {
		return false
	}
	slashes := 0
	for _, c := range label {
		switch {
		case c == '/':
			slashes++
		case c >= 'a' && c <= 'z', c >= '0' && c <= '9', c == '-', c == '.':
		default:
			return false
		}
	}
	return slashes <= 1
}

// Annotations returns the annotations that record scope s on a sealed
// object: kseal.dev/scope, plus sealed-secrets' annotation when bitnami is
// true so that a Bitnami controller applies the same scope. Strict needs none.
func Annotations(s Scope, bitnami bool) map[string]string {
	out := map[string]string{}
	switch s {
	case NamespaceWide:
		out[v1alpha1.AnnotationScope] = s.String()
		if bitnami {
			out[v1alpha1.AnnotationBitnamiNamespaceWide] = "true"
		}
	case ClusterWide:
		out[v1alpha1.AnnotationScope] = s.String()
		if bitnami {
			out[v1alpha1.AnnotationBitnamiClusterWide] = "true"
		}
	}
	return out
}

// ClearAnnotations removes every scope annotation from m.
func ClearAnnotations(m map[string]string) {
	delete(m, v1alpha1.AnnotationScope)
	delete(m, v1alpha1.AnnotationBitnamiNamespaceWide)
	delete(m, v1alpha1.AnnotationBitnamiClusterWide)
}
