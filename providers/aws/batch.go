package aws

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/kseal-dev/kseal/providers"
)

// batchOffPeriod is how long BatchGetSecretValue is not tried after the
// endpoint or IAM refused it; GetSecretValue serves meanwhile.
const batchOffPeriod = 10 * time.Minute

// result is the outcome for one secret id.
type result struct {
	val []byte
	err error
}

// call is one GetSecret waiting for a batch.
type call struct {
	ctx context.Context
	id  string
	// res receives exactly one result; buffered so that a caller that gave
	// up never blocks the batch.
	res chan result
}

// batcher coalesces current-version reads: the first call opens a window;
// calls arriving within it (up to max distinct ids) are fetched together.
type batcher struct {
	window time.Duration
	max    int
	// fetch returns a result for every id it was given.
	fetch func(ctx context.Context, ids []string) map[string]result
	// base is cancelled by Close; batch calls run under it.
	base context.Context

	calls chan *call
	// stop is closed by close; done is closed when run returns.
	stop, done chan struct{}
	// inflight counts batches being fetched.
	inflight sync.WaitGroup
}

func newBatcher(base context.Context, window time.Duration, maxIDs int, fetch func(context.Context, []string) map[string]result) *batcher {
	b := &batcher{
		window: window, max: maxIDs, fetch: fetch, base: base,
		calls: make(chan *call), stop: make(chan struct{}), done: make(chan struct{}),
	}
	go b.run()
	return b
}

// get queues id for the next batch and waits for its result or for ctx.
func (b *batcher) get(ctx context.Context, id string) ([]byte, error) {
	c := &call{ctx: ctx, id: id, res: make(chan result, 1)}
	select {
	case <-b.stop:
		return nil, providers.Retryable(errClosed)
	default:
	}
	select {
	case b.calls <- c:
	case <-b.stop:
		return nil, providers.Retryable(errClosed)
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	select {
	case r := <-c.res:
		return r.val, r.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (b *batcher) run() {
	defer close(b.done)
	for {
		var first *call
		select {
		case <-b.stop:
			return
		case first = <-b.calls:
		}
		pending, ok := b.collect(first)
		if !ok {
			for _, c := range pending {
				c.res <- result{err: providers.Retryable(errClosed)}
			}
			return
		}
		b.inflight.Add(1)
		go func() {
			defer b.inflight.Done()
			b.dispatch(pending)
		}()
	}
}

// collect gathers calls until the window ends or max distinct ids are
// queued; ok is false when the batcher was stopped meanwhile.
func (b *batcher) collect(first *call) (pending []*call, ok bool) {
	pending = []*call{first}
	ids := map[string]bool{first.id: true}
	timer := time.NewTimer(b.window)
	defer timer.Stop()
	for len(ids) < b.max {
		select {
		case c := <-b.calls:
			pending = append(pending, c)
			ids[c.id] = true
		case <-timer.C:
			return pending, true
		case <-b.stop:
			return pending, false
		}
	}
	return pending, true
}

// dispatch fetches one batch and hands every waiting caller its result.
// The fetch is cancelled when every caller has given up, or on Close.
func (b *batcher) dispatch(calls []*call) {
	live := make([]*call, 0, len(calls))
	var ids []string
	seen := make(map[string]bool, len(calls))
	for _, c := range calls {
		if c.ctx.Err() != nil {
			continue // the caller has returned already
		}
		live = append(live, c)
		if !seen[c.id] {
			seen[c.id] = true
			ids = append(ids, c.id)
		}
	}
	if len(live) == 0 {
		return
	}
	ctx, cancel := context.WithCancel(b.base)
	defer cancel()
	var waiting atomic.Int64
	waiting.Store(int64(len(live)))
	for _, c := range live {
		stop := context.AfterFunc(c.ctx, func() {
			if waiting.Add(-1) == 0 {
				cancel()
			}
		})
		defer stop()
	}

	results := b.fetch(ctx, ids)
	closed := b.base.Err() != nil
	handed := make(map[string]bool, len(ids))
	for _, c := range live {
		r, ok := results[c.id]
		switch {
		case !ok:
			r = result{err: errors.New("no result for this secret in the batch")}
		case closed && r.err != nil:
			r = result{err: providers.Retryable(errClosed)}
		case handed[c.id] && r.val != nil:
			r.val = bytes.Clone(r.val) // each caller owns its bytes
		}
		handed[c.id] = true
		c.res <- r
	}
}

// close stops run, fails queued calls and waits for in-flight batches (the
// provider's context is already cancelled, so they end promptly).
func (b *batcher) close() {
	close(b.stop)
	<-b.done
	b.inflight.Wait()
}

// fetchMany reads the current version of each id: one BatchGetSecretValue
// call when there are several, GetSecretValue for a single id or when
// batching is off. It returns a result for every id.
func (p *Provider) fetchMany(ctx context.Context, ids []string) map[string]result {
	out := make(map[string]result, len(ids))
	if len(ids) == 1 || !p.batchAllowed() {
		p.getEach(ctx, ids, out)
		return out
	}
	got, err := p.batchGet(ctx, ids)
	switch {
	case err == nil:
	case isUnknownOperation(err) || isAccessDenied(err):
		// BatchGetSecretValue needs its own IAM permission, which policies
		// written for GetSecretValue lack.
		p.disableBatch()
		p.getEach(ctx, ids, out)
		return out
	default:
		err = classify(err)
		for _, id := range ids {
			out[id] = result{err: err}
		}
		return out
	}
	var missing []string
	for _, id := range ids {
		if r, ok := got[id]; ok {
			out[id] = r
		} else {
			missing = append(missing, id)
		}
	}
	p.getEach(ctx, missing, out)
	return out
}

// getEach reads ids concurrently with GetSecretValue into out.
func (p *Provider) getEach(ctx context.Context, ids []string, out map[string]result) {
	var (
		mu sync.Mutex
		wg sync.WaitGroup
	)
	for _, id := range ids {
		wg.Go(func() {
			v, err := p.getOne(ctx, id, "")
			mu.Lock()
			out[id] = result{val: v, err: err}
			mu.Unlock()
		})
	}
	wg.Wait()
}

// batchGet calls BatchGetSecretValue for ids (at most 20) and maps values
// and per-secret errors back to the ids asked for. An id it cannot match
// (the answer named the secret differently) is left out of the map.
func (p *Provider) batchGet(ctx context.Context, ids []string) (map[string]result, error) {
	if p.ctx.Err() != nil {
		return nil, providers.Retryable(errClosed)
	}
	got := make(map[string]result, len(ids))
	in := batchGetSecretValueInput{SecretIDList: ids}
	// With a SecretIdList AWS answers in one page; follow NextToken anyway,
	// a bounded number of times.
	for range len(ids) {
		var out batchGetSecretValueOutput
		if err := p.client.jsonCall(ctx, "BatchGetSecretValue", in, &out); err != nil {
			return nil, err
		}
		for _, v := range out.SecretValues {
			val, err := secretValue(v.SecretString, v.SecretBinary)
			for _, id := range ids {
				if names(id, deref(v.Name), deref(v.ARN)) {
					got[id] = result{val: val, err: err}
				}
			}
		}
		for _, e := range out.Errors {
			id := deref(e.SecretID)
			got[id] = result{err: itemError(deref(e.ErrorCode), deref(e.Message))}
		}
		if deref(out.NextToken) == "" || deref(out.NextToken) == deref(in.NextToken) {
			break
		}
		in.NextToken = out.NextToken
	}
	return got, nil
}

// names reports whether a secret id (name, ARN or partial ARN without the
// 6-character random suffix) refers to the secret with this name and ARN.
func names(id, name, arn string) bool {
	if id == name || id == arn {
		return true
	}
	return strings.HasPrefix(id, "arn:") && len(arn) == len(id)+7 && strings.HasPrefix(arn, id+"-")
}

func (p *Provider) batchAllowed() bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return time.Now().After(p.batchOffUntil)
}

func (p *Provider) disableBatch() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.batchOffUntil = time.Now().Add(batchOffPeriod)
}
