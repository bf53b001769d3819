package template

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	gotemplate "text/template"
	"unicode/utf8"
	"unsafe"
)

// Render renders templates over data with DefaultLimits: each template is a
// Go template over the values of data (as strings), and its output is added
// to data under the template's key. Nothing is added unless every template
// renders. Errors are *Error values and never contain a value.
func Render(templates map[string]string, data map[string][]byte) error {
	return DefaultLimits.Render(templates, data)
}

// Render is Render with the limits l.
func (l Limits) Render(templates map[string]string, data map[string][]byte) error {
	if len(templates) == 0 {
		return nil
	}
	s := l.Session()
	p, err := s.Parse(templates)
	if err != nil {
		return err
	}
	rendered, err := p.Execute(data)
	if err != nil {
		return err
	}
	maps.Copy(data, rendered)
	return nil
}

// Session renders several sets of templates for one object (its data
// templates, templates read from elsewhere, key rewrites, ...) within one
// set of limits: the source, node, work and output budgets are shared by
// everything the session parses and executes.
type Session struct {
	r    *run
	root *gotemplate.Template
	// sources and nodes are what the session's templates used so far.
	sources, templates, nodes int
}

// Session starts a session with the limits l.
func (l Limits) Session() *Session {
	l = l.withDefaults()
	return &Session{r: &run{limits: l}}
}

// rootTemplate returns the template every template of the session is
// associated with, so that the functions are bound once, on first use.
func (s *Session) rootTemplate() *gotemplate.Template {
	if s.root == nil {
		s.root = gotemplate.New("").Option("missingkey=error").Funcs(s.r.funcMap())
	}
	return s.root
}

// Parsed is a set of parsed templates, ready to be executed over data.
type Parsed struct {
	s      *Session
	keys   []string
	parsed []*gotemplate.Template
}

// Parse parses templates, within the session's source and node limits.
// Errors are *Error values.
func (s *Session) Parse(templates map[string]string) (*Parsed, error) {
	l := s.r.limits
	if err := checkSources(l, templates); err != nil {
		return nil, err
	}
	s.templates += len(templates)
	for _, src := range templates {
		s.sources += len(src)
	}
	if s.templates > l.MaxTemplates {
		return nil, &Error{Limit: LimitTemplates, Detail: fmt.Sprintf("more than the %d templates one object may have: split the object", l.MaxTemplates)}
	}
	if s.sources > l.MaxSourceSize {
		return nil, &Error{Limit: LimitSourceSize, Detail: fmt.Sprintf("the templates are more than %d bytes in all, more than one object may have: split the object", l.MaxSourceSize)}
	}
	keys := slices.Sorted(maps.Keys(templates))
	p := &Parsed{s: s, keys: keys, parsed: make([]*gotemplate.Template, len(keys))}
	for i, key := range keys {
		root := s.rootTemplate()
		before := len(root.Templates())
		t, err := root.New(key).Parse(templates[key])
		if err == nil && len(root.Templates()) > before+1 {
			err = fmt.Errorf("%s: define and block are not allowed in kseal templates", key)
		}
		if err != nil {
			// Parsing sees only the template, which is public; redact in
			// case it spells out a value anyway.
			return nil, &Error{Key: key, Detail: s.r.redact(clip(strings.TrimPrefix(err.Error(), "template: ")))}
		}
		if err := check(t, &s.nodes); err != nil {
			return nil, &Error{Key: key, Detail: s.r.redact(err.Error())}
		}
		if s.nodes > l.MaxNodes {
			return nil, &Error{Key: key, Limit: LimitNodes, Detail: fmt.Sprintf("the templates of this object have more than %d actions, arguments and text pieces in all: make them simpler, or split the object", l.MaxNodes)}
		}
		p.parsed[i] = t
	}
	return p, nil
}

// Execute renders every template of p over data (each value as a string)
// and returns the outputs by template key. It changes nothing in data.
func (p *Parsed) Execute(data map[string][]byte) (map[string][]byte, error) {
	r := p.s.r
	// The values share memory with data, which the templates never change
	// and which outlives the rendering; nothing built from them keeps them.
	values := make(map[string]string, len(data))
	for k, v := range data {
		values[k] = unsafe.String(unsafe.SliceData(v), len(v))
	}
	r.values = values
	rendered := make(map[string][]byte, len(p.keys))
	for i, key := range p.keys {
		out := &output{r: r}
		if err := p.parsed[i].Execute(out, values); err != nil {
			return nil, r.execError(key, err)
		}
		rendered[key] = out.Bytes()
	}
	return rendered, nil
}

// checkSources enforces the limits on the number and size of templates,
// before anything is parsed.
func checkSources(l Limits, templates map[string]string) error {
	if len(templates) > l.MaxTemplates {
		return &Error{Limit: LimitTemplates, Detail: fmt.Sprintf("%d templates, more than the %d one object may have: split the object", len(templates), l.MaxTemplates)}
	}
	total := 0
	for _, key := range slices.Sorted(maps.Keys(templates)) {
		n := len(templates[key])
		if n > l.MaxTemplateSize {
			return &Error{Key: key, Limit: LimitTemplateSize, Detail: fmt.Sprintf("the template is %d bytes, more than the %d one template may have: move fixed text out of it, or split it", n, l.MaxTemplateSize)}
		}
		total += n
	}
	if total > l.MaxSourceSize {
		return &Error{Limit: LimitSourceSize, Detail: fmt.Sprintf("the templates are %d bytes in all, more than the %d one object may have: split the object", total, l.MaxSourceSize)}
	}
	return nil
}

// run is the rendering of one object's templates: the budgets they share.
type run struct {
	limits Limits
	// values are the data the templates read, for redaction.
	values map[string]string
	// work is the work charged so far (see Limits.MaxWork).
	work int
	// output is the number of bytes rendered so far, over all templates.
	output int
}

// output collects one template's output within the value and output limits.
type output struct {
	bytes.Buffer
	r *run
}

func (o *output) Write(p []byte) (int, error) {
	l := o.r.limits
	if o.Len()+len(p) > l.MaxValueSize {
		return 0, &funcError{limit: LimitValueSize, msg: fmt.Sprintf("the output exceeds the %d bytes one value may hold", l.MaxValueSize)}
	}
	if o.r.output+len(p) > l.MaxOutputSize {
		return 0, &funcError{limit: LimitOutputSize, msg: fmt.Sprintf("the outputs of this object's templates exceed %d bytes in all: split the object", l.MaxOutputSize)}
	}
	o.r.output += len(p)
	return o.Buffer.Write(p)
}

// execError describes a failed execution without what the failed action
// operated on.
func (r *run) execError(key string, err error) *Error {
	if fe, ok := errors.AsType[*funcError](err); ok {
		// Everything before kseal's own message is the location and the
		// action, from the template source.
		return &Error{Key: key, Limit: fe.limit, Detail: r.redact(shorten(strings.TrimPrefix(err.Error(), "template: ")))}
	}
	return &Error{Key: key, Detail: r.redact(shorten(strings.TrimPrefix(execErrorDetail(err), "template: ")))}
}

// maxAction is how much of the failed action an error quotes.
const maxAction = 60

// shorten cuts the action text.Template quotes in an execution error
// ("... at <ACTION>: MESSAGE") to maxAction bytes: it can be as long as the
// template.
func shorten(msg string) string {
	const at, sep = " at <", ">: "
	i := strings.Index(msg, at)
	if i < 0 {
		return clip(msg)
	}
	start := i + len(at)
	end := strings.LastIndex(msg, sep)
	if end-start <= maxAction {
		return clip(msg)
	}
	cut := start + maxAction
	for cut > start && !utf8.RuneStart(msg[cut]) {
		cut--
	}
	return clip(msg[:cut] + "..." + msg[end:])
}

// maxDetail bounds an error's text, which ends up in a status condition.
const maxDetail = 1024

// clip cuts msg to maxDetail bytes, keeping its start and end.
func clip(msg string) string {
	if len(msg) <= maxDetail {
		return msg
	}
	head, tail := maxDetail*2/3, maxDetail/3
	for head > 0 && !utf8.RuneStart(msg[head]) {
		head--
	}
	t := len(msg) - tail
	for t < len(msg) && !utf8.RuneStart(msg[t]) {
		t++
	}
	return msg[:head] + " ... " + msg[t:]
}

// withheld replaces an engine message that may quote a value.
const withheld = "execution failed (the engine's message is withheld: it may quote a secret value)"

// sourceOnlyMessages start execution error messages that quote nothing but
// the template source; they are worth showing in full.
var sourceOnlyMessages = []string{
	"map has no entry for key ",
	"can't evaluate field ",
}

// execErrorDetail describes a template execution error without what the
// failed action operated on. text/template words its errors as
//
//	template: NAME:LINE:COL: executing "NAME" at <ACTION>: MESSAGE
//
// where everything up to the action comes from the template source, and
// MESSAGE may print values, as in "non-function VALUE of type string" (a
// value piped through printf or slice would also escape a plain search for
// it). MESSAGE is kept only when it is known to quote the source alone.
func execErrorDetail(err error) string {
	const sep = ">: "
	msg := err.Error()
	head, tail, found := strings.Cut(msg, sep)
	if !found {
		return withheld
	}
	// Exactly one separator tells the action apart from the message.
	if !strings.Contains(tail, sep) {
		for _, prefix := range sourceOnlyMessages {
			if strings.HasPrefix(tail, prefix) {
				return msg
			}
		}
	}
	return head + sep + withheld
}

// redact withholds an error text that contains any value.
func (r *run) redact(msg string) string {
	for _, v := range r.values {
		if len(v) >= 3 && strings.Contains(msg, v) {
			return "error text withheld because it contained a secret value"
		}
	}
	return msg
}
