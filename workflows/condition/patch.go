package condition

import (
	"fmt"
	"reflect"
	"slices"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"

	"github.com/relata/relata/schemas"
)

// userFields are the names of user's fields, in the order of userEnv.
var userFields = func() []string {
	names := make([]string, userType.NumField())
	for i := range names {
		names[i] = userType.Field(i).Tag.Get("expr")
	}
	return names
}()

// patcher runs over the parsed expression before expr type-checks it. It reports what expr
// would word poorly (an unknown field of a Go struct built at run time, a misused helper),
// appends the hidden arguments of helpers, and expands changedFrom and changedTo.
type patcher struct {
	object     string // for messages: "deals"
	itemObject string // the for_each item's object, for messages
	shape      *shape
	err        *file.Error // the first problem
}

func (p *patcher) fail(n ast.Node, format string, args ...any) {
	if p.err == nil {
		p.err = &file.Error{Location: n.Location(), Message: fmt.Sprintf(format, args...)}
	}
}

// Visit implements ast.Visitor. expr walks children before their parent.
func (p *patcher) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		if n.Value == nameBudget {
			p.fail(n, "unknown name %s", n.Value)
		}
	case *ast.BuiltinNode:
		chargeBuiltin(n)
		chargeCall(node)
	case *ast.BinaryNode:
		switch n.Operator {
		case "..":
			p.checkRange(n)
		case "matches":
			p.checkPattern(n)
		}
		chargeBinary(n)
	case *ast.VariableDeclaratorNode:
		if slices.Contains(reservedNames, n.Name) {
			p.fail(n, "cannot declare %s: the name is taken", n.Name)
		}
	case *ast.MemberNode:
		id, ok := n.Node.(*ast.IdentifierNode)
		prop, isString := n.Property.(*ast.StringNode)
		if !ok || !isString {
			return
		}
		switch id.Value {
		case nameRecord, nameOld:
			p.checkField(prop, prop.Value)
		case nameItem:
			if p.shape.item != nil {
				p.checkItemField(prop, prop.Value)
			}
		case nameUser:
			if !slices.Contains(userFields, prop.Value) {
				p.fail(prop, "unknown field %q of user%s (it has %s)", prop.Value, didYouMean(prop.Value, userFields), strings.Join(userFields, ", "))
			}
		}
	case *ast.CallNode:
		id, ok := n.Callee.(*ast.IdentifierNode)
		if !ok {
			chargeCall(node) // a method of a time value
			return
		}
		if strings.HasPrefix(id.Value, "$") {
			p.fail(n, "unknown name %s", id.Value) // the budget's own functions
			return
		}
		switch id.Value {
		case nameNow:
			p.fail(n, "now is a time, not a function: write now, not now()")
			return
		case "changedFrom":
			p.expandChanged(node, n, nameOld)
			return
		case "changedTo":
			p.expandChanged(node, n, nameRecord)
			return
		}
		h, ok := lookupHelper(id.Value)
		if !ok {
			return
		}
		want := reflect.TypeOf(h.typ).Elem().NumIn() - len(h.hidden)
		if len(n.Arguments) != want {
			p.fail(n, "%s takes %d argument%s, got %d: %s", h.name, want, plural(want), len(n.Arguments), h.sig)
			return
		}
		if h.name == "inSegment" {
			if _, ok := n.Arguments[0].(*ast.StringNode); !ok {
				p.fail(n.Arguments[0], "inSegment needs the segment's name or id as a literal string: inSegment(\"Lombardy VIPs\")")
				return
			}
		}
		if h.name == "isChanged" {
			if s, ok := n.Arguments[0].(*ast.StringNode); ok {
				p.checkField(s, s.Value)
			}
		}
		for _, name := range h.hidden {
			arg := &ast.IdentifierNode{Value: name}
			arg.SetLocation(n.Location())
			n.Arguments = append(n.Arguments, arg)
		}
	}
}

// checkField reports name if it is not a column of the object.
func (p *patcher) checkField(at ast.Node, name string) bool {
	if _, ok := p.shape.index[name]; ok {
		return true
	}
	names := make([]string, len(p.shape.columns))
	for i, c := range p.shape.columns {
		names[i] = c.name
	}
	p.fail(at, "unknown field %q of %s%s", name, p.object, didYouMean(name, names))
	return false
}

// checkItemField reports name if it is not a column of the for_each item's object.
func (p *patcher) checkItemField(at ast.Node, name string) {
	if _, ok := p.shape.item.index[name]; ok {
		return
	}
	names := make([]string, len(p.shape.item.columns))
	for i, c := range p.shape.item.columns {
		names[i] = c.name
	}
	p.fail(at, "unknown field %q of item (a record of %s)%s", name, p.itemObject, didYouMean(name, names))
}

// expandChanged rewrites changedFrom(f, v) to isChanged(f) && old.f == v, and changedTo(f, v)
// to isChanged(f) && record.f == v.
func (p *patcher) expandChanged(node *ast.Node, n *ast.CallNode, side string) {
	name := n.Callee.(*ast.IdentifierNode).Value
	if len(n.Arguments) != 2 {
		p.fail(n, "%s takes 2 arguments, got %d: %s(field string, value any) bool", name, len(n.Arguments), name)
		return
	}
	s, ok := n.Arguments[0].(*ast.StringNode)
	if !ok {
		p.fail(n.Arguments[0], "%s needs a field name in quotes, like %s(\"stage\", \"won\")", name, name)
		return
	}
	if !p.checkField(s, s.Value) {
		return
	}
	if p.shape.columns[p.shape.index[s.Value]].kind == kindList {
		p.fail(s, "%s compares a single value, but %s is a list: use isChanged(%q) && \"x\" in %s.%s",
			name, s.Value, s.Value, side, s.Value)
		return
	}
	loc := n.Location()
	at := func(x ast.Node) ast.Node { x.SetLocation(loc); return x }
	field := &ast.StringNode{Value: s.Value}
	field.SetLocation(s.Location())
	ast.Patch(node, &ast.BinaryNode{
		Operator: "&&",
		Left: at(&ast.CallNode{
			Callee:    at(&ast.IdentifierNode{Value: "isChanged"}),
			Arguments: []ast.Node{field, at(&ast.IdentifierNode{Value: nameChanged})},
		}),
		Right: at(&ast.BinaryNode{
			Operator: "==",
			Left:     at(&ast.MemberNode{Node: at(&ast.IdentifierNode{Value: side}), Property: at(&ast.StringNode{Value: s.Value})}),
			Right:    n.Arguments[1],
		}),
	})
}

// usage records which columns of record and old a compiled expression reads, so evaluation
// converts only those.
type usage struct {
	all    [3]bool
	fields [3]map[string]bool
	idents []*ast.IdentifierNode
	member map[*ast.IdentifierNode]bool // record and old identifiers read as record.field
}

func sideOf(name string) int {
	switch name {
	case nameRecord:
		return envRecord
	case nameOld:
		return envOld
	case nameItem:
		return sideItem
	}
	return -1
}

// Visit implements ast.Visitor.
func (u *usage) Visit(node *ast.Node) {
	switch n := (*node).(type) {
	case *ast.IdentifierNode:
		switch {
		case n.Value == "$env":
			u.all = [3]bool{true, true, true}
		case sideOf(n.Value) >= 0:
			u.idents = append(u.idents, n)
		}
	case *ast.MemberNode:
		id, ok := n.Node.(*ast.IdentifierNode)
		prop, isString := n.Property.(*ast.StringNode)
		if !ok || !isString || sideOf(id.Value) < 0 {
			return
		}
		side := sideOf(id.Value)
		if u.fields[side] == nil {
			u.fields[side] = map[string]bool{}
		}
		u.fields[side][prop.Value] = true
		u.member[id] = true
	}
}

// fillsOf lists the columns that evaluation of tree must convert.
func fillsOf(tree ast.Node, s *shape) []fill {
	u := &usage{member: map[*ast.IdentifierNode]bool{}}
	ast.Walk(&tree, u)
	for _, id := range u.idents {
		if !u.member[id] {
			u.all[sideOf(id.Value)] = true // record used whole: toJSON(record), record[name], ...
		}
	}
	var fills []fill
	for _, side := range []int{envRecord, envOld, sideItem} {
		cols := s.columns
		if side == sideItem {
			if s.item == nil {
				continue
			}
			cols = s.item.columns
		}
		for i, c := range cols {
			if u.all[side] || u.fields[side][c.name] {
				fills = append(fills, fill{side: side, col: i, key: c.name, kind: c.kind})
			}
		}
	}
	return fills
}

// didYouMean suggests the name of names closest to name (at most two edits away), or returns "".
func didYouMean(name string, names []string) string {
	best, bestDist := "", 2
	if len(name) < 4 {
		bestDist = 1
	}
	for _, n := range names {
		if d := schemas.EditDistance(name, n); d <= bestDist && (best == "" || d < bestDist) {
			best, bestDist = n, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}

func plural(n int) string {
	if n == 1 {
		return ""
	}
	return "s"
}
