package template

import (
	"errors"
	"fmt"
	"reflect"
	"strings"
	"sync"
	gotemplate "text/template"

	"github.com/Masterminds/sprig/v3"
)

// This file gives templates Sprig's functions, as External Secrets
// Operator's v2 engine has them, each bounded like kseal's own. A Sprig
// function is called through a wrapper that, before the call, measures its
// arguments (refusing cyclic or oversized values), charges their size as
// work, works out the most the call can produce (see bounds) and charges
// that, and after the call measures the result. So no call can allocate
// much more than the per-value limit, or run longer than the bytes charged
// for it, and a value that passed through a function is never larger than
// a value may be.

// unavailable are Sprig functions kseal templates do not have, with the
// reason an error gives.
var unavailable = map[string]string{
	"env":            "it reads the controller's environment",
	"expandenv":      "it reads the controller's environment",
	"getHostByName":  "it sends DNS queries from the controller",
	"derivePassword": "it takes 32 MiB of memory per call",
}

// sizeUnit is what measure counts for one element of a list or map, and for
// a number, a boolean or any value it does not look into.
const sizeUnit = 16

// Fixed work charged for functions whose cost does not depend on their
// arguments' size.
const (
	costRSAKey = 1 << 20   // genPrivateKey "rsa": a 4096-bit key
	costCert   = 256 << 10 // genCA, genSelfSignedCert, genSignedCert: a 2048-bit key
	costBcrypt = 128 << 10 // bcrypt, htpasswd: cost 10
	costSmall  = 1 << 10   // ecdsa and ed25519 keys, parsing a key
)

// sprigBase is Sprig's function map, built on first use: a controller
// whose objects use no templates never holds it.
var sprigBase = sync.OnceValue(sprig.TxtFuncMap)

// sprigFuncs returns Sprig's functions (without unavailable), bounded and
// charged to r.
func (r *run) sprigFuncs() gotemplate.FuncMap {
	out := gotemplate.FuncMap{}
	for name, fn := range sprigBase() {
		if why, ok := unavailable[name]; ok {
			out[name] = refused(name, why)
			continue
		}
		out[name] = r.wrap(name, fn)
	}
	for _, name := range []string{"dateInZone", "date_in_zone", "htmlDateInZone"} {
		if fn, ok := out[name]; ok {
			out[name] = utcOnly(name, fn)
		}
	}
	return out
}

// refused is a function that fails, saying why name is not available.
func refused(name, why string) func(...any) (string, error) {
	return func(...any) (string, error) {
		return "", usageError("%s is not available in kseal templates: %s", name, why)
	}
}

var errorType = reflect.TypeFor[error]()

// wrap returns fn, a Sprig function, bounded: see the comment at the top of
// this file.
func (r *run) wrap(name string, fn any) any {
	fv := reflect.ValueOf(fn)
	ft := fv.Type()
	in := make([]reflect.Type, ft.NumIn())
	for i := range in {
		in[i] = ft.In(i)
	}
	res := ft.Out(0)
	wt := reflect.FuncOf(in, []reflect.Type{res, errorType}, ft.IsVariadic())
	bound := bounds[name]
	return reflect.MakeFunc(wt, func(args []reflect.Value) []reflect.Value {
		fail := func(err error) []reflect.Value {
			return []reflect.Value{reflect.Zero(res), reflect.ValueOf(&err).Elem()}
		}
		var m measured
		for _, a := range args {
			am, err := r.measure(a)
			if err != nil {
				return fail(err)
			}
			m.add(am)
		}
		if err := r.charge(m.size); err != nil {
			return fail(err)
		}
		n := 4*m.size + 2*m.count + 64
		if bound != nil {
			var err error
			if n, err = bound(r, flatten(args, ft.IsVariadic()), m); err != nil {
				return fail(err)
			}
		}
		if err := r.produce(n); err != nil {
			return fail(fmt.Errorf("%s: %w", name, err))
		}
		var out []reflect.Value
		if ft.IsVariadic() {
			out = fv.CallSlice(args)
		} else {
			out = fv.Call(args)
		}
		if len(out) == 2 && !out[1].IsNil() {
			return out
		}
		if _, err := r.measure(out[0]); err != nil {
			return fail(fmt.Errorf("%s: %w", name, err))
		}
		return []reflect.Value{out[0], reflect.Zero(errorType)}
	}).Interface()
}

// measured is the size of a value: bytes of strings, sizeUnit per element
// and per other value; count is the number of elements and leaves, depth
// the deepest nesting.
type measured struct{ size, count, depth int }

func (m *measured) add(o measured) {
	m.size += o.size
	m.count += o.count
	m.depth = max(m.depth, o.depth)
}

// measure sizes v, refusing a value that contains itself or that is larger
// than one value may be. It reads at most MaxValueSize/sizeUnit elements.
func (r *run) measure(v reflect.Value) (measured, error) {
	var m measured
	onPath := map[uintptr]bool{}
	err := r.walk(v, 1, &m, onPath)
	return m, err
}

func (r *run) walk(v reflect.Value, depth int, m *measured, onPath map[uintptr]bool) error {
	limit := r.limits.MaxValueSize
	for v.IsValid() && (v.Kind() == reflect.Interface || v.Kind() == reflect.Pointer) {
		if v.IsNil() {
			break
		}
		if v.Kind() == reflect.Pointer && v.Elem().Kind() == reflect.Struct {
			break // a time, a semver version, a certificate: counted as one
		}
		v = v.Elem()
	}
	m.count++
	m.depth = max(m.depth, depth)
	switch {
	case !v.IsValid():
		m.size += sizeUnit
	case v.Kind() == reflect.String:
		m.size += v.Len()
	case v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8:
		m.size += v.Len()
	case v.Kind() == reflect.Slice || v.Kind() == reflect.Array || v.Kind() == reflect.Map:
		var p uintptr
		if v.Kind() != reflect.Array && v.Len() > 0 {
			p = v.Pointer()
		}
		if p != 0 {
			if onPath[p] {
				return usageError("a list or dict contains itself: kseal templates cannot use it")
			}
			onPath[p] = true
			defer delete(onPath, p)
		}
		m.size += sizeUnit
		if v.Kind() == reflect.Map {
			it := v.MapRange()
			for it.Next() {
				if err := r.walkElem(it.Key(), depth, m, onPath); err != nil {
					return err
				}
				if err := r.walkElem(it.Value(), depth, m, onPath); err != nil {
					return err
				}
			}
		} else {
			for i := range v.Len() {
				if err := r.walkElem(v.Index(i), depth, m, onPath); err != nil {
					return err
				}
			}
		}
	default:
		m.size += sizeUnit
	}
	if m.size > limit {
		return &funcError{limit: LimitValueSize, msg: fmt.Sprintf("a value would exceed the %d bytes one value may hold (a list or dict counts %d bytes per element): build less", limit, sizeUnit)}
	}
	return nil
}

func (r *run) walkElem(v reflect.Value, depth int, m *measured, onPath map[uintptr]bool) error {
	m.size += sizeUnit
	if m.size > r.limits.MaxValueSize {
		return &funcError{limit: LimitValueSize, msg: fmt.Sprintf("a value would exceed the %d bytes one value may hold (a list or dict counts %d bytes per element): build less", r.limits.MaxValueSize, sizeUnit)}
	}
	return r.walk(v, depth+1, m, onPath)
}

// utcOnly refuses the zone functions' zones other than UTC: loading a
// zone reads the controller's file system.
func utcOnly(name string, fn any) any {
	fv := reflect.ValueOf(fn)
	ft := fv.Type()
	zoneArg := -1
	for i := range ft.NumIn() {
		if ft.In(i).Kind() == reflect.String && i > 0 {
			zoneArg = i
		}
	}
	return reflect.MakeFunc(ft, func(args []reflect.Value) []reflect.Value {
		if zoneArg >= 0 && zoneArg < len(args) {
			if z := args[zoneArg].String(); z != "UTC" && z != "" {
				err := usageError("%s: only the zone \"UTC\" is available in kseal templates (loading another reads the controller's files)", name)
				return []reflect.Value{reflect.Zero(ft.Out(0)), reflect.ValueOf(&err).Elem()}
			}
		}
		return fv.Call(args)
	}).Interface()
}

// errNegative is a count or size below zero.
var errNegative = errors.New("negative count")

// maxInt bounds the integers bounds compute with, so that no sum or
// difference of two overflows.
const maxInt = 1 << 40

// intArg reads argument i as an int (0 when absent), within ±maxInt.
func intArg(args []reflect.Value, i int) int {
	if i >= len(args) {
		return 0
	}
	v := args[i]
	for v.Kind() == reflect.Interface && !v.IsNil() {
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return int(max(min(v.Int(), maxInt), -maxInt))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		return int(min(v.Uint(), maxInt))
	case reflect.Float32, reflect.Float64:
		return int(max(min(v.Float(), maxInt), -maxInt))
	case reflect.String:
		return 0
	}
	return 0
}

// strArg reads argument i as a string ("" when absent or not a string).
func strArg(args []reflect.Value, i int) string {
	if i >= len(args) {
		return ""
	}
	v := args[i]
	for v.Kind() == reflect.Interface && !v.IsNil() {
		v = v.Elem()
	}
	if v.Kind() == reflect.String {
		return v.String()
	}
	return ""
}

// mul multiplies counts, saturating instead of overflowing.
func mul(a, b int) int {
	if a <= 0 || b <= 0 {
		return 0
	}
	if a > (1<<62)/b {
		return 1 << 62
	}
	return a * b
}

// countArg is the number of items argument i holds: a list's length, or 1.
func countArg(args []reflect.Value, i int) int {
	if i >= len(args) {
		return 0
	}
	v := args[i]
	for v.Kind() == reflect.Interface && !v.IsNil() {
		v = v.Elem()
	}
	switch v.Kind() {
	case reflect.Slice, reflect.Array, reflect.Map:
		return v.Len()
	}
	return 1
}

// lineCount is the number of lines of s.
func lineCount(s string) int { return strings.Count(s, "\n") + 1 }

// flatten spreads the variadic arguments MakeFunc passes as one slice.
func flatten(args []reflect.Value, variadic bool) []reflect.Value {
	if !variadic || len(args) == 0 {
		return args
	}
	last := args[len(args)-1]
	out := append([]reflect.Value{}, args[:len(args)-1]...)
	for i := range last.Len() {
		out = append(out, last.Index(i))
	}
	return out
}
