package template

import (
	"fmt"
	gotemplate "text/template"
	"text/template/parse"
)

// check refuses the constructs that could run unbounded or reach beyond the
// data: range (which can iterate over a huge integer), template calls
// (recursion) and call. It adds the number of parse-tree nodes to nodes: with
// none of those, each node runs at most once.
func check(t *gotemplate.Template, nodes *int) error {
	for _, tt := range t.Templates() {
		if tt.Tree == nil || tt.Tree.Root == nil {
			continue
		}
		if err := checkNode(tt.Tree, tt.Tree.Root, nodes); err != nil {
			return err
		}
	}
	return nil
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
		return refuse("range is")
	case *parse.TemplateNode:
		return refuse("template calls are")
	case *parse.BreakNode, *parse.ContinueNode:
		return refuse("break and continue are")
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
