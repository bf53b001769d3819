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
	"github.com/kseal-dev/kseal/providers"
)

// maxParallelFetches bounds concurrent provider calls of one ExternalSecret.
const maxParallelFetches = 16

// fetchAll fetches every value of es. Single values are fetched in parallel,
// so a provider that batches (AWS) sends them together. As in External
// Secrets Operator, dataFrom entries apply in order and a data entry wins
// over any of them on the same key. allGone reports that
// every reference failed with not-found (for deletionPolicy Delete).
func fetchAll(ctx context.Context, es *v1alpha1.ExternalSecret, p providers.Provider) (map[string][]byte, bool, error) {
	data, single := map[string][]byte{}, map[string][]byte{}
	var mu sync.Mutex
	var errs []error
	notFound := 0
	var wg sync.WaitGroup
	sem := make(chan struct{}, maxParallelFetches)
	for _, d := range es.Spec.Data {
		wg.Add(1)
		sem <- struct{}{}
		go func(d v1alpha1.ExternalSecretData) {
			defer wg.Done()
			defer func() { <-sem }()
			ref := providers.Ref{Key: d.RemoteRef.Key, Property: d.RemoteRef.Property, Version: d.RemoteRef.Version}
			v, err := p.GetSecret(ctx, ref)
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
	for i, df := range es.Spec.DataFrom {
		switch {
		case df.Extract != nil:
			refs++
			ref := providers.Ref{Key: df.Extract.Key, Property: df.Extract.Property, Version: df.Extract.Version}
			v, err := p.GetSecret(ctx, ref)
			if err == nil {
				var fields map[string][]byte
				fields, err = providers.ExtractAll(v)
				for k, fv := range fields {
					data[k] = fv
				}
			}
			if err != nil {
				if errors.Is(err, providers.ErrNotFound) {
					notFound++
				}
				errs = append(errs, fmt.Errorf("dataFrom[%d].extract (%s): %w", i, ref, err))
			}
		case df.Find != nil:
			refs++
			finder, ok := p.(providers.Finder)
			if !ok {
				errs = append(errs, fmt.Errorf("dataFrom[%d].find: %w", i, providers.ErrUnsupported))
				continue
			}
			q := providers.Query{Path: df.Find.Path, Tags: df.Find.Tags}
			if df.Find.Name != nil && df.Find.Name.RegExp != "" {
				re, err := regexp.Compile(df.Find.Name.RegExp)
				if err != nil {
					errs = append(errs, fmt.Errorf("dataFrom[%d].find.name.regexp: %w", i, providers.ErrUnsupported))
					continue
				}
				q.NameRegexp = re
			}
			found, err := finder.Find(ctx, q)
			if err != nil {
				errs = append(errs, fmt.Errorf("dataFrom[%d].find: %w", i, err))
				continue
			}
			if len(found) == 0 {
				notFound++
			}
			for k, v := range found {
				data[secretKeyFor(k)] = v
			}
		}
	}
	if len(errs) > 0 {
		return nil, refs > 0 && notFound == refs, errors.Join(errs...)
	}
	maps.Copy(data, single)
	return data, false, nil
}

// invalidKeyChars are replaced in Secret keys made from remote names (a
// path such as "team/db" becomes "team_db").
var invalidKeyChars = regexp.MustCompile(`[^-._a-zA-Z0-9]`)

func secretKeyFor(name string) string { return invalidKeyChars.ReplaceAllString(name, "_") }

func labelsOf(ns *corev1.Namespace) labels.Set { return labels.Set(ns.Labels) }
