package schemas

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
)

// ReservedObjectNames cannot be used as object names: PocketBase's and Relata's own collections.
var ReservedObjectNames = []string{
	UsersCollection, "workflows", "workflow_runs", "workflow_steps", "workflow_events",
	"email_templates", "emails", "email_suppressions", "forms", "form_submissions", "consents",
	"saved_views", "stage_changes", "privacy_requests", "retention_policies", ExchangeRatesCollection,
	"inbound_emails", "email_bounces", "api_tokens", "incoming_webhooks", QuotasCollection,
	"notifications", // workflows/notify
	"segments", "segment_members", "campaigns", "campaign_recipients", "campaign_events",
	"web_forms", // schemas/forms: forms written in the form editor
}

// ReservedFieldNames cannot be used as field names: PocketBase's system fields and the ones
// Relata adds to every object.
var ReservedFieldNames = []string{
	FieldID, FieldCreated, FieldUpdated, FieldLastTouched,
	"collectionId", "collectionName", "expand", "password", "tokenKey", "email_visibility",
}

// Field types that can hold several values when "multiple" is set.
var multipleTypes = []string{TypeSelect, TypeRelation, TypeFile}

// Field types that can carry a unique index.
var uniqueTypes = []string{TypeText, TypePhone, TypeEmail, TypeURL, TypeNumber, TypeDate, TypeDateTime}

// Field types a title field may have.
var titleTypes = []string{TypeText, TypeEmail, TypePhone, TypeURL, TypeNumber, TypeDate, TypeDateTime, TypeSelect}

// Validate checks the meaning of a complete set of objects: names are unique and not reserved,
// relations and stage fields resolve, defaults fit their fields, and so on. It returns [Errors]
// naming each object by its conventional file name ("deals.json").
func Validate(objs []*Object) error {
	return validate(objs, func(o *Object) string { return fileName(o.Name) }).errOrNil()
}

func validate(objs []*Object, fileOf func(*Object) string) Errors {
	var errs Errors
	byName := map[string]*Object{}
	for _, o := range objs {
		add := func(ptr, format string, args ...any) {
			errs = append(errs, &Error{File: fileOf(o), Pointer: ptr, Message: fmt.Sprintf(format, args...)})
		}
		if prev, dup := byName[o.Name]; dup {
			add("/name", "object name %q is already used by %s", o.Name, fileOf(prev))
		}
		byName[o.Name] = o
		if slices.Contains(ReservedObjectNames, o.Name) || strings.HasPrefix(o.Name, "_") || strings.HasPrefix(o.Name, "relata_") {
			add("/name", "object name %q is reserved for Relata's own collections", o.Name)
		}
	}
	for _, o := range objs {
		errs = append(errs, validateObject(o, fileOf(o), byName)...)
	}
	return errs
}

func validateObject(o *Object, file string, byName map[string]*Object) Errors {
	var errs Errors
	add := func(ptr, format string, args ...any) {
		errs = append(errs, &Error{File: file, Pointer: ptr, Message: fmt.Sprintf(format, args...)})
	}

	// Pipelines first: stage fields refer to them.
	pipeSeen := map[string]bool{}
	for i, p := range o.Pipelines {
		ptr := fmt.Sprintf("/pipelines/%d", i)
		if pipeSeen[p.Name] {
			add(ptr+"/name", "pipeline %q is defined twice", p.Name)
		}
		pipeSeen[p.Name] = true
		stageSeen := map[string]bool{}
		open := 0
		for j, s := range p.Stages {
			sp := fmt.Sprintf("%s/stages/%d", ptr, j)
			if stageSeen[s.Name] {
				add(sp+"/name", "stage %q appears twice in pipeline %q", s.Name, p.Name)
			}
			stageSeen[s.Name] = true
			if s.Won && s.Lost {
				add(sp, "stage %q cannot be both won and lost", s.Name)
			}
			if s.Won && s.Probability != 100 {
				add(sp+"/probability", "won stage %q must have probability 100, not %v", s.Name, s.Probability)
			}
			if s.Lost && s.Probability != 0 {
				add(sp+"/probability", "lost stage %q must have probability 0, not %v", s.Name, s.Probability)
			}
			if !s.IsClosed() {
				open++
			}
		}
		if open == 0 {
			add(ptr+"/stages", "pipeline %q needs at least one open stage (not won, lost or closed)", p.Name)
		}
	}

	fieldSeen := map[string]int{}
	columns := map[string]string{} // column name -> field that owns it
	for i, f := range o.Fields {
		ptr := fmt.Sprintf("/fields/%d", i)
		if j, dup := fieldSeen[f.Name]; dup {
			add(ptr+"/name", "field %q is already defined at /fields/%d", f.Name, j)
		}
		fieldSeen[f.Name] = i
		if slices.Contains(ReservedFieldNames, f.Name) {
			add(ptr+"/name", "field name %q is reserved (system fields: %s)", f.Name, strings.Join(ReservedFieldNames, ", "))
		}
		cols := []string{f.Name}
		if f.Type == TypeCurrency {
			cols = append(cols, f.Name+CurrencySuffix)
		}
		for _, c := range cols {
			if owner, clash := columns[c]; clash && owner != f.Name {
				add(ptr+"/name", "field %q needs the column %q, which field %q already uses", f.Name, c, owner)
			}
			columns[c] = f.Name
		}
		errs = append(errs, validateField(o, f, file, ptr, byName)...)
	}

	if tf := o.Field(o.TitleField); tf == nil {
		add("/titleField", "title field %q is not a field of %s", o.TitleField, o.Name)
	} else if !slices.Contains(titleTypes, tf.Type) {
		add("/titleField", "title field %q has type %s; it must be one of %s", tf.Name, tf.Type, strings.Join(titleTypes, ", "))
	}

	for i, idx := range o.Indexes {
		for j, name := range idx.Fields {
			if o.Field(name) == nil && !slices.Contains([]string{FieldCreated, FieldUpdated, FieldLastTouched}, name) {
				add(fmt.Sprintf("/indexes/%d/fields/%d", i, j), "index names unknown field %q", name)
			}
		}
	}

	switch o.Access.Scope {
	case ScopeOwner, ScopeTeam:
		if of := o.OwnerField(); of == nil {
			if o.Access.OwnerField != "" {
				add("/access/ownerField", "owner field %q is not a field of %s", o.Access.OwnerField, o.Name)
			} else {
				add("/access/scope", "scope %q needs a field of type owner", o.Access.Scope)
			}
		} else if of.Type != TypeOwner {
			add("/access/ownerField", "owner field %q has type %s; it must have type owner", of.Name, of.Type)
		}
	}
	return errs
}

func validateField(o *Object, f *Field, file, ptr string, byName map[string]*Object) Errors {
	var errs Errors
	add := func(sub, format string, args ...any) {
		errs = append(errs, &Error{File: file, Pointer: ptr + sub, Message: fmt.Sprintf(format, args...)})
	}
	onlyFor := func(set bool, key string, types ...string) {
		if set && !slices.Contains(types, f.Type) {
			add("/"+key, "%q applies only to fields of type %s, not %s", key, strings.Join(types, " or "), f.Type)
		}
	}
	onlyFor(len(f.Options) > 0, "options", TypeSelect)
	onlyFor(f.Target != "", "target", TypeRelation)
	onlyFor(f.Pipeline != "", "pipeline", TypeStage)
	onlyFor(f.PipelineField != "", "pipelineField", TypeStage)
	onlyFor(f.Currency != "", "currency", TypeCurrency)
	onlyFor(f.MaxSize > 0, "maxSize", TypeFile)
	onlyFor(len(f.MimeTypes) > 0, "mimeTypes", TypeFile)
	onlyFor(f.Pattern != "", "pattern", TypeText, TypeLongText, TypePhone)
	onlyFor(f.Multiple, "multiple", multipleTypes...)
	onlyFor(f.Min != nil, "min", TypeNumber, TypeCurrency, TypeText, TypeLongText)
	onlyFor(f.Max != nil, "max", TypeNumber, TypeCurrency, TypeText, TypeLongText)
	if f.Unique && !slices.Contains(uniqueTypes, f.Type) {
		add("/unique", "a %s field cannot be unique (only %s)", f.Type, strings.Join(uniqueTypes, ", "))
	}
	if f.Min != nil && f.Max != nil && *f.Min > *f.Max {
		add("/min", "min %v is greater than max %v", *f.Min, *f.Max)
	}
	if f.Pattern != "" {
		if _, err := regexp.Compile(f.Pattern); err != nil {
			add("/pattern", "pattern does not compile: %v", err)
		}
	}
	seen := map[string]bool{}
	for i, opt := range f.Options {
		if seen[opt.Value] {
			add(fmt.Sprintf("/options/%d", i), "option %q appears twice", opt.Value)
		}
		seen[opt.Value] = true
	}
	switch f.Type {
	case TypeRelation:
		if f.Target != "" && f.Target != UsersCollection && byName[f.Target] == nil {
			add("/target", "relation target %q is not a defined object (known: %s)", f.Target, knownObjects(byName))
		}
	case TypeStage:
		if f.Pipeline != "" && o.Pipeline(f.Pipeline) == nil {
			add("/pipeline", "pipeline %q is not defined in this object's pipelines", f.Pipeline)
		}
		if f.PipelineField != "" {
			errs = append(errs, validatePipelineField(o, f, file, ptr)...)
		}
	}
	if f.Default != nil {
		if t, ok := fieldTypes[f.Type]; ok && (f.Type != TypeStage || o.Pipeline(f.Pipeline) != nil) {
			if err := t.CheckValue(o, f, f.Default); err != nil {
				add("/default", "default %s", err)
			}
		}
	}
	return errs
}

// validatePipelineField checks the select field that carries a stage field's pipeline per
// record: a single-value select whose options all name pipelines of the object, among them the
// stage field's own (default) pipeline.
func validatePipelineField(o *Object, f *Field, file, ptr string) Errors {
	var errs Errors
	pf := o.Field(f.PipelineField)
	switch {
	case pf == nil:
		return Errors{{File: file, Pointer: ptr + "/pipelineField", Message: fmt.Sprintf("pipeline field %q is not a field of %s", f.PipelineField, o.Name)}}
	case pf.Type != TypeSelect || pf.Multiple:
		return Errors{{File: file, Pointer: ptr + "/pipelineField", Message: fmt.Sprintf("pipeline field %q must be a single-value select whose options name pipelines, not %s", pf.Name, describeType(pf))}}
	}
	pi := slices.Index(o.Fields, pf)
	for i, opt := range pf.Options {
		if o.Pipeline(opt.Value) == nil {
			names := make([]string, len(o.Pipelines))
			for j, p := range o.Pipelines {
				names[j] = p.Name
			}
			errs = append(errs, &Error{File: file, Pointer: fmt.Sprintf("/fields/%d/options/%d", pi, i),
				Message: fmt.Sprintf("option %q of pipeline field %q is not a pipeline of %s (pipelines: %s)", opt.Value, pf.Name, o.Name, strings.Join(names, ", "))})
		}
	}
	if f.Pipeline != "" && !slices.Contains(pf.OptionValues(), f.Pipeline) {
		errs = append(errs, &Error{File: file, Pointer: fmt.Sprintf("/fields/%d/options", pi),
			Message: fmt.Sprintf("pipeline field %q must offer %q, the default pipeline of stage field %q", pf.Name, f.Pipeline, f.Name)})
	}
	return errs
}

func describeType(f *Field) string {
	if f.Multiple {
		return "a multiple " + f.Type + " field"
	}
	return "a " + f.Type + " field"
}

func knownObjects(byName map[string]*Object) string {
	names := []string{UsersCollection}
	for n := range byName {
		names = append(names, n)
	}
	slices.Sort(names)
	names = slices.Compact(names)
	return strings.Join(names, ", ")
}
