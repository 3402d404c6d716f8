package scoring

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"math"
	"path"
	"reflect"
	"slices"
	"strconv"
	"sync"
	"time"

	"github.com/expr-lang/expr"
	"github.com/expr-lang/expr/ast"
	"github.com/expr-lang/expr/file"
	"github.com/expr-lang/expr/parser"
	"github.com/expr-lang/expr/vm"
	"github.com/pocketbase/pocketbase/core"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/relata/relata/schemas"
)

// RuleSet is a rule-based score: points for what a record is (fit rules, expr conditions
// on record.<field>) and for what it does (behaviour rules, its done activities of a type,
// each worth less as it ages), summed into a score and a grade A–D. Files follow
// rules.schema.json.
type RuleSet struct {
	Name        string `json:"name"`
	Description string `json:"description,omitempty"`
	Object      string `json:"object"`
	// Field is the number field the score is written to; GradeField the field of the grade.
	Field      string `json:"field,omitempty"`
	GradeField string `json:"gradeField,omitempty"`
	Rules      []Rule `json:"rules"`
	// Grades are the lowest scores of grades A, B and C; below C is D.
	Grades map[string]float64 `json:"grades"`

	file    string
	recType reflect.Type // record.<field> as a struct, so conditions are type-checked
	names   []string     // the field of each struct field
}

// Rule is one rule of a [RuleSet]: When (fit) or Activity (behaviour).
type Rule struct {
	Name     string  `json:"name"`
	When     string  `json:"when,omitempty"`
	Activity string  `json:"activity,omitempty"`
	Points   float64 `json:"points"`
	// HalfLifeDays halves a behaviour's points every so many days (no decay when 0).
	HalfLifeDays float64 `json:"halfLifeDays,omitempty"`
	// Max counts at most this many activities, the most recent (all when 0).
	Max int `json:"max,omitempty"`

	program *vm.Program
}

// rulesSchema compiles rules.schema.json once.
var rulesSchema = sync.OnceValues(func() (*jsonschema.Schema, error) {
	return schemas.CompileSchema(files, "rules.schema.json")
})

// LoadRules reads every *.json file of fsys as a [RuleSet], checks it against
// rules.schema.json and the object model (the object and fields exist, conditions compile,
// grades descend), and returns every problem located by file, line and JSON pointer.
func LoadRules(fsys fs.FS, reg *schemas.Registry) ([]*RuleSet, error) {
	names, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return nil, err
	}
	var (
		out  []*RuleSet
		errs schemas.Errors
	)
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		rs, es := ParseRules(path.Base(name), data, reg.Object)
		errs = append(errs, es...)
		if rs != nil {
			out = append(out, rs)
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// ParseRules parses and checks one rule-set file; object looks up the object model.
func ParseRules(file string, data []byte, object func(string) (*schemas.Object, bool)) (*RuleSet, schemas.Errors) {
	sch, err := rulesSchema()
	if err != nil {
		return nil, schemas.Errors{{File: file, Message: err.Error()}}
	}
	if es := schemas.CheckJSON(file, data, sch); len(es) > 0 {
		return nil, es
	}
	var rs RuleSet
	if err := json.Unmarshal(data, &rs); err != nil {
		return nil, schemas.Errors{{File: file, Message: err.Error()}}
	}
	rs.file = file
	var errs schemas.Errors
	add := func(ptr, format string, args ...any) {
		errs = append(errs, &schemas.Error{File: file, Pointer: ptr, Message: fmt.Sprintf(format, args...)})
	}
	o, ok := object(rs.Object)
	if !ok {
		add("/object", "no object named %q", rs.Object)
		schemas.Locate(errs, file, data)
		return nil, errs
	}
	if rs.Field != "" {
		if f := o.Field(rs.Field); f == nil || (f.Type != schemas.TypeNumber && f.Type != schemas.TypeCurrency) {
			add("/field", "%s has no number field %q to hold the score", o.Name, rs.Field)
		}
	}
	if rs.GradeField != "" {
		if f := o.Field(rs.GradeField); f == nil || (f.Type != schemas.TypeSelect && f.Type != schemas.TypeText) {
			add("/gradeField", "%s has no select or text field %q to hold the grade", o.Name, rs.GradeField)
		} else if f.Type == schemas.TypeSelect {
			for _, g := range []string{"A", "B", "C", "D"} {
				if !slices.ContainsFunc(f.Options, func(opt schemas.Option) bool { return opt.Value == g }) {
					add("/gradeField", "select field %s has no option %q", f.Name, g)
				}
			}
		}
	}
	if !(rs.Grades["A"] > rs.Grades["B"] && rs.Grades["B"] > rs.Grades["C"]) {
		add("/grades", "grades must descend: A (%g) > B (%g) > C (%g)", rs.Grades["A"], rs.Grades["B"], rs.Grades["C"])
	}
	rs.recType, rs.names = recordType(o)
	env := rs.env(nil, time.Time{})
	for i := range rs.Rules {
		r := &rs.Rules[i]
		if r.When == "" {
			continue
		}
		if msg := unknownField(r.When, o, rs.names); msg != "" {
			// expr would name the generated struct type ("type struct { F0 string … } has
			// no field headlin"); say it as the workflow conditions do.
			add("/rules/"+strconv.Itoa(i)+"/when", "%s", msg)
			continue
		}
		p, err := expr.Compile(r.When, expr.Env(env), expr.AsBool())
		if err != nil {
			add("/rules/"+strconv.Itoa(i)+"/when", "%v", err)
			continue
		}
		r.program = p
	}
	if len(errs) > 0 {
		schemas.Locate(errs, file, data)
		return nil, errs
	}
	return &rs, nil
}

// unknownField returns a message for the first record.<name> in src that names no field of
// o (names), with the closest name as a suggestion, and where it is; "" when there is none or
// src does not parse (the compile then says why).
func unknownField(src string, o *schemas.Object, names []string) string {
	tree, err := parser.Parse(src)
	if err != nil {
		return ""
	}
	var found *ast.MemberNode
	var name string
	ast.Find(tree.Node, func(n ast.Node) bool {
		m, ok := n.(*ast.MemberNode)
		if !ok || found != nil {
			return false
		}
		id, ok := m.Node.(*ast.IdentifierNode)
		prop, isStr := m.Property.(*ast.StringNode)
		if !ok || !isStr || id.Value != "record" || slices.Contains(names, prop.Value) {
			return false
		}
		found, name = m, prop.Value
		return true
	})
	if found == nil {
		return ""
	}
	msg := fmt.Sprintf("unknown field %q of %s", name, o.Name)
	best, bestDist := "", 2
	for _, n := range names {
		if d := schemas.EditDistance(name, n); d <= bestDist && (best == "" || d < bestDist) {
			best, bestDist = n, d
		}
	}
	if best != "" {
		msg += fmt.Sprintf(" (did you mean %q?)", best)
	}
	at := &file.Error{Location: found.Property.Location()}
	at.Bind(file.NewSource(src))
	return fmt.Sprintf("%s (line %d, column %d)", msg, at.Line, at.Column+1)
}

// recordType returns a struct type with one field per field of o (and id), tagged with
// the field's name for expr, and the names in order.
func recordType(o *schemas.Object) (reflect.Type, []string) {
	names := []string{schemas.FieldID}
	sf := []reflect.StructField{{Name: "F0", Type: reflect.TypeFor[string](), Tag: `expr:"id"`}}
	for _, f := range o.Fields {
		names = append(names, f.Name)
		sf = append(sf, reflect.StructField{Name: "F" + strconv.Itoa(len(sf)), Type: reflect.TypeOf(zeroOf(f)), Tag: reflect.StructTag(`expr:"` + f.Name + `"`)})
	}
	return reflect.StructOf(sf), names
}

// zeroOf is the zero value conditions see for a field of f's type.
func zeroOf(f *schemas.Field) any {
	switch f.Type {
	case schemas.TypeNumber, schemas.TypeCurrency:
		return 0.0
	case schemas.TypeBoolean:
		return false
	case schemas.TypeTags:
		return []string{}
	case schemas.TypeDate, schemas.TypeDateTime:
		return time.Time{}
	case schemas.TypeRelation, schemas.TypeOwner, schemas.TypeFile:
		if f.Multiple {
			return []string{}
		}
	}
	return ""
}

// Values returns the values of rec that conditions see, by field name.
func Values(o *schemas.Object, rec *core.Record) map[string]any {
	m := map[string]any{schemas.FieldID: rec.Id}
	for _, f := range o.Fields {
		switch zeroOf(f).(type) {
		case float64:
			m[f.Name] = rec.GetFloat(f.Name)
		case bool:
			m[f.Name] = rec.GetBool(f.Name)
		case []string:
			m[f.Name] = rec.GetStringSlice(f.Name)
		case time.Time:
			m[f.Name] = rec.GetDateTime(f.Name).Time()
		default:
			m[f.Name] = rec.GetString(f.Name)
		}
	}
	return m
}

// env is the expr environment of the conditions: record (values by field name; a value of
// the wrong type is left zero) and now.
func (rs *RuleSet) env(values map[string]any, now time.Time) map[string]any {
	v := reflect.New(rs.recType).Elem()
	for i, name := range rs.names {
		x, ok := values[name]
		if !ok || x == nil {
			continue
		}
		xv := reflect.ValueOf(x)
		if xv.Type().AssignableTo(v.Field(i).Type()) {
			v.Field(i).Set(xv)
		} else if xv.Type().ConvertibleTo(v.Field(i).Type()) && xv.Kind() != reflect.String {
			v.Field(i).Set(xv.Convert(v.Field(i).Type()))
		}
	}
	return map[string]any{"record": v.Interface(), "now": now}
}

// Hit is a rule that contributed to a score.
type Hit struct {
	Rule   string  `json:"rule"`
	Points float64 `json:"points"`
	// Hidden marks the points of the activities the reader may not open, summed into one
	// hit whose Rule says so (see [Service.ExplainRulesAs]).
	Hidden bool `json:"hidden,omitempty"`
}

// RuleScore is the score of one record.
type RuleScore struct {
	ID    string  `json:"id"`
	Score float64 `json:"score"`
	Grade string  `json:"grade"`
	Hits  []Hit   `json:"hits"`
}

// Grade returns the grade of score.
func (rs *RuleSet) Grade(score float64) string {
	switch {
	case score >= rs.Grades["A"]:
		return "A"
	case score >= rs.Grades["B"]:
		return "B"
	case score >= rs.Grades["C"]:
		return "C"
	}
	return "D"
}

// Score computes the score of a record from its values by field name (see [Values]) and its
// activities (oldest first) at now. Scores are rounded to one decimal.
func (rs *RuleSet) Score(id string, values map[string]any, acts []Activity, now time.Time) (RuleScore, error) {
	out := RuleScore{ID: id, Hits: []Hit{}}
	env := rs.env(values, now)
	for _, r := range rs.Rules {
		var pts float64
		if r.program != nil {
			ok, err := expr.Run(r.program, env)
			if err != nil {
				return out, fmt.Errorf("%s: rule %q: %w", rs.file, r.Name, err)
			}
			if b, _ := ok.(bool); b {
				pts = r.Points
			}
		} else {
			n := 0
			for i := len(acts) - 1; i >= 0; i-- {
				a := acts[i]
				if a.Type != r.Activity || a.At.After(now) {
					continue
				}
				if r.Max > 0 && n >= r.Max {
					break
				}
				n++
				w := 1.0
				if r.HalfLifeDays > 0 {
					w = math.Pow(0.5, days(now.Sub(a.At))/r.HalfLifeDays)
				}
				pts += r.Points * w
			}
		}
		if pts != 0 {
			pts = math.Round(pts*10) / 10
			out.Hits = append(out.Hits, Hit{Rule: r.Name, Points: pts})
			out.Score += pts
		}
	}
	out.Score = math.Round(out.Score*10) / 10
	out.Grade = rs.Grade(out.Score)
	return out, nil
}
