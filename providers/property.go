package providers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
)

// MaxValueSize bounds a fetched value: a Kubernetes Secret holds at most 1 MiB.
const MaxValueSize = 1 << 20

// ExtractProperty returns the field at a dotted path of a JSON object value:
// strings as their text, other JSON values (numbers, objects) as JSON. A key
// that itself contains dots is matched whole first ("a.b" in {"a.b": 1}).
// Errors name the property, never the value.
func ExtractProperty(value []byte, property string) ([]byte, error) {
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, fmt.Errorf("%w: cannot select property %q", ErrNotJSON, property)
	}
	v, ok := lookup(obj, property)
	if !ok {
		return nil, fmt.Errorf("%w: %q", ErrPropertyNotFound, property)
	}
	return EncodeField(v)
}

func lookup(obj map[string]any, path string) (any, bool) {
	if v, ok := obj[path]; ok {
		return v, true
	}
	head, rest, found := strings.Cut(path, ".")
	for found {
		if v, ok := obj[head]; ok {
			if sub, isObj := v.(map[string]any); isObj {
				if r, ok := lookup(sub, rest); ok {
					return r, true
				}
			}
		}
		var next string
		next, rest, found = strings.Cut(rest, ".")
		head = head + "." + next
		if v, ok := obj[head]; ok && !found {
			return v, true
		}
	}
	return nil, false
}

// EncodeField renders one JSON field as Secret data: strings as text,
// everything else as compact JSON.
func EncodeField(v any) ([]byte, error) {
	if s, ok := v.(string); ok {
		return []byte(s), nil
	}
	return json.Marshal(v)
}

// ExtractAll returns every top-level field of a JSON object value, encoded
// with EncodeField (dataFrom.extract).
func ExtractAll(value []byte) (map[string][]byte, error) {
	var obj map[string]any
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.UseNumber()
	if err := dec.Decode(&obj); err != nil || obj == nil {
		return nil, fmt.Errorf("%w: cannot extract its fields", ErrNotJSON)
	}
	out := make(map[string][]byte, len(obj))
	for k, v := range obj {
		b, err := EncodeField(v)
		if err != nil {
			return nil, err
		}
		out[k] = b
	}
	return out, nil
}
