// Package password draws random passwords as External Secrets Operator's
// Password generator does: a given number of digits and of symbols, the rest
// letters, in random order, from the operating system's secure random source
// (crypto/rand) only.
//
// Start with Generate. Every bound (length, key count, character pools) is
// checked before any password is drawn, and no error holds a password.
package password

import (
	"crypto/rand"
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"math/big"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Bounds of one generator.
const (
	// MaxLength is the longest password, in characters.
	MaxLength = 1024
	// MaxKeys is the most keys one generator writes.
	MaxKeys = 64
	// MaxSymbolCharacters is the longest symbol set, in bytes.
	MaxSymbolCharacters = 256
)

// Defaults, as in External Secrets Operator.
const (
	// DefaultLength is the length when none is given.
	DefaultLength = 24
	// DefaultSymbols are the symbol characters when none are given.
	DefaultSymbols = "~!@#$%^&*()_+`-={}|[]\\:\"<>?,./"
	// DefaultKey is the key written when no keys are given.
	DefaultKey = "password"
)

const (
	lowerLetters = "abcdefghijklmnopqrstuvwxyz"
	upperLetters = "ABCDEFGHIJKLMNOPQRSTUVWXYZ"
	digitChars   = "0123456789"
)

// ErrInvalid marks a generator spec that cannot produce a password; the
// message says which bound was crossed.
var ErrInvalid = errors.New("invalid password generator")

// Options is a Password generator's spec. Zero values take the defaults:
// Length 0 is DefaultLength, nil Digits and Symbols are 25% of the length,
// nil SymbolCharacters is DefaultSymbols, no Keys is [DefaultKey], empty
// Encoding is raw.
type Options struct {
	Length           int
	Digits           *int
	Symbols          *int
	SymbolCharacters *string
	NoUpper          bool
	AllowRepeat      bool
	Keys             []string
	Encoding         string
}

// plan is Options with the defaults filled in and every bound checked.
type plan struct {
	length, digits, symbols int
	letters, symbolSet      []rune
	allowRepeat             bool
	keys                    []string
	encode                  func([]byte) []byte
}

// Generate draws one password per key. The Options are checked in full
// before the first random byte is read.
func Generate(o Options) (map[string][]byte, error) {
	return generate(o, rand.Reader)
}

func generate(o Options, random io.Reader) (map[string][]byte, error) {
	p, err := check(o)
	if err != nil {
		return nil, err
	}
	out := make(map[string][]byte, len(p.keys))
	for _, k := range p.keys {
		pw, err := p.draw(random)
		if err != nil {
			return nil, fmt.Errorf("read random bytes: %w", err)
		}
		out[k] = p.encode([]byte(string(pw)))
	}
	return out, nil
}

// check fills in the defaults and refuses what cannot be drawn.
func check(o Options) (*plan, error) {
	p := &plan{length: o.Length, allowRepeat: o.AllowRepeat}
	if p.length == 0 {
		p.length = DefaultLength
	}
	if p.length < 0 || p.length > MaxLength {
		return nil, fmt.Errorf("%w: length %d is outside 1..%d", ErrInvalid, p.length, MaxLength)
	}
	p.digits, p.symbols = p.length/4, p.length/4
	if o.Digits != nil {
		p.digits = *o.Digits
	}
	if o.Symbols != nil {
		p.symbols = *o.Symbols
	}
	if p.digits < 0 || p.symbols < 0 {
		return nil, fmt.Errorf("%w: digits and symbols must not be negative", ErrInvalid)
	}
	if p.digits > p.length || p.symbols > p.length-p.digits {
		return nil, fmt.Errorf("%w: digits (%d) + symbols (%d) exceed length %d: lower them or raise length", ErrInvalid, p.digits, p.symbols, p.length)
	}
	symbols := DefaultSymbols
	if o.SymbolCharacters != nil {
		symbols = *o.SymbolCharacters
	}
	set, err := symbolSet(symbols)
	if err != nil {
		return nil, err
	}
	p.symbolSet = set
	p.letters = []rune(lowerLetters)
	if !o.NoUpper {
		p.letters = append(p.letters, []rune(upperLetters)...)
	}
	if err := p.checkPools(); err != nil {
		return nil, err
	}
	if p.keys, err = checkKeys(o.Keys); err != nil {
		return nil, err
	}
	if p.encode, err = encoder(o.Encoding); err != nil {
		return nil, err
	}
	return p, nil
}

// symbolSet returns the distinct characters of s, which must be printable
// and not letters, digits or spaces.
func symbolSet(s string) ([]rune, error) {
	if len(s) > MaxSymbolCharacters {
		return nil, fmt.Errorf("%w: symbolCharacters is %d bytes, more than %d", ErrInvalid, len(s), MaxSymbolCharacters)
	}
	if !utf8.ValidString(s) {
		return nil, fmt.Errorf("%w: symbolCharacters is not valid UTF-8", ErrInvalid)
	}
	seen := map[rune]bool{}
	var set []rune
	for _, r := range s {
		if !unicode.IsPrint(r) || unicode.IsSpace(r) || strings.ContainsRune(lowerLetters+upperLetters+digitChars, r) {
			return nil, fmt.Errorf("%w: symbolCharacters holds %q, which is not a symbol: use printable characters other than letters, digits and spaces", ErrInvalid, r)
		}
		if !seen[r] {
			seen[r] = true
			set = append(set, r)
		}
	}
	return set, nil
}

// checkPools refuses a count that its character pool cannot supply.
func (p *plan) checkPools() error {
	letters := p.length - p.digits - p.symbols
	if p.symbols > 0 && len(p.symbolSet) == 0 {
		return fmt.Errorf("%w: %d symbols asked for, but symbolCharacters is empty: set symbols to 0 or give symbolCharacters", ErrInvalid, p.symbols)
	}
	if p.allowRepeat {
		return nil
	}
	for _, c := range []struct {
		what      string
		want, has int
	}{{"letters", letters, len(p.letters)}, {"digits", p.digits, len(digitChars)}, {"symbols", p.symbols, len(p.symbolSet)}} {
		if c.want > c.has {
			return fmt.Errorf("%w: %d %s asked for, but only %d different ones exist and allowRepeat is false: set allowRepeat to true or lower length, digits or symbols", ErrInvalid, c.want, c.what, c.has)
		}
	}
	return nil
}

// checkKeys returns the keys to write, [DefaultKey] when none are given.
func checkKeys(keys []string) ([]string, error) {
	if len(keys) == 0 {
		return []string{DefaultKey}, nil
	}
	if len(keys) > MaxKeys {
		return nil, fmt.Errorf("%w: %d secretKeys, more than %d", ErrInvalid, len(keys), MaxKeys)
	}
	seen := map[string]bool{}
	for _, k := range keys {
		if k == "" || seen[k] {
			return nil, fmt.Errorf("%w: secretKeys must be non-empty and unique", ErrInvalid)
		}
		seen[k] = true
	}
	return keys, nil
}

// encoder returns the function that encodes a password.
func encoder(name string) (func([]byte) []byte, error) {
	str := func(f func([]byte) string) func([]byte) []byte {
		return func(b []byte) []byte { return []byte(f(b)) }
	}
	switch name {
	case "", "raw":
		return func(b []byte) []byte { return b }, nil
	case "base64":
		return str(base64.StdEncoding.EncodeToString), nil
	case "base64url":
		return str(base64.URLEncoding.EncodeToString), nil
	case "base32":
		return str(base32.StdEncoding.EncodeToString), nil
	case "hex":
		return str(hex.EncodeToString), nil
	}
	return nil, fmt.Errorf("%w: encoding %q: use raw, base64, base64url, base32 or hex", ErrInvalid, name)
}

// draw picks the letters, digits and symbols of one password and shuffles
// them. Without allowRepeat no character appears twice.
func (p *plan) draw(random io.Reader) ([]rune, error) {
	pw := make([]rune, 0, p.length)
	var err error
	for _, c := range []struct {
		pool []rune
		n    int
	}{{p.letters, p.length - p.digits - p.symbols}, {[]rune(digitChars), p.digits}, {p.symbolSet, p.symbols}} {
		if pw, err = pick(random, pw, c.pool, c.n, p.allowRepeat); err != nil {
			return nil, err
		}
	}
	for i := len(pw) - 1; i > 0; i-- {
		j, err := randIndex(random, i+1)
		if err != nil {
			return nil, err
		}
		pw[i], pw[j] = pw[j], pw[i]
	}
	return pw, nil
}

// pick appends n characters of pool to pw: uniformly with repeats, or
// without (a partial Fisher-Yates shuffle of a copy of pool).
func pick(random io.Reader, pw, pool []rune, n int, allowRepeat bool) ([]rune, error) {
	if n == 0 {
		return pw, nil
	}
	if allowRepeat {
		for range n {
			i, err := randIndex(random, len(pool))
			if err != nil {
				return nil, err
			}
			pw = append(pw, pool[i])
		}
		return pw, nil
	}
	left := append([]rune(nil), pool...)
	for k := range n {
		i, err := randIndex(random, len(left)-k)
		if err != nil {
			return nil, err
		}
		left[k], left[k+i] = left[k+i], left[k]
		pw = append(pw, left[k])
	}
	return pw, nil
}

// randIndex returns a uniform random integer in [0, n).
func randIndex(random io.Reader, n int) (int, error) {
	v, err := rand.Int(random, big.NewInt(int64(n)))
	if err != nil {
		return 0, err
	}
	return int(v.Int64()), nil
}
