package aws

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
)

// Signature Version 4, as AWS documents it ("Create a signed AWS API
// request"): a canonical request (method, URI, query, headers, signed header
// names, payload hash), a string to sign over its hash and the credential
// scope, and an HMAC-SHA256 chain keyed by the secret access key.

const (
	sigV4Algorithm = "AWS4-HMAC-SHA256"
	amzDateFormat  = "20060102T150405Z"
)

// unsignedHeaders are never signed: proxies and the HTTP stack may change
// them on the way.
var unsignedHeaders = map[string]bool{
	"Authorization":     true,
	"User-Agent":        true,
	"X-Amzn-Trace-Id":   true,
	"Expect":            true,
	"Transfer-Encoding": true,
	"Content-Length":    true, // signed from req.ContentLength
	"Host":              true, // signed from req.Host or the URL
}

// signV4 signs req for service in region at t with c: it sets X-Amz-Date,
// X-Amz-Security-Token (temporary credentials only) and Authorization.
// payloadHash is the lowercase hex SHA-256 of the body. Every header of
// req is signed except unsignedHeaders, plus host and, for a non-empty
// body, content-length.
func signV4(req *http.Request, payloadHash string, c credentials, service, region string, t time.Time) {
	amzDate := t.UTC().Format(amzDateFormat)
	day := amzDate[:8]
	req.Header.Set("X-Amz-Date", amzDate)
	if c.SessionToken != "" {
		req.Header.Set("X-Amz-Security-Token", c.SessionToken)
	}
	names, headers := canonicalHeaders(req)
	canonical := strings.Join([]string{
		req.Method,
		canonicalURI(req.URL),
		canonicalQuery(req.URL.Query()),
		headers,
		names,
		payloadHash,
	}, "\n")
	scope := day + "/" + region + "/" + service + "/aws4_request"
	sum := sha256.Sum256([]byte(canonical))
	toSign := sigV4Algorithm + "\n" + amzDate + "\n" + scope + "\n" + hex.EncodeToString(sum[:])
	key := hmacSHA256([]byte("AWS4"+c.SecretAccessKey), day)
	key = hmacSHA256(key, region)
	key = hmacSHA256(key, service)
	key = hmacSHA256(key, "aws4_request")
	signature := hex.EncodeToString(hmacSHA256(key, toSign))
	req.Header.Set("Authorization", sigV4Algorithm+" Credential="+c.AccessKeyID+"/"+scope+", SignedHeaders="+names+", Signature="+signature)
}

func hmacSHA256(key []byte, data string) []byte {
	h := hmac.New(sha256.New, key)
	h.Write([]byte(data))
	return h.Sum(nil)
}

// payloadHash is the hex SHA-256 of body.
func payloadHash(body []byte) string {
	sum := sha256.Sum256(body)
	return hex.EncodeToString(sum[:])
}

// canonicalHeaders returns the signed header names ("host;x-amz-date")
// and the canonical header block, one "name:value\n" line per name in
// sorted order.
func canonicalHeaders(req *http.Request) (names, block string) {
	values := map[string][]string{"host": {requestHost(req)}}
	if req.ContentLength > 0 {
		values["content-length"] = []string{strconv.FormatInt(req.ContentLength, 10)}
	}
	for k, vs := range req.Header {
		if unsignedHeaders[http.CanonicalHeaderKey(k)] {
			continue
		}
		lk := strings.ToLower(k)
		values[lk] = append(values[lk], vs...)
	}
	keys := make([]string, 0, len(values))
	for k := range values {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte(':')
		for i, v := range values[k] {
			if i > 0 {
				b.WriteByte(',')
			}
			b.WriteString(trimSpaces(v))
		}
		b.WriteByte('\n')
	}
	return strings.Join(keys, ";"), b.String()
}

// requestHost is the Host header the request will carry, without a port
// that is the scheme's default.
func requestHost(req *http.Request) string {
	host := req.Host
	if host == "" {
		host = req.URL.Host
	}
	if h, ok := strings.CutSuffix(host, ":443"); ok && req.URL.Scheme == "https" {
		return h
	}
	if h, ok := strings.CutSuffix(host, ":80"); ok && req.URL.Scheme == "http" {
		return h
	}
	return host
}

// trimSpaces drops leading and trailing spaces and turns each run of
// spaces inside into one.
func trimSpaces(s string) string {
	s = strings.Trim(s, " ")
	if !strings.Contains(s, "  ") {
		return s
	}
	var b strings.Builder
	b.Grow(len(s))
	space := false
	for i := 0; i < len(s); i++ {
		if s[i] == ' ' {
			if space {
				continue
			}
			space = true
		} else {
			space = false
		}
		b.WriteByte(s[i])
	}
	return b.String()
}

// canonicalURI is the URI-encoded form of the request's (already escaped)
// path, "/" when empty: every service but S3 encodes it twice.
func canonicalURI(u *url.URL) string {
	p := u.EscapedPath()
	if p == "" {
		return "/"
	}
	return uriEncode(p, false)
}

// canonicalQuery encodes every name and value and sorts the pairs by
// encoded name, then encoded value.
func canonicalQuery(q url.Values) string {
	type pair struct{ k, v string }
	var pairs []pair
	for k, vs := range q {
		ek := uriEncode(k, true)
		for _, v := range vs {
			pairs = append(pairs, pair{ek, uriEncode(v, true)})
		}
	}
	sort.Slice(pairs, func(i, j int) bool {
		if pairs[i].k != pairs[j].k {
			return pairs[i].k < pairs[j].k
		}
		return pairs[i].v < pairs[j].v
	})
	var b strings.Builder
	for i, p := range pairs {
		if i > 0 {
			b.WriteByte('&')
		}
		b.WriteString(p.k + "=" + p.v)
	}
	return b.String()
}

// uriEncode percent-encodes (uppercase hex) every byte but the unreserved
// A-Z a-z 0-9 - _ . ~ and, unless encodeSlash, '/'.
func uriEncode(s string, encodeSlash bool) string {
	const hexDigits = "0123456789ABCDEF"
	var b strings.Builder
	b.Grow(len(s))
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == '~':
			b.WriteByte(c)
		case c == '/' && !encodeSlash:
			b.WriteByte(c)
		default:
			b.WriteByte('%')
			b.WriteByte(hexDigits[c>>4])
			b.WriteByte(hexDigits[c&15])
		}
	}
	return b.String()
}
