package httpapi

import (
	"errors"
	"io"
	"math"
	"net/http"
	"net/netip"
	"strconv"
	"time"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
)

// Defaults of the bounds on POST /v1/verify and POST /v1/rotate. Every one is
// checked before any decryption.
const (
	// DefaultMaxBodyBytes bounds a request body: etcd's default request
	// limit (1.5 MiB), so anything the API server can store fits.
	DefaultMaxBodyBytes = 1536 << 10
	// DefaultMaxItems bounds the items of one SealedSecret.
	DefaultMaxItems = 1000
	// DefaultMaxRSAOps bounds the RSA decryptions one request may need in
	// the worst case (each takes milliseconds with a 4096-bit key).
	DefaultMaxRSAOps = 512
	// DefaultMaxInFlight bounds the verify and rotate requests served at
	// once (their bodies are held in memory).
	DefaultMaxInFlight = 16
	// DefaultMaxDecrypting bounds the requests decrypting at once, and so
	// the CPUs the API can take from the reconcilers.
	DefaultMaxDecrypting = 2
	// DefaultGlobalPerSecond is the sustained rate of verify and rotate
	// requests of all clients together.
	DefaultGlobalPerSecond = 20
	// DefaultGlobalBurst is the burst of all clients together.
	DefaultGlobalBurst = 40
)

// apiLimits are the bounds of one handler, defaults applied.
type apiLimits struct {
	maxBody    int64
	maxItems   int
	maxRSAOps  int
	trusted    []netip.Prefix
	inFlight   chan struct{} // a slot per request being served
	decrypting chan struct{} // a slot per request decrypting
	wrapOpener func(sealedsecret.Opener) sealedsecret.Opener
}

func newAPILimits(opts Options) apiLimits {
	l := apiLimits{
		maxBody:    opts.MaxBodyBytes,
		maxItems:   opts.MaxItems,
		maxRSAOps:  opts.MaxRSAOps,
		trusted:    opts.TrustedProxies,
		wrapOpener: opts.wrapOpener,
	}
	if l.maxBody <= 0 {
		l.maxBody = DefaultMaxBodyBytes
	}
	if l.maxItems <= 0 {
		l.maxItems = DefaultMaxItems
	}
	if l.maxRSAOps <= 0 {
		l.maxRSAOps = DefaultMaxRSAOps
	}
	if l.trusted == nil {
		l.trusted = TrustAnyProxy
	}
	l.inFlight = make(chan struct{}, positiveOr(opts.MaxInFlight, DefaultMaxInFlight))
	l.decrypting = make(chan struct{}, positiveOr(opts.MaxDecrypting, DefaultMaxDecrypting))
	return l
}

func positiveOr(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// newGlobalBucket is the bucket all clients share.
func newGlobalBucket(l RateLimit, now func() time.Time) *tokenBucket {
	if l.PerSecond == 0 {
		l.PerSecond = DefaultGlobalPerSecond
	}
	if l.Burst == 0 {
		l.Burst = DefaultGlobalBurst
	}
	return newTokenBucket(l, now)
}

// tryAcquire takes a slot of sem without waiting.
func tryAcquire(sem chan struct{}) bool {
	select {
	case sem <- struct{}{}:
		return true
	default:
		return false
	}
}

// apiRequest is an admitted verify or rotate request.
type apiRequest struct {
	ss      *v1alpha1.SealedSecret
	body    []byte
	opener  sealedsecret.Opener
	release func()
}

// admit runs every check a verify or rotate request must pass before any
// decryption, cheapest first: the rate limits of its client and of all
// clients, a serving slot, the body size, one SealedSecret, keys loaded, the
// item and RSA-work bounds, and a decryption slot. On failure it has written
// the response; on success the caller must call release.
func (a *api) admit(w http.ResponseWriter, r *http.Request, lim *limiter) (*apiRequest, bool) {
	if ok, wait := lim.take(clientOf(r, a.limits.trusted)); !ok {
		secs := max(1, int(math.Ceil(wait.Seconds())))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeError(w, http.StatusTooManyRequests, "too many requests to %s: retry in %d s", r.URL.Path, secs)
		return nil, false
	}
	if !tryAcquire(a.limits.inFlight) {
		busy(w, r, "requests")
		return nil, false
	}
	release := func() { <-a.limits.inFlight }
	ss, body, ok := a.readSealedSecret(w, r)
	if !ok {
		release()
		return nil, false
	}
	kr := a.src.Keyring()
	if len(kr.Keys()) == 0 {
		release()
		writeError(w, http.StatusServiceUnavailable, msgNoKeys)
		return nil, false
	}
	cost := sealedsecret.OpenCost(ss, kr.Keys())
	switch {
	case cost.Items > a.limits.maxItems:
		release()
		writeError(w, http.StatusRequestEntityTooLarge, "%s has %d items, more than the %d this controller checks in one request (--api-max-items): split it into several SealedSecrets",
			objectName(ss), cost.Items, a.limits.maxItems)
		return nil, false
	case cost.RSAOps > a.limits.maxRSAOps:
		release()
		writeError(w, http.StatusRequestEntityTooLarge, "%s has %d items in format v1; with this controller's RSA keys checking them may take %d RSA decryptions, more than the %d allowed per request (--api-max-rsa-operations): split it, or seal it again in format v2",
			objectName(ss), cost.V1Items, cost.RSAOps, a.limits.maxRSAOps)
		return nil, false
	}
	if !tryAcquire(a.limits.decrypting) {
		release()
		busy(w, r, "decryptions")
		return nil, false
	}
	var opener sealedsecret.Opener = kr
	if a.limits.wrapOpener != nil {
		opener = a.limits.wrapOpener(opener)
	}
	return &apiRequest{ss: ss, body: body, opener: opener, release: func() {
		<-a.limits.decrypting
		release()
	}}, true
}

// busy answers 429 for a request that found every slot taken; the CLI waits
// Retry-After and tries again.
func busy(w http.ResponseWriter, r *http.Request, what string) {
	w.Header().Set("Retry-After", "1")
	writeError(w, http.StatusTooManyRequests, "too many %s in progress on %s: retry in 1 s", what, r.URL.Path)
}

// readSealedSecret reads the body within the size limit and decodes one
// SealedSecret. On failure it has written the response and returns false.
func (a *api) readSealedSecret(w http.ResponseWriter, r *http.Request) (*v1alpha1.SealedSecret, []byte, bool) {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.limits.maxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "the body is larger than %d bytes: send one SealedSecret per request", a.limits.maxBody)
		return nil, nil, false
	case err != nil:
		writeError(w, http.StatusBadRequest, "read the body: %v; send one SealedSecret as YAML or JSON", err)
		return nil, nil, false
	}
	ss, err := sealedsecret.DecodeSealedSecret(body)
	switch {
	case errors.Is(err, sealedsecret.ErrTooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "%v: send one SealedSecret per request", err)
		return nil, nil, false
	case err != nil:
		writeError(w, http.StatusBadRequest, "the body is not one SealedSecret: %v; send one kseal.dev or bitnami.com SealedSecret as YAML or JSON", err)
		return nil, nil, false
	}
	return ss, body, true
}
