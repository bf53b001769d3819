package sealedsecret

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strings"

	corev1 "k8s.io/api/core/v1"
	utilyaml "k8s.io/apimachinery/pkg/util/yaml"
	"sigs.k8s.io/yaml"

	"github.com/kseal-dev/kseal/api/v1alpha1"
)

// MaxManifestSize bounds a manifest read by Decode*: a Secret holds at most
// 1 MiB, and sealing grows it by a third plus headers.
const MaxManifestSize = 4 << 20

// Errors of the Decode functions, matched with errors.Is by the CLI.
var (
	// ErrNotManifest: the input is not YAML or JSON.
	ErrNotManifest = errors.New("input is not valid YAML or JSON")
	// ErrWrongKind: the input is another kind of object.
	ErrWrongKind = errors.New("wrong kind")
	// ErrTooLarge: the input exceeds MaxManifestSize.
	ErrTooLarge = errors.New("input too large")
)

type typeMeta struct {
	APIVersion string `json:"apiVersion"`
	Kind       string `json:"kind"`
}

// documents splits a YAML or JSON stream into JSON documents, skipping empty
// ones. Errors say where the stream broke, never what it holds.
func documents(data []byte) ([]json.RawMessage, error) {
	if len(data) > MaxManifestSize {
		return nil, fmt.Errorf("%w: %d bytes, the limit is %d", ErrTooLarge, len(data), MaxManifestSize)
	}
	dec := utilyaml.NewYAMLOrJSONDecoder(bytes.NewReader(data), 4096)
	var docs []json.RawMessage
	for {
		var raw json.RawMessage
		if err := dec.Decode(&raw); err != nil {
			if errors.Is(err, io.EOF) {
				break
			}
			return nil, fmt.Errorf("%w (document %d: %s)", ErrNotManifest, len(docs)+1, syntaxHint(err))
		}
		t := bytes.TrimSpace(raw)
		if len(t) == 0 || bytes.Equal(t, []byte("null")) {
			continue
		}
		if t[0] != '{' {
			return nil, fmt.Errorf("%w (document %d is not a mapping)", ErrNotManifest, len(docs)+1)
		}
		docs = append(docs, raw)
	}
	if len(docs) == 0 {
		return nil, fmt.Errorf("%w (the input is empty)", ErrNotManifest)
	}
	return docs, nil
}

// syntaxHint keeps the position part of a YAML/JSON syntax error and drops
// anything that may quote the input.
func syntaxHint(err error) string {
	msg := err.Error()
	if i := strings.Index(msg, "line "); i >= 0 {
		end := i + len("line ")
		for end < len(msg) && msg[end] >= '0' && msg[end] <= '9' {
			end++
		}
		return "syntax error at " + msg[i:end]
	}
	var se *json.SyntaxError
	if errors.As(err, &se) {
		return fmt.Sprintf("syntax error at byte %d", se.Offset)
	}
	return "syntax error"
}

func single(data []byte, what string) (json.RawMessage, typeMeta, error) {
	docs, err := documents(data)
	if err != nil {
		return nil, typeMeta{}, err
	}
	if len(docs) > 1 {
		return nil, typeMeta{}, fmt.Errorf("%w: expected one %s, found %d documents", ErrWrongKind, what, len(docs))
	}
	var tm typeMeta
	if err := json.Unmarshal(docs[0], &tm); err != nil {
		return nil, tm, fmt.Errorf("%w (apiVersion or kind is not a string)", ErrNotManifest)
	}
	return docs[0], tm, nil
}

// DecodeSecret reads exactly one v1 Secret from YAML or JSON.
func DecodeSecret(data []byte) (*corev1.Secret, error) {
	raw, tm, err := single(data, "Secret")
	if err != nil {
		return nil, err
	}
	if tm.Kind != "Secret" || (tm.APIVersion != "v1" && tm.APIVersion != "") {
		return nil, fmt.Errorf("%w: the input is %s, not a v1 Secret", ErrWrongKind, describeKind(tm))
	}
	var s corev1.Secret
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, fmt.Errorf("%w: malformed Secret: %s", ErrNotManifest, fieldError(err))
	}
	return &s, nil
}

// DecodeSealedSecret reads exactly one SealedSecret (kseal.dev or
// bitnami.com) from YAML or JSON.
func DecodeSealedSecret(data []byte) (*v1alpha1.SealedSecret, error) {
	raw, tm, err := single(data, "SealedSecret")
	if err != nil {
		return nil, err
	}
	if tm.Kind != v1alpha1.SealedSecretKind || (tm.APIVersion != APIVersion && tm.APIVersion != BitnamiAPIVersion) {
		return nil, fmt.Errorf("%w: the input is %s, not a SealedSecret (%s or %s)", ErrWrongKind, describeKind(tm), APIVersion, BitnamiAPIVersion)
	}
	var ss v1alpha1.SealedSecret
	if err := json.Unmarshal(raw, &ss); err != nil {
		return nil, fmt.Errorf("%w: malformed SealedSecret: %s", ErrNotManifest, fieldError(err))
	}
	return &ss, nil
}

// fieldError describes a json decoding error without the offending value.
func fieldError(err error) string {
	var te *json.UnmarshalTypeError
	if errors.As(err, &te) {
		// te.Value is "number 12.5" for numbers: keep the kind, not the value.
		kind, _, _ := strings.Cut(te.Value, " ")
		return fmt.Sprintf("field %s has the wrong type (%s where %s is expected)", te.Field, kind, te.Type)
	}
	var ce base64.CorruptInputError
	if errors.As(err, &ce) {
		return fmt.Sprintf("a data value is not valid base64 (at byte %d)", int64(ce))
	}
	return "a field has an invalid value"
}

func describeKind(tm typeMeta) string {
	if tm.Kind == "" {
		return "an object without kind"
	}
	return fmt.Sprintf("a %s (apiVersion %q)", tm.Kind, tm.APIVersion)
}

// Encode renders objects as YAML documents ("---" separated) or as JSON
// (one indented object per line group).
func Encode(format string, objs ...any) ([]byte, error) {
	var buf bytes.Buffer
	for i, obj := range objs {
		switch format {
		case "yaml", "":
			b, err := yaml.Marshal(obj)
			if err != nil {
				return nil, err
			}
			if i > 0 {
				buf.WriteString("---\n")
			}
			buf.Write(b)
		case "json":
			b, err := json.MarshalIndent(obj, "", "  ")
			if err != nil {
				return nil, err
			}
			buf.Write(b)
			buf.WriteByte('\n')
		default:
			return nil, fmt.Errorf("unknown output format %q: must be yaml or json", format)
		}
	}
	return buf.Bytes(), nil
}
