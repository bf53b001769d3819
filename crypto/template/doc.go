// Package template renders Secret data templates: SealedSecret
// spec.template.data, ExternalSecret spec.target.template.data and SopsSecret
// spec.template.data. Each template is a Go text/template over the object's
// values (as strings); its output becomes the value of the template's key.
//
// Start with Render. It is safe on templates written by anyone who may
// create one of these objects: every bound is checked before the work it
// limits is done, so no template, and no set of templates in one object, can
// make the controller allocate more than a few times the output it is allowed
// to produce. Limits lists the bounds and DefaultLimits their values:
//
//   - source: at most 256 templates, 128 KiB each, 256 KiB in all, 50,000
//     parse nodes in all;
//   - output: 1 MiB per value and 1 MiB for all rendered values together;
//   - work: every function is charged, before it runs, the most it can
//     produce or read, against a budget of 2 MiB per object;
//   - printf widths and precisions: at most 4096, no '*', every verb given
//     an argument of a type it formats.
//
// The functions are Go's builtins (and, or, not, len, index, slice, eq, ne,
// lt, le, gt, ge, print, printf, println, html, js, urlquery), each replaced
// where needed by a version that computes its output size from its arguments
// first and refuses above the limits; Sprig's, as External Secrets
// Operator's v2 engine has them, and ESO's own (sprig.go, eso.go), each
// called through a wrapper that measures its arguments, charges them, and
// checks the most its result can hold (bounds.go) before it runs. range is
// charged per iteration before the loop starts (loops.go). ESO's PKCS#12
// functions (pkcs12.go) read an archive only after a pre-parse
// (pkcs12scan.go) has checked its sizes and every key-derivation iteration
// count, decrypting containers to see those inside, and charged the
// derivations before they run. There is no
// template call (so no recursion), no call, and no access to the
// environment, files or the network.
//
// Session renders several sets of templates of one object (data templates,
// templates read from elsewhere, key rewrites) within one set of limits.
//
// Errors are *Error values (errors.Is(err, ErrTemplate) holds). They say which
// template failed, where, and which limit was reached, and never contain a
// value: the template engine's own messages, which can quote what an action
// operated on, are withheld.
package template
