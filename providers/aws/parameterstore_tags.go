package aws

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"sync"

	"github.com/kseal-dev/kseal/providers"
)

const (
	// maxFindTags bounds the tags of one find: AWS lets a parameter carry
	// at most 50, so a query with more can match nothing.
	maxFindTags = 50
	// describePageSize is the largest page DescribeParameters returns.
	describePageSize = 50
	// findReadsInFlight bounds the value reads one find has queued at
	// once: enough to fill a few GetParameters calls.
	findReadsInFlight = 4 * ParameterStoreMaxBatch
)

// findByTags lists, with DescribeParameters, the parameters carrying every
// tag of q.Tags (an Equals filter per tag) and, when q.Path is set, under
// q.Path (a Recursive Path filter), as External Secrets Operator does;
// then reads their values, decrypted, in GetParameters calls of up to
// ParameterStoreMaxBatch names shared with the store's other reads. With
// q.NameRegexp too, a parameter must also match it (ESO ignores the tags
// then). More than MaxFindParameters matches is refused before any value
// is read; the values may sum to at most providers.MaxValueSize. A
// parameter deleted between the two calls is left out.
func (p *ParameterStore) findByTags(ctx context.Context, q providers.Query) (map[string][]byte, error) {
	if len(q.Tags) > maxFindTags {
		return nil, fmt.Errorf("parameterstore find: %d tags, more than a parameter can carry (%d)", len(q.Tags), maxFindTags)
	}
	names, err := p.describeTagged(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("parameterstore find by tags: %w", err)
	}
	got := p.readAll(ctx, names)
	values := make(map[string][]byte, len(names))
	total := 0
	for _, name := range names {
		r := got[name]
		switch {
		case errors.Is(r.err, providers.ErrNotFound):
			continue
		case r.err != nil:
			return nil, fmt.Errorf("parameterstore find by tags: %s: %w", name, r.err)
		}
		if total += len(r.val); total > providers.MaxValueSize {
			return nil, fmt.Errorf("parameterstore find by tags: the matching values exceed %d bytes, the most a Secret holds", providers.MaxValueSize)
		}
		values[name] = r.val
	}
	return values, nil
}

// describeTagged returns the sorted names DescribeParameters lists for q,
// refusing more than MaxFindParameters.
func (p *ParameterStore) describeTagged(ctx context.Context, q providers.Query) ([]string, error) {
	in := describeParametersInput{MaxResults: describePageSize}
	for _, k := range slices.Sorted(maps.Keys(q.Tags)) {
		in.ParameterFilters = append(in.ParameterFilters, parameterFilter{Key: "tag:" + k, Option: "Equals", Values: []string{q.Tags[k]}})
	}
	if q.Path != "" {
		in.ParameterFilters = append(in.ParameterFilters, parameterFilter{Key: "Path", Option: "Recursive", Values: []string{q.Path}})
	}
	var names []string
	seen := 0
	for pageNo := 1; ; pageNo++ {
		if p.ctx.Err() != nil {
			return nil, providers.Retryable(errClosed)
		}
		var page parametersPage
		if err := p.client.jsonCall(ctx, "DescribeParameters", in, &page); err != nil {
			return nil, classify(err)
		}
		for _, prm := range page.Parameters {
			if seen++; seen > MaxFindParameters {
				return nil, fmt.Errorf("more than %d parameters carry these tags; narrow find.tags or set find.path", MaxFindParameters)
			}
			name := deref(prm.Name)
			if name != "" && (q.NameRegexp == nil || q.NameRegexp.MatchString(name)) {
				names = append(names, name)
			}
		}
		next, err := nextToken(deref(in.NextToken), page.NextToken, pageNo)
		if err != nil {
			return nil, err
		}
		if next == "" {
			break
		}
		in.NextToken = &next
	}
	slices.Sort(names)
	return slices.Compact(names), nil
}

// readAll reads the current value of each name: through the coalescing
// batcher (at most findReadsInFlight queued at once) or, with batching
// off, in GetParameters calls of ParameterStoreMaxBatch names.
func (p *ParameterStore) readAll(ctx context.Context, names []string) map[string]result {
	out := make(map[string]result, len(names))
	if p.batch == nil {
		for chunk := range slices.Chunk(names, ParameterStoreMaxBatch) {
			maps.Copy(out, p.fetchMany(ctx, chunk))
		}
		return out
	}
	var (
		mu   sync.Mutex
		wg   sync.WaitGroup
		slot = make(chan struct{}, findReadsInFlight)
	)
	for _, n := range names {
		slot <- struct{}{}
		wg.Go(func() {
			defer func() { <-slot }()
			v, err := p.batch.get(ctx, n)
			mu.Lock()
			out[n] = result{val: v, err: err}
			mu.Unlock()
		})
	}
	wg.Wait()
	return out
}
