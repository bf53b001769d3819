package template

import (
	"errors"
	"fmt"
)

// Limits bounds the templates of one object and the work of rendering them.
// A zero field means the DefaultLimits value.
type Limits struct {
	// MaxTemplates is the number of templates one object may have.
	MaxTemplates int
	// MaxTemplateSize is the source size of one template, in bytes.
	MaxTemplateSize int
	// MaxSourceSize is the source size of all templates of one object.
	MaxSourceSize int
	// MaxNodes is the number of parse-tree nodes (text, actions, commands,
	// arguments) of all templates of one object. With no loops and no
	// template calls, each node runs at most once.
	MaxNodes int
	// MaxValueSize is the size of one rendered value, and of the result of
	// any one function.
	MaxValueSize int
	// MaxOutputSize is the size of all rendered values of one object.
	MaxOutputSize int
	// MaxWork is the work budget of one object: every function is charged,
	// before it runs, one unit per byte it may produce or read. (Output is
	// bounded by MaxOutputSize.)
	MaxWork int
	// MaxFormatWidth bounds printf widths and precisions.
	MaxFormatWidth int
}

// DefaultLimits are the limits Render applies.
var DefaultLimits = Limits{
	MaxTemplates:    256,
	MaxTemplateSize: 128 << 10,
	MaxSourceSize:   256 << 10,
	MaxNodes:        50_000,
	MaxValueSize:    1 << 20,
	MaxOutputSize:   1 << 20,
	MaxWork:         2 << 20,
	MaxFormatWidth:  4096,
}

// withDefaults fills the zero fields of l from DefaultLimits.
func (l Limits) withDefaults() Limits {
	d := DefaultLimits
	for _, f := range []struct{ v, def *int }{
		{&l.MaxTemplates, &d.MaxTemplates}, {&l.MaxTemplateSize, &d.MaxTemplateSize},
		{&l.MaxSourceSize, &d.MaxSourceSize}, {&l.MaxNodes, &d.MaxNodes},
		{&l.MaxValueSize, &d.MaxValueSize}, {&l.MaxOutputSize, &d.MaxOutputSize},
		{&l.MaxWork, &d.MaxWork}, {&l.MaxFormatWidth, &d.MaxFormatWidth},
	} {
		if *f.v <= 0 {
			*f.v = *f.def
		}
	}
	return l
}

// Limit names the bound a template reached.
type Limit string

// The limits an *Error can name.
const (
	// LimitTemplates: the object has too many templates.
	LimitTemplates Limit = "MaxTemplates"
	// LimitTemplateSize: one template's source is too long.
	LimitTemplateSize Limit = "MaxTemplateSize"
	// LimitSourceSize: all templates' sources together are too long.
	LimitSourceSize Limit = "MaxSourceSize"
	// LimitNodes: the templates have too many actions and arguments.
	LimitNodes Limit = "MaxNodes"
	// LimitValueSize: one value or one function result would be too large.
	LimitValueSize Limit = "MaxValueSize"
	// LimitOutputSize: all rendered values together would be too large.
	LimitOutputSize Limit = "MaxOutputSize"
	// LimitWork: rendering would take more work than one object may.
	LimitWork Limit = "MaxWork"
	// LimitFormat: a printf width or precision is too large or is '*'.
	LimitFormat Limit = "MaxFormatWidth"
)

// ErrTemplate matches every *Error.
var ErrTemplate = errors.New("template error")

// Error says why the templates of an object were not rendered. It never
// contains a value.
type Error struct {
	// Key is the key of the template that failed; empty when the templates
	// were refused as a whole (too many, or too much source in all).
	Key string
	// Limit is the bound that was reached, or empty when the template is
	// wrong rather than too large.
	Limit Limit
	// Detail says what failed and where, and what to do about it.
	Detail string
}

func (e *Error) Error() string {
	msg := e.Detail
	if e.Limit != "" {
		msg += " (kseal template limit " + string(e.Limit) + ")"
	}
	if e.Key == "" {
		return "template: " + msg
	}
	return fmt.Sprintf("template %q: %s", e.Key, msg)
}

// Is makes errors.Is(err, ErrTemplate) true.
func (e *Error) Is(target error) bool { return target == ErrTemplate }

// funcError is the failure of one of kseal's template functions. Its message
// is kseal's own and never contains a value, so it is shown in full.
type funcError struct {
	limit Limit
	msg   string
}

func (e *funcError) Error() string { return e.msg }

func usageError(format string, args ...any) error {
	return &funcError{msg: fmt.Sprintf(format, args...)}
}
