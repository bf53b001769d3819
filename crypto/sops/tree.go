package sops

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/sha512"
	"encoding/base64"
	"errors"
	"fmt"
	"hash"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// A SOPS document is held as a tree: a document is a list of items (a
// mapping that keeps its order and comments), values are scalars, lists
// ([]any), mappings (branch) or comments. This is the model the sops
// command works on, and walking it in the same order gives the same MAC.

// comment is a comment line of a document: a key of a mapping (with a nil
// value) or an element of a list.
type comment struct {
	text string
	// inline is set for a comment that followed a value on its line.
	inline bool
}

// item is one entry of a mapping: key is a string, or a comment.
type item struct {
	key   any
	value any
}

// branch is a mapping in document order.
type branch []item

// Causes of a walk that stopped; decrypt turns them into its errors.
var (
	errNotEncForm  = fmt.Errorf("%w: a value that should be encrypted is not in SOPS's ENC[...] form (was it added or edited after encryption? edit with `sops FILE`)", ErrMalformed)
	errNotString   = fmt.Errorf("%w: a value that should be encrypted is not a string", ErrMalformed)
	errKeyType     = fmt.Errorf("%w: a key of the document is not a string", ErrCorrupt)
	errValueType   = fmt.Errorf("%w: the document holds a value of a type SOPS does not encrypt", ErrCorrupt)
	errValueEncode = fmt.Errorf("%w: an ENC[...] value does not decode (its base64 or nonce is malformed)", ErrCorrupt)
)

// encForm is the form of an encrypted value. As in sops, only its start is
// anchored, and data may hold commas (the match is greedy).
var encForm = regexp.MustCompile(`^ENC\[AES256_GCM,data:(.+),iv:(.+),tag:(.+),type:(.+)\]`)

// openValue decrypts one ENC[...] value with the data key; additional is
// the value's path. The empty string stands for itself. Any failure after
// the AES-GCM tag checked out is errUndecryptable, so a value whose type
// was edited does not reveal whether its plaintext parses as that type.
func openValue(ct string, key []byte, additional string) (any, error) {
	if ct == "" {
		return "", nil
	}
	m := encForm.FindStringSubmatch(ct)
	if m == nil {
		return nil, errNotEncForm
	}
	var parts [3][]byte
	for i := range parts {
		b, err := base64.StdEncoding.DecodeString(m[i+1])
		if err != nil {
			return nil, errValueEncode
		}
		parts[i] = b
	}
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, errUndecryptable
	}
	gcm, err := cipher.NewGCMWithNonceSize(block, len(parts[1]))
	if err != nil {
		return nil, errValueEncode
	}
	sealed := append(parts[0], parts[2]...)
	plain, err := gcm.Open(nil, parts[1], sealed, []byte(additional))
	if err != nil {
		return nil, errUndecryptable
	}
	v, err := typed(plain, m[4])
	if err != nil {
		return nil, errUndecryptable
	}
	return v, nil
}

// typed reads a decrypted value as the type its ENC[...] form names.
func typed(plain []byte, typ string) (any, error) {
	s := string(plain)
	switch typ {
	case "str":
		return s, nil
	case "int":
		return strconv.Atoi(s)
	case "float":
		return strconv.ParseFloat(s, 64)
	case "bytes":
		return plain, nil
	case "bool":
		return strconv.ParseBool(s)
	case "time":
		var t time.Time
		err := t.UnmarshalText(plain)
		return t, err
	case "comment":
		return comment{text: s}, nil
	}
	return nil, errors.New("unknown type")
}

// macBytes is what the MAC covers of a value, as sops writes it.
func macBytes(v any) ([]byte, error) {
	switch v := v.(type) {
	case string:
		return []byte(v), nil
	case int:
		return []byte(strconv.Itoa(v)), nil
	case float64:
		return []byte(strconv.FormatFloat(v, 'f', -1, 64)), nil
	case bool:
		if v {
			return []byte("True"), nil
		}
		return []byte("False"), nil
	case []byte:
		return v, nil
	case time.Time:
		return v.MarshalText()
	}
	return nil, errValueType
}

// macOnlyEncryptedInit starts the MAC of a document encrypted with
// mac_only_encrypted, so that it never equals the MAC over all values.
var macOnlyEncryptedInit = []byte{
	0x8a, 0x3f, 0xd2, 0xad, 0x54, 0xce, 0x66, 0x52, 0x7b, 0x10, 0x34, 0xf3, 0xd1, 0x47, 0xbe, 0x0b,
	0x0b, 0x97, 0x5b, 0x3b, 0xf4, 0x4f, 0x72, 0xc6, 0xfd, 0xad, 0xec, 0x81, 0x76, 0xf2, 0x7d, 0x69,
}

// walker decrypts a tree in place, in document order, and computes its MAC.
type walker struct {
	md  *metadata
	key []byte
	mac hash.Hash
}

// decryptTree decrypts every document of docs that the metadata's rules
// say is encrypted, and returns the MAC of the values (hex, upper case).
func decryptTree(docs []branch, md *metadata, key []byte) (string, error) {
	w := &walker{md: md, key: key, mac: sha512.New()}
	if md.macOnlyEncrypted {
		w.mac.Write(macOnlyEncryptedInit)
	}
	for _, doc := range docs {
		if err := w.branch(doc, nil, nil); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("%X", w.mac.Sum(nil)), nil
}

// branch walks a mapping. comments holds, per enclosing level, the comment
// lines seen since the last value (the encrypted_comment_regex and
// unencrypted_comment_regex rules look at them).
func (w *walker) branch(b branch, path []string, comments [][]string) error {
	comments = append(comments, nil)
	top := len(comments) - 1
	for i := range b {
		it := &b[i]
		if c, ok := it.key.(comment); ok {
			comments[top] = append(comments[top], c.text)
			v, err := w.leaf(c, path, comments)
			if err != nil {
				return err
			}
			switch v := v.(type) {
			case comment:
				it.key = v
			case string:
				it.key = comment{text: v, inline: c.inline}
			default:
				return errUndecryptable
			}
			continue
		}
		c, valueIsComment := it.value.(comment)
		if valueIsComment {
			comments[top] = append(comments[top], c.text)
		}
		k, ok := it.key.(string)
		if !ok {
			return errKeyType
		}
		v, err := w.value(it.value, append(path, k), comments)
		if err != nil {
			return err
		}
		it.value = v
		if !valueIsComment {
			comments[top] = nil
		}
	}
	return nil
}

// list walks a list in place.
func (w *walker) list(l []any, path []string, comments [][]string) error {
	comments = append(comments, nil)
	top := len(comments) - 1
	for i, e := range l {
		c, isComment := e.(comment)
		if isComment {
			comments[top] = append(comments[top], c.text)
		}
		v, err := w.value(e, path, comments)
		if err != nil {
			return err
		}
		l[i] = v
		if !isComment {
			comments[top] = nil
		}
	}
	return nil
}

// value walks one value and returns what replaces it.
func (w *walker) value(v any, path []string, comments [][]string) (any, error) {
	switch v := v.(type) {
	case nil:
		return nil, nil
	case branch:
		return v, w.branch(v, path, comments)
	case []any:
		return v, w.list(v, path, comments)
	case []byte:
		return w.leaf(string(v), path, comments)
	case string, int, bool, float64, time.Time, comment:
		return w.leaf(v, path, comments)
	}
	return nil, errValueType
}

// leaf decrypts a scalar or comment if the rules say it is encrypted, and
// adds it to the MAC.
func (w *walker) leaf(in any, path []string, comments [][]string) (any, error) {
	c, isComment := in.(comment)
	encrypted := w.md.encrypts(path, comments, isComment)
	v := in
	if encrypted {
		additional := strings.Join(path, ":") + ":"
		switch s, isString := in.(string); {
		case isComment:
			// A comment that does not decrypt is taken as written in the
			// clear (sops before 3.x left comments unencrypted).
			if opened, err := openValue(c.text, w.key, additional); err == nil {
				v = opened
			}
		case isString:
			opened, err := openValue(s, w.key, additional)
			if err != nil {
				return nil, err
			}
			v = opened
		default:
			return nil, errNotString
		}
	}
	if !w.md.macOnlyEncrypted || encrypted {
		if _, isComment := v.(comment); !isComment {
			b, err := macBytes(v)
			if err != nil {
				return nil, err
			}
			w.mac.Write(b)
		}
	}
	return v, nil
}

// encrypts reports whether the value at path (with the comments above it)
// is encrypted under the document's rules: at most one rule is set, and
// without one every value but those under a key ending in _unencrypted is.
func (md *metadata) encrypts(path []string, comments [][]string, isComment bool) bool {
	anyMatch := func(match func(string) bool) bool {
		for _, p := range path {
			if match(p) {
				return true
			}
		}
		return false
	}
	encrypted := true
	if md.unencryptedSuffix != "" && anyMatch(func(p string) bool { return strings.HasSuffix(p, md.unencryptedSuffix) }) {
		encrypted = false
	}
	if md.encryptedSuffix != "" {
		encrypted = anyMatch(func(p string) bool { return strings.HasSuffix(p, md.encryptedSuffix) })
	}
	if md.unencryptedRegex != "" && anyMatch(md.unencryptedRe.match) {
		encrypted = false
	}
	if md.encryptedRegex != "" {
		encrypted = anyMatch(md.encryptedRe.match)
	}
	if md.unencryptedCommentRegex != "" && anyComment(comments, -1, md.unencryptedCommentRe.match) {
		encrypted = false
	}
	if md.encryptedCommentRegex != "" {
		// The comment line that matches is itself left in the clear:
		// skip the last comment of the innermost level when walking it.
		skip := -1
		if isComment {
			skip = len(comments[len(comments)-1]) - 1
		}
		encrypted = anyComment(comments, skip, md.encryptedCommentRe.match)
	}
	return encrypted
}

// anyComment reports whether a comment of the stack matches, leaving out
// the one at index skip of the innermost level.
func anyComment(comments [][]string, skip int, match func(string) bool) bool {
	for i, level := range comments {
		for j, c := range level {
			if i == len(comments)-1 && j == skip {
				continue
			}
			if match(c) {
				return true
			}
		}
	}
	return false
}

// rule is a compiled regular expression of the metadata; one that does not
// compile matches nothing, as in sops.
type rule struct{ re *regexp.Regexp }

func compileRule(expr string) rule {
	re, err := regexp.Compile(expr)
	if err != nil {
		return rule{}
	}
	return rule{re: re}
}

func (r rule) match(s string) bool { return r.re != nil && r.re.MatchString(s) }
