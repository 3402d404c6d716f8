package schemas

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/dbutils"
)

// ChangeKind says what a [Change] does.
type ChangeKind string

// Kinds of change.
const (
	CreateObject ChangeKind = "create object"
	DropObject   ChangeKind = "drop object"
	AddField     ChangeKind = "add field"
	UpdateField  ChangeKind = "update field"
	RetypeField  ChangeKind = "retype field"
	DropField    ChangeKind = "drop field"
	UpdateRule   ChangeKind = "update rule"
	AddIndex     ChangeKind = "add index"
	UpdateIndex  ChangeKind = "update index"
	DropIndex    ChangeKind = "drop index"
	// DashboardEdit is a change made in the PocketBase dashboard and not in the files. Applying
	// keeps it; `relata schema export` writes it into the files.
	DashboardEdit ChangeKind = "dashboard edit"
)

// Change is one difference between the definition files and the database.
type Change struct {
	Object string     `json:"object"`
	Field  string     `json:"field,omitempty"`
	Kind   ChangeKind `json:"kind"`
	Detail string     `json:"detail"`
	// Destructive is set when applying would lose stored data (a dropped or retyped field that
	// holds values, a removed option or stage still in use, a dropped object with records).
	Destructive bool `json:"destructive,omitempty"`
	// Conflict is set when both the files and the dashboard changed the same thing since the
	// last apply, or the dashboard removed something the files still define.
	Conflict bool `json:"conflict,omitempty"`
}

func (c *Change) String() string {
	var b strings.Builder
	switch {
	case c.Conflict:
		b.WriteString("CONFLICT ")
	case c.Destructive:
		b.WriteString("DESTRUCTIVE ")
	}
	b.WriteString(string(c.Kind))
	b.WriteString(" ")
	b.WriteString(c.Object)
	if c.Field != "" {
		b.WriteString(".")
		b.WriteString(c.Field)
	}
	if c.Detail != "" {
		b.WriteString(": ")
		b.WriteString(c.Detail)
	}
	return b.String()
}

// Blocking reports whether the change needs an explicit force to apply.
func (c *Change) Blocking() bool { return c.Destructive || c.Conflict }

// Plan is the set of changes that would make the database match the definition files.
// Build it with [NewPlan]; apply it with [Apply].
type Plan struct {
	Changes []*Change
	defs    []*Object
	saves   []*core.Collection // collections to create or update, in order
	drops   []*core.Collection
	creates map[string]bool
}

// Blocking returns the changes that are refused unless forced.
func (p *Plan) Blocking() []*Change {
	var out []*Change
	for _, c := range p.Changes {
		if c.Blocking() {
			out = append(out, c)
		}
	}
	return out
}

// Pending reports whether applying the plan would change the database.
func (p *Plan) Pending() bool {
	for _, c := range p.Changes {
		if c.Kind != DashboardEdit {
			return true
		}
	}
	return false
}

// RefusedError is returned by [Apply] when a plan has destructive or conflicting changes and
// force was not given.
type RefusedError struct{ Changes []*Change }

func (e *RefusedError) Error() string {
	lines := []string{"schema change refused; these changes would lose data or overwrite dashboard edits:"}
	for _, c := range e.Changes {
		lines = append(lines, "  - "+c.String())
	}
	lines = append(lines, "edit the definition files (`relata schema export` writes dashboard edits into them), or run `relata schema apply --force` to apply anyway")
	return strings.Join(lines, "\n")
}

// ErrNotFound is wrapped when a collection or object does not exist.
var ErrNotFound = errors.New("not found")

// NewPlan compares defs with the database of app and with the state recorded by the last
// apply, and returns what applying defs would change. It writes nothing.
func NewPlan(app core.App, defs []*Object) (*Plan, error) {
	base, err := appliedSnapshots(app)
	if err != nil {
		return nil, err
	}
	p := &Plan{defs: defs, creates: map[string]bool{}}
	ids := collectionIDs(app)
	for _, def := range defs {
		desired, err := Collection(def, ids)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", def.Name, err)
		}
		current, err := app.FindCollectionByNameOrId(def.Name)
		if err != nil {
			current = nil
		}
		if current != nil && current.Type != core.CollectionTypeBase {
			return nil, fmt.Errorf("object %q: a %s collection of that name already exists", def.Name, current.Type)
		}
		if err := p.planObject(app, def, desired, current, base[def.Name]); err != nil {
			return nil, err
		}
	}
	for name := range base {
		if slices.ContainsFunc(defs, func(o *Object) bool { return o.Name == name }) {
			continue
		}
		current, err := app.FindCollectionByNameOrId(name)
		if err != nil {
			continue // gone from files and database alike
		}
		n, err := app.CountRecords(current)
		if err != nil {
			return nil, err
		}
		p.Changes = append(p.Changes, &Change{Object: name, Kind: DropObject,
			Detail: fmt.Sprintf("no longer defined in the files (%d records)", n), Destructive: n > 0})
		p.drops = append(p.drops, current)
	}
	return p, nil
}

func (p *Plan) add(c *Change) { p.Changes = append(p.Changes, c) }

func (p *Plan) planObject(app core.App, def *Object, desired, current, base *core.Collection) error {
	if current == nil {
		if base != nil {
			p.add(&Change{Object: def.Name, Kind: CreateObject, Conflict: true,
				Detail: "the collection was deleted or renamed in the dashboard since the last apply; applying re-creates it empty"})
		} else {
			p.add(&Change{Object: def.Name, Kind: CreateObject, Detail: fmt.Sprintf("%d fields", len(def.Fields))})
		}
		p.creates[def.Name] = true
		p.saves = append(p.saves, desired)
		return nil
	}

	var fields []core.Field
	for _, want := range desired.Fields {
		name := want.GetName()
		cur := current.Fields.GetByName(name)
		var was core.Field
		if base != nil {
			was = base.Fields.GetByName(name)
		}
		if name == FieldID {
			fields = append(fields, cur)
			continue
		}
		if cur == nil {
			c := &Change{Object: def.Name, Field: name, Kind: AddField, Detail: want.Type()}
			if was != nil {
				c.Conflict = true
				c.Detail = "deleted in the dashboard since the last apply; applying adds it back, empty"
			}
			p.add(c)
			fields = append(fields, want)
			continue
		}
		if sameField(cur, want) {
			fields = append(fields, cur)
			continue
		}
		if cur.Type() != want.Type() {
			n, err := countValues(app, current, cur)
			if err != nil {
				return err
			}
			p.add(&Change{Object: def.Name, Field: name, Kind: RetypeField,
				Detail:      fmt.Sprintf("%s -> %s (%d records hold a value, which would be lost)", cur.Type(), want.Type(), n),
				Destructive: n > 0, Conflict: was != nil && !sameField(cur, was)})
			fields = append(fields, want) // a new id: PocketBase drops and re-creates the column
			continue
		}
		if was != nil && sameField(want, was) {
			// Only the dashboard changed it: keep the dashboard's version.
			p.add(&Change{Object: def.Name, Field: name, Kind: DashboardEdit, Detail: "settings changed in the dashboard: " + fieldDelta(want, cur)})
			fields = append(fields, cur)
			continue
		}
		want.SetId(cur.GetId())
		c := &Change{Object: def.Name, Field: name, Kind: UpdateField, Detail: fieldDelta(cur, want)}
		switch {
		case was == nil:
			c.Conflict = true
			c.Detail = "the database and the file differ and there is no record of the last apply: " + c.Detail
		case !sameField(cur, was):
			c.Conflict = true
			c.Detail = "changed both in the file and in the dashboard: " + c.Detail
		}
		if err := checkNarrowing(app, current, cur, want, c); err != nil {
			return err
		}
		p.add(c)
		fields = append(fields, want)
	}
	// Columns in the database but not in the file: dropped from the file, or added in the dashboard.
	var extra []core.Field
	for _, cur := range current.Fields {
		name := cur.GetName()
		if desired.Fields.GetByName(name) != nil {
			continue
		}
		if base != nil && base.Fields.GetByName(name) != nil {
			n, err := countValues(app, current, cur)
			if err != nil {
				return err
			}
			p.add(&Change{Object: def.Name, Field: name, Kind: DropField,
				Detail: fmt.Sprintf("removed from the file (%d records hold a value)", n), Destructive: n > 0})
			continue
		}
		p.add(&Change{Object: def.Name, Field: name, Kind: DashboardEdit, Detail: "added in the dashboard (" + cur.Type() + ")"})
		extra = append(extra, cur)
	}
	// Keep dashboard fields before Relata's system fields.
	sys := len(fields) - 3
	fields = slices.Concat(fields[:sys], extra, fields[sys:])
	current.Fields = core.NewFieldsList(fields...)

	p.planRules(def.Name, desired, current, base)
	p.planIndexes(def.Name, desired, current, base)
	if p.changed(def.Name) {
		p.saves = append(p.saves, current)
	}
	return nil
}

func (p *Plan) changed(object string) bool {
	return slices.ContainsFunc(p.Changes, func(c *Change) bool { return c.Object == object && c.Kind != DashboardEdit })
}

func (p *Plan) planRules(object string, desired, current, base *core.Collection) {
	rules := []struct {
		name           string
		want, cur, was **string
	}{
		{"listRule", &desired.ListRule, &current.ListRule, nil},
		{"viewRule", &desired.ViewRule, &current.ViewRule, nil},
		{"createRule", &desired.CreateRule, &current.CreateRule, nil},
		{"updateRule", &desired.UpdateRule, &current.UpdateRule, nil},
		{"deleteRule", &desired.DeleteRule, &current.DeleteRule, nil},
	}
	if base != nil {
		rules[0].was, rules[1].was, rules[2].was = &base.ListRule, &base.ViewRule, &base.CreateRule
		rules[3].was, rules[4].was = &base.UpdateRule, &base.DeleteRule
	}
	for _, r := range rules {
		want, cur := ptrString(*r.want), ptrString(*r.cur)
		if want == cur {
			continue
		}
		if r.was != nil && ptrString(*r.was) == want {
			p.add(&Change{Object: object, Field: r.name, Kind: DashboardEdit, Detail: "rule changed in the dashboard"})
			continue
		}
		c := &Change{Object: object, Field: r.name, Kind: UpdateRule, Detail: fmt.Sprintf("%s -> %s", cur, want)}
		if r.was == nil || ptrString(*r.was) != cur {
			c.Conflict = true
			c.Detail = "changed both in the file and in the dashboard: " + c.Detail
		}
		p.add(c)
		*r.cur = *r.want
	}
}

func (p *Plan) planIndexes(object string, desired, current, base *core.Collection) {
	byName := func(c *core.Collection) map[string]string {
		m := map[string]string{}
		if c == nil {
			return m
		}
		for _, idx := range c.Indexes {
			m[strings.ToLower(dbutils.ParseIndex(idx).IndexName)] = idx
		}
		return m
	}
	want, cur, was := byName(desired), byName(current), byName(base)
	var out []string
	for _, idx := range desired.Indexes {
		name := strings.ToLower(dbutils.ParseIndex(idx).IndexName)
		switch c, ok := cur[name]; {
		case !ok:
			p.add(&Change{Object: object, Field: name, Kind: AddIndex, Detail: idx})
		case normIndex(c) != normIndex(idx):
			if w, ok := was[name]; ok && normIndex(w) == normIndex(idx) {
				p.add(&Change{Object: object, Field: name, Kind: DashboardEdit, Detail: "index changed in the dashboard"})
				out = append(out, c)
				continue
			}
			p.add(&Change{Object: object, Field: name, Kind: UpdateIndex, Detail: idx})
		}
		out = append(out, idx)
	}
	for name, idx := range cur {
		if _, ok := want[name]; ok {
			continue
		}
		if _, ok := was[name]; ok {
			p.add(&Change{Object: object, Field: name, Kind: DropIndex, Detail: "removed from the file"})
			continue
		}
		p.add(&Change{Object: object, Field: name, Kind: DashboardEdit, Detail: "index added in the dashboard"})
		out = append(out, idx)
	}
	slices.Sort(out)
	cs := slices.Clone(current.Indexes)
	slices.Sort(cs)
	if !slices.Equal(out, cs) {
		current.Indexes = out
	}
}

func normIndex(s string) string {
	return strings.Join(strings.Fields(strings.ToLower(s)), " ")
}

func ptrString(p *string) string {
	if p == nil {
		return "<superusers only>"
	}
	return *p
}

// fieldJSON is a field's settings as JSON without its id, for comparison.
func fieldJSON(f core.Field) map[string]any {
	b, _ := json.Marshal(f)
	var m map[string]any
	_ = json.Unmarshal(b, &m)
	delete(m, "id")
	m["type"] = f.Type()
	if t, ok := f.(*core.TextField); ok {
		m["max"] = textColumnMax(t) // 0 means PocketBase's default: the same column
	}
	return m
}

func sameField(a, b core.Field) bool {
	ja, _ := json.Marshal(fieldJSON(a))
	jb, _ := json.Marshal(fieldJSON(b))
	return string(ja) == string(jb)
}

// fieldDelta names the settings that differ between two versions of a field.
func fieldDelta(from, to core.Field) string {
	a, b := fieldJSON(from), fieldJSON(to)
	var parts []string
	for k, v := range b {
		av, _ := json.Marshal(a[k])
		bv, _ := json.Marshal(v)
		if string(av) != string(bv) {
			parts = append(parts, fmt.Sprintf("%s %s -> %s", k, av, bv))
		}
	}
	slices.Sort(parts)
	return strings.Join(parts, ", ")
}

// checkNarrowing marks c destructive when the new field settings drop values still in use:
// removed select options or stages, or fewer allowed values in a multi-value field.
func checkNarrowing(app core.App, coll *core.Collection, cur, want core.Field, c *Change) error {
	switch w := want.(type) {
	case *core.SelectField:
		old := cur.(*core.SelectField)
		for _, v := range old.Values {
			if slices.Contains(w.Values, v) {
				continue
			}
			n, err := countSelect(app, coll, old, v)
			if err != nil {
				return err
			}
			if n > 0 {
				c.Destructive = true
				c.Detail += fmt.Sprintf("; option %q is removed but %d records use it", v, n)
			}
		}
		if w.MaxSelect < old.MaxSelect && w.MaxSelect <= 1 {
			if err := markMulti(app, coll, cur, c); err != nil {
				return err
			}
		}
	case *core.RelationField:
		old := cur.(*core.RelationField)
		if w.CollectionId != old.CollectionId {
			n, err := countValues(app, coll, cur)
			if err != nil {
				return err
			}
			if n > 0 {
				c.Destructive = true
				c.Detail += fmt.Sprintf("; the relation points to another object now but %d records link to the old one", n)
			}
		}
		if w.MaxSelect <= 1 && old.MaxSelect > 1 {
			if err := markMulti(app, coll, cur, c); err != nil {
				return err
			}
		}
	case *core.FileField:
		if w.MaxSelect <= 1 && cur.(*core.FileField).MaxSelect > 1 {
			if err := markMulti(app, coll, cur, c); err != nil {
				return err
			}
		}
	}
	return nil
}

func markMulti(app core.App, coll *core.Collection, f core.Field, c *Change) error {
	var n int
	err := app.DB().Select("COUNT(*)").From(coll.Name).
		Where(dbx.NewExp(fmt.Sprintf("json_valid([[%[1]s]]) AND json_array_length([[%[1]s]]) > 1", f.GetName()))).Row(&n)
	if err != nil {
		return fmt.Errorf("count multi-valued %s.%s: %w", coll.Name, f.GetName(), err)
	}
	if n > 0 {
		c.Destructive = true
		c.Detail += fmt.Sprintf("; becomes single-valued but %d records hold several values", n)
	}
	return nil
}

func countSelect(app core.App, coll *core.Collection, f *core.SelectField, v string) (int, error) {
	var n int
	var where dbx.Expression
	if f.MaxSelect > 1 {
		where = dbx.NewExp(fmt.Sprintf("EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid([[%s]]) THEN [[%s]] ELSE '[]' END) WHERE value = {:v})", f.Name, f.Name), dbx.Params{"v": v})
	} else {
		where = dbx.HashExp{f.Name: v}
	}
	if err := app.DB().Select("COUNT(*)").From(coll.Name).Where(where).Row(&n); err != nil {
		return 0, fmt.Errorf("count uses of %s.%s = %q: %w", coll.Name, f.Name, v, err)
	}
	return n, nil
}

// countValues counts the records whose column holds a non-empty value.
func countValues(app core.App, coll *core.Collection, f core.Field) (int, error) {
	name := f.GetName()
	cond := fmt.Sprintf("[[%[1]s]] IS NOT NULL AND [[%[1]s]] NOT IN ('', '[]', 'null', '\"\"')", name)
	switch f.(type) {
	case *core.NumberField, *core.BoolField:
		cond = fmt.Sprintf("[[%[1]s]] IS NOT NULL AND [[%[1]s]] != 0", name)
	}
	var n int
	if err := app.DB().Select("COUNT(*)").From(coll.Name).Where(dbx.NewExp(cond)).Row(&n); err != nil {
		return 0, fmt.Errorf("count values of %s.%s: %w", coll.Name, name, err)
	}
	return n, nil
}

// collectionIDs resolves object names to collection ids: the existing collection's id, or the
// id PocketBase will give a new base collection of that name.
func collectionIDs(app core.App) CollectionIDs {
	return func(name string) (string, error) {
		if c, err := app.FindCollectionByNameOrId(name); err == nil {
			return c.Id, nil
		}
		if name == UsersCollection {
			return "", fmt.Errorf("the %q collection does not exist: %w", name, ErrNotFound)
		}
		return core.NewBaseCollection(name).Id, nil
	}
}
