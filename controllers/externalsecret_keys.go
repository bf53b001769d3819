package controllers

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/template"
)

// This file turns what a dataFrom entry fetched into Secret keys and
// values, as External Secrets Operator does: rewrite the keys (or, without
// rewrites, convert them), check them, then decode the values.

// maxSecretKey is the longest Secret key Kubernetes accepts.
const maxSecretKey = 253

// errBadKeys marks keys that cannot be Secret keys.
var errBadKeys = errors.New("invalid Secret key")

// validSecretKey matches what Kubernetes accepts as a Secret key.
var validSecretKey = regexp.MustCompile(`^[-._a-zA-Z0-9]+$`)

// dataFromKeys applies the rewrites of one dataFrom entry, or its
// conversion strategy when it has none, and checks the resulting keys:
// empty keys are dropped (as in ESO); an invalid one is an error naming the
// entry, never the value.
//
// The transform templates of all entries of one ExternalSecret share the
// session s, and with it one set of template limits.
func dataFromKeys(s *template.Session, df v1alpha1.ExternalSecretDataFromRemoteRef, conv v1alpha1.ConversionStrategy, in map[string][]byte) (map[string][]byte, error) {
	out := in
	var err error
	if len(df.Rewrite) > 0 {
		for i, rw := range df.Rewrite {
			if out, err = rewrite(s, rw, out); err != nil {
				return nil, fmt.Errorf("rewrite[%d]: %w", i, err)
			}
		}
	} else if out, err = convertKeys(conv, in); err != nil {
		return nil, err
	}
	for _, k := range slices.Sorted(maps.Keys(out)) {
		switch {
		case k == "":
			delete(out, k)
		case len(k) > maxSecretKey:
			return nil, fmt.Errorf("%w: a key is %d bytes long, more than %d: shorten it with a rewrite", errBadKeys, len(k), maxSecretKey)
		case !validSecretKey.MatchString(k):
			return nil, fmt.Errorf("%w %q: only letters, digits, '-', '.' and '_' are allowed: add a rewrite (regexp source \"[^-._a-zA-Z0-9]\", target \"_\") or use conversionStrategy Default", errBadKeys, k)
		}
	}
	return out, nil
}

// rewrite applies one rewrite to every key. Two keys that become one are
// refused, since one value would be lost.
func rewrite(s *template.Session, rw v1alpha1.ExternalSecretRewrite, in map[string][]byte) (map[string][]byte, error) {
	var rename func(string) (string, error)
	switch {
	case rw.Merge != nil:
		return rewriteMerge(*rw.Merge, in)
	case rw.Regexp != nil:
		re, err := regexp.Compile(rw.Regexp.Source)
		if err != nil {
			return nil, fmt.Errorf("%w: regexp.source does not compile: %v", errBadRewrite, err)
		}
		rename = func(k string) (string, error) { return re.ReplaceAllString(k, rw.Regexp.Target), nil }
	case rw.Transform != nil:
		p, err := s.Parse(map[string]string{"transform": rw.Transform.Template})
		if err != nil {
			return nil, fmt.Errorf("%w: transform.template: %v", errBadRewrite, err)
		}
		rename = func(k string) (string, error) {
			out, err := p.Execute(map[string][]byte{"value": []byte(k)})
			if err != nil {
				return "", fmt.Errorf("%w: transform.template: %v", errBadRewrite, err)
			}
			return string(out["transform"]), nil
		}
	default:
		return nil, fmt.Errorf("%w: give regexp, transform or merge", errBadRewrite)
	}
	out := make(map[string][]byte, len(in))
	for _, k := range slices.Sorted(maps.Keys(in)) {
		nk, err := rename(k)
		if err != nil {
			return nil, err
		}
		if _, dup := out[nk]; dup {
			return nil, fmt.Errorf("%w: two keys become %q", errBadKeys, nk)
		}
		out[nk] = in[k]
	}
	return out, nil
}

// errBadRewrite marks a rewrite that cannot run.
var errBadRewrite = errors.New("invalid rewrite")

// convertKeys replaces the characters a Secret key cannot hold: with "_"
// (Default) or with "_U" + the code point in 4 hex digits + "_" (Unicode).
func convertKeys(conv v1alpha1.ConversionStrategy, in map[string][]byte) (map[string][]byte, error) {
	out := make(map[string][]byte, len(in))
	for _, k := range slices.Sorted(maps.Keys(in)) {
		nk := convertKey(conv, k)
		if _, dup := out[nk]; dup {
			return nil, fmt.Errorf("%w: two remote names become key %q: add a rewrite that tells them apart", errBadKeys, nk)
		}
		out[nk] = in[k]
	}
	return out, nil
}

func convertKey(conv v1alpha1.ConversionStrategy, k string) string {
	var b strings.Builder
	for _, c := range k {
		switch {
		case c == '-' || c == '.' || c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'):
			b.WriteRune(c)
		case conv == v1alpha1.ConversionUnicode:
			fmt.Fprintf(&b, "_U%04x_", c)
		default:
			b.WriteByte('_')
		}
	}
	return b.String()
}

// decodeValue applies a decoding strategy to one value. Errors never quote
// the value.
func decodeValue(strategy v1alpha1.DecodingStrategy, v []byte) ([]byte, error) {
	switch strategy {
	case "", v1alpha1.DecodeNone:
		return v, nil
	case v1alpha1.DecodeBase64:
		return decodeWith(base64.StdEncoding, v)
	case v1alpha1.DecodeBase64URL:
		return decodeWith(base64.URLEncoding, v)
	case v1alpha1.DecodeAuto:
		if out, err := decodeWith(base64.StdEncoding, v); err == nil {
			return out, nil
		}
		if out, err := decodeWith(base64.URLEncoding, v); err == nil {
			return out, nil
		}
		return v, nil
	}
	return nil, fmt.Errorf("decoding strategy %q is not supported: use None, Base64, Base64URL or Auto", strategy)
}

func decodeWith(enc *base64.Encoding, v []byte) ([]byte, error) {
	out := make([]byte, enc.DecodedLen(len(v)))
	n, err := enc.Decode(out, v)
	if err != nil {
		return nil, errors.New("the value is not valid base64 (strategy " + encName(enc) + ")")
	}
	return out[:n], nil
}

func encName(enc *base64.Encoding) string {
	if enc == base64.URLEncoding {
		return "Base64URL"
	}
	return "Base64"
}

// decodeAll decodes every value of m and applies the null byte policy.
func decodeAll(strategy v1alpha1.DecodingStrategy, nul v1alpha1.NullBytePolicy, m map[string][]byte) (map[string][]byte, error) {
	out := make(map[string][]byte, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		v, err := decodeValue(strategy, m[k])
		if err != nil {
			return nil, fmt.Errorf("key %s: %w", k, err)
		}
		if err := checkNullBytes(nul, v); err != nil {
			return nil, fmt.Errorf("key %s: %w", k, err)
		}
		out[k] = v
	}
	return out, nil
}

// checkNullBytes applies nullBytePolicy Fail.
func checkNullBytes(nul v1alpha1.NullBytePolicy, v []byte) error {
	if nul == v1alpha1.NullBytePolicyFail && bytes.IndexByte(v, 0) >= 0 {
		return errors.New("the value holds a NUL byte (nullBytePolicy Fail)")
	}
	return nil
}
