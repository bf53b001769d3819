package controllers

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/go-logr/logr"
	"sigs.k8s.io/yaml"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/scope"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/crypto/sealing"
)

// Paths of the controller's HTTP API. The CLI reaches them through the API
// server's service proxy, or directly with --controller-url.
const (
	// PathHealthz answers 200 "ok" once a key generation exists, else 503.
	PathHealthz = "/healthz"
	// PathCert serves the newest generation's certificate (cert.pem).
	PathCert = "/v1/cert.pem"
	// PathVerify takes one SealedSecret and answers 200 when every item
	// unseals, 409 with the reason when one does not.
	PathVerify = "/v1/verify"
	// PathRotate takes one SealedSecret and returns it sealed to the newest
	// generation.
	PathRotate = "/v1/rotate"
)

// Response headers of the API.
const (
	// HeaderRotated is "true" on a POST /v1/rotate response that differs
	// from the request, "false" when the object was already sealed to the
	// newest generation and is returned unchanged.
	HeaderRotated = "Kseal-Rotated"
	// HeaderReason carries the v1alpha1 Ready reason (UnknownKey,
	// ScopeMismatch, CorruptData, TemplateError) of a 409 response.
	HeaderReason = "Kseal-Reason"
)

// DefaultMaxBodyBytes bounds a request body unless APIOptions says otherwise.
const DefaultMaxBodyBytes = 2 << 20

// APIOptions tunes NewAPIHandler. The zero value gives the production
// defaults.
type APIOptions struct {
	// Verify limits POST /v1/verify (default 5 per second, bursts of 20).
	Verify RateLimit
	// Rotate limits POST /v1/rotate, in a bucket of its own (same defaults).
	Rotate RateLimit
	// MaxBodyBytes bounds a request body; DefaultMaxBodyBytes when zero.
	MaxBodyBytes int64
	// Now is the clock of the rate limits and of Observe; time.Now when nil.
	Now func() time.Time
	// Observe, when set, is called once per request with the endpoint
	// ("healthz", "cert", "verify", "rotate" or "unknown"), the response
	// status code and the time the request took, for metrics.
	Observe func(endpoint string, code int, elapsed time.Duration)
	// Log receives a line for every SealedSecret the API refuses (namespace,
	// name and reason, never a value). The zero Logger discards.
	Log logr.Logger
}

// api serves the endpoints; it holds no state besides the rate limits.
type api struct {
	src     KeySource
	opts    APIOptions
	now     func() time.Time
	maxBody int64
	verifyB *tokenBucket // admits POST /v1/verify
	rotateB *tokenBucket // admits POST /v1/rotate
}

// endpoint describes one route: its metric name, allowed methods and what a
// caller should send, for the 405 message.
type endpoint struct {
	name    string
	methods []string
	usage   string
	serve   http.HandlerFunc
}

// NewAPIHandler returns the controller's HTTP API over the keys of src:
// GET /healthz, GET /v1/cert.pem, POST /v1/verify and POST /v1/rotate (see
// the Path constants). Responses never contain a decrypted value; errors are
// one line of plain text that says what to do.
func NewAPIHandler(src KeySource, opts APIOptions) http.Handler {
	a := &api{src: src, opts: opts, now: opts.Now, maxBody: opts.MaxBodyBytes}
	if a.now == nil {
		a.now = time.Now
	}
	if a.maxBody <= 0 {
		a.maxBody = DefaultMaxBodyBytes
	}
	a.verifyB = newTokenBucket(opts.Verify, a.now)
	a.rotateB = newTokenBucket(opts.Rotate, a.now)

	get := []string{http.MethodGet, http.MethodHead}
	post := []string{http.MethodPost}
	mux := http.NewServeMux()
	mux.Handle(PathHealthz, a.handle(endpoint{"healthz", get, "GET " + PathHealthz, a.healthz}))
	mux.Handle(PathCert, a.handle(endpoint{"cert", get, "GET " + PathCert, a.cert}))
	mux.Handle(PathVerify, a.handle(endpoint{"verify", post, "POST one SealedSecret (YAML or JSON) to " + PathVerify, a.verify}))
	mux.Handle(PathRotate, a.handle(endpoint{"rotate", post, "POST one SealedSecret (YAML or JSON) to " + PathRotate, a.rotate}))
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
	writeError(w, http.StatusNotFound, "no endpoint %s: use GET %s, GET %s, POST %s or POST %s", r.URL.Path, PathHealthz, PathCert, PathVerify, PathRotate)
}

func (a *api) verify(w http.ResponseWriter, r *http.Request) {
	ss, _, ok := a.readSealedSecret(w, r, a.verifyB)
	if !ok {
		return
	}
	kr := a.src.Keyring()
	if len(kr.Keys()) == 0 {
		writeError(w, http.StatusServiceUnavailable, msgNoKeys)
		return
	}
	res, err := sealedsecret.Unseal(ss, kr, sealedsecret.UnsealOptions{})
	if err != nil {
		a.refuse(w, "verify", ss, err)
		return
	}
	for _, v := range res.Secret.Data {
		clear(v)
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	fmt.Fprintf(w, "ok: every item of %s unseals\n", objectName(ss))
}

func (a *api) rotate(w http.ResponseWriter, r *http.Request) {
	ss, body, ok := a.readSealedSecret(w, r, a.rotateB)
	if !ok {
		return
	}
	newest := a.src.Newest()
	if newest == nil {
		writeError(w, http.StatusServiceUnavailable, msgNoKeys)
		return
	}
	sealed, changed, err := reseal(ss, a.src.Keyring(), newest)
	var unsealErr *sealedsecret.Error
	switch {
	case errors.As(err, &unsealErr):
		a.refuse(w, "rotate", ss, err)
		return
	case err != nil:
		writeError(w, http.StatusConflict, "rotate %s: %v", objectName(ss), err)
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
	w.Header().Set(HeaderRotated, strconv.FormatBool(changed))
	w.Write(out)
}

// readSealedSecret admits the request through bucket, reads its body within
// the size limit and decodes one SealedSecret. On failure it has written the
// response and returns false.
func (a *api) readSealedSecret(w http.ResponseWriter, r *http.Request, bucket *tokenBucket) (*v1alpha1.SealedSecret, []byte, bool) {
	if ok, wait := bucket.take(); !ok {
		secs := max(1, int(math.Ceil(wait.Seconds())))
		w.Header().Set("Retry-After", strconv.Itoa(secs))
		writeError(w, http.StatusTooManyRequests, "too many requests to %s: retry in %d s", r.URL.Path, secs)
		return nil, nil, false
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, a.maxBody))
	var tooLarge *http.MaxBytesError
	switch {
	case errors.As(err, &tooLarge):
		writeError(w, http.StatusRequestEntityTooLarge, "the body is larger than %d bytes: send one SealedSecret per request", a.maxBody)
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

// refuse answers 409 for a SealedSecret that the keys cannot open.
func (a *api) refuse(w http.ResponseWriter, endpoint string, ss *v1alpha1.SealedSecret, err error) {
	reason := sealedsecret.Reason(err)
	a.opts.Log.Info("refused a SealedSecret", "endpoint", endpoint, "namespace", ss.Namespace, "name", ss.Name, "reason", reason)
	w.Header().Set(HeaderReason, reason)
	msg := err.Error()
	switch reason {
	case v1alpha1.ReasonUnknownKey:
		msg += "; seal it again with this cluster's certificate (kseal seal fetches it)"
	case v1alpha1.ReasonCorruptData:
		msg += "; the ciphertext was changed or cut: seal the value again"
	case v1alpha1.ReasonTemplateError:
		msg += "; fix spec.template.data"
	}
	writeError(w, http.StatusConflict, "%s", msg)
}

// errNoRecipient: a kseal.dev object must be sealed in format v2, which the
// newest generation cannot do.
var errNoRecipient = errors.New("the newest key generation has no post-quantum recipient (it was imported from sealed-secrets), so it cannot seal format v2; create a kseal key generation or convert the object to bitnami.com/v1alpha1")

// reseal opens every item of ss with kr and, unless each one is already
// sealed to newest in the object's format (v2 for kseal.dev, v1 for
// bitnami.com), seals them all again to newest under the same scope label. It
// returns the new spec.encryptedData and whether it differs from the old one.
// Decrypted values are wiped before it returns; an open failure is a
// *sealedsecret.Error.
func reseal(ss *v1alpha1.SealedSecret, kr *sealing.Keyring, newest *keys.Generation) (map[string]string, bool, error) {
	version := sealing.V2
	if ss.APIVersion == sealedsecret.BitnamiAPIVersion {
		version = sealing.V1
	}
	pk := &newest.Certificate.PublicKey
	newestID, hasID := newest.Certificate.KeyID()
	if version == sealing.V2 && !hasID {
		return nil, false, errNoRecipient
	}
	sc, err := scope.FromAnnotations(ss.Annotations)
	if err != nil {
		return nil, false, &sealedsecret.Error{Namespace: ss.Namespace, Name: ss.Name,
			Items: []*sealedsecret.ItemError{{Err: &sealing.CorruptError{Detail: err.Error()}}}}
	}
	label := sc.Label(ss.Namespace, ss.Name)
	var alternatives [][]byte
	for _, other := range []scope.Scope{scope.Strict, scope.NamespaceWide, scope.ClusterWide} {
		if other != sc {
			alternatives = append(alternatives, other.Label(ss.Namespace, ss.Name))
		}
	}

	plain := make(map[string][]byte, len(ss.Spec.EncryptedData))
	defer func() {
		for _, v := range plain {
			clear(v)
		}
	}()
	var failed []*sealedsecret.ItemError
	current := true
	for _, item := range slices.Sorted(maps.Keys(ss.Spec.EncryptedData)) {
		ct, err := base64.StdEncoding.DecodeString(ss.Spec.EncryptedData[item])
		if err != nil {
			failed = append(failed, &sealedsecret.ItemError{Item: item, Err: &sealing.CorruptError{Detail: "not valid base64"}})
			continue
		}
		pt, key, err := kr.Open(ct, label, sealing.OpenOptions{Prefer: newest.Name, Alternatives: alternatives})
		if err != nil {
			failed = append(failed, &sealedsecret.ItemError{Item: item, Err: err})
			continue
		}
		plain[item] = pt
		if version == sealing.V2 {
			current = current && sealing.IsV2(ct) && key.ID == newestID
		} else {
			current = current && !sealing.IsV2(ct) && key.RSA != nil && key.RSA.PublicKey.Equal(pk.RSA)
		}
	}
	if len(failed) > 0 {
		return nil, false, &sealedsecret.Error{Namespace: ss.Namespace, Name: ss.Name, Items: failed}
	}
	if current {
		return nil, false, nil
	}
	sealed, err := sealedsecret.SealItems(plain, pk, version, label)
	if err != nil {
		return nil, false, err
	}
	return sealed, true, nil
}

// withEncryptedData returns body with spec.encryptedData replaced by sealed.
// It replaces the ciphertexts in the text when it can, so the comments,
// field order and layout of the object are kept; otherwise it encodes the
// object again (YAML, or JSON when asJSON), keeping every other field.
func withEncryptedData(body []byte, ss *v1alpha1.SealedSecret, sealed map[string]string, asJSON bool) ([]byte, error) {
	if out, ok := replaceCiphertexts(body, ss.Spec.EncryptedData, sealed); ok {
		if got, err := sealedsecret.DecodeSealedSecret(out); err == nil && sameExceptData(ss, got, sealed) {
			return out, nil
		}
	}
	var obj map[string]any
	if err := yaml.Unmarshal(body, &obj, func(d *json.Decoder) *json.Decoder { d.UseNumber(); return d }); err != nil {
		return nil, err
	}
	spec, ok := obj["spec"].(map[string]any)
	if !ok {
		return nil, errors.New("spec is not a mapping")
	}
	spec["encryptedData"] = sealed
	var out []byte
	var err error
	if asJSON {
		out, err = json.MarshalIndent(obj, "", "  ")
		out = append(out, '\n')
	} else {
		out, err = yaml.Marshal(obj)
	}
	if err != nil {
		return nil, err
	}
	got, err := sealedsecret.DecodeSealedSecret(out)
	if err != nil {
		return nil, err
	}
	if !maps.Equal(got.Spec.EncryptedData, sealed) {
		return nil, errors.New("encryptedData changed in encoding")
	}
	return out, nil
}

// replaceCiphertexts replaces, in the text, every old value by the new value
// of the same item. It succeeds only when each old value occurs exactly once
// as a whole base64 token.
func replaceCiphertexts(body []byte, old, sealed map[string]string) ([]byte, bool) {
	type edit struct {
		at     int
		oldLen int
		repl   string
	}
	edits := make([]edit, 0, len(old))
	for item, o := range old {
		n, ok := sealed[item]
		if !ok || o == "" {
			return nil, false
		}
		at, count := -1, 0
		for i := 0; ; {
			j := bytes.Index(body[i:], []byte(o))
			if j < 0 {
				break
			}
			j += i
			if !isBase64Byte(byteAt(body, j-1)) && !isBase64Byte(byteAt(body, j+len(o))) {
				at = j
				count++
			}
			i = j + 1
		}
		if count != 1 {
			return nil, false
		}
		edits = append(edits, edit{at, len(o), n})
	}
	slices.SortFunc(edits, func(a, b edit) int { return a.at - b.at })
	var out bytes.Buffer
	prev := 0
	for _, e := range edits {
		if e.at < prev {
			return nil, false
		}
		out.Write(body[prev:e.at])
		out.WriteString(e.repl)
		prev = e.at + e.oldLen
	}
	out.Write(body[prev:])
	return out.Bytes(), true
}

func byteAt(b []byte, i int) byte {
	if i < 0 || i >= len(b) {
		return 0
	}
	return b[i]
}

func isBase64Byte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '='
}

// sameExceptData reports whether got is before with spec.encryptedData
// replaced by sealed.
func sameExceptData(before, got *v1alpha1.SealedSecret, sealed map[string]string) bool {
	if !maps.Equal(got.Spec.EncryptedData, sealed) {
		return false
	}
	a, b := before.DeepCopy(), got.DeepCopy()
	a.Spec.EncryptedData, b.Spec.EncryptedData = nil, nil
	return reflect.DeepEqual(a, b)
}

func startsWithBrace(body []byte) bool {
	t := bytes.TrimLeft(body, " \t\r\n")
	return len(t) > 0 && t[0] == '{'
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
