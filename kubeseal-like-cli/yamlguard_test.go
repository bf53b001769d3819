package cli

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"

	kyaml "sigs.k8s.io/kustomize/kyaml/yaml"
)

// laughs is a "billion laughs": levels of anchors, each aliasing the one
// before it width times.
func laughs(levels, width int) string {
	var b strings.Builder
	b.WriteString("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: lol\ndata:\n")
	fmt.Fprintf(&b, "  l0: &l0 [%s]\n", strings.TrimSuffix(strings.Repeat(`"lol",`, width), ","))
	for i := 1; i < levels; i++ {
		fmt.Fprintf(&b, "  l%d: &l%d [%s]\n", i, i, strings.TrimSuffix(strings.Repeat(fmt.Sprintf("*l%d,", i-1), width), ","))
	}
	return b.String()
}

func TestCheckYAML(t *testing.T) {
	small := yamlLimits{bytes: 1 << 16, documents: 3, nodes: 1000, depth: 10}
	tests := []struct {
		name, in string
		limits   yamlLimits
		want     string // "" accepts
	}{
		{"a manifest", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a}\ndata: {k: v}\n", small, ""},
		{"aliases within the limit", "a: &a [1, 2]\nb: *a\nc: {<<: *x, d: 1}\nx: &x {e: 2}\n", small, ""},
		{"billion laughs", laughs(9, 9), defaultYAMLLimits, "more than 1048576 YAML nodes once aliases are expanded"},
		{"laughs over a small limit", laughs(4, 9), small, "more than 1000 YAML nodes"},
		{"self-referencing anchor", "a: &a\n  b: *a\n", small, `anchor "a" refers to itself`},
		{"self-referencing sequence", "a: &a [*a]\n", small, `anchor "a" refers to itself`},
		{"deep nesting", strings.Repeat("[", 11) + strings.Repeat("]", 11), small, "nested deeper than 10 levels"},
		{"deep through an alias", "a: &a [[[[[[1]]]]]]\nb: [[[[*a]]]]\n", small, "nested deeper than 10 levels"},
		{"many documents", "a: 1\n---\nb: 1\n---\nc: 1\n---\nd: 1\n", small, "more than 3 YAML documents"},
		{"too large", strings.Repeat("#", 1<<16+1), small, "larger than 65536 bytes"},
		{"not YAML is not the guard's concern", "a: [unclosed\n", small, ""},
		{"a bomb before a syntax error", laughs(4, 9) + "---\nx: [unclosed\n", small, "more than 1000 YAML nodes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := checkYAML("f.yaml", []byte(tt.in), tt.limits, nil)
			if tt.want == "" {
				if err != nil {
					t.Fatalf("refused: %v", err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.want) || !strings.HasPrefix(err.Error(), "f.yaml: ") || !errors.Is(err, errYAMLLimit) {
				t.Fatalf("error %v, want one naming f.yaml and %q", err, tt.want)
			}
		})
	}
}

// expandedCost expands every alias of n, as kustomize does, counting nodes
// and depth; it gives up once past the limits and reports ok=false.
func expandedCost(n *kyaml.Node, depth int, l yamlLimits, nodes *int) (maxDepth int, ok bool) {
	if depth > l.depth+1 {
		return depth, false
	}
	if n.Kind == kyaml.AliasNode && n.Alias != nil {
		return expandedCost(n.Alias, depth, l, nodes)
	}
	if *nodes++; *nodes > l.nodes {
		return depth, false
	}
	maxDepth = depth
	for _, c := range n.Content {
		d, ok := expandedCost(c, depth+1, l, nodes)
		if !ok {
			return d, false
		}
		maxDepth = max(maxDepth, d)
	}
	return maxDepth, true
}

// FuzzYAMLGuard checks that checkYAML never panics and that whatever it
// accepts stays within its limits once decoded with every alias expanded.
func FuzzYAMLGuard(f *testing.F) {
	for _, s := range []string{
		"a: 1\n", laughs(3, 3), "a: &a [*a]\n", "a: &a {b: *a}\n", "[[[[[[[[[[[[1]]]]]]]]]]]]",
		"a: &a [1]\nb: {<<: *a}\n", "---\n---\n---\n", "apiVersion: v1\nkind: List\nitems: [&x {a: 1}, *x]\n",
		"{\"a\": [1, {\"b\": null}]}", "a: !!binary aGVsbG8=\n", "? [a]\n: b\n",
	} {
		f.Add([]byte(s))
	}
	l := yamlLimits{bytes: 1 << 12, documents: 4, nodes: 200, depth: 12}
	f.Fuzz(func(t *testing.T, data []byte) {
		total, err := checkYAML("fuzz", data, l, nil)
		if err != nil {
			return
		}
		if total > l.nodes {
			t.Fatalf("accepted %d nodes, limit %d", total, l.nodes)
		}
		dec := kyaml.NewDecoder(bytes.NewReader(data))
		nodes := 0
		for docs := 0; ; docs++ {
			var doc kyaml.Node
			if dec.Decode(&doc) != nil {
				break
			}
			if docs >= l.documents {
				t.Fatalf("accepted more than %d documents", l.documents)
			}
			if d, ok := expandedCost(&doc, 1, l, &nodes); !ok || d > l.depth {
				t.Fatalf("accepted input expands past the limits (nodes %d, depth %d)", nodes, d)
			}
		}
	})
}

func TestIsRemote(t *testing.T) {
	for s, want := range map[string]bool{
		"https://example.com/a.yaml":                          true,
		"HTTP://example.com/a.yaml":                           true,
		"github.com/org/repo//deploy?ref=v1":                  true,
		"git::https://gitlab.com/org/repo":                    true,
		"git@gitlab.com:org/repo.git":                         true,
		"ssh://git@example.com/repo.git":                      true,
		"file:///srv/git/repo":                                true,
		"key=https://example.com/x":                           true,
		"../base":                                             false,
		"deployment.yaml":                                     false,
		"config/app.env":                                      false,
		"key=local.txt":                                       false,
		"gitlab.com/org/repo":                                 false, // kustomize reads it as a local path
		"/etc/passwd":                                         false, // refused by the loader, not as remote
		"example.com/org/repo?ref=v1, a local directory name": false,
	} {
		if got := isRemote(s); got != want {
			t.Errorf("isRemote(%q) = %v, want %v", s, got, want)
		}
	}
}

func TestRemoteReference(t *testing.T) {
	for in, want := range map[string]string{
		"resources: [https://x.test/a.yaml]\n":                                                               "https://x.test/a.yaml",
		"components: [github.com/org/repo/c]\n":                                                              "github.com/org/repo/c",
		"patches:\n- path: https://x.test/p.yaml\n  target: {kind: Deployment}\n":                            "https://x.test/p.yaml",
		"configMapGenerator:\n- name: c\n  files: [k=https://x.test/f]\n":                                    "k=https://x.test/f",
		"secretGenerator:\n- name: s\n  envs: [https://x.test/e.env]\n":                                      "https://x.test/e.env",
		"openapi: {path: https://x.test/schema.json}\n":                                                      "https://x.test/schema.json",
		"x: &u https://x.test/a.yaml\nresources: [*u]\n":                                                     "https://x.test/a.yaml",
		"generators:\n- |\n  apiVersion: builtin\n  kind: ConfigMapGenerator\n  files: [https://x.test/f]\n": "https://x.test/f",
		"commonAnnotations: {docs: https://wiki.test/app}\nresources: [a.yaml]\n":                            "",
		"resources: [../base, deploy.yaml]\n":                                                                "",
	} {
		var doc kyaml.Node
		if err := kyaml.Unmarshal([]byte(in), &doc); err != nil {
			t.Fatal(err)
		}
		if got := remoteReference(&doc, false); got != want {
			t.Errorf("remoteReference(%q) = %q, want %q", in, got, want)
		}
	}
}
