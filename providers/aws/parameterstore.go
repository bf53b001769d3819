package aws

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/kseal-dev/kseal/providers"
)

// Parameter Store limits.
const (
	// ParameterStoreMaxBatch is the most names one GetParameters call
	// accepts (an AWS limit).
	ParameterStoreMaxBatch = 10
	// MaxFindParameters bounds the parameters one Find reads: a Secret made
	// from more is not something a store should be able to make kseal
	// build.
	MaxFindParameters = 1000
	// parameterPageSize is the largest page GetParametersByPath returns.
	parameterPageSize = 10
	// DefaultParameterStoreBatchWindow is how long a read waits for others
	// when Config.BatchWindow is zero. It is longer than Secrets Manager's:
	// a call takes half as many names, and Parameter Store's default
	// throughput is 40 calls a second per account and region.
	DefaultParameterStoreBatchWindow = 500 * time.Millisecond
)

// ParameterStore reads AWS Systems Manager Parameter Store with one set of
// credentials. It implements providers.Provider, Finder, Validator and
// Closer. Build it with NewParameterStore from the same Config as the
// Secrets Manager Provider; Config.Endpoint is then the SSM endpoint.
//
// Current-value reads arriving within Config.BatchWindow share one
// GetParameters call (up to ParameterStoreMaxBatch names, WithDecryption),
// whichever ExternalSecrets they come from; a read alone in its window, or
// for a version, uses GetParameter. SecureString values are always
// decrypted, as External Secrets Operator does.
type ParameterStore struct {
	client *client
	// prefix is Config.Prefix, put before every name GetSecret reads.
	prefix string
	// batch coalesces current-value reads; nil when BatchWindow < 0.
	batch *batcher

	// mu guards batchOffUntil.
	mu sync.Mutex
	// batchOffUntil: until then GetParameters is not tried, because the
	// endpoint or the IAM policy (ssm:GetParameters) refused it.
	batchOffUntil time.Time

	// ctx is cancelled by Close; it bounds calls made for several callers.
	ctx    context.Context
	cancel context.CancelFunc
	// closeOnce makes Close idempotent.
	closeOnce sync.Once
}

var (
	_ providers.Provider  = (*ParameterStore)(nil)
	_ providers.Finder    = (*ParameterStore)(nil)
	_ providers.Validator = (*ParameterStore)(nil)
	_ providers.Closer    = (*ParameterStore)(nil)
)

// NewParameterStore checks cfg, builds the credential chain and the SSM
// client, and starts the coalescing goroutine. A zero Config.BatchWindow
// means DefaultParameterStoreBatchWindow. Config.MaxBatch above
// ParameterStoreMaxBatch is lowered to it. It makes no API call.
func NewParameterStore(ctx context.Context, cfg Config) (*ParameterStore, error) {
	if cfg.BatchWindow == 0 {
		cfg.BatchWindow = DefaultParameterStoreBatchWindow
	}
	cfg, err := withDefaults(cfg)
	if err != nil {
		return nil, err
	}
	c, err := newServiceClient(cfg, ssmService)
	if err != nil {
		return nil, err
	}
	base, cancel := context.WithCancel(context.WithoutCancel(ctx))
	p := &ParameterStore{client: c, prefix: cfg.Prefix, ctx: base, cancel: cancel}
	if cfg.BatchWindow > 0 {
		p.batch = newBatcher(base, cfg.BatchWindow, min(cfg.MaxBatch, ParameterStoreMaxBatch), p.fetchMany)
	}
	return p, nil
}

// GetSecret returns the parameter at ref. ref.Key is a parameter name or
// ARN; ref.Version, as in External Secrets Operator, is appended as a
// selector ("3" reads version 3, a label reads that label's version);
// empty means the current value, read in a shared GetParameters call.
func (p *ParameterStore) GetSecret(ctx context.Context, ref providers.Ref) ([]byte, error) {
	if ref.Key == "" {
		return nil, fmt.Errorf("parameterstore: empty parameter name")
	}
	ref.Key = p.prefix + ref.Key
	if err := checkParameterRef(ref); err != nil {
		return nil, fmt.Errorf("parameterstore get %s: %w", ref, err)
	}
	var (
		val []byte
		err error
	)
	switch {
	case ref.Version != "":
		val, err = p.getOne(ctx, ref.Key+":"+ref.Version)
	case p.batch != nil:
		val, err = p.batch.get(ctx, ref.Key)
	default:
		val, err = p.getOne(ctx, ref.Key)
	}
	if err != nil {
		return nil, fmt.Errorf("parameterstore get %s: %w", ref, err)
	}
	if ref.Property == "" {
		return val, nil
	}
	out, err := providers.ExtractProperty(val, ref.Property)
	if err != nil {
		return nil, fmt.Errorf("parameterstore get %s: %w", ref, err)
	}
	return out, nil
}

// checkParameterRef refuses names and versions AWS could not mean: a
// selector inside the name would read a version nobody asked for.
func checkParameterRef(ref providers.Ref) error {
	if ref.Metadata {
		return fmt.Errorf("metadataPolicy Fetch (parameter tags) is not supported by kseal for Parameter Store: remove it, or keep the value in a parameter of its own: %w", providers.ErrUnsupported)
	}
	if len(ref.Key) > 2048 {
		return fmt.Errorf("parameter name of %d bytes is longer than AWS allows (2048)", len(ref.Key))
	}
	if !strings.HasPrefix(ref.Key, "arn:") && strings.Contains(ref.Key, ":") {
		return fmt.Errorf("a parameter name has no ':'; put a version or label in remoteRef.version")
	}
	if v := ref.Version; v != "" {
		if strings.ContainsAny(v, ":/") || len(v) > 100 {
			return fmt.Errorf("version %q is neither a version number nor a label", v)
		}
		if n, err := strconv.ParseInt(v, 10, 64); err == nil && n < 1 {
			return fmt.Errorf("version %d: parameter versions start at 1", n)
		}
	}
	return nil
}

// getOne reads one parameter (a name with an optional selector) with
// GetParameter.
func (p *ParameterStore) getOne(ctx context.Context, name string) ([]byte, error) {
	if p.ctx.Err() != nil {
		return nil, providers.Retryable(errClosed)
	}
	var out getParameterOutput
	if err := p.client.jsonCall(ctx, "GetParameter", getParameterInput{Name: name, WithDecryption: true}, &out); err != nil {
		return nil, classify(err)
	}
	if out.Parameter == nil {
		return nil, fmt.Errorf("%w: the answer has no parameter", providers.ErrNotFound)
	}
	return parameterValue(out.Parameter.Value)
}

// parameterValue checks a value against the size cap.
func parameterValue(s *string) ([]byte, error) {
	if s == nil {
		return nil, fmt.Errorf("%w: the parameter has no value", providers.ErrNotFound)
	}
	if len(*s) > providers.MaxValueSize {
		return nil, fmt.Errorf("value of %d bytes exceeds the %d byte limit", len(*s), providers.MaxValueSize)
	}
	return []byte(*s), nil
}

// fetchMany reads the current value of each name: one GetParameters call
// for several, GetParameter for one or while batching is off. It returns a
// result for every name.
func (p *ParameterStore) fetchMany(ctx context.Context, names []string) map[string]result {
	out := make(map[string]result, len(names))
	if len(names) == 1 || !p.batchAllowed() {
		p.getEach(ctx, names, out)
		return out
	}
	got, err := p.getParameters(ctx, names)
	switch {
	case err == nil:
	case isUnknownOperation(err) || isAccessDenied(err):
		// ssm:GetParameters is its own IAM permission; policies written
		// for ssm:GetParameter lack it.
		p.disableBatch()
		p.getEach(ctx, names, out)
		return out
	default:
		err = classify(err)
		for _, n := range names {
			out[n] = result{err: err}
		}
		return out
	}
	for _, n := range names {
		if r, ok := got[n]; ok {
			out[n] = r
		} else {
			out[n] = result{err: providers.ErrNotFound}
		}
	}
	return out
}

// getParameters calls GetParameters for names (at most 10) and maps the
// values back by name or ARN; InvalidParameters are not found.
func (p *ParameterStore) getParameters(ctx context.Context, names []string) (map[string]result, error) {
	if p.ctx.Err() != nil {
		return nil, providers.Retryable(errClosed)
	}
	var out getParametersOutput
	if err := p.client.jsonCall(ctx, "GetParameters", getParametersInput{Names: names, WithDecryption: true}, &out); err != nil {
		return nil, err
	}
	got := make(map[string]result, len(names))
	for _, prm := range out.Parameters {
		val, err := parameterValue(prm.Value)
		for _, n := range names {
			if n == deref(prm.Name) || n == deref(prm.ARN) {
				got[n] = result{val: val, err: err}
			}
		}
	}
	for _, n := range out.InvalidParameters {
		got[n] = result{err: providers.ErrNotFound}
	}
	return got, nil
}

// getEach reads names concurrently with GetParameter into out.
func (p *ParameterStore) getEach(ctx context.Context, names []string, out map[string]result) {
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for _, n := range names {
		wg.Go(func() {
			v, err := p.getOne(ctx, n)
			mu.Lock()
			out[n] = result{val: v, err: err}
			mu.Unlock()
		})
	}
	wg.Wait()
}

func (p *ParameterStore) batchAllowed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return time.Now().After(p.batchOffUntil)
}

func (p *ParameterStore) disableBatch() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.batchOffUntil = time.Now().Add(batchOffPeriod)
}

// Find returns, by name, the value of every parameter under q.Path
// ("/" when empty; recursive) whose name matches q.NameRegexp, read with
// GetParametersByPath and decrypted, as External Secrets Operator does.
// With q.Tags it finds by tags instead (see findByTags). At most
// MaxFindParameters parameters are read, and their values may sum to at
// most providers.MaxValueSize.
func (p *ParameterStore) Find(ctx context.Context, q providers.Query) (map[string][]byte, error) {
	if len(q.Tags) > 0 {
		return p.findByTags(ctx, q)
	}
	path := q.Path
	if path == "" {
		path = "/"
	}
	in := getParametersByPathInput{Path: path, Recursive: true, WithDecryption: true, MaxResults: parameterPageSize}
	values := map[string][]byte{}
	seen, total := 0, 0
	for pageNo := 1; ; pageNo++ {
		if p.ctx.Err() != nil {
			return nil, providers.Retryable(errClosed)
		}
		var page parametersPage
		if err := p.client.jsonCall(ctx, "GetParametersByPath", in, &page); err != nil {
			return nil, fmt.Errorf("parameterstore find %s: %w", path, classify(err))
		}
		for _, prm := range page.Parameters {
			if seen++; seen > MaxFindParameters {
				return nil, fmt.Errorf("parameterstore find %s: more than %d parameters; narrow find.path", path, MaxFindParameters)
			}
			name := deref(prm.Name)
			if q.NameRegexp != nil && !q.NameRegexp.MatchString(name) {
				continue
			}
			v, err := parameterValue(prm.Value)
			if err != nil {
				return nil, fmt.Errorf("parameterstore find %s: %s: %w", path, name, err)
			}
			if total += len(v); total > providers.MaxValueSize {
				return nil, fmt.Errorf("parameterstore find %s: the matching values exceed %d bytes, the most a Secret holds", path, providers.MaxValueSize)
			}
			values[name] = v
		}
		next, err := nextToken(deref(in.NextToken), page.NextToken, pageNo)
		if err != nil {
			return nil, fmt.Errorf("parameterstore find %s: %w", path, err)
		}
		if next == "" {
			return values, nil
		}
		in.NextToken = &next
	}
}

// Validate proves the credentials work with DescribeParameters of one
// entry. An IAM AccessDeniedException counts as success: AWS
// authenticated the caller, and policies granting only ssm:GetParameter*
// are common.
func (p *ParameterStore) Validate(ctx context.Context) error {
	if p.ctx.Err() != nil {
		return providers.Retryable(errClosed)
	}
	err := p.client.jsonCall(ctx, "DescribeParameters", describeParametersInput{MaxResults: 1}, nil)
	if err != nil && !isAccessDenied(err) {
		return fmt.Errorf("parameterstore validate: %w", classify(err))
	}
	return nil
}

// Close stops the coalescing goroutine; it is safe to call more than once.
func (p *ParameterStore) Close() error {
	p.closeOnce.Do(func() {
		p.cancel()
		if p.batch != nil {
			p.batch.close()
		}
	})
	return nil
}
