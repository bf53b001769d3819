package httpapi

import (
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/httpapi/wire"
)

// Options tunes NewHandler. The zero value gives the production defaults
// (see the Default constants).
type Options struct {
	// Verify limits POST /v1/verify per client (DefaultRatePerSecond,
	// DefaultRateBurst).
	Verify RateLimit
	// Rotate limits POST /v1/rotate per client, in buckets of its own (same
	// defaults).
	Rotate RateLimit
	// Global limits verify and rotate requests of all clients together
	// (DefaultGlobalPerSecond, DefaultGlobalBurst), so that callers who
	// present as many clients still cannot raise the total.
	Global RateLimit
	// TrustedProxies are the peers whose X-Forwarded-For header names the
	// client (its last entry, which the API server's service proxy appends);
	// other requests are counted by their peer address. Nil trusts every
	// peer (TrustAnyProxy); an empty, non-nil slice trusts none.
	TrustedProxies []netip.Prefix
	// MaxClients bounds how many clients the per-client limits remember
	// (DefaultMaxClients when zero).
	MaxClients int
	// MaxBodyBytes bounds a request body; DefaultMaxBodyBytes when zero.
	MaxBodyBytes int64
	// MaxItems bounds the items of one SealedSecret; DefaultMaxItems when
	// zero.
	MaxItems int
	// MaxRSAOps bounds the RSA decryptions one request may need in the worst
	// case (sealedsecret.OpenCost), checked before any; DefaultMaxRSAOps
	// when zero.
	MaxRSAOps int
	// MaxInFlight bounds the verify and rotate requests served at once,
	// reading their body included; DefaultMaxInFlight when zero.
	MaxInFlight int
	// MaxDecrypting bounds the requests decrypting at once;
	// DefaultMaxDecrypting when zero.
	MaxDecrypting int
	// Now is the clock of the rate limits and of Observe; time.Now when nil.
	Now func() time.Time
	// Observe, when set, is called once per request with the endpoint
	// ("healthz", "cert", "verify", "rotate" or "unknown"), the response
	// status code and the time the request took, for metrics.
	Observe func(endpoint string, code int, elapsed time.Duration)
	// Log receives a line for every SealedSecret the API refuses (namespace,
	// name and reason, never a value). The zero Logger discards.
	Log logr.Logger

	// wrapOpener, when set, wraps the keyring each request opens items
	// with (tests count the work through it).
	wrapOpener func(sealedsecret.Opener) sealedsecret.Opener
}

// api serves the endpoints; it holds no state besides the limits.
type api struct {
	src    keys.Source
	opts   Options
	now    func() time.Time
	limits apiLimits
	// verifyL and rotateL admit POST /v1/verify and POST /v1/rotate: client
	// buckets of their own, one global bucket shared.
	verifyL *limiter
	rotateL *limiter
}

// endpoint describes one route: its metric name, allowed methods and what a
// caller should send, for the 405 message.
type endpoint struct {
	name    string
	methods []string
	usage   string
	serve   http.HandlerFunc
}

// NewHandler returns the controller's HTTP API over the keys of src:
// GET /healthz, GET /v1/cert.pem, POST /v1/verify and POST /v1/rotate (see
// the Path constants of package wire). Responses never contain a decrypted value nor depend
// on one; errors are one line of plain text that says what to do.
func NewHandler(src keys.Source, opts Options) http.Handler {
	a := &api{src: src, opts: opts, now: opts.Now}
	if a.now == nil {
		a.now = time.Now
	}
	a.limits = newAPILimits(opts)
	global := newGlobalBucket(opts.Global, a.now)
	a.verifyL = &limiter{clients: newClientBuckets(opts.Verify, opts.MaxClients, a.now), global: global}
	a.rotateL = &limiter{clients: newClientBuckets(opts.Rotate, opts.MaxClients, a.now), global: global}

	get := []string{http.MethodGet, http.MethodHead}
	post := []string{http.MethodPost}
	mux := http.NewServeMux()
	mux.Handle(wire.PathHealthz, a.handle(endpoint{"healthz", get, "GET " + wire.PathHealthz, a.healthz}))
	mux.Handle(wire.PathCert, a.handle(endpoint{"cert", get, "GET " + wire.PathCert, a.cert}))
	mux.Handle(wire.PathVerify, a.handle(endpoint{"verify", post, "POST one SealedSecret (YAML or JSON) to " + wire.PathVerify, a.verify}))
	mux.Handle(wire.PathRotate, a.handle(endpoint{"rotate", post, "POST one SealedSecret (YAML or JSON) to " + wire.PathRotate, a.rotate}))
	mux.Handle("/", a.handle(endpoint{name: "unknown", serve: a.notFound}))
	return mux
}

// handle checks the method, runs the endpoint and reports it to Observe.
func (a *api) handle(e endpoint) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := a.now()
		rec := &statusRecorder{ResponseWriter: w}
		rec.Header().Set("X-Content-Type-Options", "nosniff")
		if e.methods != nil && !slices.Contains(e.methods, r.Method) {
			rec.Header().Set("Allow", strings.Join(e.methods, ", "))
			writeError(rec, http.StatusMethodNotAllowed, "method %s is not allowed on %s: %s", r.Method, r.URL.Path, e.usage)
		} else {
			e.serve(rec, r)
		}
		if a.opts.Observe != nil {
			a.opts.Observe(e.name, rec.status(), a.now().Sub(start))
		}
	})
}

const msgNoKeys = "no sealing key yet: the controller has not created or loaded a key generation; check its logs and the key Secrets in its namespace, then retry"

func (a *api) healthz(w http.ResponseWriter, _ *http.Request) {
	if a.src.Newest() == nil {
		writeError(w, http.StatusServiceUnavailable, msgNoKeys)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	io.WriteString(w, "ok\n")
}

func (a *api) cert(w http.ResponseWriter, _ *http.Request) {
	g := a.src.Newest()
	if g == nil {
		writeError(w, http.StatusServiceUnavailable, msgNoKeys)
		return
	}
	w.Header().Set("Content-Type", "application/x-pem-file")
	w.Header().Set("Content-Length", strconv.Itoa(len(g.CertificatePEM)))
	w.Write(g.CertificatePEM)
}

func (a *api) notFound(w http.ResponseWriter, r *http.Request) {
	writeError(w, http.StatusNotFound, "no endpoint %s: use GET %s, GET %s, POST %s or POST %s", r.URL.Path, wire.PathHealthz, wire.PathCert, wire.PathVerify, wire.PathRotate)
}

// verify answers whether every item of the posted SealedSecret opens under
// its scope. It only opens the items: rendering spec.template.data, which
// the caller controls and the ciphertexts do not bind, would turn the answer
// into a test of the plaintext.
func (a *api) verify(w http.ResponseWriter, r *http.Request) {
	req, ok := a.admit(w, r, a.verifyL)
	if !ok {
		return
	}
	defer req.release()
	opened, err := sealedsecret.OpenItems(r.Context(), req.ss, req.opener, sealedsecret.OpenOptions{})
	if err != nil {
		a.refuse(w, r, "verify", req.ss, err)
		return
	}
	opened.Wipe()
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "ok: every item of %s unseals\n", objectName(req.ss))
}

func (a *api) rotate(w http.ResponseWriter, r *http.Request) {
	req, ok := a.admit(w, r, a.rotateL)
	if !ok {
		return
	}
	defer req.release()
	ss, body := req.ss, req.body
	newest := a.src.Newest()
	if newest == nil {
		writeError(w, http.StatusServiceUnavailable, msgNoKeys)
		return
	}
	sealed, changed, err := sealedsecret.Reseal(r.Context(), ss, req.opener, newest)
	if errors.Is(err, sealedsecret.ErrNoRecipient) {
		writeError(w, http.StatusConflict, "rotate %s: %v", objectName(ss), err)
		return
	}
	if err != nil {
		a.refuse(w, r, "rotate", ss, err)
		return
	}
	asJSON := startsWithBrace(body)
	out := body
	if changed {
		if out, err = withEncryptedData(body, ss, sealed, asJSON); err != nil {
			writeError(w, http.StatusInternalServerError, "rotate %s: encode the result: %v; report this as a bug", objectName(ss), err)
			return
		}
	}
	if asJSON {
		w.Header().Set("Content-Type", "application/json")
	} else {
		w.Header().Set("Content-Type", "application/yaml")
	}
	w.Header().Set("Cache-Control", "no-store")
	w.Header().Set(wire.HeaderRotated, strconv.FormatBool(changed))
	w.Write(out)
}

// refuse answers for a SealedSecret that could not be opened: 409 when the
// keys cannot open it, nothing useful when the client has gone.
func (a *api) refuse(w http.ResponseWriter, r *http.Request, endpoint string, ss *v1alpha1.SealedSecret, err error) {
	var unsealErr *sealedsecret.Error
	if !errors.As(err, &unsealErr) {
		if r.Context().Err() != nil {
			a.opts.Log.Info("client went away; stopped", "endpoint", endpoint, "namespace", ss.Namespace, "name", ss.Name)
			writeError(w, http.StatusServiceUnavailable, "the request was cancelled before %s was checked", objectName(ss))
			return
		}
		writeError(w, http.StatusInternalServerError, "%s %s: %v; report this as a bug", endpoint, objectName(ss), err)
		return
	}
	reason := sealedsecret.Reason(err)
	a.opts.Log.Info("refused a SealedSecret", "endpoint", endpoint, "namespace", ss.Namespace, "name", ss.Name, "reason", reason)
	w.Header().Set(wire.HeaderReason, reason)
	msg := err.Error()
	switch reason {
	case v1alpha1.ReasonUnknownKey:
		msg += "; seal it again with this cluster's certificate (kseal seal fetches it)"
	case v1alpha1.ReasonCorruptData:
		msg += "; the ciphertext was changed or cut: seal the value again"
	}
	writeError(w, http.StatusConflict, "%s", msg)
}

func objectName(ss *v1alpha1.SealedSecret) string {
	if ss.Namespace == "" {
		return ss.Name
	}
	return ss.Namespace + "/" + ss.Name
}

// writeError writes msg as one line of plain text.
func writeError(w http.ResponseWriter, code int, format string, args ...any) {
	msg := fmt.Sprintf(format, args...)
	msg = strings.Join(strings.Fields(msg), " ")
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Del("Content-Length")
	w.WriteHeader(code)
	io.WriteString(w, msg+"\n")
}

// statusRecorder remembers the status code written, for Observe.
type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

func (r *statusRecorder) status() int {
	if r.code == 0 {
		return http.StatusOK
	}
	return r.code
}
