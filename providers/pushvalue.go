package providers

import (
	"bytes"
	"encoding/json"
	"errors"
	"unicode/utf8"
)

// Errors of SetProperty and RemoveProperty; they never quote a value.
var (
	errRemoteNotObject = errors.New("the remote value is not a JSON object, and a property needs one (remove remoteRef.property to replace the whole value)")
	errPropertyNotUTF8 = errors.New("remoteRef.property is not UTF-8 text")
	errValueNotUTF8    = errors.New("the value is not UTF-8 text, so it cannot be a JSON field (push it without remoteRef.property)")
)

// SetProperty returns cur with the top-level field property set to value
// (a JSON string); cur may be empty. With an empty property it returns
// value. When the field already holds value, cur is returned unchanged, so
// that an unchanged push writes nothing.
func SetProperty(cur []byte, property string, value []byte) ([]byte, error) {
	if property == "" {
		return bytes.Clone(value), nil
	}
	if !utf8.Valid(value) {
		return nil, errValueNotUTF8
	}
	if !utf8.ValidString(property) {
		return nil, errPropertyNotUTF8
	}
	obj, err := remoteObject(cur)
	if err != nil {
		return nil, err
	}
	if raw, ok := obj[property]; ok {
		var s string
		if json.Unmarshal(raw, &s) == nil && s == string(value) {
			return cur, nil
		}
	}
	enc, err := json.Marshal(string(value))
	if err != nil {
		return nil, err
	}
	obj[property] = enc
	return json.Marshal(obj)
}

// HasProperty reports whether cur is a JSON object with the top-level field
// property.
func HasProperty(cur []byte, property string) bool {
	obj, err := remoteObject(cur)
	if err != nil {
		return false
	}
	_, ok := obj[property]
	return ok
}

// RemoveProperty returns cur without the top-level field property, and
// whether no field is left.
func RemoveProperty(cur []byte, property string) (rest []byte, empty bool, err error) {
	obj, err := remoteObject(cur)
	if err != nil {
		return nil, false, err
	}
	if _, ok := obj[property]; !ok {
		return cur, len(obj) == 0, nil
	}
	delete(obj, property)
	if len(obj) == 0 {
		return nil, true, nil
	}
	rest, err = json.Marshal(obj)
	return rest, false, err
}

// remoteObject decodes a JSON object (empty input is an empty object).
func remoteObject(cur []byte) (map[string]json.RawMessage, error) {
	obj := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(cur)) == 0 {
		return obj, nil
	}
	if len(cur) > MaxValueSize {
		return nil, errRemoteNotObject
	}
	if err := json.Unmarshal(cur, &obj); err != nil || obj == nil {
		return nil, errRemoteNotObject
	}
	return obj, nil
}
