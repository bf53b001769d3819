package controllers

import (
	"math"
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
