// Package awstest runs AWS Secrets Manager and STS for tests: the kumo
// emulator (github.com/sivchari/kumo) in process, behind a thin HTTP
// middleware that adds what kumo lacks and what tests need to observe. It is
// for tests only.
//
// Start one with NewServer, seed it with CreateSecret and PutSecretValue,
// and point the code under test at Server.URL (both the Secrets Manager and
// the STS endpoint) with the credentials AccessKeyID / SecretAccessKey in
// Server.Region. The middleware:
//   - checks SigV4 on every signed call: a known access key id, the
//     credential scope (region, service) and the signature itself;
//   - implements BatchGetSecretValue (with a SecretIdList) by reading each
//     secret from kumo, and applies ListSecrets Filters, which kumo ignores;
//   - answers ResourceNotFoundException with HTTP 400, as AWS does (kumo
//     uses 404);
//   - serves Parameter Store (SSM) too, and keeps the versions PutParameter
//     stored so that GetParameter reads "name:version" (kumo keeps only
//     the latest);
//   - verifies AssumeRoleWithWebIdentity tokens with a TokenVerifier before
//     kumo's STS issues credentials, and accepts those credentials after;
//   - injects faults (Fail) and latency (SetLatency), and counts calls per
//     operation (Calls).
//
// kumo keeps its state per process, not per server: every Server in a test
// binary sees the same secrets, so tests should use names of their own.
package awstest

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"io"
	"mime"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/sivchari/kumo"
)

// Credentials accepted by every Server, and its default region.
const (
	DefaultRegion   = "us-east-1"
	AccessKeyID     = "AKIAKSEALTEST0000001"
	SecretAccessKey = "kseal-test-secret-access-key"
)

// maxBody bounds a request body read by the middleware.
const maxBody = 4 << 20

// Always makes Fail inject a fault into every matching call.
const Always = -1

// Fault is an AWS error answer.
type Fault struct {
	// Status is the HTTP status code.
	Status int
	// Code is the AWS error code ("ThrottlingException").
	Code string
	// Message is the error message.
	Message string
}

// Faults as AWS sends them.
var (
	// Throttling is Secrets Manager's answer when the request rate is
	// exceeded.
	Throttling = Fault{http.StatusBadRequest, "ThrottlingException", "Rate exceeded"}
	// TooManyRequests is a bare HTTP 429.
	TooManyRequests = Fault{http.StatusTooManyRequests, "TooManyRequestsException", "Too many requests"}
	// InternalError is a Secrets Manager server-side failure.
	InternalError = Fault{http.StatusInternalServerError, "InternalServiceError", "An error occurred on the server side."}
	// Unavailable is a 503 from the service or a load balancer.
	Unavailable = Fault{http.StatusServiceUnavailable, "ServiceUnavailable", "Service unavailable"}
	// UnknownOperation is what an endpoint answers for an operation it does
	// not implement.
	UnknownOperation = Fault{http.StatusBadRequest, "UnknownOperationException", ""}
	// AccessDenied is IAM refusing the operation to valid credentials.
	AccessDenied = Fault{http.StatusBadRequest, "AccessDeniedException", "User is not authorized to perform this operation"}
)

// TokenVerifier approves a web identity token for a role; a non-nil error
// rejects it (STS answers InvalidIdentityToken).
type TokenVerifier func(ctx context.Context, token, roleARN string) error

// Server is a running emulator. Its methods are safe for concurrent use.
type Server struct {
	// URL is the endpoint for Secrets Manager and STS.
	URL string
	// Region is the region requests must be signed for.
	Region string

	kumo    *kumo.Server
	front   *httptest.Server
	backend *http.Client

	mu sync.Mutex
	// keys maps access key ids to their secret (and session token, for
	// credentials issued by STS).
	keys map[string]credential
	// calls counts requests per operation, rejected ones included.
	calls map[string]int
	// faults are consumed in order by matching calls.
	faults  []*injected
	verify  TokenVerifier
	latency time.Duration
	// history holds every value PutParameter stored, by name; index i is
	// version i+1.
	history map[string][]string
	// assumed records AssumeRole calls.
	assumed []AssumeRoleCall
}

type credential struct {
	secret, sessionToken string
}

type injected struct {
	op    string
	left  int
	fault Fault
}

// NewServer starts kumo and the middleware; both stop when tb ends.
func NewServer(tb testing.TB) *Server {
	tb.Helper()
	s := Start()
	tb.Cleanup(s.Close)
	return s
}

// Start starts kumo and the middleware outside a test (demos, benchmarks
// driven by a program); stop them with Close.
func Start() *Server {
	s := &Server{
		Region:  DefaultRegion,
		kumo:    kumo.NewServer(),
		backend: &http.Client{Timeout: 30 * time.Second},
		keys:    map[string]credential{AccessKeyID: {secret: SecretAccessKey}},
		calls:   map[string]int{},
	}
	s.front = httptest.NewServer(s)
	s.URL = s.front.URL
	return s
}

// Close stops the servers.
func (s *Server) Close() {
	s.front.Close()
	s.kumo.Close()
}

// AddCredentials makes the server accept another access key.
func (s *Server) AddCredentials(accessKeyID, secretAccessKey string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.keys[accessKeyID] = credential{secret: secretAccessKey}
}

// SetTokenVerifier sets the check for AssumeRoleWithWebIdentity tokens;
// with none, every token is rejected.
func (s *Server) SetTokenVerifier(v TokenVerifier) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.verify = v
}

// Fail makes the next n calls of operation op ("" for any) answer f; n may
// be Always. Faults are checked after the signature.
func (s *Server) Fail(op string, n int, f Fault) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &injected{op: op, left: n, fault: f})
}

// ClearFaults drops every pending fault.
func (s *Server) ClearFaults() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = nil
}

// SetLatency delays every answer by d, like a network round trip.
func (s *Server) SetLatency(d time.Duration) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.latency = d
}

// Calls returns how many requests named operation op reached the server.
func (s *Server) Calls(op string) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.calls[op]
}

// TotalCalls returns the number of requests of every operation.
func (s *Server) TotalCalls() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	n := 0
	for _, c := range s.calls {
		n += c
	}
	return n
}

// ResetCalls zeroes the counters.
func (s *Server) ResetCalls() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.calls)
}

// protocol is how an operation is encoded on the wire.
type protocol int

const (
	// awsJSON: Secrets Manager (X-Amz-Target, JSON bodies and errors).
	awsJSON protocol = iota
	// awsQuery: STS (form-encoded Action, XML answers).
	awsQuery
)

// ServeHTTP is the middleware.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	body, err := io.ReadAll(io.LimitReader(r.Body, maxBody))
	if err != nil {
		http.Error(w, "read body", http.StatusBadRequest)
		return
	}
	proto, op, form := operation(r, body)
	latency := s.count(op)
	if latency > 0 {
		select {
		case <-time.After(latency):
		case <-r.Context().Done():
			return
		}
	}
	// AWS serves AssumeRoleWithWebIdentity unsigned: the token is the proof.
	if op != "AssumeRoleWithWebIdentity" {
		if f, ok := s.checkSignature(r, body, proto); !ok {
			writeFault(w, proto, f)
			return
		}
	}
	if f, ok := s.takeFault(op); ok {
		writeFault(w, proto, f)
		return
	}
	switch op {
	case "BatchGetSecretValue":
		s.batchGetSecretValue(w, r, body)
	case "ListSecrets":
		s.listSecrets(w, r, body)
	case "AssumeRoleWithWebIdentity":
		s.assumeRoleWithWebIdentity(w, r, body, form)
	case "GetParameter":
		s.getParameter(w, r, body)
	case "GetParameters":
		s.getParameters(w, r, body)
	case "DescribeParameters":
		s.describeParameters(w, r, body)
	case "AssumeRole":
		s.assumeRole(w, r, body, form)
	default:
		status, header, out := s.forward(r, body)
		if proto == awsQuery && status == http.StatusOK {
			s.acceptIssued(out)
		}
		if proto == awsJSON && status == http.StatusNotFound {
			// AWS answers ResourceNotFoundException with 400.
			status = http.StatusBadRequest
		}
		writeRaw(w, status, header, out)
	}
}

// operation names the call: X-Amz-Target for JSON services, the form's
// Action for query services.
func operation(r *http.Request, body []byte) (protocol, string, url.Values) {
	if target := r.Header.Get("X-Amz-Target"); target != "" {
		_, op, _ := strings.Cut(target, ".")
		return awsJSON, op, nil
	}
	mt, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if mt == "application/x-www-form-urlencoded" {
		form, err := url.ParseQuery(string(body))
		if err == nil {
			return awsQuery, form.Get("Action"), form
		}
	}
	return awsJSON, "", nil
}

// count records a call and returns the latency to apply.
func (s *Server) count(op string) time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.calls[op]++
	return s.latency
}

// takeFault consumes the first fault matching op.
func (s *Server) takeFault(op string) (Fault, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.op != "" && f.op != op {
			continue
		}
		if f.left > 0 {
			f.left--
		}
		if f.left == 0 {
			s.faults = append(s.faults[:i], s.faults[i+1:]...)
		}
		return f.fault, true
	}
	return Fault{}, false
}

// forward sends the request to kumo unchanged and returns its answer.
func (s *Server) forward(r *http.Request, body []byte) (int, http.Header, []byte) {
	req, err := http.NewRequestWithContext(r.Context(), r.Method, s.kumo.URL+r.URL.RequestURI(), bytes.NewReader(body))
	if err != nil {
		return http.StatusInternalServerError, nil, nil
	}
	req.Header = r.Header.Clone()
	return s.roundTrip(req)
}

// kumoJSON calls a kumo JSON operation directly.
func (s *Server) kumoJSON(ctx context.Context, service, op string, in any) (int, []byte) {
	return s.kumoCall(ctx, service, service+"."+op, in)
}

// kumoCall calls kumo with an X-Amz-Target and a credential scope of that
// service (they differ for SSM: "AmazonSSM.<op>" and "ssm").
func (s *Server) kumoCall(ctx context.Context, service, target string, in any) (int, []byte) {
	b, err := json.Marshal(in)
	if err != nil {
		return http.StatusInternalServerError, nil
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.kumo.URL+"/", bytes.NewReader(b))
	if err != nil {
		return http.StatusInternalServerError, nil
	}
	req.Header.Set("X-Amz-Target", target)
	req.Header.Set("Content-Type", "application/x-amz-json-1.1")
	// kumo routes by the credential scope and never checks the signature.
	req.Header.Set("Authorization", "AWS4-HMAC-SHA256 Credential=awstest/19700101/"+s.Region+"/"+service+"/aws4_request, SignedHeaders=host, Signature=none")
	status, _, out := s.roundTrip(req)
	return status, out
}

func (s *Server) roundTrip(req *http.Request) (int, http.Header, []byte) {
	resp, err := s.backend.Do(req)
	if err != nil {
		return http.StatusBadGateway, nil, nil
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(io.LimitReader(resp.Body, maxBody))
	if err != nil {
		return http.StatusBadGateway, nil, nil
	}
	return resp.StatusCode, resp.Header, out
}

func writeRaw(w http.ResponseWriter, status int, header http.Header, body []byte) {
	for k, vs := range header {
		if k == "Content-Length" {
			continue
		}
		for _, v := range vs {
			w.Header().Add(k, v)
		}
	}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/x-amz-json-1.1")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}

// writeFault answers f in the operation's protocol.
func writeFault(w http.ResponseWriter, proto protocol, f Fault) {
	if proto == awsJSON {
		w.Header().Set("X-Amzn-Errortype", f.Code)
		writeJSON(w, f.Status, map[string]string{"__type": f.Code, "message": f.Message})
		return
	}
	kind := "Sender"
	if f.Status >= 500 {
		kind = "Receiver"
	}
	type xmlError struct {
		Type    string `xml:"Type"`
		Code    string `xml:"Code"`
		Message string `xml:"Message"`
	}
	type errorResponse struct {
		XMLName   xml.Name `xml:"ErrorResponse"`
		Error     xmlError `xml:"Error"`
		RequestID string   `xml:"RequestId"`
	}
	w.Header().Set("Content-Type", "text/xml")
	w.WriteHeader(f.Status)
	_ = xml.NewEncoder(w).Encode(errorResponse{Error: xmlError{kind, f.Code, f.Message}, RequestID: "awstest"})
}
