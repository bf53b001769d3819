// Package migrate converts manifests of Bitnami sealed-secrets
// (bitnami.com/v1alpha1 SealedSecret) and External Secrets Operator
// (external-secrets.io/v1 and v1beta1 ExternalSecret, SecretStore,
// ClusterSecretStore, ClusterExternalSecret; v1alpha1 PushSecret, ClusterPushSecret) to
// kseal.dev/v1alpha1. Start with [Rewrite]: it changes only the apiVersion
// value of the documents it converts and leaves every other byte of the
// input — comments, order, other documents, separators — as it was, and it
// reports what kseal would refuse in each document ([Problem]).
package migrate

import (
	"bytes"
	"fmt"
	"regexp"

	"sigs.k8s.io/yaml"
)

// KsealAPIVersion is the apiVersion converted documents get.
const KsealAPIVersion = "kseal.dev/v1alpha1"

// MaxInput is the largest file Rewrite takes (a manifest file is far
// smaller; the bound keeps a stray large file from costing memory).
const MaxInput = 16 << 20

// convertible lists the kinds kseal serves under each anchor apiVersion.
var convertible = map[string]map[string]bool{
	"bitnami.com/v1alpha1":         {"SealedSecret": true},
	"external-secrets.io/v1":       {"ExternalSecret": true, "SecretStore": true, "ClusterSecretStore": true, "ClusterExternalSecret": true},
	"external-secrets.io/v1beta1":  {"ExternalSecret": true, "SecretStore": true, "ClusterSecretStore": true, "ClusterExternalSecret": true},
	"external-secrets.io/v1alpha1": {"PushSecret": true, "ClusterPushSecret": true},
}

// Problem is something in one document that kseal would refuse, or that
// kept it from being converted.
type Problem struct {
	// Doc is the document's index in the file, from 1.
	Doc int
	// Kind is the document's kind, when it could be read.
	Kind string
	// Field is the path of the offending field ("spec.provider.gcpsm"),
	// or "" for the document as a whole.
	Field string
	// Why says what kseal does with it and what to write instead.
	Why string
}

func (p Problem) String() string {
	where := fmt.Sprintf("document %d", p.Doc)
	if p.Kind != "" {
		where += " (" + p.Kind + ")"
	}
	if p.Field != "" {
		where += " " + p.Field
	}
	return where + ": " + p.Why
}

// Result is what Rewrite did to one file.
type Result struct {
	// Output is the converted file; the input itself when nothing changed.
	Output []byte
	// Converted counts the documents whose apiVersion changed.
	Converted int
	// Problems lists what kseal would refuse, by document.
	Problems []Problem
}

// Changed reports whether Output differs from the input.
func (r *Result) Changed() bool { return r.Converted > 0 }

// apiVersionLine finds a document's top-level apiVersion and its value
// (unquoted or quoted), leaving the rest of the line alone.
var apiVersionLine = regexp.MustCompile(`(?m)^apiVersion:[ \t]*(?:"([^"\n]*)"|'([^'\n]*)'|([^\s#'"]+))`)

// Rewrite converts the anchor documents of one YAML file. It never fails:
// a document it cannot read is left as it is and reported.
func Rewrite(in []byte) Result {
	res := Result{Output: in}
	if len(in) > MaxInput {
		res.Problems = append(res.Problems, Problem{Doc: 1, Why: fmt.Sprintf("file larger than %d MiB: not read", MaxInput>>20)})
		return res
	}
	var out bytes.Buffer
	for i, d := range Split(in) {
		out.Write(d.Separator)
		body, ok, probs := convert(i+1, d.Body)
		if ok {
			res.Converted++
		}
		res.Problems = append(res.Problems, probs...)
		out.Write(body)
	}
	if res.Converted > 0 {
		res.Output = out.Bytes()
	}
	return res
}

// convert rewrites one document's apiVersion when kseal serves its kind,
// and lists what kseal would refuse in it.
func convert(index int, body []byte) ([]byte, bool, []Problem) {
	obj := map[string]any{}
	if err := yaml.Unmarshal(body, &obj); err != nil {
		if bytes.Contains(body, []byte("bitnami.com/")) || bytes.Contains(body, []byte("external-secrets.io/")) {
			return body, false, []Problem{{Doc: index, Why: "not valid YAML, left as it is: " + firstLine(err.Error())}}
		}
		return body, false, nil
	}
	apiVersion, _ := obj["apiVersion"].(string)
	kind, _ := obj["kind"].(string)
	kinds, anchor := convertible[apiVersion]
	if !anchor {
		if isAnchorGroup(apiVersion) {
			return body, false, []Problem{{Doc: index, Kind: kind, Why: fmt.Sprintf("%s %s has no kseal equivalent: left as it is", apiVersion, kind)}}
		}
		return body, false, nil
	}
	if !kinds[kind] {
		return body, false, []Problem{{Doc: index, Kind: kind, Why: unsupportedKind(apiVersion, kind)}}
	}
	probs := Check(index, kind, obj)
	m := apiVersionLine.FindSubmatchIndex(body)
	if m == nil || value(body, m) != apiVersion {
		return body, false, append(probs, Problem{Doc: index, Kind: kind, Field: "apiVersion",
			Why: "apiVersion is not on a top-level line of its own (flow style?): change it to " + KsealAPIVersion + " by hand"})
	}
	start, end := valueRange(m)
	out := make([]byte, 0, len(body)+8)
	out = append(out, body[:start]...)
	out = append(out, KsealAPIVersion...)
	out = append(out, body[end:]...)
	return out, true, probs
}

// value is the apiVersion value a match found.
func value(body []byte, m []int) string {
	s, e := valueRange(m)
	return string(body[s:e])
}

// valueRange is the byte range of the value inside its quotes, if any.
func valueRange(m []int) (int, int) {
	for g := 1; g <= 3; g++ {
		if m[2*g] >= 0 {
			return m[2*g], m[2*g+1]
		}
	}
	return m[1], m[1]
}

func isAnchorGroup(apiVersion string) bool {
	g, _, _ := cutSlash(apiVersion)
	return g == "bitnami.com" || g == "external-secrets.io" || g == "generators.external-secrets.io"
}

func cutSlash(s string) (string, string, bool) {
	if i := bytes.IndexByte([]byte(s), '/'); i >= 0 {
		return s[:i], s[i+1:], true
	}
	return s, "", false
}

func unsupportedKind(apiVersion, kind string) string {
	switch kind {
	case "PushSecret", "ClusterPushSecret":
		return kind + " is external-secrets.io/v1alpha1 (kseal converts that version); left as it is"
	}
	return fmt.Sprintf("%s %s has no kseal equivalent: left as it is", apiVersion, kind)
}

func firstLine(s string) string {
	if i := bytes.IndexByte([]byte(s), '\n'); i >= 0 {
		return s[:i]
	}
	return s
}
