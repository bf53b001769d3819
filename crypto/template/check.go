package template

import (
	"fmt"
	gotemplate "text/template"
	"text/template/parse"
)

// check refuses the constructs that could run unbounded or reach beyond the
// data: template calls (recursion) and call. It bounds every range (see
// loops.go). It adds the number of parse-tree nodes to nodes: outside
// ranges, each node runs at most once.
func check(t *gotemplate.Template, nodes *int) error {
	if t.Tree == nil || t.Tree.Root == nil {
		return nil
	}
	return checkNode(t.Tree, t.Tree.Root, nodes)
}

func checkNode(tree *parse.Tree, n parse.Node, nodes *int) error {
	*nodes++
	refuse := func(what string) error {
		loc, _ := tree.ErrorContext(n)
		return fmt.Errorf("%s: %s not allowed in kseal templates", loc, what)
	}
	var children []parse.Node
	switch n := n.(type) {
	case *parse.ListNode:
		for _, c := range n.Nodes {
			children = append(children, c)
		}
	case *parse.ActionNode:
		children = append(children, n.Pipe)
	case *parse.PipeNode:
		*nodes += len(n.Decl)
		for _, c := range n.Cmds {
			children = append(children, c)
		}
	case *parse.CommandNode:
		children = n.Args
	case *parse.ChainNode:
		children = append(children, n.Node)
	case *parse.IdentifierNode:
		if n.Ident == "call" {
			return refuse("call is")
		}
	case *parse.IfNode:
		children = branch(&n.BranchNode)
	case *parse.WithNode:
		children = branch(&n.BranchNode)
	case *parse.RangeNode:
		before := *nodes
		for _, c := range branch(&n.BranchNode) {
			if err := checkNode(tree, c, nodes); err != nil {
				return err
			}
		}
		boundRange(n, *nodes-before)
		return nil
	case *parse.TemplateNode:
		return refuse("template calls are")
	}
	for _, c := range children {
		if err := checkNode(tree, c, nodes); err != nil {
			return err
		}
	}
	return nil
}

// branch lists the parts of an if or with.
func branch(b *parse.BranchNode) []parse.Node {
	out := []parse.Node{b.Pipe}
	if b.List != nil {
		out = append(out, b.List)
	}
	if b.ElseList != nil {
		out = append(out, b.ElseList)
	}
	return out
}
