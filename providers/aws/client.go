package aws

import (
	"bytes"
	"context"
	"encoding/json"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"os"
	"strings"
	"time"

	"github.com/kseal-dev/kseal/providers"
)

// kseal's own AWS client: the two wire protocols of the operations kseal
// calls (JSON 1.1 with X-Amz-Target for Secrets Manager and Parameter
// Store, the query protocol with XML answers for STS), SigV4 signing,
// retries with jittered exponential backoff, and bounded, checked answers.

const (
	// attemptTimeout bounds one HTTP exchange (connect, send, answer).
	attemptTimeout = 30 * time.Second
	// defaultMaxBackoff caps the delay between attempts.
	defaultMaxBackoff = 20 * time.Second
	// maxPages bounds the pages one listing follows: a server answering
	// empty pages with fresh tokens forever must not keep kseal busy.
	maxPages = 10000
	// stsVersion is the STS API version of the query protocol.
	stsVersion = "2011-06-15"
)

// service is one AWS API as kseal calls it.
type service struct {
	// signingName is the SigV4 service name ("secretsmanager").
	signingName string
	// target prefixes the operation in X-Amz-Target ("secretsmanager",
	// "AmazonSSM"); empty for the query protocol.
	target string
	// envName is the suffix of AWS_ENDPOINT_URL_<envName>.
	envName string
	// host is the first label of the regional AWS host name.
	host string
}

var (
	secretsManagerService = service{signingName: "secretsmanager", target: "secretsmanager", envName: "SECRETS_MANAGER", host: "secretsmanager"}
	ssmService            = service{signingName: "ssm", target: "AmazonSSM", envName: "SSM", host: "ssm"}
	stsService            = service{signingName: "sts", envName: "STS", host: "sts"}
)

// client calls one service at one endpoint.
type client struct {
	svc      service
	endpoint string
	region   string
	http     *http.Client
	// creds signs requests; nil sends them unsigned
	// (AssumeRoleWithWebIdentity).
	creds       *credentialCache
	maxAttempts int
	maxBackoff  time.Duration
	onCall      func(op string, err error)
	// now is the signing clock.
	now func() time.Time
}

// resolveEndpoint picks a service's endpoint: the store's, else the
// environment's (AWS_ENDPOINT_URL_<SERVICE>, then AWS_ENDPOINT_URL, unless
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true), else the regional AWS one
// (FIPS with AWS_USE_FIPS_ENDPOINT=true).
func resolveEndpoint(svc service, configured, region string) (string, error) {
	if configured != "" {
		return configured, nil
	}
	if !envTrue("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS") {
		for _, name := range []string{"AWS_ENDPOINT_URL_" + svc.envName, "AWS_ENDPOINT_URL"} {
			if v := os.Getenv(name); v != "" {
				if err := checkEndpoint(v); err != nil {
					return "", configErrorf("%s: %v", name, err)
				}
				return v, nil
			}
		}
	}
	host := svc.host
	if envTrue("AWS_USE_FIPS_ENDPOINT") {
		host += "-fips"
	}
	suffix := "amazonaws.com"
	if strings.HasPrefix(region, "cn-") {
		suffix = "amazonaws.com.cn"
	}
	return "https://" + host + "." + region + "." + suffix, nil
}

func envTrue(name string) bool { return strings.EqualFold(os.Getenv(name), "true") }

// jsonCall calls a JSON 1.1 operation: in is marshalled, the answer must
// be a JSON object and is decoded into out (which may be nil: the answer
// is still checked).
func (c *client) jsonCall(ctx context.Context, op string, in, out any) error {
	body, err := json.Marshal(in)
	if err != nil {
		return fmt.Errorf("aws %s: encode request: %w", op, err)
	}
	return c.invoke(ctx, op, body, func(b []byte) error { return decodeJSONObject(b, out) })
}

// decodeJSONObject decodes a JSON object into out; anything else (text,
// an array, trailing bytes) is malformed.
func decodeJSONObject(b []byte, out any) error {
	b = bytes.TrimSpace(b)
	if len(b) == 0 || b[0] != '{' || !json.Valid(b) {
		return errMalformed
	}
	if out == nil {
		return nil
	}
	if json.Unmarshal(b, out) != nil {
		return errMalformed
	}
	return nil
}

// decodeXML decodes one XML document into out.
func decodeXML(b []byte, out any) error {
	if len(bytes.TrimSpace(b)) == 0 || xml.Unmarshal(b, out) != nil {
		return errMalformed
	}
	return nil
}

// invoke sends one operation, retrying throttling, 5xx and network
// failures up to maxAttempts, and reports it once to onCall.
func (c *client) invoke(ctx context.Context, op string, body []byte, decode func([]byte) error) (err error) {
	if c.onCall != nil {
		defer func() { c.onCall(op, err) }()
	}
	for attempt := 1; ; attempt++ {
		err = c.attempt(ctx, op, body, decode)
		if err == nil || attempt >= c.maxAttempts || !retryableAttempt(err) || ctx.Err() != nil {
			return err
		}
		t := time.NewTimer(backoff(attempt, c.maxBackoff, isThrottle(err)))
		select {
		case <-ctx.Done():
			t.Stop()
			return &opError{op: op, err: ctx.Err()}
		case <-t.C:
		}
	}
}

// backoff is a full-jitter exponential delay before attempt+1, after
// AWS's standard retry behavior: up to base × 2^(attempt-1), base 50 ms,
// or 1 s when the error was throttling (the service asked for time),
// capped at maxDelay (20 s by default). The controller's own backoff covers
// longer outages.
func backoff(attempt int, maxDelay time.Duration, throttled bool) time.Duration {
	if maxDelay <= 0 {
		maxDelay = defaultMaxBackoff
	}
	base := 50 * time.Millisecond
	if throttled {
		base = time.Second
	}
	d := min(base<<min(max(attempt-1, 0), 16), maxDelay)
	return time.Duration(rand.Int64N(int64(d)) + 1)
}

// isThrottle reports whether err is the service asking to slow down.
func isThrottle(err error) bool {
	var ae *apiError
	if !errors.As(err, &ae) {
		return false
	}
	switch ae.code {
	case "ThrottlingException", "Throttling", "TooManyRequestsException", "RequestLimitExceeded",
		"ProvisionedThroughputExceededException", "RequestThrottled":
		return true
	}
	return ae.status == http.StatusTooManyRequests
}

// retryableAttempt reports whether another attempt may succeed.
func retryableAttempt(err error) bool {
	var ce *credentialError
	if errors.As(err, &ce) {
		return false // the credential source retried already
	}
	var ae *apiError
	if errors.As(err, &ae) {
		return retryableCodes[ae.code] || ae.status == http.StatusTooManyRequests || ae.status >= 500
	}
	var se *sendError
	return errors.As(err, &se)
}

// attempt is one HTTP exchange.
func (c *client) attempt(ctx context.Context, op string, body []byte, decode func([]byte) error) error {
	var cr credentials
	if c.creds != nil {
		var err error
		if cr, err = c.creds.get(ctx); err != nil {
			return &opError{op: op, err: &credentialError{err: err}}
		}
	}
	parent := ctx
	ctx, cancel := context.WithTimeout(ctx, attemptTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.endpoint, bytes.NewReader(body))
	if err != nil {
		return &opError{op: op, err: errors.New("bad endpoint URL")}
	}
	if c.svc.target != "" {
		req.Header.Set("Content-Type", "application/x-amz-json-1.1")
		req.Header.Set("X-Amz-Target", c.svc.target+"."+op)
	} else {
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded; charset=utf-8")
	}
	req.Header.Set("User-Agent", "kseal")
	if c.creds != nil {
		signV4(req, payloadHash(body), cr, c.svc.signingName, c.region, c.now())
	}
	resp, err := c.http.Do(req)
	if err != nil {
		switch {
		case parent.Err() != nil:
			return &opError{op: op, err: parent.Err()}
		case providers.IsResponseTooLarge(err):
			return &opError{op: op, err: providers.ErrResponseTooLarge}
		}
		return &sendError{op: op, err: err}
	}
	defer resp.Body.Close()
	b, err := readBounded(resp, providers.MaxResponseSize)
	if err != nil {
		switch {
		case providers.IsResponseTooLarge(err):
			return &opError{op: op, err: providers.ErrResponseTooLarge}
		case parent.Err() != nil:
			return &opError{op: op, err: parent.Err()}
		}
		return &sendError{op: op, err: errors.New("reading the answer failed")}
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return decodeError(op, resp.StatusCode, resp.Header, b, c.svc.target == "")
	}
	if err := decode(b); err != nil {
		return &opError{op: op, err: err}
	}
	return nil
}

// readBounded reads a body of at most limit bytes; a larger one (declared
// or sent) is ErrResponseTooLarge, decided before it is decoded.
func readBounded(resp *http.Response, limit int64) ([]byte, error) {
	if resp.ContentLength > limit {
		return nil, providers.ErrResponseTooLarge
	}
	b, err := io.ReadAll(io.LimitReader(resp.Body, limit+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > limit {
		return nil, providers.ErrResponseTooLarge
	}
	return b, nil
}

// decodeError reads an error answer's code: X-Amzn-ErrorType or the JSON
// body's __type / code, or the query protocol's <Error><Code>. Only a code
// kseal knows is kept (see apiError).
func decodeError(op string, status int, h http.Header, body []byte, query bool) *apiError {
	return &apiError{op: op, status: status, code: knownCode(errorCode(h, body, query))}
}

// errorCode extracts the raw error code of an error answer; "" when there
// is none.
func errorCode(h http.Header, body []byte, query bool) string {
	if query {
		var e struct {
			Code string `xml:"Error>Code"`
		}
		if xml.Unmarshal(body, &e) == nil {
			return e.Code
		}
		return ""
	}
	if v := h.Get("X-Amzn-ErrorType"); v != "" {
		return sanitizeCode(v)
	}
	var e struct {
		Type  string `json:"__type"`
		Code  string `json:"code"`
		Code2 string `json:"Code"`
	}
	if decodeJSONObject(body, &e) != nil {
		return ""
	}
	for _, c := range []string{e.Type, e.Code, e.Code2} {
		if c != "" {
			return sanitizeCode(c)
		}
	}
	return ""
}

// sanitizeCode drops a namespace ("com.amazon.coral#Throttling") and a
// trailing URI ("Code:http://...").
func sanitizeCode(c string) string {
	if i := strings.LastIndexByte(c, '#'); i >= 0 {
		c = c[i+1:]
	}
	c, _, _ = strings.Cut(c, ":")
	return strings.TrimSpace(c)
}

// opError is a failure of an operation that is not an AWS error answer.
type opError struct {
	op  string
	err error
}

func (e *opError) Error() string { return "aws " + e.op + ": " + e.err.Error() }
func (e *opError) Unwrap() error { return e.err }

// credentialError is a failure to get the credentials to sign with.
type credentialError struct{ err error }

func (e *credentialError) Error() string { return "get credentials: " + e.err.Error() }
func (e *credentialError) Unwrap() error { return e.err }

// sendError is a request that got no answer (network, timeout): the URL
// kseal built and the transport's error, never a body.
type sendError struct {
	op  string
	err error
}

func (e *sendError) Error() string { return "aws " + e.op + ": send: " + e.err.Error() }
func (e *sendError) Unwrap() error { return e.err }
