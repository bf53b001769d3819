package awstest

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
)

const sigV4Algorithm = "AWS4-HMAC-SHA256"

// sigFailure is why a signature was refused.
type sigFailure int

const (
	sigMissing sigFailure = iota
	sigIncomplete
	sigUnknownKey
	sigBadToken
	sigWrongScope
	sigMismatch
)

// faultFor answers a refused signature as the service would: Secrets
// Manager (JSON) with 400s, STS (query) with 403s.
func faultFor(proto protocol, why sigFailure) Fault {
	json := proto == awsJSON
	switch why {
	case sigMissing:
		if json {
			return Fault{http.StatusBadRequest, "MissingAuthenticationTokenException", "Missing Authentication Token"}
		}
		return Fault{http.StatusForbidden, "MissingAuthenticationToken", "Request is missing Authentication Token"}
	case sigIncomplete:
		return Fault{http.StatusBadRequest, "IncompleteSignatureException", "Authorization header is malformed"}
	case sigUnknownKey, sigBadToken:
		if json {
			return Fault{http.StatusBadRequest, "UnrecognizedClientException", "The security token included in the request is invalid."}
		}
		return Fault{http.StatusForbidden, "InvalidClientTokenId", "The security token included in the request is invalid."}
	case sigWrongScope:
		if json {
			return Fault{http.StatusBadRequest, "InvalidSignatureException", "Credential should be scoped to a valid region and service."}
		}
		return Fault{http.StatusForbidden, "SignatureDoesNotMatch", "Credential should be scoped to a valid region and service."}
	default:
		if json {
			return Fault{http.StatusBadRequest, "InvalidSignatureException", "The request signature we calculated does not match the signature you provided."}
		}
		return Fault{http.StatusForbidden, "SignatureDoesNotMatch", "The request signature we calculated does not match the signature you provided."}
	}
}

// authorization is a parsed SigV4 Authorization header.
type authorization struct {
	accessKeyID, date, region, service string
	signedHeaders                      []string
	signature                          string
}

func parseAuthorization(h string) (authorization, bool) {
	var a authorization
	rest, ok := strings.CutPrefix(h, sigV4Algorithm+" ")
	if !ok {
		return a, false
	}
	for part := range strings.SplitSeq(rest, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "Credential":
			scope := strings.Split(v, "/")
			if len(scope) != 5 || scope[4] != "aws4_request" {
				return a, false
			}
			a.accessKeyID, a.date, a.region, a.service = scope[0], scope[1], scope[2], scope[3]
		case "SignedHeaders":
			a.signedHeaders = strings.Split(v, ";")
		case "Signature":
			a.signature = v
		}
	}
	ok = a.accessKeyID != "" && len(a.signedHeaders) > 0 && a.signature != ""
	return a, ok
}

// checkSignature verifies a SigV4 signature the way AWS does: known key,
// session token, credential scope, then the signature over the canonical
// request built from the headers the client says it signed.
func (s *Server) checkSignature(r *http.Request, body []byte, proto protocol) (Fault, bool) {
	h := r.Header.Get("Authorization")
	if h == "" {
		return faultFor(proto, sigMissing), false
	}
	a, ok := parseAuthorization(h)
	amzDate := r.Header.Get("X-Amz-Date")
	if !ok || len(amzDate) < 8 || !strings.HasPrefix(amzDate, a.date) || !slices.Contains(a.signedHeaders, "host") {
		return faultFor(proto, sigIncomplete), false
	}
	s.mu.Lock()
	cred, known := s.keys[a.accessKeyID]
	s.mu.Unlock()
	switch {
	case !known:
		return faultFor(proto, sigUnknownKey), false
	case cred.sessionToken != r.Header.Get("X-Amz-Security-Token"):
		return faultFor(proto, sigBadToken), false
	}
	service := "secretsmanager"
	switch {
	case proto == awsQuery:
		service = "sts"
	case strings.HasPrefix(r.Header.Get("X-Amz-Target"), ssmTargetPrefix):
		service = "ssm"
	}
	if a.region != s.Region || a.service != service {
		return faultFor(proto, sigWrongScope), false
	}
	sum := sha256.Sum256(body)
	canonical := canonicalRequest(r, a.signedHeaders, hex.EncodeToString(sum[:]))
	crSum := sha256.Sum256([]byte(canonical))
	scope := strings.Join([]string{a.date, a.region, a.service, "aws4_request"}, "/")
	toSign := strings.Join([]string{sigV4Algorithm, amzDate, scope, hex.EncodeToString(crSum[:])}, "\n")
	key := []byte("AWS4" + cred.secret)
	for _, part := range []string{a.date, a.region, a.service, "aws4_request"} {
		key = hmacSHA256(key, part)
	}
	want := hex.EncodeToString(hmacSHA256(key, toSign))
	if !hmac.Equal([]byte(want), []byte(a.signature)) {
		return faultFor(proto, sigMismatch), false
	}
	return Fault{}, true
}

func canonicalRequest(r *http.Request, signed []string, payloadHash string) string {
	var b strings.Builder
	b.WriteString(r.Method + "\n")
	path := r.URL.EscapedPath()
	if path == "" {
		path = "/"
	}
	b.WriteString(escape(path, true) + "\n")
	b.WriteString(canonicalQuery(r.URL.Query()) + "\n")
	for _, h := range signed {
		b.WriteString(h + ":" + headerValue(r, h) + "\n")
	}
	b.WriteString("\n" + strings.Join(signed, ";") + "\n" + payloadHash)
	return b.String()
}

func canonicalQuery(q url.Values) string {
	keys := make([]string, 0, len(q))
	for k := range q {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var parts []string
	for _, k := range keys {
		vs := append([]string(nil), q[k]...)
		sort.Strings(vs)
		for _, v := range vs {
			parts = append(parts, escape(k, false)+"="+escape(v, false))
		}
	}
	return strings.Join(parts, "&")
}

// headerValue is a header as it was signed: Host and Content-Length live
// outside r.Header on the server side; values are trimmed and joined.
func headerValue(r *http.Request, name string) string {
	switch name {
	case "host":
		return r.Host
	case "content-length":
		return strconv.FormatInt(r.ContentLength, 10)
	}
	vs := slices.Clone(r.Header.Values(name))
	for i, v := range vs {
		vs[i] = strings.Join(strings.Fields(v), " ")
	}
	return strings.Join(vs, ",")
}

// escape is SigV4's URI encoding: every byte except unreserved characters
// (and '/' in paths) as %XX.
func escape(s string, path bool) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'A' <= c && c <= 'Z', 'a' <= c && c <= 'z', '0' <= c && c <= '9',
			c == '-', c == '_', c == '.', c == '~', path && c == '/':
			b.WriteByte(c)
		default:
			b.WriteString("%" + strings.ToUpper(hex.EncodeToString([]byte{c})))
		}
	}
	return b.String()
}

func hmacSHA256(key []byte, data string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte(data))
	return m.Sum(nil)
}
