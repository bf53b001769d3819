package sealedsecret

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"text/template"
	"text/template/parse"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/kseal-dev/kseal/api/v1alpha1"
	"github.com/kseal-dev/kseal/crypto/sealing"
)

// UnsealOptions tunes Unseal.
type UnsealOptions struct {
	// PreferKey names the key that opened this object last; v1 items try it
	// first.
	PreferKey string
}

// Result is an unsealed SealedSecret.
type Result struct {
	// Secret is the Secret described by the SealedSecret, without owner
	// references.
	Secret *corev1.Secret
	// KeyName is the name of the key that opened the items (the last one, if
	// several keys were involved).
	KeyName string
}

// Unseal opens every item of ss with kr and renders the Secret its template
// describes. On failure it returns an *Error listing each failed item, and
// no Secret. No error contains plaintext.
func Unseal(ss *v1alpha1.SealedSecret, kr *sealing.Keyring, opts UnsealOptions) (*Result, error) {
	opened, err := OpenItems(context.Background(), ss, kr, OpenOptions{PreferKey: opts.PreferKey})
	if err != nil {
		return nil, err
	}
	keyName, data := opened.KeyName, opened.Data
	if err := renderTemplateData(ss.Spec.Template.Data, data); err != nil {
		wipe(data)
		return nil, &Error{Namespace: ss.Namespace, Name: ss.Name, Items: []*ItemError{err}}
	}

	meta := ss.Spec.Template.Metadata
	secret := &corev1.Secret{
		TypeMeta: metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: metav1.ObjectMeta{
			Name:        ss.Name,
			Namespace:   ss.Namespace,
			Labels:      maps.Clone(meta.Labels),
			Annotations: maps.Clone(meta.Annotations),
			Finalizers:  slices.Clone(meta.Finalizers),
		},
		Type:      ss.Spec.Template.Type,
		Immutable: cloneBool(ss.Spec.Template.Immutable),
		Data:      data,
	}
	if secret.Type == "" {
		secret.Type = corev1.SecretTypeOpaque
	}
	return &Result{Secret: secret, KeyName: keyName}, nil
}

// classify makes every open failure match one of the causes ItemError
// promises: an oversized value (a sealing.SizeError) counts as corrupt.
func classify(err error) error {
	if errors.Is(err, sealing.ErrUnknownKey) || errors.Is(err, sealing.ErrScopeMismatch) || errors.Is(err, sealing.ErrCorrupt) {
		return err
	}
	return &sealing.CorruptError{Detail: err.Error()}
}

// RenderTemplates renders Secret data templates (SealedSecret
// spec.template.data, ExternalSecret spec.target.template.data): each
// template is a Go template over the values as strings, and its output is
// added to data under the template's key. Templates have no functions beyond
// Go's builtins, cannot loop (range) or call other templates, and their
// output is capped at 1 MiB, so a template cannot stall or exhaust the
// controller. Errors (an *ItemError matching ErrTemplate) never contain a
// value.
func RenderTemplates(templates map[string]string, data map[string][]byte) error {
	if err := renderTemplateData(templates, data); err != nil {
		return err
	}
	return nil
}

// templateFuncs replaces printf with a version that refuses huge widths and
// precisions, which would make fmt allocate gigabytes before any output.
var templateFuncs = template.FuncMap{"printf": safePrintf}

// formatVerb matches the flags, width and precision of a fmt verb.
var formatVerb = regexp.MustCompile(`%[-+# 0]*(\*|\d+)?(?:\.(\*|\d+))?`)

// maxFormatWidth bounds printf widths and precisions in templates.
const maxFormatWidth = 4096

func safePrintf(format string, args ...any) (string, error) {
	for _, m := range formatVerb.FindAllStringSubmatch(format, -1) {
		for _, n := range m[1:] {
			if n == "*" {
				return "", errors.New("printf: * widths are not allowed in kseal templates")
			}
			if n != "" {
				if w, err := strconv.Atoi(n); err != nil || w > maxFormatWidth {
					return "", fmt.Errorf("printf: widths above %d are not allowed in kseal templates", maxFormatWidth)
				}
			}
		}
	}
	return fmt.Sprintf(format, args...), nil
}

// checkTemplate refuses the constructs that could run unbounded: range
// (which can iterate over a huge integer) and template calls (recursion).
func checkTemplate(tree *parse.Tree, n parse.Node) error {
	switch n := n.(type) {
	case *parse.ListNode:
		if n == nil {
			return nil
		}
		for _, c := range n.Nodes {
			if err := checkTemplate(tree, c); err != nil {
				return err
			}
		}
	case *parse.RangeNode:
		loc, _ := tree.ErrorContext(n)
		return fmt.Errorf("%s: range is not allowed in kseal templates", loc)
	case *parse.TemplateNode:
		loc, _ := tree.ErrorContext(n)
		return fmt.Errorf("%s: template calls are not allowed in kseal templates", loc)
	case *parse.IfNode:
		return checkBranch(tree, &n.BranchNode)
	case *parse.WithNode:
		return checkBranch(tree, &n.BranchNode)
	}
	return nil
}

func checkBranch(tree *parse.Tree, b *parse.BranchNode) error {
	if err := checkTemplate(tree, b.List); err != nil {
		return err
	}
	if b.ElseList != nil {
		return checkTemplate(tree, b.ElseList)
	}
	return nil
}

// renderTemplateData renders spec.template.data: each value is a Go template
// over the decrypted items (as strings). The output is added to data. Errors
// never include a decrypted value.
func renderTemplateData(templates map[string]string, data map[string][]byte) *ItemError {
	if len(templates) == 0 {
		return nil
	}
	values := make(map[string]string, len(data))
	for k, v := range data {
		values[k] = string(v)
	}
	rendered := make(map[string][]byte, len(templates))
	for _, item := range slices.Sorted(maps.Keys(templates)) {
		tmpl, err := template.New(item).Option("missingkey=error").Funcs(templateFuncs).Parse(templates[item])
		if err != nil {
			// Parsing sees only the template, which is public; redact in case
			// it spells out a value anyway.
			return &ItemError{Item: item, Err: &TemplateError{Detail: redact(strings.TrimPrefix(err.Error(), "template: "), values)}}
		}
		if err := checkTemplate(tmpl.Tree, tmpl.Tree.Root); err != nil {
			return &ItemError{Item: item, Err: &TemplateError{Detail: err.Error()}}
		}
		buf := &limitedBuffer{limit: sealing.MaxValueSize}
		if err := tmpl.Execute(buf, values); err != nil {
			return &ItemError{Item: item, Err: &TemplateError{Detail: redact(strings.TrimPrefix(execErrorDetail(err), "template: "), values)}}
		}
		rendered[item] = buf.Bytes()
	}
	maps.Copy(data, rendered)
	return nil
}

// errOutputTooLarge stops a template whose output outgrows a Secret value.
var errOutputTooLarge = fmt.Errorf("output exceeds %d bytes", sealing.MaxValueSize)

// limitedBuffer is a bytes.Buffer that refuses to grow past limit, so that a
// template such as {{ range 1000000000 }} cannot exhaust memory.
type limitedBuffer struct {
	bytes.Buffer
	limit int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	if b.Len()+len(p) > b.limit {
		return 0, errOutputTooLarge
	}
	return b.Buffer.Write(p)
}

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
// MESSAGE may print values, as in "range can't iterate over VALUE" or
// "non-function VALUE of type string" (a value piped through printf or slice
// would also escape a plain search for it). MESSAGE is kept only when it is
// known to quote the source alone.
func execErrorDetail(err error) string {
	if errors.Is(err, errOutputTooLarge) {
		return err.Error()
	}
	const sep = ">: "
	msg := err.Error()
	head, tail, found := strings.Cut(msg, sep)
	if !found {
		return "execution failed (the engine's message is withheld: it may quote a secret value)"
	}
	// Exactly one separator tells the action apart from the message.
	if !strings.Contains(tail, sep) {
		for _, prefix := range sourceOnlyMessages {
			if strings.HasPrefix(tail, prefix) {
				return msg
			}
		}
		if strings.HasPrefix(tail, "template ") && strings.HasSuffix(tail, " not defined") {
			return msg
		}
	}
	return head + sep + "execution failed (the engine's message is withheld: it may quote a secret value)"
}

// redact withholds an error text that contains any decrypted value.
func redact(msg string, values map[string]string) string {
	for _, v := range values {
		if len(v) >= 3 && strings.Contains(msg, v) {
			return "error text withheld because it contained a secret value"
		}
	}
	return msg
}

func wipe(data map[string][]byte) {
	for _, v := range data {
		clear(v)
	}
}

// ErrTemplate matches a TemplateError.
var ErrTemplate = errors.New("template error")

// TemplateError says that spec.template.data could not be rendered.
type TemplateError struct {
	// Detail is the template engine's message, redacted.
	Detail string
}

func (e *TemplateError) Error() string { return "template: " + e.Detail }

// Is makes errors.Is(err, ErrTemplate) true.
func (e *TemplateError) Is(target error) bool { return target == ErrTemplate }

// ItemError is the failure of one item.
type ItemError struct {
	// Item is the key in spec.encryptedData (or spec.template.data); empty
	// for a failure of the whole object.
	Item string
	// Err matches sealing.ErrUnknownKey, sealing.ErrScopeMismatch,
	// sealing.ErrCorrupt or ErrTemplate.
	Err error
}

func (e *ItemError) Error() string {
	if e.Item == "" {
		return e.Err.Error()
	}
	return fmt.Sprintf("item %q: %v", e.Item, e.Err)
}

func (e *ItemError) Unwrap() error { return e.Err }

// Error lists why a SealedSecret could not be unsealed, item by item.
type Error struct {
	// Namespace and Name identify the SealedSecret.
	Namespace, Name string
	// Items holds one entry per failed item, in item order.
	Items []*ItemError
}

func (e *Error) Error() string {
	// Items that failed for the same reason are listed together, so a
	// SealedSecret moved to another namespace gives one line, not one per item.
	var causes []string
	items := map[string][]string{}
	for _, it := range e.Items {
		cause := it.Err.Error()
		if _, seen := items[cause]; !seen {
			causes = append(causes, cause)
		}
		items[cause] = append(items[cause], it.Item)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "unseal %s/%s: ", e.Namespace, e.Name)
	for i, cause := range causes {
		if i > 0 {
			b.WriteString("; ")
		}
		switch names := items[cause]; {
		case len(names) == 1 && names[0] == "":
		case len(names) == 1:
			fmt.Fprintf(&b, "item %q: ", names[0])
		default:
			fmt.Fprintf(&b, "items %s: ", quoteAll(names))
		}
		b.WriteString(cause)
	}
	return b.String()
}

func quoteAll(names []string) string {
	q := make([]string, len(names))
	for i, n := range names {
		q[i] = fmt.Sprintf("%q", n)
	}
	return strings.Join(q, ", ")
}

// Unwrap returns the item errors, so errors.Is finds any cause.
func (e *Error) Unwrap() []error {
	out := make([]error, len(e.Items))
	for i, it := range e.Items {
		out[i] = it
	}
	return out
}

// Reason returns the v1alpha1 Ready reason for an unseal error: scope
// mismatch first (the most actionable), then unknown key, then corrupt data
// and template errors.
func Reason(err error) string {
	switch {
	case errors.Is(err, sealing.ErrScopeMismatch):
		return v1alpha1.ReasonScopeMismatch
	case errors.Is(err, sealing.ErrUnknownKey):
		return v1alpha1.ReasonUnknownKey
	case errors.Is(err, ErrTemplate):
		return v1alpha1.ReasonTemplateError
	default:
		return v1alpha1.ReasonCorruptData
	}
}
