package httpapi

import (
	"fmt"
	"math"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"sync"
	"time"
)

// RateLimit is a token bucket: requests are admitted at PerSecond on average,
// with bursts of up to Burst requests.
type RateLimit struct {
	// PerSecond is the sustained rate. Zero selects the default; a negative
	// value turns the limit off.
	PerSecond float64
	// Burst is how many requests may arrive at once; zero selects the
	// default (and at least one is always allowed).
	Burst int
}

// Defaults of the API's rate limits.
const (
	// DefaultRatePerSecond is the sustained rate of POST /v1/verify and of
	// POST /v1/rotate, each.
	DefaultRatePerSecond = 5
	// DefaultRateBurst is the burst of each rate-limited endpoint.
	DefaultRateBurst = 20
)

// tokenBucket admits requests at a rate with bursts. It reads time from now,
// so tests drive it with a fake clock.
type tokenBucket struct {
	now   func() time.Time
	rate  float64 // tokens per second; +Inf when unlimited
	burst float64

	mu     sync.Mutex
	tokens float64   // tokens available at last
	last   time.Time // when tokens was computed; zero before the first take
}

func newTokenBucket(l RateLimit, now func() time.Time) *tokenBucket {
	rate, burst := l.PerSecond, float64(l.Burst)
	switch {
	case rate < 0:
		rate = math.Inf(1)
	case rate == 0:
		rate = DefaultRatePerSecond
	}
	if l.Burst == 0 {
		burst = DefaultRateBurst
	}
	burst = max(burst, 1)
	return &tokenBucket{now: now, rate: rate, burst: burst, tokens: burst}
}

// take consumes one token. When none is left it returns false and how long
// until one is.
func (b *tokenBucket) take() (bool, time.Duration) {
	if math.IsInf(b.rate, 1) {
		return true, 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	if !b.last.IsZero() && now.After(b.last) {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	if b.last.IsZero() || now.After(b.last) {
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true, 0
	}
	wait := time.Duration((1 - b.tokens) / b.rate * float64(time.Second))
	return false, wait
}

// give returns a token taken by take, for a request that another limit
// refused.
func (b *tokenBucket) give() {
	if math.IsInf(b.rate, 1) {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	b.tokens = min(b.burst, b.tokens+1)
}

// full reports whether the bucket has refilled to its burst, so forgetting
// it changes nothing.
func (b *tokenBucket) full() bool {
	if math.IsInf(b.rate, 1) {
		return true
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	tokens := b.tokens
	if now := b.now(); !b.last.IsZero() && now.After(b.last) {
		tokens += now.Sub(b.last).Seconds() * b.rate
	}
	return tokens >= b.burst
}

// DefaultMaxClients bounds how many clients the per-client rate limits
// remember at once.
const DefaultMaxClients = 4096

// clientBuckets gives each client a token bucket of its own. It remembers
// at most max clients; when they are all busy, new clients share one
// overflow bucket, so a caller that invents client names cannot grow memory
// (and the global bucket still caps what they get).
type clientBuckets struct {
	limit RateLimit
	now   func() time.Time
	max   int

	mu       sync.Mutex
	buckets  map[string]*tokenBucket
	overflow *tokenBucket
}

func newClientBuckets(l RateLimit, maxClients int, now func() time.Time) *clientBuckets {
	if maxClients <= 0 {
		maxClients = DefaultMaxClients
	}
	return &clientBuckets{limit: l, now: now, max: maxClients, buckets: map[string]*tokenBucket{}, overflow: newTokenBucket(l, now)}
}

// bucket returns client's bucket.
func (c *clientBuckets) bucket(client string) *tokenBucket {
	c.mu.Lock()
	defer c.mu.Unlock()
	if b, ok := c.buckets[client]; ok {
		return b
	}
	if len(c.buckets) >= c.max {
		for k, b := range c.buckets {
			if b.full() {
				delete(c.buckets, k)
			}
		}
	}
	if len(c.buckets) >= c.max {
		return c.overflow
	}
	b := newTokenBucket(c.limit, c.now)
	c.buckets[client] = b
	return b
}

// limiter admits a request when both its client's bucket and the global
// bucket have a token.
type limiter struct {
	clients *clientBuckets
	global  *tokenBucket
}

// take admits one request of client, or says how long to wait.
func (l *limiter) take(client string) (bool, time.Duration) {
	b := l.clients.bucket(client)
	if ok, wait := b.take(); !ok {
		return false, wait
	}
	if ok, wait := l.global.take(); !ok {
		b.give()
		return false, wait
	}
	return true, 0
}

// TrustAnyProxy, as Options.TrustedProxies, trusts the X-Forwarded-For
// header of every peer.
var TrustAnyProxy = []netip.Prefix{netip.MustParsePrefix("0.0.0.0/0"), netip.MustParsePrefix("::/0")}

// clientOf names the client of r for the per-client rate limits. Behind the
// API server's service proxy every request comes from the API server, which
// appends the address it received the request from to X-Forwarded-For; that
// last entry is the one part of the header a caller cannot choose, so it
// names the client when the peer is a trusted proxy. Earlier entries are
// whatever the caller sent and are ignored. Otherwise the peer's address
// names the client.
func clientOf(r *http.Request, trusted []netip.Prefix) string {
	peer := r.RemoteAddr
	if host, _, err := net.SplitHostPort(peer); err == nil {
		peer = host
	}
	addr, err := netip.ParseAddr(peer)
	if err != nil || !trustedPeer(addr.Unmap(), trusted) {
		return peer
	}
	values := r.Header.Values("X-Forwarded-For")
	if len(values) == 0 {
		return peer
	}
	last := values[len(values)-1]
	if i := strings.LastIndexByte(last, ','); i >= 0 {
		last = last[i+1:]
	}
	last = strings.TrimSpace(last)
	if a, err := netip.ParseAddr(last); err == nil {
		return a.Unmap().String()
	}
	return peer
}

func trustedPeer(addr netip.Addr, trusted []netip.Prefix) bool {
	for _, p := range trusted {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}

// ParseTrustedProxies reads the --api-trusted-proxies flag: "*" trusts every
// peer (TrustAnyProxy), "none" trusts none, otherwise a comma-separated list
// of CIDR prefixes or addresses.
func ParseTrustedProxies(s string) ([]netip.Prefix, error) {
	switch strings.TrimSpace(s) {
	case "*":
		return TrustAnyProxy, nil
	case "none", "":
		return []netip.Prefix{}, nil
	}
	var out []netip.Prefix
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is neither a CIDR prefix nor an address: use for example 10.0.0.0/24,192.168.1.5, \"*\" or \"none\"", f)
		}
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}
