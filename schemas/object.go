package schemas

import (
	"encoding/json"
	"slices"
)

// Object is one CRM object definition: a kind of record such as a company, a contact or a deal.
// It is read from a JSON file and becomes a PocketBase base collection of the same name.
type Object struct {
	// Name is the collection name, snake_case and plural ("deals").
	Name string `json:"name"`
	// Label holds the names people read.
	Label Label `json:"label"`
	// Description says what the object is for.
	Description string `json:"description,omitempty"`
	// TitleField names the field that identifies a record to people ("name", "subject").
	TitleField string `json:"titleField"`
	// Activity marks an object whose records are activities: creating or updating one touches
	// every record it links to (their last_touched field).
	Activity bool `json:"activity,omitempty"`
	// Fields are the object's own fields, in display order.
	Fields []*Field `json:"fields"`
	// Pipelines are the ordered stage lists that stage fields refer to.
	Pipelines []*Pipeline `json:"pipelines,omitempty"`
	// Indexes are extra database indexes (unique fields get one automatically).
	Indexes []*Index `json:"indexes,omitempty"`
	// Access decides who may read and change records.
	Access Access `json:"access"`
}

// Label holds the singular and plural names of an object.
type Label struct {
	Singular string `json:"singular"`
	Plural   string `json:"plural"`
}

// Field is one field of an object.
type Field struct {
	Name string `json:"name"`
	// Type is one of the registered field types (see [FieldTypes]).
	Type     string   `json:"type"`
	Label    string   `json:"label,omitempty"`
	Help     string   `json:"help,omitempty"`
	Required bool     `json:"required,omitempty"`
	Unique   bool     `json:"unique,omitempty"`
	Default  any      `json:"default,omitempty"`
	Min      *float64 `json:"min,omitempty"`
	Max      *float64 `json:"max,omitempty"`
	Pattern  string   `json:"pattern,omitempty"`
	Options  []Option `json:"options,omitempty"`
	Multiple bool     `json:"multiple,omitempty"`
	Target   string   `json:"target,omitempty"`
	Pipeline string   `json:"pipeline,omitempty"`
	// PipelineField, on a stage field, names a select field of the same object whose options
	// are pipeline names: each record then follows the pipeline its PipelineField holds (Pipeline
	// when empty), and its stage must be one of that pipeline's stages.
	PipelineField string   `json:"pipelineField,omitempty"`
	Currency      string   `json:"currency,omitempty"`
	MaxSize       int64    `json:"maxSize,omitempty"`
	MimeTypes     []string `json:"mimeTypes,omitempty"`
	ShowInForms   *bool    `json:"showInForms,omitempty"`
	// Personal marks personal data (GDPR art. 4): privacy export and erasure and retention
	// work on these fields. Email and phone fields are personal whatever this says.
	Personal bool `json:"personal,omitempty"`
	// Sensitive marks special categories of personal data (GDPR art. 9); implies Personal.
	Sensitive bool `json:"sensitive,omitempty"`
}

// IsPersonal reports whether f holds personal data: marked personal or sensitive, or an
// email or phone field.
func (f *Field) IsPersonal() bool {
	return f.Personal || f.Sensitive || f.Type == TypeEmail || f.Type == TypePhone
}

// Option is one choice of a select field.
type Option struct {
	Value string `json:"value"`
	Label string `json:"label,omitempty"`
}

// UnmarshalJSON accepts an option written as a plain string or as {"value", "label"}.
func (o *Option) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*o = Option{Value: s}
		return nil
	}
	type plain Option
	return json.Unmarshal(b, (*plain)(o))
}

// MarshalJSON writes an option without a label as a plain string.
func (o Option) MarshalJSON() ([]byte, error) {
	if o.Label == "" {
		return json.Marshal(o.Value)
	}
	type plain Option
	return json.Marshal(plain(o))
}

// Pipeline is an ordered list of stages, such as a sales process.
type Pipeline struct {
	Name   string   `json:"name"`
	Label  string   `json:"label,omitempty"`
	Stages []*Stage `json:"stages"`
}

// Stage is one step of a pipeline.
type Stage struct {
	Name  string `json:"name"`
	Label string `json:"label,omitempty"`
	// Probability is the chance, in percent, that a deal in this stage is won.
	Probability float64 `json:"probability"`
	Won         bool    `json:"won,omitempty"`
	Lost        bool    `json:"lost,omitempty"`
	// Closed marks a final stage; won and lost stages are always closed.
	Closed bool `json:"closed,omitempty"`
	// RottingDays, when set, flags records that stay longer than this in the stage.
	RottingDays int `json:"rottingDays,omitempty"`
}

// IsClosed reports whether the stage ends the pipeline.
func (s *Stage) IsClosed() bool { return s.Closed || s.Won || s.Lost }

// Index is a database index over one or more fields.
type Index struct {
	Fields []string `json:"fields"`
	Unique bool     `json:"unique,omitempty"`
}

// Access scopes, from narrowest to widest.
const (
	// ScopeOwner lets a sales user reach only the records they own.
	ScopeOwner = "owner"
	// ScopeTeam lets a sales user reach the records owned by anyone in their team.
	ScopeTeam = "team"
	// ScopeAll lets every signed-in user reach every record.
	ScopeAll = "all"
)

// Access is the access policy of an object. Users with the role admin or manager always
// reach every record; unauthenticated callers never reach any.
type Access struct {
	// Scope is who a sales user may read and edit: "owner", "team" or "all". Default: "all".
	Scope string `json:"scope,omitempty"`
	// OwnerField names the owner field that scope "owner" and "team" use. Default: the object's
	// first field of type owner.
	OwnerField string `json:"ownerField,omitempty"`
	// DeleteRoles, when set, limits deleting to these roles (admins may always delete).
	DeleteRoles []string `json:"deleteRoles,omitempty"`
}

// Roles a CRM user can have.
const (
	RoleAdmin   = "admin"
	RoleManager = "manager"
	RoleSales   = "sales"
)

// Roles lists every CRM role.
var Roles = []string{RoleAdmin, RoleManager, RoleSales}

// System field names that Relata adds to every object collection.
const (
	FieldID          = "id"
	FieldCreated     = "created"
	FieldUpdated     = "updated"
	FieldLastTouched = "last_touched"
)

// UsersCollection is the auth collection of CRM users.
const UsersCollection = "users"

// Field returns the field with the given name, or nil.
func (o *Object) Field(name string) *Field {
	for _, f := range o.Fields {
		if f.Name == name {
			return f
		}
	}
	return nil
}

// Pipeline returns the pipeline with the given name, or nil.
func (o *Object) Pipeline(name string) *Pipeline {
	for _, p := range o.Pipelines {
		if p.Name == name {
			return p
		}
	}
	return nil
}

// OwnerField returns the field that carries the record's owner, or nil when the object has none.
func (o *Object) OwnerField() *Field {
	if o.Access.OwnerField != "" {
		return o.Field(o.Access.OwnerField)
	}
	for _, f := range o.Fields {
		if f.Type == TypeOwner && !f.Multiple {
			return f
		}
	}
	return nil
}

// StageField returns the first stage field of the object, or nil.
func (o *Object) StageField() *Field {
	for _, f := range o.Fields {
		if f.Type == TypeStage {
			return f
		}
	}
	return nil
}

// StagePipelines lists the pipelines the records of stage field f may follow: the pipelines
// its PipelineField offers (f's own Pipeline first), or just f's Pipeline. Unknown names are
// skipped (validation reports them).
func (o *Object) StagePipelines(f *Field) []*Pipeline {
	var out []*Pipeline
	if p := o.Pipeline(f.Pipeline); p != nil {
		out = append(out, p)
	}
	if pf := o.Field(f.PipelineField); f.PipelineField != "" && pf != nil {
		for _, v := range pf.OptionValues() {
			if p := o.Pipeline(v); p != nil && !slices.Contains(out, p) {
				out = append(out, p)
			}
		}
	}
	return out
}

// RecordPipeline returns the pipeline a record follows in stage field f, given the value of
// f's PipelineField in the record ("" when it has none): that pipeline when f has a
// PipelineField and value names one of its pipelines, else f's Pipeline. Nil when value names
// a pipeline f does not offer.
func (o *Object) RecordPipeline(f *Field, value string) *Pipeline {
	if f.PipelineField == "" || value == "" {
		return o.Pipeline(f.Pipeline)
	}
	for _, p := range o.StagePipelines(f) {
		if p.Name == value {
			return p
		}
	}
	return nil
}

// StageOf returns the stage definition of a stage name in any pipeline of stage field f,
// looking first in the pipeline the record follows (pipelineValue), or nil.
func (o *Object) StageOf(f *Field, pipelineValue, stage string) *Stage {
	if p := o.RecordPipeline(f, pipelineValue); p != nil {
		if s := p.Stage(stage); s != nil {
			return s
		}
	}
	for _, p := range o.StagePipelines(f) {
		if s := p.Stage(stage); s != nil {
			return s
		}
	}
	return nil
}

// Stage returns the named stage, or nil.
func (p *Pipeline) Stage(name string) *Stage {
	for _, s := range p.Stages {
		if s.Name == name {
			return s
		}
	}
	return nil
}

// StageNames lists the pipeline's stages in order.
func (p *Pipeline) StageNames() []string {
	names := make([]string, len(p.Stages))
	for i, s := range p.Stages {
		names[i] = s.Name
	}
	return names
}

// OptionValues lists the values of a select field's options.
func (f *Field) OptionValues() []string {
	vals := make([]string, len(f.Options))
	for i, o := range f.Options {
		vals[i] = o.Value
	}
	return vals
}

// HasOption reports whether v is one of the field's option values.
func (f *Field) HasOption(v string) bool { return slices.Contains(f.OptionValues(), v) }

// InForms reports whether the field may appear on a generated form.
func (f *Field) InForms() bool {
	if f.ShowInForms != nil {
		return *f.ShowInForms
	}
	switch f.Type {
	case TypeOwner, TypeStage, TypeJSON, TypeFile, TypeRelation:
		return false
	}
	return true
}

// DisplayLabel is the field's label, or its name when it has none.
func (f *Field) DisplayLabel() string {
	if f.Label != "" {
		return f.Label
	}
	return f.Name
}

// Clone returns a deep copy of the object.
func (o *Object) Clone() *Object {
	b, err := json.Marshal(o)
	if err != nil {
		panic(err) // an Object always marshals
	}
	var c Object
	if err := json.Unmarshal(b, &c); err != nil {
		panic(err)
	}
	return &c
}
