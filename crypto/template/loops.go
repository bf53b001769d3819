package template

import (
	"math/bits"
	"reflect"
	"strconv"
	"text/template/parse"
)

// This file bounds range: check adds to every range pipeline a call of
// rangeOf with the number of parse nodes of the range's body, so that
// before the first iteration the whole loop is charged, one unit per node
// per iteration. A nested range charges its own loop each time the outer
// body runs it, so the iterations of all loops together stay within the
// work budget, and each node runs at most once per iteration.

// rangeFunc is the name check gives rangeOf in templates.
const rangeFunc = "rangeOf"

// boundRange makes range n call rangeOf with the body's cost.
func boundRange(n *parse.RangeNode, bodyNodes int) {
	id := parse.NewIdentifier(rangeFunc).SetPos(n.Pipe.Position())
	cost := &parse.NumberNode{NodeType: parse.NodeNumber, Pos: n.Pipe.Position(), IsInt: true, Int64: int64(bodyNodes + 1), Text: strconv.Itoa(bodyNodes + 1)}
	n.Pipe.Cmds = append(n.Pipe.Cmds, &parse.CommandNode{NodeType: parse.NodeCommand, Pos: n.Pipe.Position(), Args: []parse.Node{id, cost}})
}

// rangeOf returns v, which a range is about to iterate over, after
// charging the loop: cost units per element (per integer for a range over
// an integer), plus the sorting of a map's keys.
func (r *run) rangeOf(cost int, v reflect.Value) (reflect.Value, error) {
	v = indirectInterface(v)
	var n int
	switch v.Kind() {
	case reflect.Slice, reflect.Array:
		n = v.Len()
	case reflect.Map:
		n = v.Len()
		sortCost := n * (bits.Len(uint(n)) + 1)
		if err := r.charge(sortCost); err != nil {
			return reflect.Value{}, err
		}
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		n = int(max(min(v.Int(), maxInt), 0))
	case reflect.Invalid:
		return v, nil
	default:
		return reflect.Value{}, usageError("range over a %s is not allowed in kseal templates: range over a list, a dict or an integer", v.Type())
	}
	if err := r.charge(mul(n, cost)); err != nil {
		return reflect.Value{}, err
	}
	return v, nil
}

// slice is text/template's slice (strings, lists and arrays, with up to
// three indexes), which also serves as Sprig's slice of a list.
func (r *run) slice(item reflect.Value, indexes ...reflect.Value) (reflect.Value, error) {
	item = indirectInterface(item)
	if !item.IsValid() {
		return reflect.Value{}, usageError("slice of untyped nil")
	}
	if len(indexes) > 3 {
		return reflect.Value{}, usageError("too many slice indexes: %d", len(indexes))
	}
	var cap int
	switch item.Kind() {
	case reflect.String:
		if len(indexes) == 3 {
			return reflect.Value{}, usageError("cannot 3-index slice a string")
		}
		cap = item.Len()
	case reflect.Array, reflect.Slice:
		cap = item.Cap()
	default:
		return reflect.Value{}, usageError("can't slice a %s", item.Type())
	}
	idx := [3]int{0, item.Len()}
	for i, ix := range indexes {
		x, ok := intIndex(indirectInterface(ix))
		if !ok || x < 0 || x > cap {
			return reflect.Value{}, usageError("slice index out of range or not an integer")
		}
		idx[i] = x
	}
	if idx[0] > idx[1] {
		return reflect.Value{}, usageError("invalid slice indexes: %d > %d", idx[0], idx[1])
	}
	if len(indexes) < 3 {
		if idx[1] > item.Len() && item.Kind() == reflect.String {
			return reflect.Value{}, usageError("slice index out of range")
		}
		return item.Slice(idx[0], idx[1]), nil
	}
	if idx[1] > idx[2] {
		return reflect.Value{}, usageError("invalid slice indexes: %d > %d", idx[1], idx[2])
	}
	return item.Slice3(idx[0], idx[1], idx[2]), nil
}

func intIndex(v reflect.Value) (int, bool) {
	switch v.Kind() {
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return int(v.Int()), true
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return int(min(v.Uint(), maxInt)), true
	}
	return 0, false
}
