package httpapi_test

import (
	"bytes"
	"encoding/base64"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/keys"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
	"github.com/kseal-dev/kseal/crypto/sealing"
	"github.com/kseal-dev/kseal/httpapi"
	"github.com/kseal-dev/kseal/httpapi/wire"
)

// Values sealed by these tests; no response may ever contain them.
var apiPlaintexts = map[string]string{
	"password": "correct-horse-battery-staple",
	"user":     "admin-7f3e9a",
}

var (
	apiKeysOnce          sync.Once
	apiOldGen, apiNewGen *keys.Generation
	apiKeysErr           error
)

// apiGenerations returns two key generations, a day apart: the cluster's
// key before and after a renewal.
func apiGenerations(t *testing.T) (old, renewed *keys.Generation) {
	t.Helper()
	apiKeysOnce.Do(func() {
		base := time.Now().Add(-72 * time.Hour)
		apiOldGen, apiKeysErr = keys.Generate(keys.GenerateOptions{Name: "kseal-key-old", RSABits: 2048, Now: base})
		if apiKeysErr != nil {
			return
		}
		apiNewGen, apiKeysErr = keys.Generate(keys.GenerateOptions{Name: "kseal-key-new", RSABits: 2048, Now: base.Add(24 * time.Hour)})
	})
	if apiKeysErr != nil {
		t.Fatal(apiKeysErr)
	}
	return apiOldGen, apiNewGen
}

// apiSecret is the Secret the tests seal, changed by mods.
func apiSecret(mods ...func(*corev1.Secret)) *corev1.Secret {
	s := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{Name: "db", Namespace: "prod", Labels: map[string]string{"app": "db"}},
		StringData: maps.Clone(apiPlaintexts),
	}
	for _, m := range mods {
		m(s)
	}
	return s
}

func withScope(sc string) func(*corev1.Secret) {
	return func(s *corev1.Secret) { s.Annotations = map[string]string{v1alpha1.AnnotationScope: sc} }
}

// apiSeal seals apiSecret(mods...) to g in format v.
func apiSeal(t *testing.T, g *keys.Generation, v sealing.Version, mods ...func(*corev1.Secret)) *v1alpha1.SealedSecret {
	t.Helper()
	ss, err := sealedsecret.Seal(apiSecret(mods...), &g.Certificate.PublicKey, sealedsecret.SealOptions{Version: v})
	if err != nil {
		t.Fatal(err)
	}
	return ss
}

func apiEncode(t *testing.T, format string, obj any) []byte {
	t.Helper()
	b, err := sealedsecret.Encode(format, obj)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

type apiResponse struct {
	code   int
	header http.Header
	body   []byte
}

// apiServer serves the real handler over HTTP.
func apiServer(t *testing.T, src keys.Source, opts httpapi.Options) string {
	t.Helper()
	srv := httptest.NewServer(httpapi.NewHandler(src, opts))
	t.Cleanup(srv.Close)
	return srv.URL
}

// apiDo sends one request and checks what every response must satisfy: no
// plaintext, and errors as one line of plain text.
func apiDo(t *testing.T, base, method, path string, body []byte) apiResponse {
	t.Helper()
	req, err := http.NewRequest(method, base+path, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range apiPlaintexts {
		if bytes.Contains(data, []byte(v)) || bytes.Contains(data, []byte(base64.StdEncoding.EncodeToString([]byte(v)))) {
			t.Fatalf("%s %s: the response contains a plaintext value", method, path)
		}
	}
	if resp.StatusCode >= 400 {
		if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain") {
			t.Errorf("%s %s: error Content-Type %q, want text/plain", method, path, ct)
		}
		if n := bytes.Count(data, []byte("\n")); n != 1 || !bytes.HasSuffix(data, []byte("\n")) {
			t.Errorf("%s %s: error body is not one line: %q", method, path, data)
		}
	}
	return apiResponse{code: resp.StatusCode, header: resp.Header, body: data}
}

func wantCode(t *testing.T, r apiResponse, code int) {
	t.Helper()
	if r.code != code {
		t.Fatalf("status %d, want %d; body: %s", r.code, code, r.body)
	}
}

func TestAPI_healthz(t *testing.T) {
	old, _ := apiGenerations(t)
	base := apiServer(t, keys.NewSet(old), httpapi.Options{})
	r := apiDo(t, base, http.MethodGet, wire.PathHealthz, nil)
	wantCode(t, r, http.StatusOK)
	if string(r.body) != "ok\n" {
		t.Errorf("body %q, want ok", r.body)
	}

	empty := apiServer(t, keys.NewSet(), httpapi.Options{})
	r = apiDo(t, empty, http.MethodGet, wire.PathHealthz, nil)
	wantCode(t, r, http.StatusServiceUnavailable)
	if !bytes.Contains(r.body, []byte("no sealing key yet")) {
		t.Errorf("body %q does not say that there is no key", r.body)
	}
}

func TestAPI_cert(t *testing.T) {
	old, renewed := apiGenerations(t)
	base := apiServer(t, keys.NewSet(old, renewed), httpapi.Options{})
	r := apiDo(t, base, http.MethodGet, wire.PathCert, nil)
	wantCode(t, r, http.StatusOK)
	if got := r.header.Get("Content-Type"); got != "application/x-pem-file" {
		t.Errorf("Content-Type %q", got)
	}
	if !bytes.Equal(r.body, renewed.CertificatePEM) {
		t.Errorf("served a certificate other than the newest generation's")
	}

	r = apiDo(t, base, http.MethodPost, wire.PathCert, []byte("x"))
	wantCode(t, r, http.StatusMethodNotAllowed)
	if got := r.header.Get("Allow"); got != "GET, HEAD" {
		t.Errorf("Allow %q", got)
	}

	empty := apiServer(t, keys.NewSet(), httpapi.Options{})
	r = apiDo(t, empty, http.MethodGet, wire.PathCert, nil)
	wantCode(t, r, http.StatusServiceUnavailable)
	if !bytes.Contains(r.body, []byte("no sealing key yet")) {
		t.Errorf("body %q", r.body)
	}
}

func TestAPI_verify(t *testing.T) {
	old, renewed := apiGenerations(t)
	moved := apiSeal(t, old, sealing.V2)
	moved.Namespace = "staging"
	corrupt := apiSeal(t, old, sealing.V2)
	corrupt.Spec.EncryptedData["password"] = corrupt.Spec.EncryptedData["password"][:80]
	badTemplate := apiSeal(t, old, sealing.V2)
	badTemplate.Spec.Template.Data = map[string]string{"dsn": `{{ .password }}{{ .missing }}`}
	configMap := []byte("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: c\ndata:\n  a: b\n")
	twoDocs := append(append(apiEncode(t, "yaml", apiSeal(t, old, sealing.V2)), "---\n"...), apiEncode(t, "yaml", apiSeal(t, old, sealing.V2))...)

	tests := []struct {
		name     string
		method   string
		body     []byte
		code     int
		reason   string
		contains []string
	}{
		{name: "v2 yaml", body: apiEncode(t, "yaml", apiSeal(t, old, sealing.V2)), code: 200, contains: []string{"ok: every item of prod/db unseals"}},
		{name: "v2 json", body: apiEncode(t, "json", apiSeal(t, old, sealing.V2)), code: 200},
		{name: "renewed key", body: apiEncode(t, "yaml", apiSeal(t, renewed, sealing.V2)), code: 200},
		{name: "bitnami v1", body: apiEncode(t, "yaml", apiSeal(t, old, sealing.V1)), code: 200},
		{name: "strict moved to another namespace", body: apiEncode(t, "yaml", moved), code: 409, reason: v1alpha1.ReasonScopeMismatch,
			contains: []string{"unseal staging/db", `items "password", "user"`, "scope mismatch", `namespace "prod"`}},
		{name: "corrupt", body: apiEncode(t, "yaml", corrupt), code: 409, reason: v1alpha1.ReasonCorruptData,
			contains: []string{`item "password": corrupt input`, "seal the value again"}},
		// Verify opens the items and never renders templates.
		{name: "template not rendered", body: apiEncode(t, "yaml", badTemplate), code: 200, contains: []string{"ok: every item of prod/db unseals"}},
		{name: "not a SealedSecret", body: configMap, code: 400, contains: []string{"not one SealedSecret", "ConfigMap"}},
		{name: "not YAML", body: []byte("{[: nope"), code: 400, contains: []string{"not valid YAML or JSON"}},
		{name: "empty", body: nil, code: 400},
		{name: "two objects", body: twoDocs, code: 400, contains: []string{"found 2 documents"}},
		{name: "GET", method: http.MethodGet, code: 405, contains: []string{"POST one SealedSecret"}},
	}
	base := apiServer(t, keys.NewSet(old, renewed), httpapi.Options{})
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			method := tt.method
			if method == "" {
				method = http.MethodPost
			}
			r := apiDo(t, base, method, wire.PathVerify, tt.body)
			wantCode(t, r, tt.code)
			if got := r.header.Get(wire.HeaderReason); got != tt.reason {
				t.Errorf("%s: %q, want %q", wire.HeaderReason, got, tt.reason)
			}
			for _, c := range tt.contains {
				if !bytes.Contains(r.body, []byte(c)) {
					t.Errorf("body %q does not contain %q", r.body, c)
				}
			}
		})
	}
}

func TestAPI_verifyRefused(t *testing.T) {
	old, renewed := apiGenerations(t)
	// The cluster holds only the old key; the object was sealed elsewhere.
	base := apiServer(t, keys.NewSet(old), httpapi.Options{})
	for _, v := range []sealing.Version{sealing.V2, sealing.V1} {
		r := apiDo(t, base, http.MethodPost, wire.PathVerify, apiEncode(t, "yaml", apiSeal(t, renewed, v)))
		wantCode(t, r, http.StatusConflict)
		if got := r.header.Get(wire.HeaderReason); got != v1alpha1.ReasonUnknownKey {
			t.Errorf("%v: reason %q", v, got)
		}
		if !bytes.Contains(r.body, []byte("unknown key")) || !bytes.Contains(r.body, []byte("seal it again with this cluster's certificate")) {
			t.Errorf("%v: body %q", v, r.body)
		}
	}

	empty := apiServer(t, keys.NewSet(), httpapi.Options{})
	r := apiDo(t, empty, http.MethodPost, wire.PathVerify, apiEncode(t, "yaml", apiSeal(t, old, sealing.V2)))
	wantCode(t, r, http.StatusServiceUnavailable)
}

func TestAPI_bodyLimit(t *testing.T) {
	old, _ := apiGenerations(t)
	body := apiEncode(t, "yaml", apiSeal(t, old, sealing.V2))

	base := apiServer(t, keys.NewSet(old), httpapi.Options{})
	huge := append(bytes.Repeat([]byte("# padding\n"), httpapi.DefaultMaxBodyBytes/10+1), body...)
	for _, path := range []string{wire.PathVerify, wire.PathRotate} {
		r := apiDo(t, base, http.MethodPost, path, huge)
		wantCode(t, r, http.StatusRequestEntityTooLarge)
		if !bytes.Contains(r.body, []byte(fmt.Sprintf("larger than %d bytes", httpapi.DefaultMaxBodyBytes))) {
			t.Errorf("%s: body %q", path, r.body)
		}
	}

	small := apiServer(t, keys.NewSet(old), httpapi.Options{MaxBodyBytes: int64(len(body) - 1)})
	wantCode(t, apiDo(t, small, http.MethodPost, wire.PathVerify, body), http.StatusRequestEntityTooLarge)
}

// fakeClock is a settable clock for the rate limits.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

func TestAPI_rateLimit(t *testing.T) {
	old, _ := apiGenerations(t)
	body := apiEncode(t, "yaml", apiSeal(t, old, sealing.V2))
	clock := &fakeClock{t: time.Unix(1_800_000_000, 0)}
	base := apiServer(t, keys.NewSet(old), httpapi.Options{
		Verify: httpapi.RateLimit{PerSecond: 0.5, Burst: 2},
		Rotate: httpapi.RateLimit{PerSecond: 1, Burst: 1},
		Now:    clock.Now,
	})

	wantCode(t, apiDo(t, base, http.MethodPost, wire.PathVerify, body), 200)
	wantCode(t, apiDo(t, base, http.MethodPost, wire.PathVerify, body), 200)
	r := apiDo(t, base, http.MethodPost, wire.PathVerify, body)
	wantCode(t, r, http.StatusTooManyRequests)
	if got := r.header.Get("Retry-After"); got != "2" {
		t.Errorf("Retry-After %q, want 2", got)
	}
	if !bytes.Contains(r.body, []byte("too many requests to /v1/verify: retry in 2 s")) {
		t.Errorf("body %q", r.body)
	}

	// Rotate has a bucket of its own.
	wantCode(t, apiDo(t, base, http.MethodPost, wire.PathRotate, body), 200)
	wantCode(t, apiDo(t, base, http.MethodPost, wire.PathRotate, body), http.StatusTooManyRequests)
	// Other endpoints are not limited.
	for range 5 {
		wantCode(t, apiDo(t, base, http.MethodGet, wire.PathCert, nil), 200)
	}

	clock.Advance(2 * time.Second)
	wantCode(t, apiDo(t, base, http.MethodPost, wire.PathVerify, body), 200)
	wantCode(t, apiDo(t, base, http.MethodPost, wire.PathVerify, body), http.StatusTooManyRequests)
	wantCode(t, apiDo(t, base, http.MethodPost, wire.PathRotate, body), 200)
}

func TestAPI_observe(t *testing.T) {
	old, _ := apiGenerations(t)
	type call struct {
		endpoint string
		code     int
	}
	var mu sync.Mutex
	var calls []call
	base := apiServer(t, keys.NewSet(old), httpapi.Options{
		Observe: func(endpoint string, code int, _ time.Duration) {
			mu.Lock()
			defer mu.Unlock()
			calls = append(calls, call{endpoint, code})
		},
	})
	apiDo(t, base, http.MethodGet, wire.PathHealthz, nil)
	apiDo(t, base, http.MethodGet, wire.PathCert, nil)
	apiDo(t, base, http.MethodPost, wire.PathVerify, []byte("kind: ConfigMap"))
	apiDo(t, base, http.MethodGet, wire.PathRotate, nil)
	if r := apiDo(t, base, http.MethodGet, "/nope", nil); !bytes.Contains(r.body, []byte("no endpoint /nope: use GET /healthz, GET /v1/cert.pem, POST /v1/verify or POST /v1/rotate")) {
		t.Errorf("404 body %q does not list the endpoints", r.body)
	}
	want := []call{{"healthz", 200}, {"cert", 200}, {"verify", 400}, {"rotate", 405}, {"unknown", 404}}
	mu.Lock()
	defer mu.Unlock()
	if len(calls) != len(want) {
		t.Fatalf("calls %v, want %v", calls, want)
	}
	for i := range want {
		if calls[i] != want[i] {
			t.Errorf("call %d: %v, want %v", i, calls[i], want[i])
		}
	}
}

// TestAPI_neverReturnsPlaintext sends every kind of request, including
// objects whose values are quoted by the template engine, and checks (in
// apiDo) that no response carries a value.
func TestAPI_neverReturnsPlaintext(t *testing.T) {
	old, renewed := apiGenerations(t)
	base := apiServer(t, keys.NewSet(old, renewed), httpapi.Options{Verify: httpapi.RateLimit{PerSecond: -1}, Rotate: httpapi.RateLimit{PerSecond: -1}})
	leaky := apiSeal(t, old, sealing.V2)
	leaky.Spec.Template.Data = map[string]string{"x": `{{ printf "%s:%s" .password .missing }}`}
	moved := apiSeal(t, old, sealing.V1)
	moved.Name = "other"
	bodies := [][]byte{
		apiEncode(t, "yaml", apiSeal(t, old, sealing.V2)),
		apiEncode(t, "json", apiSeal(t, old, sealing.V1)),
		apiEncode(t, "yaml", leaky),
		apiEncode(t, "yaml", moved),
		[]byte("apiVersion: v1\nkind: Secret\nmetadata:\n  name: db\nstringData:\n  password: " + apiPlaintexts["password"] + "\n"),
		[]byte("password: " + apiPlaintexts["password"] + ": {["),
	}
	for _, body := range bodies {
		for _, path := range []string{wire.PathVerify, wire.PathRotate} {
			apiDo(t, base, http.MethodPost, path, body)
		}
	}
	for _, path := range []string{wire.PathHealthz, wire.PathCert} {
		apiDo(t, base, http.MethodGet, path, nil)
	}
}
