package vault

import (
	"errors"
	"fmt"

	"github.com/kseal-dev/kseal/providers"
)

// propertyBudget bounds how many JSON parses one property lookup may do while
// trying the ways a dotted path can split into fields, so a long property
// over a value full of JSON strings stays cheap.
const propertyBudget = 32

// extractProperty selects property from the JSON object data (a secret's
// fields). It works like providers.ExtractProperty, and in addition looks
// inside a string field that itself holds a JSON object, which is how JSON
// documents are commonly kept in a single Vault field: with
// {"config": "{\"db\":{\"user\":\"app\"}}"}, property "config.db.user"
// selects "app".
//
// Errors wrap providers.ErrPropertyNotFound, or providers.ErrNotJSON when the
// path leads into a field that is not a JSON object (say "value.x" where
// value is plain text). They name the property and field, never a value.
func extractProperty(data []byte, property string) ([]byte, error) {
	budget := propertyBudget
	v, field, err := lookupProperty(data, property, &budget)
	switch {
	case err == nil:
		return v, nil
	case field != "":
		return nil, fmt.Errorf("%w: property %q: field %q is not a JSON object", providers.ErrNotJSON, property, field)
	}
	return nil, err
}

// lookupProperty does the work of extractProperty. When the lookup fails and
// some field on the way is not a JSON object, field names the first such
// field (as a dotted path relative to data).
func lookupProperty(data []byte, property string, budget *int) (v []byte, field string, err error) {
	*budget--
	v, err = providers.ExtractProperty(data, property)
	if err == nil || !errors.Is(err, providers.ErrPropertyNotFound) {
		return v, "", err
	}
	// Try each dotted prefix as a field, and the rest inside that field.
	for i := 0; i < len(property) && *budget > 0; i++ {
		if property[i] != '.' {
			continue
		}
		head, rest := property[:i], property[i+1:]
		*budget--
		inner, herr := providers.ExtractProperty(data, head)
		if herr != nil {
			continue
		}
		rv, rfield, rerr := lookupProperty(inner, rest, budget)
		if rerr == nil {
			return rv, "", nil
		}
		if field == "" {
			switch {
			case rfield != "":
				field = head + "." + rfield
			case errors.Is(rerr, providers.ErrNotJSON):
				field = head
			}
		}
	}
	return nil, field, err
}
