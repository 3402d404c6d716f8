package workflows

import (
	"fmt"
	"strings"

	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/parser"
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// conditionSQL translates the parts of a workflow condition that SQL can decide into a WHERE
// expression over the object's table, so that time triggers read only the records that may
// match. Only comparisons of a record's plain column (text, single select or relation,
// number, boolean) with literals are translated, and each exactly: the SQL is true for a row
// exactly when the expression is. Other parts of a conjunction are left out, which only
// widens the filter; the condition is still evaluated on every record read. It returns "" when
// nothing can be translated.
func conditionSQL(src string, coll *core.Collection, params dbx.Params) string {
	if strings.TrimSpace(src) == "" {
		return ""
	}
	tree, err := parser.Parse(src)
	if err != nil {
		return ""
	}
	t := &sqlTranslator{coll: coll, params: params}
	return t.prefilter(tree.Node)
}

type sqlTranslator struct {
	coll   *core.Collection
	params dbx.Params
	n      int
}

// prefilter translates the conjuncts it can and drops the others.
func (t *sqlTranslator) prefilter(n ast.Node) string {
	if b, ok := n.(*ast.BinaryNode); ok && (b.Operator == "&&" || b.Operator == "and") {
		l, r := t.prefilter(b.Left), t.prefilter(b.Right)
		switch {
		case l == "":
			return r
		case r == "":
			return l
		}
		return "(" + l + " AND " + r + ")"
	}
	s, _ := t.exact(n)
	return s
}

// exact translates n when SQL decides it exactly as expr does.
func (t *sqlTranslator) exact(n ast.Node) (string, bool) {
	switch x := n.(type) {
	case *ast.UnaryNode:
		if x.Operator != "not" && x.Operator != "!" {
			return "", false
		}
		s, ok := t.exact(x.Node)
		if !ok {
			return "", false
		}
		return "(NOT " + s + ")", true
	case *ast.MemberNode:
		if col, kind := t.column(x); kind == "bool" {
			return "([[" + col + "]] = 1)", true
		}
	case *ast.BinaryNode:
		switch x.Operator {
		case "&&", "and", "||", "or":
			l, ok := t.exact(x.Left)
			if !ok {
				return "", false
			}
			r, ok := t.exact(x.Right)
			if !ok {
				return "", false
			}
			op := " AND "
			if x.Operator == "||" || x.Operator == "or" {
				op = " OR "
			}
			return "(" + l + op + r + ")", true
		case "==", "!=", "<", "<=", ">", ">=":
			return t.compare(x)
		case "in":
			return t.in(x)
		}
	}
	return "", false
}

// column returns the column a record.name node reads and its kind ("text", "number",
// "bool"), or "" when it is not a plain column of the record.
func (t *sqlTranslator) column(n ast.Node) (string, string) {
	m, ok := n.(*ast.MemberNode)
	if !ok || m.Optional || m.Method {
		return "", ""
	}
	id, ok := m.Node.(*ast.IdentifierNode)
	prop, isString := m.Property.(*ast.StringNode)
	if !ok || !isString || id.Value != "record" {
		return "", ""
	}
	switch f := t.coll.Fields.GetByName(prop.Value).(type) {
	case *core.TextField, *core.EmailField, *core.URLField:
		return prop.Value, "text"
	case *core.SelectField:
		if f.MaxSelect <= 1 {
			return prop.Value, "text"
		}
	case *core.RelationField:
		if f.MaxSelect <= 1 {
			return prop.Value, "text"
		}
	case *core.NumberField:
		return prop.Value, "number"
	case *core.BoolField:
		return prop.Value, "bool"
	}
	return "", ""
}

// literal binds a literal of the kind and returns its placeholder.
func (t *sqlTranslator) literal(n ast.Node, kind string) (string, bool) {
	var v any
	switch x := n.(type) {
	case *ast.StringNode:
		if kind != "text" {
			return "", false
		}
		v = x.Value
	case *ast.IntegerNode:
		if kind != "number" {
			return "", false
		}
		v = x.Value
	case *ast.FloatNode:
		if kind != "number" {
			return "", false
		}
		v = x.Value
	case *ast.BoolNode:
		if kind != "bool" {
			return "", false
		}
		v = x.Value
	default:
		return "", false
	}
	name := fmt.Sprintf("cond%d", t.n)
	t.n++
	t.params[name] = v
	return "{:" + name + "}", true
}

var mirrored = map[string]string{"==": "==", "!=": "!=", "<": ">", "<=": ">=", ">": "<", ">=": "<="}

func (t *sqlTranslator) compare(b *ast.BinaryNode) (string, bool) {
	op, left, right := b.Operator, b.Left, b.Right
	col, kind := t.column(left)
	if col == "" {
		col, kind = t.column(right)
		op, left, right = mirrored[op], right, left
	}
	if col == "" {
		return "", false
	}
	if kind != "number" && op != "==" && op != "!=" {
		return "", false // expr orders strings by bytes, SQLite by collation: leave it to expr
	}
	lit, ok := t.literal(right, kind)
	if !ok {
		return "", false
	}
	if op == "==" {
		op = "="
	}
	return "([[" + col + "]] " + op + " " + lit + ")", true
}

func (t *sqlTranslator) in(b *ast.BinaryNode) (string, bool) {
	col, kind := t.column(b.Left)
	arr, ok := b.Right.(*ast.ArrayNode)
	if col == "" || kind == "bool" || !ok || len(arr.Nodes) == 0 || len(arr.Nodes) > 100 {
		return "", false
	}
	items := make([]string, len(arr.Nodes))
	for i, n := range arr.Nodes {
		if items[i], ok = t.literal(n, kind); !ok {
			return "", false
		}
	}
	return "([[" + col + "]] IN (" + strings.Join(items, ", ") + "))", true
}
