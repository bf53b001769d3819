package controllers

import (
	"context"
	"errors"
	"fmt"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/password"
)

// +kubebuilder:rbac:groups=kseal.dev,resources=passwords,verbs=get

// Generator API versions a generatorRef may name. ESO's group names the
// kseal kind of the same name, so an ESO manifest moves unchanged.
const (
	esoGeneratorAPIVersion = "generators.external-secrets.io/v1alpha1"
	passwordKind           = "Password"
)

var (
	// errGeneratorNotFound marks a generatorRef to a generator that does
	// not exist in the ExternalSecret's namespace.
	errGeneratorNotFound = errors.New("generator not found")
	// errBadGenerator marks a generatorRef or generator spec kseal cannot
	// run.
	errBadGenerator = errors.New("invalid generator")
)

// generateFunc runs the generator ref names, in the ExternalSecret's
// namespace, and returns its keys and values.
type generateFunc func(ctx context.Context, ref *v1alpha1.GeneratorRef) (map[string][]byte, error)

// checkGeneratorRef refuses a generatorRef kseal cannot run, before any
// value is fetched: only Password, of kseal's or ESO's generator group.
func checkGeneratorRef(ref *v1alpha1.GeneratorRef) error {
	switch ref.APIVersion {
	case "", v1alpha1.GroupVersion.String(), esoGeneratorAPIVersion:
	default:
		return fmt.Errorf("%w: generatorRef apiVersion %q: use %s (or %s)", errBadGenerator, ref.APIVersion, v1alpha1.GroupVersion, esoGeneratorAPIVersion)
	}
	switch ref.Kind {
	case passwordKind:
	case "ClusterGenerator":
		return fmt.Errorf("%w: generatorRef kind ClusterGenerator is not supported by kseal: create a Password in the ExternalSecret's namespace and name it", errBadGenerator)
	default:
		return fmt.Errorf("%w: generatorRef kind %q is not supported by kseal: the only generator is Password", errBadGenerator, ref.Kind)
	}
	if ref.Name == "" {
		return fmt.Errorf("%w: generatorRef needs a name", errBadGenerator)
	}
	return nil
}

// generatorFor returns the generateFunc of one ExternalSecret: it reads
// generators from the ExternalSecret's own namespace only, uncached (they
// are read once per sync, and a watch of every Password would cost memory
// for nothing).
func (r *externalSecretReconciler) generatorFor(es *v1alpha1.ExternalSecret) generateFunc {
	reader := r.reader
	if reader == nil {
		reader = r.Client
	}
	return func(ctx context.Context, ref *v1alpha1.GeneratorRef) (map[string][]byte, error) {
		if err := checkGeneratorRef(ref); err != nil {
			return nil, err
		}
		pw := &v1alpha1.Password{}
		err := reader.Get(ctx, client.ObjectKey{Namespace: es.Namespace, Name: ref.Name}, pw)
		if apierrors.IsNotFound(err) {
			return nil, fmt.Errorf("%w: Password %s/%s does not exist: create it, or fix generatorRef.name", errGeneratorNotFound, es.Namespace, ref.Name)
		}
		if err != nil {
			return nil, fmt.Errorf("read Password %s/%s: %w", es.Namespace, ref.Name, err)
		}
		out, err := password.Generate(passwordOptions(pw.Spec))
		if err != nil {
			if errors.Is(err, password.ErrInvalid) {
				return nil, fmt.Errorf("%w: Password %s/%s: %w", errBadGenerator, es.Namespace, ref.Name, err)
			}
			return nil, fmt.Errorf("Password %s/%s: %w", es.Namespace, ref.Name, err)
		}
		return out, nil
	}
}

func passwordOptions(s v1alpha1.PasswordSpec) password.Options {
	o := password.Options{
		Length: s.Length, Digits: s.Digits, Symbols: s.Symbols, SymbolCharacters: s.SymbolCharacters,
		NoUpper: s.NoUpper, AllowRepeat: s.AllowRepeat, Keys: s.SecretKeys,
	}
	if s.Encoding != nil {
		o.Encoding = *s.Encoding
	}
	return o
}

// generatorRefOf returns the generatorRef of a dataFrom entry, or nil.
func generatorRefOf(df v1alpha1.ExternalSecretDataFromRemoteRef) *v1alpha1.GeneratorRef {
	if df.SourceRef == nil {
		return nil
	}
	return df.SourceRef.GeneratorRef
}

// checkGenerators refuses generator references kseal cannot run: one in
// data (External Secrets Operator does not implement it there either), an
// entry that also names a store, extract or find, and any kind but
// Password. The schema refuses most of these too; this check covers objects
// that reached the controller without it.
func checkGenerators(es *v1alpha1.ExternalSecret) error {
	for _, d := range es.Spec.Data {
		if d.SourceRef != nil && d.SourceRef.GeneratorRef != nil {
			return fmt.Errorf("%w: data %s: generatorRef is not allowed in data[].sourceRef: move it to dataFrom[].sourceRef.generatorRef", errBadGenerator, d.SecretKey)
		}
	}
	for i, df := range es.Spec.DataFrom {
		ref := generatorRefOf(df)
		if ref == nil {
			continue
		}
		if df.Extract != nil || df.Find != nil || df.SourceRef.StoreRef != nil {
			return fmt.Errorf("%w: dataFrom[%d]: an entry with sourceRef.generatorRef takes no extract, find or storeRef: put them in an entry of their own", errBadGenerator, i)
		}
		if err := checkGeneratorRef(ref); err != nil {
			return fmt.Errorf("dataFrom[%d]: %w", i, err)
		}
	}
	return nil
}
