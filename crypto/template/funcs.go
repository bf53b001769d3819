package template

import (
	"fmt"
	"maps"
	"net/url"
	gotemplate "text/template"
	"unsafe"
)

// funcMap returns the functions templates may call, bound to r: Sprig's
// and External Secrets Operator's (see sprig.go and eso.go), and kseal's
// versions of the builtins. The builtins missing here (and, or, not, len)
// take constant time and allocate nothing in proportion to their
// arguments; call is refused by check.
func (r *run) funcMap() gotemplate.FuncMap {
	m := r.sprigFuncs()
	maps.Copy(m, r.esoFuncs())
	maps.Copy(m, r.builtins())
	return m
}

// builtins are kseal's versions of text/template's builtins, and slice,
// which Sprig also defines.
func (r *run) builtins() gotemplate.FuncMap {
	return gotemplate.FuncMap{
		"slice":    r.slice,
		"rangeOf":  r.rangeOf,
		"print":    r.print,
		"println":  r.println,
		"printf":   r.printf,
		"html":     r.html,
		"js":       r.js,
		"urlquery": r.urlquery,
		"index":    r.index,
		"eq":       r.eq,
		"ne":       r.ne,
		"lt":       r.lt,
		"le":       r.le,
		"gt":       r.gt,
		"ge":       r.ge,
	}
}

// produce charges the work of a function result of at most n bytes, before
// the function builds it.
func (r *run) produce(n int) error {
	if n > r.limits.MaxValueSize {
		return &funcError{limit: LimitValueSize, msg: fmt.Sprintf("the result could exceed the %d bytes one value may hold: build less in one call", r.limits.MaxValueSize)}
	}
	return r.charge(n)
}

// charge spends n units of the object's work budget.
func (r *run) charge(n int) error {
	if n < 0 || n > r.limits.MaxWork-r.work {
		return &funcError{limit: LimitWork, msg: fmt.Sprintf("rendering this object's templates takes more than the %d units of work one object may use (a unit is a byte a function may produce or read): make the templates do less", r.limits.MaxWork)}
	}
	r.work += n
	return nil
}

func (r *run) print(args ...any) (string, error) {
	n, err := printBound(args, false, r.limits.MaxValueSize)
	if err != nil {
		return "", err
	}
	if err := r.produce(n); err != nil {
		return "", err
	}
	return result(fmt.Append(make([]byte, 0, n), args...)), nil
}

func (r *run) println(args ...any) (string, error) {
	n, err := printBound(args, true, r.limits.MaxValueSize)
	if err != nil {
		return "", err
	}
	if err := r.produce(n); err != nil {
		return "", err
	}
	return result(fmt.Appendln(make([]byte, 0, n), args...)), nil
}

func (r *run) printf(format string, args ...any) (string, error) {
	n, err := printfSize(format, args, r.limits.MaxFormatWidth, r.limits.MaxValueSize)
	if err != nil {
		return "", err
	}
	if err := r.produce(n); err != nil {
		return "", err
	}
	return result(fmt.Appendf(make([]byte, 0, n), format, args...)), nil
}

// escapeInput is what html, js and urlquery escape: their one string
// argument, or else their arguments printed as by print.
func (r *run) escapeInput(args []any) (string, error) {
	if len(args) == 1 {
		if s, ok := args[0].(string); ok {
			return s, nil
		}
	}
	return r.print(args...)
}

// html escapes as text/template does; each byte becomes at most 5 ("&#34;").
func (r *run) html(args ...any) (string, error) {
	s, err := r.escapeInput(args)
	if err != nil {
		return "", err
	}
	if err := r.produce(5 * len(s)); err != nil {
		return "", err
	}
	return gotemplate.HTMLEscapeString(s), nil
}

// js escapes as text/template does; each byte becomes at most 6 ("\u003C").
func (r *run) js(args ...any) (string, error) {
	s, err := r.escapeInput(args)
	if err != nil {
		return "", err
	}
	if err := r.produce(6 * len(s)); err != nil {
		return "", err
	}
	return gotemplate.JSEscapeString(s), nil
}

// urlquery escapes as text/template does; each byte becomes at most 3 ("%3D").
func (r *run) urlquery(args ...any) (string, error) {
	s, err := r.escapeInput(args)
	if err != nil {
		return "", err
	}
	if err := r.produce(3 * len(s)); err != nil {
		return "", err
	}
	return url.QueryEscape(s), nil
}

// result turns a buffer built for one function result, at most as large as
// was charged for it, into a string without copying it: nothing else holds
// the buffer.
func result(b []byte) string {
	return unsafe.String(unsafe.SliceData(b), len(b))
}
