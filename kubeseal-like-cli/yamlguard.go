package cli

import (
	"bytes"
	"errors"
	"fmt"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// yamlLimits bound what one YAML (or JSON) file may make a parser build.
// kseal render and kseal krm run on whatever a committer pushes, so every
// file is checked against them before kustomize or SOPS parses it.
type yamlLimits struct {
	// bytes bounds the size of the file.
	bytes int
	// documents bounds the documents of a stream.
	documents int
	// nodes bounds the nodes of all documents once every alias is
	// expanded, as kustomize expands them.
	nodes int
	// depth bounds nesting once every alias is expanded.
	depth int
}

// defaultYAMLLimits are far above any real manifest (a Kubernetes object
// holds at most about 1.5 MiB) and far below what hurts a sync engine.
var defaultYAMLLimits = yamlLimits{bytes: maxInput, documents: 10_000, nodes: 1 << 20, depth: 256}

// errYAMLLimit is wrapped by every error of checkYAML.
var errYAMLLimit = errors.New("over kseal's YAML limits")

// yamlLimitError says which limit a file went over. It names the file and
// the limit, never content.
type yamlLimitError struct {
	name string
	// what is exceeded, as a phrase: "more than 1048576 YAML nodes".
	what string
}

func (e *yamlLimitError) Error() string {
	return fmt.Sprintf("%s: %s: %s", e.name, errYAMLLimit, e.what)
}

func (e *yamlLimitError) Unwrap() error { return errYAMLLimit }

// hintYAMLLimit says what to do about a yamlLimitError.
const hintYAMLLimit = "kseal refuses YAML that would make its parsers build more than the limit (a \"billion laughs\" of anchors and aliases, or a self-referencing anchor); expand the anchors by hand or split the file"

// checkYAML parses data as a YAML stream with yaml.v3's Node API, which
// keeps each alias as a pointer, and counts the nodes and depth every
// document reaches once its aliases are expanded, without expanding them.
// It returns the expanded node count. Data that is not YAML is no concern
// of the guard: what parses before the first syntax error is checked, and
// kustomize fails on the rest as it would have. each, when not nil, sees
// every document that passed.
func checkYAML(name string, data []byte, l yamlLimits, each func(doc *kyaml.Node) error) (int, error) {
	if len(data) > l.bytes {
		return 0, &yamlLimitError{name: name, what: fmt.Sprintf("larger than %d bytes", l.bytes)}
	}
	dec := kyaml.NewDecoder(bytes.NewReader(data))
	c := &yamlCounter{name: name, limits: l, done: map[*kyaml.Node]yamlCost{}, open: map[*kyaml.Node]bool{}}
	for docs := 1; ; docs++ {
		var doc kyaml.Node
		if err := dec.Decode(&doc); err != nil {
			// io.EOF, or not YAML from here on.
			return c.total, nil
		}
		if docs > l.documents {
			return 0, &yamlLimitError{name: name, what: fmt.Sprintf("more than %d YAML documents", l.documents)}
		}
		cost, err := c.count(&doc, 1)
		if err != nil {
			return 0, err
		}
		if c.total = min(c.total+cost.nodes, l.nodes+1); c.total > l.nodes {
			return 0, c.tooMany()
		}
		clear(c.done) // anchors belong to one document
		if each != nil {
			if err := each(&doc); err != nil {
				return 0, err
			}
		}
	}
}

// yamlCounter counts the expanded size of YAML nodes. Anchored nodes are
// counted once and remembered, so an alias costs a map lookup however large
// the node it names: the count takes time linear in the input.
type yamlCounter struct {
	name   string
	limits yamlLimits
	// total is the expanded node count of the documents done.
	total int
	// done holds the cost of each anchored node counted.
	done map[*kyaml.Node]yamlCost
	// open holds the anchored nodes being counted: an alias to one of
	// them is inside its own anchor.
	open map[*kyaml.Node]bool
}

// yamlCost is what a node expands to: nodes (at most limits.nodes+1) and
// height, the depth of its deepest descendant below it (1 for a scalar).
type yamlCost struct {
	nodes, height int
}

func (c *yamlCounter) tooMany() error {
	return &yamlLimitError{name: c.name, what: fmt.Sprintf("more than %d YAML nodes once aliases are expanded", c.limits.nodes)}
}

func (c *yamlCounter) tooDeep() error {
	return &yamlLimitError{name: c.name, what: fmt.Sprintf("nested deeper than %d levels once aliases are expanded", c.limits.depth)}
}

// count returns the expanded cost of n, found at depth.
func (c *yamlCounter) count(n *kyaml.Node, depth int) (yamlCost, error) {
	if depth > c.limits.depth {
		return yamlCost{}, c.tooDeep()
	}
	if n.Kind == kyaml.AliasNode {
		t := n.Alias
		if t == nil {
			return yamlCost{nodes: 1, height: 1}, nil
		}
		if c.open[t] {
			return yamlCost{}, &yamlLimitError{name: c.name, what: fmt.Sprintf("anchor %q refers to itself", t.Anchor)}
		}
		cost, ok := c.done[t]
		if !ok {
			// Not reached in document order (yaml.v3 resolves an alias
			// only to an anchor before it): count it here.
			var err error
			if cost, err = c.count(t, depth); err != nil {
				return yamlCost{}, err
			}
		}
		if depth-1+cost.height > c.limits.depth {
			return yamlCost{}, c.tooDeep()
		}
		return cost, nil
	}
	if n.Anchor != "" {
		c.open[n] = true
		defer delete(c.open, n)
	}
	cost := yamlCost{nodes: 1, height: 1}
	for _, child := range n.Content {
		cc, err := c.count(child, depth+1)
		if err != nil {
			return yamlCost{}, err
		}
		cost.nodes = min(cost.nodes+cc.nodes, c.limits.nodes+1)
		if c.total+cost.nodes > c.limits.nodes {
			return yamlCost{}, c.tooMany()
		}
		cost.height = max(cost.height, cc.height+1)
	}
	if n.Anchor != "" {
		c.done[n] = cost
	}
	return cost, nil
}
