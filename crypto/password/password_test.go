package password

import (
	"encoding/base32"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"strings"
	"testing"
	"unicode"
)

func ptr[T any](v T) *T { return &v }

// count returns how many letters, digits and other characters s holds.
func count(s string) (letters, digits, other int) {
	for _, r := range s {
		switch {
		case unicode.IsLetter(r):
			letters++
		case unicode.IsDigit(r):
			digits++
		default:
			other++
		}
	}
	return
}

func TestGenerate_composition(t *testing.T) {
	tests := []struct {
		name                    string
		o                       Options
		length, digits, symbols int
	}{
		{"defaults", Options{}, 24, 6, 6},
		{"eso example", Options{Length: 42, Digits: ptr(5), Symbols: ptr(5), SymbolCharacters: ptr("-_$@"), AllowRepeat: true}, 42, 5, 5},
		{"letters only", Options{Length: 10, Digits: ptr(0), Symbols: ptr(0)}, 10, 0, 0},
		{"all digits repeated", Options{Length: 50, Digits: ptr(50), Symbols: ptr(0), AllowRepeat: true}, 50, 50, 0},
		{"longest", Options{Length: MaxLength, AllowRepeat: true}, MaxLength, MaxLength / 4, MaxLength / 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out, err := Generate(tt.o)
			if err != nil {
				t.Fatal(err)
			}
			pw := string(out[DefaultKey])
			if n := len([]rune(pw)); n != tt.length {
				t.Fatalf("length %d, want %d", n, tt.length)
			}
			l, d, s := count(pw)
			if d != tt.digits || s != tt.symbols || l != tt.length-tt.digits-tt.symbols {
				t.Fatalf("letters %d digits %d symbols %d, want %d %d %d", l, d, s, tt.length-tt.digits-tt.symbols, tt.digits, tt.symbols)
			}
			if tt.o.SymbolCharacters != nil {
				for _, r := range pw {
					if !unicode.IsLetter(r) && !unicode.IsDigit(r) && !strings.ContainsRune(*tt.o.SymbolCharacters, r) {
						t.Fatalf("symbol %q is not in symbolCharacters", r)
					}
				}
			}
		})
	}
}

func TestGenerate_noRepeatNoUpper(t *testing.T) {
	for range 50 {
		out, err := Generate(Options{Length: 46, Digits: ptr(10), Symbols: ptr(10), NoUpper: true})
		if err != nil {
			t.Fatal(err)
		}
		seen := map[rune]bool{}
		for _, r := range string(out[DefaultKey]) {
			if seen[r] {
				t.Fatalf("character %q repeated without allowRepeat", r)
			}
			if unicode.IsUpper(r) {
				t.Fatalf("upper-case %q with noUpper", r)
			}
			seen[r] = true
		}
	}
}

func TestGenerate_keysDiffer(t *testing.T) {
	out, err := Generate(Options{Length: 36, Keys: []string{"key1", "key2"}})
	if err != nil {
		t.Fatal(err)
	}
	if len(out) != 2 || len(out["key1"]) != 36 || string(out["key1"]) == string(out["key2"]) {
		t.Fatalf("want two different 36-character passwords, got %d keys", len(out))
	}
}

func TestGenerate_encoding(t *testing.T) {
	decode := map[string]func(string) ([]byte, error){
		"base64":    base64.StdEncoding.DecodeString,
		"base64url": base64.URLEncoding.DecodeString,
		"base32":    base32.StdEncoding.DecodeString,
		"hex":       hex.DecodeString,
	}
	for enc, dec := range decode {
		out, err := Generate(Options{Length: 16, Encoding: enc})
		if err != nil {
			t.Fatal(err)
		}
		raw, err := dec(string(out[DefaultKey]))
		if err != nil || len(raw) != 16 {
			t.Fatalf("%s: does not decode to 16 characters (%v)", enc, err)
		}
	}
}

func TestGenerate_invalid(t *testing.T) {
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"too long", Options{Length: MaxLength + 1}, "outside 1..1024"},
		{"negative", Options{Length: -1}, "outside"},
		{"digits+symbols > length", Options{Length: 8, Digits: ptr(5), Symbols: ptr(5)}, "exceed length 8"},
		{"negative digits", Options{Digits: ptr(-1)}, "negative"},
		{"too many letters without repeat", Options{Length: 100, Digits: ptr(0), Symbols: ptr(0)}, "allowRepeat"},
		{"too many digits without repeat", Options{Length: 20, Digits: ptr(11), Symbols: ptr(0)}, "digits asked for"},
		{"empty symbol set", Options{Length: 8, Symbols: ptr(2), SymbolCharacters: ptr("")}, "symbolCharacters is empty"},
		{"letter as symbol", Options{SymbolCharacters: ptr("-a")}, "not a symbol"},
		{"duplicate keys", Options{Keys: []string{"a", "a"}}, "unique"},
		{"too many keys", Options{Keys: make([]string, MaxKeys+1)}, "more than 64"},
		{"bad encoding", Options{Encoding: "rot13"}, "encoding"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := generate(tt.o, failingReader{t})
			if !errors.Is(err, ErrInvalid) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want ErrInvalid mentioning %q", err, tt.want)
			}
		})
	}
}

// failingReader fails the test if a spec that check refuses reaches the
// random source: every bound is checked before the work.
type failingReader struct{ t *testing.T }

func (f failingReader) Read([]byte) (int, error) {
	f.t.Fatal("random bytes read before the spec was checked")
	return 0, nil
}
