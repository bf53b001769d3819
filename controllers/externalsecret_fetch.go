package controllers

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/template"
	"github.com/kseal-dev/kseal/providers"
)

// maxParallelFetches bounds concurrent provider calls of one ExternalSecret.
const maxParallelFetches = 16

// providerFor returns the provider of a store reference; nil means
// spec.secretStoreRef.
type providerFor func(ctx context.Context, ref *v1alpha1.SecretStoreRef) (providers.Provider, error)

// fetchAll fetches every value of es. Single values are fetched in parallel,
// so a provider that batches (AWS) sends them together. As in External
// Secrets Operator, dataFrom entries apply in order and a data entry wins
// over any of them on the same key; each entry may name its own store
// (sourceRef.storeRef). allGone reports that every reference failed with
// not-found (for deletionPolicy Delete).
func fetchAll(ctx context.Context, es *v1alpha1.ExternalSecret, pf providerFor) (map[string][]byte, bool, error) {
	return fetchAllWith(ctx, es, pf, nil)
}

// fetchAllWith is fetchAll with generators: gen runs the generator of a
// dataFrom entry with sourceRef.generatorRef (such entries fail when gen is
// nil).
func fetchAllWith(ctx context.Context, es *v1alpha1.ExternalSecret, pf providerFor, gen generateFunc) (map[string][]byte, bool, error) {
	data, single := map[string][]byte{}, map[string][]byte{}
	var mu sync.Mutex
	var errs []error
	notFound := 0
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxParallelFetches)
	for _, d := range es.Spec.Data {
		var storeRef *v1alpha1.SecretStoreRef
		if d.SourceRef != nil {
			storeRef = d.SourceRef.StoreRef
		}
		p, err := pf(ctx, storeRef)
		if err != nil {
			return nil, false, err
		}
		wg.Add(1)
		sem <- struct{}{}
		go func(d v1alpha1.ExternalSecretData) {
			defer wg.Done()
			defer func() { <-sem }()
			ref := providerRef(d.RemoteRef)
			v, err := p.GetSecret(ctx, ref)
			if err == nil {
				if v, err = decodeValue(d.RemoteRef.DecodingStrategy, v); err == nil {
					err = checkNullBytes(d.RemoteRef.NullBytePolicy, v)
				}
				if err != nil {
					err = fmt.Errorf("%w: %w", errBadValue, err)
				}
			}
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				if errors.Is(err, providers.ErrNotFound) {
					notFound++
				}
				errs = append(errs, fmt.Errorf("data %s (%s): %w", d.SecretKey, ref, err))
				return
			}
			single[d.SecretKey] = v
		}(d)
	}
	wg.Wait()
	refs := len(es.Spec.Data)
	session := template.DefaultLimits.Session()
	for i, df := range es.Spec.DataFrom {
		if ref := generatorRefOf(df); ref != nil {
			refs++
			found, err := generateDataFrom(ctx, session, df, ref, gen)
			if err != nil {
				errs = append(errs, fmt.Errorf("dataFrom[%d].sourceRef.generatorRef: %w", i, err))
				continue
			}
			maps.Copy(data, found)
			continue
		}
		if df.Extract == nil && df.Find == nil {
			continue
		}
		refs++
		found, gone, err := fetchDataFrom(ctx, session, df, pf)
		if gone {
			notFound++
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("dataFrom[%d].%s: %w", i, dataFromKind(df), err))
			continue
		}
		maps.Copy(data, found)
	}
	if len(errs) > 0 {
		return nil, refs > 0 && notFound == refs, errors.Join(errs...)
	}
	maps.Copy(data, single)
	return data, false, nil
}

// errBadValue marks a fetched value that its decoding strategy or null
// byte policy refuses.
var errBadValue = errors.New("invalid value")

func dataFromKind(df v1alpha1.ExternalSecretDataFromRemoteRef) string {
	if df.Extract != nil {
		return "extract"
	}
	return "find"
}

// fetchDataFrom fetches one dataFrom entry and turns it into Secret keys
// and values. gone reports that nothing was found.
func fetchDataFrom(ctx context.Context, session *template.Session, df v1alpha1.ExternalSecretDataFromRemoteRef, pf providerFor) (map[string][]byte, bool, error) {
	var storeRef *v1alpha1.SecretStoreRef
	if df.SourceRef != nil {
		storeRef = df.SourceRef.StoreRef
	}
	p, err := pf(ctx, storeRef)
	if err != nil {
		return nil, false, err
	}
	var found map[string][]byte
	var conv v1alpha1.ConversionStrategy
	var decoding v1alpha1.DecodingStrategy
	var nul v1alpha1.NullBytePolicy
	if df.Extract != nil {
		conv, decoding, nul = df.Extract.ConversionStrategy, df.Extract.DecodingStrategy, df.Extract.NullBytePolicy
		ref := providerRef(*df.Extract)
		v, err := p.GetSecret(ctx, ref)
		if err == nil {
			found, err = providers.ExtractAll(v)
		}
		if err != nil {
			return nil, errors.Is(err, providers.ErrNotFound), fmt.Errorf("(%s): %w", ref, err)
		}
	} else {
		conv, decoding, nul = df.Find.ConversionStrategy, df.Find.DecodingStrategy, df.Find.NullBytePolicy
		finder, ok := p.(providers.Finder)
		if !ok {
			return nil, false, providers.ErrUnsupported
		}
		q := providers.Query{Path: df.Find.Path, Tags: df.Find.Tags}
		if df.Find.Name != nil && df.Find.Name.RegExp != "" {
			re, err := regexp.Compile(df.Find.Name.RegExp)
			if err != nil {
				return nil, false, fmt.Errorf("%w: name.regexp does not compile: %v", errBadRewrite, err)
			}
			q.NameRegexp = re
		}
		if found, err = finder.Find(ctx, q); err != nil {
			return nil, false, err
		}
		if len(found) == 0 {
			return nil, true, nil
		}
	}
	keyed, err := dataFromKeys(session, df, conv, found)
	if err != nil {
		return nil, false, err
	}
	out, err := decodeAll(decoding, nul, keyed)
	if err != nil {
		return nil, false, fmt.Errorf("%w: %w", errBadValue, err)
	}
	return out, false, nil
}

func labelsOf(ns *corev1.Namespace) labels.Set { return labels.Set(ns.Labels) }

// generateDataFrom runs the generator of one dataFrom entry and renames its
// keys with the entry's rewrites, as External Secrets Operator does.
func generateDataFrom(ctx context.Context, session *template.Session, df v1alpha1.ExternalSecretDataFromRemoteRef, ref *v1alpha1.GeneratorRef, gen generateFunc) (map[string][]byte, error) {
	if gen == nil {
		return nil, fmt.Errorf("%w: generators are not available here", errBadGenerator)
	}
	found, err := gen(ctx, ref)
	if err != nil {
		return nil, err
	}
	return dataFromKeys(session, df, v1alpha1.ConversionDefault, found)
}

// providerRef is the provider's reference of a remoteRef.
func providerRef(r v1alpha1.ExternalSecretDataRemoteRef) providers.Ref {
	return providers.Ref{Key: r.Key, Property: r.Property, Version: r.Version, Metadata: r.MetadataPolicy == v1alpha1.MetadataPolicyFetch}
}
