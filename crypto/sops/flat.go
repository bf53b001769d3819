package sops

import (
	"bytes"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/ini.v1"
)

// Flattened formats (dotenv, INI) store the metadata's nested fields under
// one key each: age__list_0__map_recipient is age[0].recipient.
const (
	flatMap  = "__map_"
	flatList = "__list_"
)

// flatNode is a node of the metadata being rebuilt from flattened keys.
type flatNode struct {
	value    any
	hasValue bool
	fields   map[string]*flatNode
	elems    map[int]*flatNode
}

// unflatten rebuilds the nested metadata from flattened keys. INI stores
// newlines in values as \n.
func unflatten(b branch, escapedNewlines bool) (branch, error) {
	root := &flatNode{}
	for _, it := range b {
		k, ok := it.key.(string)
		if !ok {
			continue
		}
		v := it.value
		if s, isString := v.(string); isString && escapedNewlines {
			v = strings.ReplaceAll(s, `\n`, "\n")
		}
		n := root
		for _, seg := range splitFlat(k) {
			n = n.child(seg)
		}
		if n.hasValue {
			return nil, fmt.Errorf("the sops metadata field %s appears twice", k)
		}
		n.value, n.hasValue = v, true
	}
	out, err := root.build()
	if err != nil {
		return nil, err
	}
	return out.(branch), nil
}

// flatSeg is one step of a flattened key: a field name, or a list index
// when isIndex.
type flatSeg struct {
	name    string
	index   int
	isIndex bool
}

// splitFlat splits a flattened key into its steps.
func splitFlat(k string) []flatSeg {
	var segs []flatSeg
	cur, isIndex := 0, false
	finish := func(end int) {
		s := k[cur:end]
		if isIndex {
			n, _ := strconv.Atoi(s)
			segs = append(segs, flatSeg{index: n, isIndex: true})
			return
		}
		segs = append(segs, flatSeg{name: s})
	}
	for i := 0; i < len(k); {
		switch {
		case strings.HasPrefix(k[i:], flatMap):
			finish(i)
			i += len(flatMap)
			cur, isIndex = i, false
		case strings.HasPrefix(k[i:], flatList):
			finish(i)
			i += len(flatList)
			cur, isIndex = i, true
		default:
			i++
		}
	}
	finish(len(k))
	return segs
}

func (n *flatNode) child(s flatSeg) *flatNode {
	if s.isIndex {
		if n.elems == nil {
			n.elems = map[int]*flatNode{}
		}
		if n.elems[s.index] == nil {
			n.elems[s.index] = &flatNode{}
		}
		return n.elems[s.index]
	}
	if n.fields == nil {
		n.fields = map[string]*flatNode{}
	}
	if n.fields[s.name] == nil {
		n.fields[s.name] = &flatNode{}
	}
	return n.fields[s.name]
}

// errFlatShape: flattened keys that do not make one tree.
var errFlatShape = errors.New("the flattened sops metadata does not make a tree (a field is both a value and a mapping or list, or a list has gaps)")

func (n *flatNode) build() (any, error) {
	kinds := 0
	for _, has := range []bool{n.hasValue, len(n.fields) > 0, len(n.elems) > 0} {
		if has {
			kinds++
		}
	}
	switch {
	case kinds > 1:
		return nil, errFlatShape
	case n.hasValue:
		return n.value, nil
	case len(n.elems) > 0:
		out := make([]any, len(n.elems))
		for i, e := range n.elems {
			if i < 0 || i >= len(out) {
				return nil, errFlatShape
			}
			v, err := e.build()
			if err != nil {
				return nil, err
			}
			out[i] = v
		}
		return out, nil
	}
	names := make([]string, 0, len(n.fields))
	for k := range n.fields {
		names = append(names, k)
	}
	sort.Strings(names)
	out := make(branch, 0, len(names))
	for _, k := range names {
		v, err := n.fields[k].build()
		if err != nil {
			return nil, err
		}
		out = append(out, item{key: k, value: v})
	}
	return out, nil
}

// loadDotenv reads KEY=value lines; a line starting with # is a comment.
// \n in a value is a newline.
func loadDotenv(data []byte) ([]branch, error) {
	var b branch
	for n, line := range bytes.Split(data, []byte("\n")) {
		switch {
		case len(line) == 0:
		case line[0] == '#':
			b = append(b, item{key: comment{text: string(line[1:])}})
		default:
			k, v, ok := bytes.Cut(line, []byte("="))
			if !ok {
				return nil, fmt.Errorf("%w: not a valid dotenv document (line %d is not KEY=value)", ErrMalformed, n+1)
			}
			b = append(b, item{key: string(k), value: strings.ReplaceAll(string(v), `\n`, "\n")})
		}
	}
	return []branch{b}, nil
}

// emitDotenv writes a decrypted dotenv document.
func emitDotenv(docs []branch) ([]byte, error) {
	var out bytes.Buffer
	for _, it := range docs[0] {
		switch it.value.(type) {
		case branch, []any:
			return nil, errors.New("a value is a mapping or list, which dotenv cannot hold")
		}
		if c, ok := it.key.(comment); ok {
			out.WriteString("#" + c.text + "\n")
			continue
		}
		v, isString := it.value.(string)
		if isString {
			v = strings.ReplaceAll(v, "\n", `\n`)
		} else {
			v = scalarString(it.value)
		}
		fmt.Fprintf(&out, "%v=%s\n", it.key, v)
	}
	return out.Bytes(), nil
}

// loadINI reads an INI file: each section is a top-level mapping of
// strings, with the section's and keys' comments.
func loadINI(data []byte) ([]branch, error) {
	f, err := ini.LoadSources(ini.LoadOptions{AllowNonUniqueSections: true}, data)
	if err != nil {
		return nil, fmt.Errorf("%w: not a valid ini document (%s)", ErrMalformed, parseDetail(err.Error()))
	}
	var b branch
	for _, s := range f.Sections() {
		var items branch
		if s.Comment != "" {
			items = append(items, item{key: comment{text: iniComment(s.Comment)}})
		}
		for _, k := range s.Keys() {
			items = append(items, item{key: k.Name(), value: k.Value()})
			if k.Comment != "" {
				items = append(items, item{key: comment{text: iniComment(k.Comment)}})
			}
		}
		b = append(b, item{key: s.Name(), value: items})
	}
	return []branch{b}, nil
}

// iniComment strips the comment mark and the blanks after it.
func iniComment(c string) string {
	switch {
	case strings.HasPrefix(c, ";"):
		return strings.TrimLeft(c, "; ")
	case strings.HasPrefix(c, "#"):
		return strings.TrimLeft(c, "# ")
	}
	return c
}

// emitINI writes a decrypted INI document.
func emitINI(docs []branch) ([]byte, error) {
	f := ini.Empty(ini.LoadOptions{AllowNonUniqueSections: true})
	f.DeleteSection(ini.DefaultSection)
	for _, doc := range docs {
		for _, it := range doc {
			name, ok := it.key.(string)
			if !ok {
				continue
			}
			s, err := f.NewSection(name)
			if err != nil {
				return nil, errors.New("a section name is not valid")
			}
			items, ok := it.value.(branch)
			if !ok {
				return nil, errors.New("a section is not a mapping")
			}
			if len(items) > 0 {
				if c, ok := items[0].key.(comment); ok {
					s.Comment = c.text
					items = items[1:]
				}
			}
			var last *ini.Key
			for _, kv := range items {
				if c, ok := kv.key.(comment); ok {
					if last != nil {
						last.Comment = c.text
					}
					continue
				}
				k, _ := kv.key.(string)
				if last, err = s.NewKey(k, scalarString(kv.value)); err != nil {
					return nil, errors.New("a key name is not valid")
				}
			}
		}
	}
	var out bytes.Buffer
	if _, err := f.WriteTo(&out); err != nil {
		return nil, errors.New("cannot write the ini document")
	}
	return out.Bytes(), nil
}
