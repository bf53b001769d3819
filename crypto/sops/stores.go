package sops

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"time"

	"go.yaml.in/yaml/v3"
)

// load parses a document in format f into its tree.
func load(data []byte, f Format) ([]branch, error) {
	switch f {
	case FormatYAML:
		return loadYAML(data)
	case FormatJSON, FormatBinary:
		return loadJSON(data)
	case FormatDotenv:
		return loadDotenv(data)
	case FormatINI:
		return loadINI(data)
	}
	return nil, fmt.Errorf("unknown SOPS format %d", int(f))
}

// emitDoc writes a decrypted tree in format f.
func emitDoc(docs []branch, f Format) ([]byte, error) {
	// YAML and INI write every document; the others the first, as the
	// sops command does (binary needs exactly one).
	if len(docs) == 0 && f != FormatYAML && f != FormatINI || f == FormatBinary && len(docs) != 1 {
		return nil, fmt.Errorf("%s holds exactly one document, not %d", f, len(docs))
	}
	switch f {
	case FormatYAML:
		return emitYAML(docs)
	case FormatJSON:
		return emitJSON(docs[0])
	case FormatBinary:
		for _, it := range docs[0] {
			if k, ok := it.key.(string); ok && k == "data" {
				if s, ok := it.value.(string); ok {
					return []byte(s), nil
				}
				return nil, errors.New("its data value is not a string")
			}
		}
		return nil, errors.New("it holds no data value")
	case FormatDotenv:
		return emitDotenv(docs)
	case FormatINI:
		return emitINI(docs)
	}
	return nil, fmt.Errorf("unknown SOPS format %d", int(f))
}

// loadYAML reads a stream of YAML documents, each a mapping, keeping
// comments as sops does.
func loadYAML(data []byte) ([]branch, error) {
	if len(data) > 0 {
		// Decoding into a map checks the first document for duplicate
		// keys and bounds alias expansion before the node walk below.
		if err := yaml.NewDecoder(bytes.NewReader(data)).Decode(map[string]any{}); err != nil {
			return nil, fmt.Errorf("%w: not a valid yaml document (%s)", ErrMalformed, parseDetail(err.Error()))
		}
	}
	var docs []branch
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if err == io.EOF {
			return docs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%w: not a valid yaml document (%s)", ErrMalformed, parseDetail(err.Error()))
		}
		// Every document, not only the first, is decoded once with the
		// YAML decoder's bound on alias expansion before its aliases are
		// expanded into the tree below.
		var probe any
		if err := doc.Decode(&probe); err != nil {
			return nil, fmt.Errorf("%w: not a valid yaml document (%s)", ErrMalformed, parseDetail(err.Error()))
		}
		b, err := yamlMapping(&doc, nil, false)
		if err != nil {
			return nil, err
		}
		docs = append(docs, b)
	}
}

// yamlCommentItems turns a node's comment text into comment lines, without
// their leading #.
func yamlCommentItems(text string, inline bool) []comment {
	var out []comment
	for _, line := range strings.Split(text, "\n") {
		if line != "" {
			out = append(out, comment{text: line[1:], inline: inline})
		}
	}
	return out
}

// withComments appends comment lines to a branch as comment keys.
func withComments(b branch, text string, inline bool) branch {
	for _, c := range yamlCommentItems(text, inline) {
		b = append(b, item{key: c})
	}
	return b
}

// yamlMapping appends the entries of a document, mapping or alias node to
// b. commentsDone says the caller took the node's own comments.
func yamlMapping(n *yaml.Node, b branch, commentsDone bool) (branch, error) {
	if b == nil {
		b = branch{}
	}
	if !commentsDone {
		b = withComments(b, n.HeadComment, false)
		b = withComments(b, n.LineComment, false)
	}
	var err error
	switch n.Kind {
	case yaml.DocumentNode:
		for _, c := range n.Content {
			if b, err = yamlMapping(c, b, false); err != nil {
				return nil, err
			}
		}
	case yaml.SequenceNode:
		return nil, fmt.Errorf("%w: a YAML document that is a list is not supported", ErrMalformed)
	case yaml.MappingNode:
		for i := 0; i+1 < len(n.Content); i += 2 {
			if b, err = yamlEntry(n.Content[i], n.Content[i+1], b); err != nil {
				return nil, err
			}
		}
	case yaml.ScalarNode:
		if n.ShortTag() == "!!null" {
			return b, nil
		}
		return nil, fmt.Errorf("%w: a YAML document that is a single value is not supported", ErrMalformed)
	case yaml.AliasNode:
		if b, err = yamlMapping(n.Alias, b, false); err != nil {
			return nil, err
		}
	}
	if !commentsDone {
		b = withComments(b, n.FootComment, false)
	}
	return b, nil
}

// yamlEntry appends one key and value of a mapping, with the comments
// around them.
func yamlEntry(k, v *yaml.Node, b branch) (branch, error) {
	b = withComments(b, k.HeadComment, false)
	b = withComments(b, k.LineComment, false)
	scalar := v.Kind == yaml.ScalarNode || v.Kind == yaml.AliasNode
	if scalar {
		b = withComments(b, v.HeadComment, false)
		b = withComments(b, v.LineComment, true)
	}
	var key any
	_ = k.Decode(&key)
	value, err := yamlValue(v, scalar)
	if err != nil {
		return nil, err
	}
	b = append(b, item{key: key, value: value})
	if scalar {
		b = withComments(b, v.FootComment, false)
	}
	return withComments(b, k.FootComment, false), nil
}

// yamlValue converts a value node.
func yamlValue(n *yaml.Node, commentsDone bool) (any, error) {
	switch n.Kind {
	case yaml.SequenceNode:
		var l []any
		add := func(text string, inline bool) {
			for _, c := range yamlCommentItems(text, inline) {
				l = append(l, c)
			}
		}
		if !commentsDone {
			add(n.HeadComment, false)
			add(n.LineComment, false)
		}
		for _, e := range n.Content {
			add(e.HeadComment, false)
			add(e.LineComment, true)
			v, err := yamlValue(e, true)
			if err != nil {
				return nil, err
			}
			l = append(l, v)
			add(e.FootComment, false)
		}
		if !commentsDone {
			add(n.FootComment, false)
		}
		return l, nil
	case yaml.MappingNode:
		return yamlMapping(n, nil, commentsDone)
	case yaml.ScalarNode:
		var v any
		_ = n.Decode(&v)
		return v, nil
	case yaml.AliasNode:
		return yamlValue(n.Alias, false)
	case yaml.DocumentNode:
		return nil, fmt.Errorf("%w: a YAML document inside a value", ErrMalformed)
	}
	return nil, nil
}

// joinComments makes comment text for a node from comment lines.
func joinComments(lines []string) string {
	return "#" + strings.Join(lines, "\n#")
}

func prependHead(n *yaml.Node, lines []string) {
	if len(lines) == 0 {
		return
	}
	if c := joinComments(lines); n.HeadComment != "" {
		n.HeadComment = c + "\n" + n.HeadComment
	} else {
		n.HeadComment = c
	}
}

func appendLine(n *yaml.Node, lines []string) {
	if len(lines) > 0 {
		n.LineComment = joinAfter(n.LineComment, joinComments(lines))
	}
}

func appendFoot(n *yaml.Node, lines []string) {
	if len(lines) > 0 {
		n.FootComment = joinAfter(n.FootComment, joinComments(lines))
	}
}

func joinAfter(have, add string) string {
	if have == "" {
		return add
	}
	return have + "\n" + add
}

// emitYAML writes decrypted documents as a YAML stream, indented by 4 as
// the sops command writes them.
func emitYAML(docs []branch) ([]byte, error) {
	var out bytes.Buffer
	enc := yaml.NewEncoder(&out)
	enc.SetIndent(4)
	for _, d := range docs {
		m := &yaml.Node{Kind: yaml.MappingNode}
		if err := yamlFill(m, d); err != nil {
			return nil, err
		}
		if err := enc.Encode(&yaml.Node{Kind: yaml.DocumentNode, Content: []*yaml.Node{m}}); err != nil {
			return nil, errors.New("the YAML encoder failed")
		}
	}
	if err := enc.Close(); err != nil {
		return nil, errors.New("the YAML encoder failed")
	}
	return out.Bytes(), nil
}

// yamlNode makes the node of a value.
func yamlNode(v any) (*yaml.Node, error) {
	switch v := v.(type) {
	case branch:
		n := &yaml.Node{Kind: yaml.MappingNode}
		return n, yamlFill(n, v)
	case []any:
		n := &yaml.Node{Kind: yaml.SequenceNode}
		return n, yamlFillList(n, v)
	}
	n := &yaml.Node{}
	if err := n.Encode(v); err != nil {
		return nil, errors.New("a value cannot be written as YAML")
	}
	return n, nil
}

// yamlFill fills a mapping node. Comment lines go before the next key
// (inline ones after its value); those at the start go on the mapping,
// those at the end under its last key.
func yamlFill(m *yaml.Node, b branch) error {
	var head, inline []string
	first := true
	for _, it := range b {
		if c, ok := it.key.(comment); ok {
			if c.inline {
				inline = append(inline, c.text)
			} else {
				head = append(head, c.text)
			}
			continue
		}
		if first {
			prependHead(m, head)
			head, first = nil, false
		}
		k := &yaml.Node{}
		if err := k.Encode(it.key); err != nil {
			return errors.New("a key cannot be written as YAML")
		}
		prependHead(k, head)
		v, err := yamlNode(it.value)
		if err != nil {
			return err
		}
		appendLine(v, inline)
		head, inline = nil, nil
		m.Content = append(m.Content, k, v)
	}
	if rest := append(head, inline...); len(rest) > 0 {
		if first {
			prependHead(m, rest)
		} else {
			appendFoot(m.Content[len(m.Content)-2], rest)
		}
	}
	return nil
}

// yamlFillList fills a sequence node, placing comments as yamlFill does.
func yamlFillList(s *yaml.Node, l []any) error {
	var head, inline []string
	first := true
	for _, e := range l {
		if c, ok := e.(comment); ok {
			if c.inline {
				inline = append(inline, c.text)
			} else {
				head = append(head, c.text)
			}
			continue
		}
		if first {
			prependHead(s, head)
			head, first = nil, false
		}
		n, err := yamlNode(e)
		if err != nil {
			return err
		}
		prependHead(n, head)
		appendLine(n, inline)
		head, inline = nil, nil
		s.Content = append(s.Content, n)
	}
	if rest := append(head, inline...); len(rest) > 0 {
		if first {
			prependHead(s, rest)
		} else {
			appendFoot(s.Content[len(s.Content)-1], rest)
		}
	}
	return nil
}

// loadJSON reads a JSON object, keeping the order of its keys.
func loadJSON(data []byte) ([]branch, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	tok, err := dec.Token()
	if err != nil {
		return nil, errNotJSON
	}
	if d, ok := tok.(json.Delim); !ok || d != '{' {
		return nil, fmt.Errorf("%w: not a valid json document (SOPS encrypts only a JSON object, starting with '{')", ErrMalformed)
	}
	b, err := jsonObject(dec)
	if err != nil {
		return nil, err
	}
	return []branch{b}, nil
}

var errNotJSON = fmt.Errorf("%w: not a valid json document (syntax error)", ErrMalformed)

// jsonObject reads the entries of an object whose { was read. Truncated
// input is refused.
func jsonObject(dec *json.Decoder) (branch, error) {
	var b branch
	for {
		tok, err := dec.Token()
		if err != nil {
			return nil, errNotJSON
		}
		if d, ok := tok.(json.Delim); ok && d == '}' {
			return b, nil
		}
		k, ok := tok.(string)
		if !ok {
			return nil, errNotJSON
		}
		tok, err = dec.Token()
		if err != nil {
			return nil, errNotJSON
		}
		v, err := jsonValue(dec, tok)
		if err != nil {
			return nil, err
		}
		b = append(b, item{key: k, value: v})
	}
}

// jsonValue converts the value that starts with tok.
func jsonValue(dec *json.Decoder, tok json.Token) (any, error) {
	switch t := tok.(type) {
	case json.Delim:
		switch t {
		case '{':
			return jsonObject(dec)
		case '[':
			var l []any
			for {
				e, err := dec.Token()
				if err != nil {
					return nil, errNotJSON
				}
				if d, ok := e.(json.Delim); ok && d == ']' {
					return l, nil
				}
				v, err := jsonValue(dec, e)
				if err != nil {
					return nil, err
				}
				l = append(l, v)
			}
		}
		return nil, nil
	case json.Number:
		if i, err := t.Int64(); err == nil {
			return int(i), nil
		}
		f, err := t.Float64()
		if err != nil {
			return nil, fmt.Errorf("%w: not a valid json document (a number is out of range)", ErrMalformed)
		}
		return f, nil
	}
	return tok, nil
}

// emitJSON writes a decrypted JSON object, one entry per line.
func emitJSON(b branch) ([]byte, error) {
	var compact bytes.Buffer
	if err := jsonWrite(&compact, b); err != nil {
		return nil, err
	}
	var out bytes.Buffer
	if err := json.Indent(&out, compact.Bytes(), "", ""); err != nil {
		return nil, errors.New("the JSON it makes does not indent")
	}
	out.WriteByte('\n')
	return out.Bytes(), nil
}

// jsonWrite writes a value compactly; comments are left out.
func jsonWrite(out *bytes.Buffer, v any) error {
	switch v := v.(type) {
	case branch:
		out.WriteByte('{')
		n := 0
		for _, it := range v {
			k, ok := it.key.(string)
			if !ok {
				continue
			}
			if n > 0 {
				out.WriteByte(',')
			}
			n++
			kb, _ := json.Marshal(k)
			out.Write(kb)
			out.WriteString(": ")
			if err := jsonWrite(out, it.value); err != nil {
				return err
			}
		}
		out.WriteByte('}')
		return nil
	case []any:
		out.WriteByte('[')
		n := 0
		for _, e := range v {
			if _, ok := e.(comment); ok {
				continue
			}
			if n > 0 {
				out.WriteByte(',')
			}
			n++
			if err := jsonWrite(out, e); err != nil {
				return err
			}
		}
		out.WriteByte(']')
		return nil
	case comment:
		return errors.New("a comment stands where a value should")
	}
	b, err := json.Marshal(v)
	if err != nil {
		return errors.New("a value cannot be written as JSON")
	}
	out.Write(b)
	return nil
}

// scalarString writes a scalar as the flattened formats hold it.
func scalarString(v any) string {
	switch v := v.(type) {
	case float64:
		s := strconv.FormatFloat(v, 'G', -1, 64)
		if !strings.ContainsAny(s, ".E") {
			s = strconv.FormatFloat(v, 'f', 1, 64)
		}
		return s
	case bool:
		return strconv.FormatBool(v)
	case time.Time:
		return v.Format(time.RFC3339)
	case comment:
		return fmt.Sprintf("%v", struct{ Value string }{v.text})
	}
	return fmt.Sprintf("%v", v)
}
