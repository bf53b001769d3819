package providers

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// MaxValueSize bounds a fetched value: a Kubernetes Secret holds at most 1 MiB.
const MaxValueSize = 1 << 20

// ExtractProperty returns the field at a path of a JSON value, as External
// Secrets Operator resolves remoteRef.property (gjson syntax): dots go down
// objects ("db.password"), numbers index arrays ("friends.1.first"), "#" is
// an array's length and "#.field" that field of every element
// ("friends.#.first"). A key that itself contains dots is matched whole
// first ("a.b" in {"a.b": 1}); "\." is a literal dot. Strings come back as
// their text, other JSON values (numbers, objects, arrays) as JSON. Errors
// name the property, never the value.
func ExtractProperty(value []byte, property string) ([]byte, error) {
	var doc any
	dec := json.NewDecoder(bytes.NewReader(value))
	dec.UseNumber()
	if err := dec.Decode(&doc); err != nil {
		return nil, fmt.Errorf("%w: cannot select property %q", ErrNotJSON, property)
	}
	switch doc.(type) {
	case map[string]any, []any:
	default:
		return nil, fmt.Errorf("%w: cannot select property %q", ErrNotJSON, property)
	}
	budget := maxLookupSteps
	v, ok := lookup(doc, property, &budget)
	if !ok || budget < 0 {
		return nil, fmt.Errorf("%w: %q", ErrPropertyNotFound, property)
	}
	return EncodeField(v)
}

// maxLookupSteps bounds the work of one property lookup. Each node of the
// value is visited at most once (keys with dots only choose which subtree
// a path goes down), so a value within MaxValueSize stays below it; it
// guards against a mistake, not a normal value.
const maxLookupSteps = 1 << 20

// lookup resolves path in v, spending one step of budget per call.
func lookup(v any, path string, budget *int) (any, bool) {
	if *budget--; *budget < 0 {
		return nil, false
	}
	switch node := v.(type) {
	case map[string]any:
		if x, ok := node[unescape(path)]; ok {
			return x, true
		}
		// Try each dot (not escaped) as the end of the key, shortest first.
		for i := 0; i < len(path); i++ {
			if path[i] == '\\' {
				i++
				continue
			}
			if path[i] != '.' {
				continue
			}
			if x, ok := node[unescape(path[:i])]; ok {
				if r, ok := lookup(x, path[i+1:], budget); ok {
					return r, true
				}
			}
		}
	case []any:
		head, rest, more := strings.Cut(path, ".")
		if head == "#" {
			if !more {
				return json.Number(strconv.Itoa(len(node))), true
			}
			out := []any{}
			for _, el := range node {
				if r, ok := lookup(el, rest, budget); ok {
					out = append(out, r)
				}
			}
			return out, true
		}
		i, err := strconv.Atoi(head)
		if err != nil || i < 0 || i >= len(node) {
			return nil, false
		}
		if !more {
			return node[i], true
		}
		return lookup(node[i], rest, budget)
	}
	return nil, false
}

// unescape turns gjson's "\." into ".".
func unescape(key string) string {
	return strings.ReplaceAll(key, "\\.", ".")
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
