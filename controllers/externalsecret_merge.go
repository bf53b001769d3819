package controllers

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/providers"
)

// errMergeConflict marks a merge rewrite that found one field in more than
// one value with conflictPolicy Error. It depends on the remote values, so
// it is retried at the refresh interval.
var errMergeConflict = errors.New("merge conflict")

// maxMergeConflictsShown bounds the field names a conflict error lists.
const maxMergeConflictsShown = 10

// rewriteMerge applies a merge rewrite, as External Secrets Operator does:
// every value is a JSON object; they are merged in the alphabetical order
// of their keys, then the priority keys in the order given, a later
// field overwriting an earlier one. Strategy Extract returns the merged
// fields as keys (strings as they are, numbers and booleans as text,
// objects and arrays as JSON, null as an empty value); strategy JSON
// returns the input with into set to the merged object. The result is
// bounded by providers.MaxValueSize in total. Errors name keys and fields,
// never values.
func rewriteMerge(m v1alpha1.ExternalSecretRewriteMerge, in map[string][]byte) (map[string][]byte, error) {
	merged, conflicts, err := mergeValues(m, in)
	if err != nil {
		return nil, err
	}
	if len(conflicts) > 0 && m.ConflictPolicy != v1alpha1.MergeConflictIgnore {
		slices.Sort(conflicts)
		conflicts = slices.Compact(conflicts)
		shown := conflicts[:min(len(conflicts), maxMergeConflictsShown)]
		more := ""
		if len(conflicts) > len(shown) {
			more = fmt.Sprintf(" and %d more", len(conflicts)-len(shown))
		}
		return nil, fmt.Errorf("%w: fields %s%s are in more than one value (conflictPolicy Error): set conflictPolicy Ignore to let the later value win (priority sets the order), or rename them first",
			errMergeConflict, strings.Join(shown, ", "), more)
	}
	out := map[string][]byte{}
	total := 0
	switch m.Strategy {
	case "", v1alpha1.MergeStrategyExtract:
		for _, k := range slices.Sorted(maps.Keys(merged)) {
			v, err := mergedValue(merged[k])
			if err != nil {
				return nil, fmt.Errorf("%w: merge: field %s: %v", errBadRewrite, k, err)
			}
			total += len(k) + len(v)
			out[k] = v
		}
	case v1alpha1.MergeStrategyJSON:
		if m.Into == "" {
			return nil, fmt.Errorf("%w: merge strategy JSON needs into: the key that holds the merged JSON", errBadRewrite)
		}
		var buf bytes.Buffer
		enc := json.NewEncoder(&buf)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(merged); err != nil {
			return nil, fmt.Errorf("%w: merge: %v", errBadRewrite, err)
		}
		maps.Copy(out, in)
		out[m.Into] = bytes.TrimRight(buf.Bytes(), "\n")
		for k, v := range out {
			total += len(k) + len(v)
		}
	default:
		return nil, fmt.Errorf("%w: merge strategy %q: use Extract or JSON", errBadRewrite, m.Strategy)
	}
	if total > providers.MaxValueSize {
		return nil, fmt.Errorf("%w: merge: the merged values are %d bytes, more than the %d a Secret holds", errBadRewrite, total, providers.MaxValueSize)
	}
	return out, nil
}

// mergeValues merges the JSON objects of in in ESO's order and returns the
// fields seen more than once.
func mergeValues(m v1alpha1.ExternalSecretRewriteMerge, in map[string][]byte) (map[string]any, []string, error) {
	order := slices.Sorted(maps.Keys(in))
	order = slices.DeleteFunc(order, func(k string) bool { return slices.Contains(m.Priority, k) })
	order = append(order, m.Priority...)
	merged := map[string]any{}
	var conflicts []string
	for _, k := range order {
		v, ok := in[k]
		if !ok {
			if m.PriorityPolicy == v1alpha1.MergePriorityIgnoreNotFound {
				continue
			}
			return nil, nil, fmt.Errorf("%w: merge: priority key %s is not among the fetched keys (set priorityPolicy IgnoreNotFound to skip it)", errBadRewrite, k)
		}
		var obj map[string]any
		// The decoder's error is not shown: it quotes the value's bytes.
		if err := json.Unmarshal(v, &obj); err != nil || obj == nil {
			return nil, nil, fmt.Errorf("%w: merge: the value of key %s is not a JSON object", errBadRewrite, k)
		}
		for f, fv := range obj {
			if _, dup := merged[f]; dup {
				conflicts = append(conflicts, f)
			}
			merged[f] = fv
		}
	}
	return merged, conflicts, nil
}

// mergedValue is the Secret value of one merged field, as ESO writes it.
func mergedValue(v any) ([]byte, error) {
	switch t := v.(type) {
	case string:
		return []byte(t), nil
	case float64:
		return []byte(strconv.FormatFloat(t, 'f', -1, 64)), nil
	case bool:
		return []byte(strconv.FormatBool(t)), nil
	case nil:
		return nil, nil
	case map[string]any, []any:
		return json.Marshal(t)
	}
	return nil, fmt.Errorf("unexpected JSON type %T", v)
}
