package template

import "reflect"

// This file reimplements text/template's index and comparison builtins, with
// the same results, so that each can be charged for the bytes it reads: a
// comparison of two long strings, or a map lookup by a long key, reads them
// whole, and a template may do many.

// indirectInterface returns the value an interface holds.
func indirectInterface(v reflect.Value) reflect.Value {
	if v.Kind() == reflect.Interface {
		return v.Elem()
	}
	return v
}

// chargeRead charges one unit plus the length of every string in vals.
func (r *run) chargeRead(vals ...reflect.Value) error {
	n := 1
	for _, v := range vals {
		if v.Kind() == reflect.String {
			n += v.Len()
		}
	}
	return r.charge(n)
}

// index returns item[i0][i1]...: a map value (empty when the key is absent)
// or a byte of a string.
func (r *run) index(item reflect.Value, indexes ...reflect.Value) (reflect.Value, error) {
	item = indirectInterface(item)
	if !item.IsValid() {
		return reflect.Value{}, usageError("index of untyped nil")
	}
	for _, ix := range indexes {
		ix = indirectInterface(ix)
		switch item.Kind() {
		case reflect.String, reflect.Slice, reflect.Array:
			var x int64
			switch ix.Kind() {
			case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
				x = ix.Int()
			case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
				x = int64(ix.Uint())
				if x < 0 {
					return reflect.Value{}, usageError("index out of range")
				}
			default:
				return reflect.Value{}, usageError("cannot index a %s with a %s: use an integer", item.Type(), typeOf(ix))
			}
			if x < 0 || x >= int64(item.Len()) {
				return reflect.Value{}, usageError("index out of range")
			}
			item = item.Index(int(x))
		case reflect.Map:
			if ix.Kind() != reflect.String || item.Type().Key().Kind() != reflect.String {
				return reflect.Value{}, usageError("cannot index a %s with a %s: use a string", item.Type(), typeOf(ix))
			}
			if err := r.chargeRead(ix); err != nil {
				return reflect.Value{}, err
			}
			if v := item.MapIndex(ix.Convert(item.Type().Key())); v.IsValid() {
				item = v
			} else {
				item = reflect.Zero(item.Type().Elem())
			}
		default:
			return reflect.Value{}, usageError("cannot index a %s", item.Type())
		}
	}
	return item, nil
}

func typeOf(v reflect.Value) string {
	if !v.IsValid() {
		return "nil"
	}
	return v.Type().String()
}

type kind int

const (
	invalidKind kind = iota
	boolKind
	complexKind
	intKind
	floatKind
	stringKind
	uintKind
)

func basicKind(v reflect.Value) kind {
	switch v.Kind() {
	case reflect.Bool:
		return boolKind
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return intKind
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return uintKind
	case reflect.Float32, reflect.Float64:
		return floatKind
	case reflect.Complex64, reflect.Complex128:
		return complexKind
	case reflect.String:
		return stringKind
	}
	return invalidKind
}

var errNoComparison = usageError("missing argument for comparison")

// eq reports whether arg1 equals any of arg2.
func (r *run) eq(arg1 reflect.Value, arg2 ...reflect.Value) (bool, error) {
	arg1 = indirectInterface(arg1)
	if len(arg2) == 0 {
		return false, errNoComparison
	}
	for _, arg := range arg2 {
		arg = indirectInterface(arg)
		if err := r.chargeRead(arg1, arg); err != nil {
			return false, err
		}
		equal, err := equal(arg1, arg)
		if err != nil || equal {
			return equal, err
		}
	}
	return false, nil
}

// equal is a == b for basic kinds (integers compare across signedness) and
// nil.
func equal(a, b reflect.Value) (bool, error) {
	k1, k2 := basicKind(a), basicKind(b)
	switch {
	case k1 == intKind && k2 == uintKind:
		return a.Int() >= 0 && uint64(a.Int()) == b.Uint(), nil
	case k1 == uintKind && k2 == intKind:
		return b.Int() >= 0 && a.Uint() == uint64(b.Int()), nil
	case k1 != k2:
		if a.IsValid() && b.IsValid() {
			return false, usageError("incompatible types for comparison: %s and %s", a.Type(), b.Type())
		}
		return false, nil
	}
	switch k1 {
	case boolKind:
		return a.Bool() == b.Bool(), nil
	case complexKind:
		return a.Complex() == b.Complex(), nil
	case floatKind:
		return a.Float() == b.Float(), nil
	case intKind:
		return a.Int() == b.Int(), nil
	case stringKind:
		return a.String() == b.String(), nil
	case uintKind:
		return a.Uint() == b.Uint(), nil
	}
	// Not a basic kind: only nil compares (with nil, or a nil map).
	if isNil(a) || isNil(b) {
		if a.IsValid() && b.IsValid() && a.Kind() != b.Kind() {
			return false, usageError("incompatible types for comparison: %s and %s", a.Type(), b.Type())
		}
		return isNil(a) == isNil(b), nil
	}
	return false, usageError("values of type %s cannot be compared", typeOf(a))
}

func isNil(v reflect.Value) bool {
	if !v.IsValid() {
		return true
	}
	switch v.Kind() {
	case reflect.Chan, reflect.Func, reflect.Interface, reflect.Map, reflect.Pointer, reflect.Slice:
		return v.IsNil()
	}
	return false
}

func (r *run) ne(a, b reflect.Value) (bool, error) {
	eq, err := r.eq(a, b)
	return !eq, err
}

// lt reports whether a < b, for integers, floats and strings.
func (r *run) lt(a, b reflect.Value) (bool, error) {
	a, b = indirectInterface(a), indirectInterface(b)
	if err := r.chargeRead(a, b); err != nil {
		return false, err
	}
	k1, k2 := basicKind(a), basicKind(b)
	if k1 == invalidKind || k2 == invalidKind {
		return false, errBadComparison
	}
	switch {
	case k1 == intKind && k2 == uintKind:
		return a.Int() < 0 || uint64(a.Int()) < b.Uint(), nil
	case k1 == uintKind && k2 == intKind:
		return b.Int() >= 0 && a.Uint() < uint64(b.Int()), nil
	case k1 != k2:
		return false, usageError("incompatible types for comparison: %s and %s", a.Type(), b.Type())
	}
	switch k1 {
	case floatKind:
		return a.Float() < b.Float(), nil
	case intKind:
		return a.Int() < b.Int(), nil
	case stringKind:
		return a.String() < b.String(), nil
	case uintKind:
		return a.Uint() < b.Uint(), nil
	}
	return false, errBadComparison
}

var errBadComparison = usageError("invalid type for comparison")

func (r *run) le(a, b reflect.Value) (bool, error) {
	lt, err := r.lt(a, b)
	if lt || err != nil {
		return lt, err
	}
	return r.eq(a, b)
}

func (r *run) gt(a, b reflect.Value) (bool, error) {
	le, err := r.le(a, b)
	return !le && err == nil, err
}

func (r *run) ge(a, b reflect.Value) (bool, error) {
	lt, err := r.lt(a, b)
	return !lt && err == nil, err
}
