package sandbox

import (
	"reflect"

	"github.com/dop251/goja/ast"
	"github.com/dop251/goja/parser"
)

// Literal is a string literal of a script, with its position (1-based; columns in UTF-16
// code units, as in [SyntaxError]).
type Literal struct {
	Value        string
	Line, Column int
}

// Call is one call of find, create or update in a script whose names are literals, for
// checking them when the script is saved: find('deals', 'stage = "won"') names the object
// "deals" and filters with a literal; create('tasks', {subject: …}) and update('deals', id,
// {stage: …}) name fields as the keys of an object literal.
type Call struct {
	// Func is "find", "create" or "update".
	Func string
	// Object is the first argument, when it is a string literal.
	Object *Literal
	// Filter is find's second argument, when it is a string literal.
	Filter *Literal
	// Sort is the sort option of find's fourth argument ({sort: '-amount'}), when it is a
	// string literal.
	Sort *Literal
	// Fields are the plain keys of the values object literal of create and update.
	Fields []Literal
}

// Calls lists the calls of find, create and update in src whose object name is a literal.
// Calls through another name (const f = find; f(…)) or with computed names are not listed:
// they are checked when they run. src must compile (see [Sandbox.Compile]); Calls returns the
// same *SyntaxError otherwise.
func Calls(src string) ([]Call, error) {
	if _, err := compile(src); err != nil {
		return nil, err
	}
	prg, err := parser.ParseFile(nil, scriptName, prefix+src+suffix, 0, parser.WithDisableSourceMaps)
	if err != nil {
		return nil, err
	}
	c := &callScanner{prg: prg, lines: newLineIndex(src), seen: map[any]bool{}}
	c.walk(reflect.ValueOf(prg))
	return c.calls, nil
}

type callScanner struct {
	prg   *ast.Program
	lines *lineIndex
	seen  map[any]bool
	calls []Call
}

func (c *callScanner) literal(e ast.Expression) *Literal {
	s, ok := e.(*ast.StringLiteral)
	if !ok {
		return nil
	}
	line, col := c.lines.wrapped(int(s.Idx0()) - c.prg.File.Base())
	return &Literal{Value: s.Value.String(), Line: line, Column: col}
}

func (c *callScanner) walk(v reflect.Value) {
	switch v.Kind() {
	case reflect.Interface:
		if !v.IsNil() {
			c.walk(v.Elem())
		}
	case reflect.Pointer:
		if v.IsNil() || v.Type() == fileType || c.seen[v.Interface()] {
			return
		}
		c.seen[v.Interface()] = true
		if call, ok := v.Interface().(*ast.CallExpression); ok {
			c.call(call)
		}
		c.walk(v.Elem())
	case reflect.Struct:
		for i := range v.NumField() {
			if v.Type().Field(i).IsExported() {
				c.walk(v.Field(i))
			}
		}
	case reflect.Slice:
		for i := range v.Len() {
			c.walk(v.Index(i))
		}
	}
}

func (c *callScanner) call(call *ast.CallExpression) {
	id, ok := call.Callee.(*ast.Identifier)
	if !ok || len(call.ArgumentList) == 0 {
		return
	}
	name := id.Name.String()
	values := -1 // index of the values argument
	switch name {
	case "find":
	case "create":
		values = 1
	case "update":
		values = 2
	default:
		return
	}
	obj := c.literal(call.ArgumentList[0])
	if obj == nil {
		return
	}
	out := Call{Func: name, Object: obj}
	if name == "find" && len(call.ArgumentList) > 1 {
		out.Filter = c.literal(call.ArgumentList[1])
	}
	if name == "find" && len(call.ArgumentList) > 3 {
		if o, ok := call.ArgumentList[3].(*ast.ObjectLiteral); ok {
			for _, p := range o.Value {
				if k, ok := p.(*ast.PropertyKeyed); ok && !k.Computed && propertyName(k.Key) == "sort" {
					out.Sort = c.literal(k.Value)
				}
			}
		}
	}
	if values > 0 && len(call.ArgumentList) > values {
		if o, ok := call.ArgumentList[values].(*ast.ObjectLiteral); ok {
			for _, p := range o.Value {
				if sh, ok := p.(*ast.PropertyShort); ok { // {subject}
					line, col := c.lines.wrapped(int(sh.Name.Idx0()) - c.prg.File.Base())
					out.Fields = append(out.Fields, Literal{Value: sh.Name.Name.String(), Line: line, Column: col})
					continue
				}
				k, ok := p.(*ast.PropertyKeyed)
				if !ok || k.Computed {
					continue
				}
				if l := c.literal(k.Key); l != nil {
					out.Fields = append(out.Fields, *l)
				} else if ident, ok := k.Key.(*ast.Identifier); ok {
					line, col := c.lines.wrapped(int(ident.Idx0()) - c.prg.File.Base())
					out.Fields = append(out.Fields, Literal{Value: ident.Name.String(), Line: line, Column: col})
				}
			}
		}
	}
	c.calls = append(c.calls, out)
}

// propertyName is the name of an object literal's key written as a name or a string.
func propertyName(e ast.Expression) string {
	switch k := e.(type) {
	case *ast.Identifier:
		return k.Name.String()
	case *ast.StringLiteral:
		return k.Value.String()
	}
	return ""
}
