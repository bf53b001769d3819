package aws

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/kseal-dev/kseal/providers"
)

const (
	// listPageSize is the largest page ListSecrets returns.
	listPageSize = 100
	// maxFilters is the most filters ListSecrets accepts.
	maxFilters = 10
	// findParallelism bounds concurrent value fetches of one Find.
	findParallelism = 4
)

// filterChars is what ListSecrets accepts in a filter value; a leading "!"
// would negate it. Values outside it, or longer than maxFilterValue, are
// matched on this side only. The length is checked apart: a bounded
// repetition in the pattern would compile to one instruction per character
// (0.5 MB of heap held for the life of the process).
var filterChars = regexp.MustCompile(`^[a-zA-Z0-9 :_@/+=.\-]+$`)

// maxFilterValue is the longest filter value ListSecrets accepts.
const maxFilterValue = 512

// isFilterValue reports whether ListSecrets accepts s as a filter value.
func isFilterValue(s string) bool {
	return len(s) <= maxFilterValue && filterChars.MatchString(s)
}

// listed is one secret found by ListSecrets.
type listed struct {
	name, arn string
}

// Find returns the current value of every secret whose name starts with
// q.Path, matches q.NameRegexp and carries all q.Tags, keyed by name.
// ListSecrets filters narrow the listing on the AWS side (their matches are
// prefixes); every condition is checked exactly here. Values are fetched
// with BatchGetSecretValue in chunks; a secret deleted meanwhile, or without
// a current version, is skipped. The sum of the values is capped at
// providers.MaxValueSize, the most one Secret can hold.
func (p *Provider) Find(ctx context.Context, q providers.Query) (map[string][]byte, error) {
	found, err := p.list(ctx, q)
	if err != nil {
		return nil, fmt.Errorf("secretsmanager find: %w", err)
	}
	values, err := p.fetchListed(ctx, found)
	if err != nil {
		return nil, fmt.Errorf("secretsmanager find: %w", err)
	}
	return values, nil
}

// list pages through ListSecrets and keeps the exact matches.
func (p *Provider) list(ctx context.Context, q providers.Query) ([]listed, error) {
	in := listSecretsInput{Filters: listFilters(q), MaxResults: listPageSize}
	var found []listed
	for page := 1; ; page++ {
		if p.ctx.Err() != nil {
			return nil, providers.Retryable(errClosed)
		}
		var out listSecretsOutput
		if err := p.client.jsonCall(ctx, "ListSecrets", in, &out); err != nil {
			return nil, classify(err)
		}
		for _, s := range out.SecretList {
			name := deref(s.Name)
			if matches(q, name, s.Tags) {
				found = append(found, listed{name: name, arn: deref(s.ARN)})
			}
		}
		next, err := nextToken(deref(in.NextToken), out.NextToken, page)
		if err != nil {
			return nil, err
		}
		if next == "" {
			return found, nil
		}
		in.NextToken = &next
	}
}

// listFilters turns q into ListSecrets filters (AND of filters; prefix
// match). Values AWS would reject or read as a negation are left out, as
// are filters beyond the limit; matches() checks everything anyway.
func listFilters(q providers.Query) []filter {
	var fs []filter
	if isFilterValue(q.Path) {
		fs = append(fs, filter{Key: filterName, Values: []string{q.Path}})
	}
	keys := make([]string, 0, len(q.Tags))
	for k := range q.Tags {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		if isFilterValue(k) && len(fs) < maxFilters {
			fs = append(fs, filter{Key: filterTagKey, Values: []string{k}})
		}
		if v := q.Tags[k]; isFilterValue(v) && len(fs) < maxFilters {
			fs = append(fs, filter{Key: filterTagValue, Values: []string{v}})
		}
	}
	return fs
}

// matches checks q exactly against one listed secret.
func matches(q providers.Query, name string, tags []tag) bool {
	if !strings.HasPrefix(name, q.Path) {
		return false
	}
	if q.NameRegexp != nil && !q.NameRegexp.MatchString(name) {
		return false
	}
	for k, v := range q.Tags {
		if !slices.ContainsFunc(tags, func(t tag) bool {
			return deref(t.Key) == k && deref(t.Value) == v
		}) {
			return false
		}
	}
	return true
}

// fetchListed reads the listed secrets by ARN, MaxBatch at a time, a few
// chunks concurrently.
func (p *Provider) fetchListed(parent context.Context, found []listed) (map[string][]byte, error) {
	ctx, cancel := context.WithCancel(parent)
	defer cancel()
	var (
		mu       sync.Mutex
		values   = make(map[string][]byte, len(found))
		total    int
		firstErr error
		wg       sync.WaitGroup
		sem      = make(chan struct{}, findParallelism)
	)
	fail := func(err error) {
		if firstErr == nil {
			firstErr = err
			cancel()
		}
	}
	for chunk := range slices.Chunk(found, p.maxBatch) {
		sem <- struct{}{}
		if ctx.Err() != nil {
			<-sem
			break
		}
		wg.Go(func() {
			defer func() { <-sem }()
			arns := make([]string, len(chunk))
			for i, s := range chunk {
				arns[i] = s.arn
			}
			results := p.fetchMany(ctx, arns)
			mu.Lock()
			defer mu.Unlock()
			for _, s := range chunk {
				r := results[s.arn]
				switch {
				case errors.Is(r.err, providers.ErrNotFound):
					continue
				case r.err != nil:
					fail(fmt.Errorf("%s: %w", s.name, r.err))
					return
				}
				values[s.name] = r.val
				if total += len(r.val); total > providers.MaxValueSize {
					fail(fmt.Errorf("the matching values exceed %d bytes, the most a Secret holds", providers.MaxValueSize))
					return
				}
			}
		})
	}
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	if err := parent.Err(); err != nil {
		return nil, err
	}
	return values, nil
}

// Validate proves the credentials work with one cheap call, ListSecrets of
// one entry, which needs only the Secrets Manager endpoint. Refused
// credentials (unknown key, bad signature, expired token, a failed role
// assumption) report ErrAuth. An IAM AccessDeniedException counts as
// success: AWS authenticated the caller, and stores whose policy grants
// only secretsmanager:GetSecretValue are common.
func (p *Provider) Validate(ctx context.Context) error {
	if p.ctx.Err() != nil {
		return providers.Retryable(errClosed)
	}
	err := p.client.jsonCall(ctx, "ListSecrets", listSecretsInput{MaxResults: 1}, nil)
	if err != nil && !isAccessDenied(err) {
		return fmt.Errorf("secretsmanager validate: %w", classify(err))
	}
	return nil
}
