package providers

import (
	"errors"
	"fmt"
	"io"
	"net/http"
)

// MaxResponseSize bounds the body of one provider HTTP response. The largest
// legitimate answers are an AWS BatchGetSecretValue of 20 secrets of 64 KiB
// each (base64 when binary) and a Vault LIST of a few thousand keys; a store
// whose server sends more is refused before kseal buffers it.
const MaxResponseSize = 4 << 20

// ErrResponseTooLarge is wrapped by the error of a response whose body is
// larger than MaxResponseSize.
var ErrResponseTooLarge = fmt.Errorf("provider response larger than %d MiB: kseal refuses it (is the store's server the provider it names?)", MaxResponseSize>>20)

// LimitBody makes resp fail with ErrResponseTooLarge as soon as more than
// limit bytes are read from its body. A Content-Length above limit is refused
// at once: the body is closed unread and an error returned.
func LimitBody(resp *http.Response, limit int64) error {
	if resp == nil || resp.Body == nil {
		return nil
	}
	if resp.ContentLength > limit {
		resp.Body.Close()
		return ErrResponseTooLarge
	}
	resp.Body = &limitedBody{body: resp.Body, left: limit}
	return nil
}

// limitedBody is a response body that errors once more than its limit is
// read.
type limitedBody struct {
	body io.ReadCloser
	// left is how many more bytes may be read.
	left int64
}

func (b *limitedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, ErrResponseTooLarge
	}
	// Read one byte past the limit to tell "exactly the limit" from "more".
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.body.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return 0, ErrResponseTooLarge
	}
	return n, err
}

func (b *limitedBody) Close() error { return b.body.Close() }

// LimitResponses wraps next (http.DefaultTransport when nil) so that every
// response body is limited to MaxResponseSize.
func LimitResponses(next http.RoundTripper) http.RoundTripper {
	if next == nil {
		next = http.DefaultTransport
	}
	if _, ok := next.(limitTransport); ok {
		return next
	}
	return limitTransport{next: next}
}

type limitTransport struct{ next http.RoundTripper }

func (t limitTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := t.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	if err := LimitBody(resp, MaxResponseSize); err != nil {
		return nil, err
	}
	return resp, nil
}

// IsResponseTooLarge reports whether err is (or wraps) ErrResponseTooLarge.
func IsResponseTooLarge(err error) bool { return errors.Is(err, ErrResponseTooLarge) }
