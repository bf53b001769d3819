package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"maps"
	"reflect"
	"slices"

	"sigs.k8s.io/yaml"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/sealedsecret"
)

// withEncryptedData returns body with spec.encryptedData replaced by sealed.
// It replaces the ciphertexts in the text when it can, so the comments,
// field order and layout of the object are kept; otherwise it encodes the
// object again (YAML, or JSON when asJSON), keeping every other field.
func withEncryptedData(body []byte, ss *v1alpha1.SealedSecret, sealed map[string]string, asJSON bool) ([]byte, error) {
	if out, ok := replaceCiphertexts(body, ss.Spec.EncryptedData, sealed); ok {
		if got, err := sealedsecret.DecodeSealedSecret(out); err == nil && sameExceptData(ss, got, sealed) {
			return out, nil
		}
	}
	var obj map[string]any
	if err := yaml.Unmarshal(body, &obj, func(d *json.Decoder) *json.Decoder { d.UseNumber(); return d }); err != nil {
		return nil, err
	}
	spec, ok := obj["spec"].(map[string]any)
	if !ok {
		return nil, errors.New("spec is not a mapping")
	}
	spec["encryptedData"] = sealed
	var out []byte
	var err error
	if asJSON {
		out, err = json.MarshalIndent(obj, "", "  ")
		out = append(out, '\n')
	} else {
		out, err = yaml.Marshal(obj)
	}
	if err != nil {
		return nil, err
	}
	got, err := sealedsecret.DecodeSealedSecret(out)
	if err != nil {
		return nil, err
	}
	if !maps.Equal(got.Spec.EncryptedData, sealed) {
		return nil, errors.New("encryptedData changed in encoding")
	}
	return out, nil
}

// replaceCiphertexts replaces, in the text, every old value by the new value
// of the same item. It succeeds only when each old value occurs exactly once
// as a whole base64 token.
func replaceCiphertexts(body []byte, old, sealed map[string]string) ([]byte, bool) {
	type edit struct {
		at     int
		oldLen int
		repl   string
	}
	edits := make([]edit, 0, len(old))
	for item, o := range old {
		n, ok := sealed[item]
		if !ok || o == "" {
			return nil, false
		}
		at, count := -1, 0
		for i := 0; ; {
			j := bytes.Index(body[i:], []byte(o))
			if j < 0 {
				break
			}
			j += i
			if !isBase64Byte(byteAt(body, j-1)) && !isBase64Byte(byteAt(body, j+len(o))) {
				at = j
				count++
			}
			i = j + 1
		}
		if count != 1 {
			return nil, false
		}
		edits = append(edits, edit{at, len(o), n})
	}
	slices.SortFunc(edits, func(a, b edit) int { return a.at - b.at })
	var out bytes.Buffer
	prev := 0
	for _, e := range edits {
		if e.at < prev {
			return nil, false
		}
		out.Write(body[prev:e.at])
		out.WriteString(e.repl)
		prev = e.at + e.oldLen
	}
	out.Write(body[prev:])
	return out.Bytes(), true
}

func byteAt(b []byte, i int) byte {
	if i < 0 || i >= len(b) {
		return 0
	}
	return b[i]
}

func isBase64Byte(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '='
}

// sameExceptData reports whether got is before with spec.encryptedData
// replaced by sealed.
func sameExceptData(before, got *v1alpha1.SealedSecret, sealed map[string]string) bool {
	if !maps.Equal(got.Spec.EncryptedData, sealed) {
		return false
	}
	a, b := before.DeepCopy(), got.DeepCopy()
	a.Spec.EncryptedData, b.Spec.EncryptedData = nil, nil
	return reflect.DeepEqual(a, b)
}

func startsWithBrace(body []byte) bool {
	t := bytes.TrimLeft(body, " \t\r\n")
	return len(t) > 0 && t[0] == '{'
}
