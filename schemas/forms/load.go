package forms

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/url"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/ganigeorgiev/fexpr"
	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/relata/relata/schemas"
)

// maxFileSize bounds one definition file.
const maxFileSize = 1 << 20

var (
	schemaOnce sync.Once
	schemaC    *jsonschema.Schema
	schemaErr  error
)

// Schema returns the compiled JSON Schema (2020-12) that every form definition must pass.
func Schema() (*jsonschema.Schema, error) {
	schemaOnce.Do(func() {
		schemaC, schemaErr = schemas.CompileSchema(files, "form.schema.json")
	})
	return schemaC, schemaErr
}

// Parse decodes one form definition file and checks it against the form schema. It does not
// check the form against its object; [Check] does.
func Parse(file string, data []byte) (*Form, schemas.Errors) {
	if len(data) > maxFileSize {
		return nil, schemas.Errors{{File: file, Message: fmt.Sprintf("file is larger than %d bytes", maxFileSize)}}
	}
	sch, err := Schema()
	if err != nil {
		return nil, schemas.Errors{{File: file, Message: "form schema: " + err.Error()}}
	}
	if errs := schemas.CheckJSON(file, data, sch); len(errs) > 0 {
		return nil, errs
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var f Form
	if err := dec.Decode(&f); err != nil {
		return nil, schemas.Errors{{File: file, Message: "invalid form definition: " + err.Error()}}
	}
	f.file = file
	return &f, nil
}

// Load reads every *.json form definition at the top of fsys, checks each against the form
// schema and against the objects (see [Check]), and returns the forms sorted by slug, or
// [schemas.Errors] listing every problem with its file, line and JSON pointer.
func Load(fsys fs.FS, objects []*schemas.Object) ([]*Form, error) {
	names, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var (
		out  []*Form
		errs schemas.Errors
	)
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			errs = append(errs, &schemas.Error{File: name, Message: "cannot read: " + err.Error()})
			continue
		}
		f, ferrs := Parse(name, data)
		if len(ferrs) == 0 {
			ferrs = Check(f, objects)
			schemas.Locate(ferrs, name, data)
		}
		errs = append(errs, ferrs...)
		if len(ferrs) == 0 {
			out = append(out, f)
		}
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return out, nil
}

// Check checks the meaning of a parsed form against the object model: the object exists;
// every field exists in it, may appear on forms and is named once; fields the object requires
// are on the form or hidden; hidden values are valid for their fields; dedupe, spam and owner
// settings fit. Errors carry the form's file and JSON pointer (lines are filled in by [Load]).
func Check(f *Form, objects []*schemas.Object) schemas.Errors {
	var obj *schemas.Object
	for _, o := range objects {
		if o.Name == f.Object {
			obj = o
		}
	}
	if obj == nil {
		names := make([]string, len(objects))
		for i, o := range objects {
			names[i] = o.Name
		}
		return schemas.Errors{{File: f.file, Pointer: "/object",
			Message: fmt.Sprintf("object %q is not defined (known: %s)", f.Object, strings.Join(names, ", "))}}
	}
	_, errs := compile(f, obj, objects)
	return errs
}

// kinds of inputs, one per field type a form can show.
const (
	kindText       = "text"
	kindTextarea   = "textarea"
	kindEmail      = "email"
	kindTel        = "tel"
	kindURL        = "url"
	kindNumber     = "number"
	kindCheckbox   = "checkbox"
	kindDate       = "date"
	kindDateTime   = "datetime-local"
	kindSelect     = "select"
	kindCheckboxes = "checkboxes" // multi-select
	kindTags       = "tags"
	kindFile       = "file"
	kindPicker     = "picker" // a relation as a list of titles (Field.Picker)
)

// inputKind returns the kind of input for a field type, or "" when a form cannot set it.
func inputKind(f *schemas.Field) string {
	switch f.Type {
	case schemas.TypeText:
		return kindText
	case schemas.TypeLongText, schemas.TypeRichText:
		return kindTextarea
	case schemas.TypeEmail:
		return kindEmail
	case schemas.TypePhone:
		return kindTel
	case schemas.TypeURL:
		return kindURL
	case schemas.TypeNumber, schemas.TypeCurrency:
		return kindNumber
	case schemas.TypeBoolean:
		return kindCheckbox
	case schemas.TypeDate:
		return kindDate
	case schemas.TypeDateTime:
		return kindDateTime
	case schemas.TypeSelect:
		if f.Multiple {
			return kindCheckboxes
		}
		return kindSelect
	case schemas.TypeStage:
		return kindSelect
	case schemas.TypeTags:
		return kindTags
	case schemas.TypeFile:
		return kindFile
	}
	return "" // relation, owner, json: ids and raw JSON are not for strangers
}

// input is one resolved input of a compiled form.
type input struct {
	Field       *schemas.Field
	Name        string
	Label       string
	Placeholder string
	Help        string
	Required    bool
	Kind        string
	Options     []schemas.Option
	// Text limits, in characters (0: none), and the field's pattern.
	MinLength, MaxLength int
	Pattern              string
	// Number range.
	Min, Max *float64
	// File settings.
	Multiple  bool
	MaxSize   int64
	MimeTypes []string
	// Prefill: the page's query string may fill the input in.
	Prefill bool
	// Picker: the target object, its title field, and the admin's filter and sort.
	Target, TitleField string
	Picker             *Picker
	// Reachable are the collections a picker's filter and sort may reach: the CRM objects
	// and their users (see [checkPickerPaths]).
	Reachable map[string]bool
}

type captureList []*capture

func (l captureList) has(field string) bool {
	for _, cp := range l {
		if cp.Field.Name == field {
			return true
		}
	}
	return false
}

// capture is one query parameter the form stores into a field (Form.FromQuery).
type capture struct {
	Param string
	Field *schemas.Field
}

// compile binds a form to its object: it checks the form's meaning and resolves its inputs.
func compile(f *Form, obj *schemas.Object, objects []*schemas.Object) (*compiled, schemas.Errors) {
	var errs schemas.Errors
	add := func(ptr, format string, args ...any) {
		errs = append(errs, &schemas.Error{File: f.file, Pointer: ptr, Message: fmt.Sprintf(format, args...)})
	}
	fieldNames := make([]string, len(obj.Fields))
	for i, of := range obj.Fields {
		fieldNames[i] = of.Name
	}
	unknown := func(ptr, name string) {
		add(ptr, "%q is not a field of %s%s (fields: %s)", name, obj.Name, suggest(name, fieldNames), strings.Join(fieldNames, ", "))
	}
	c := &compiled{form: f, obj: obj}
	seen := map[string]bool{}
	for i, ff := range f.Fields {
		ptr := fmt.Sprintf("/fields/%d", i)
		of := obj.Field(ff.Name)
		switch {
		case of == nil:
			unknown(ptr+"/name", ff.Name)
			continue
		case seen[ff.Name]:
			add(ptr+"/name", "field %q is on the form twice", ff.Name)
			continue
		case ff.Picker != nil && of.Type != schemas.TypeRelation:
			add(ptr+"/picker", "field %q has type %s; only relation fields take a picker", ff.Name, of.Type)
			continue
		case of.Type == schemas.TypeRelation && ff.Picker == nil && (of.ShowInForms == nil || *of.ShowInForms):
			add(ptr+"/name", "field %q is a relation: give it a picker, e.g. \"picker\": {\"filter\": \"status = 'open'\"}, so visitors choose among titles instead of typing ids", ff.Name)
			continue
		case !of.InForms() && !(of.Type == schemas.TypeRelation && of.ShowInForms == nil):
			add(ptr+"/name", "field %q of %s may not appear on forms (showInForms is false, or its type %s is never shown)", ff.Name, obj.Name, of.Type)
			continue
		}
		seen[ff.Name] = true
		kind := inputKind(of)
		if of.Type == schemas.TypeRelation {
			kind = kindPicker
		}
		if kind == "" {
			add(ptr+"/name", "field %q has type %s, which a form cannot fill in", ff.Name, of.Type)
			continue
		}
		if of.Type == schemas.TypeRichText && f.IsPublic() {
			add(ptr+"/name", "field %q is rich text (HTML); a public form cannot accept HTML from strangers", ff.Name)
			continue
		}
		in := &input{
			// The object's help is written for CRM users; a form shows only its own.
			Field: of, Name: of.Name, Label: of.DisplayLabel(), Help: ff.Help, Required: of.Required,
			Kind: kind, Placeholder: ff.Placeholder, Multiple: of.Multiple, MaxSize: of.MaxSize, MimeTypes: of.MimeTypes,
			Prefill: ff.Prefill,
		}
		if kind == kindPicker {
			if !checkPicker(ptr, ff, of, objects, add) {
				continue
			}
			in.Multiple, in.Target, in.Picker = false, of.Target, ff.Picker
			in.TitleField = targetObject(objects, of.Target).TitleField
			in.Reachable = map[string]bool{schemas.UsersCollection: true}
			for _, o := range objects {
				in.Reachable[o.Name] = true
			}
		}
		if ff.Prefill && kind == kindFile {
			add(ptr+"/prefill", "field %q is a file; an address cannot fill it in", ff.Name)
		}
		if kind == kindNumber {
			in.Min, in.Max = of.Min, of.Max // for text types they are lengths, see textLimits
		}
		if ff.Label != "" {
			in.Label = ff.Label
		}
		if ff.Required != nil {
			if of.Required && !*ff.Required {
				add(ptr+"/required", "field %q cannot be optional: %s requires it", ff.Name, obj.Name)
			}
			in.Required = *ff.Required
		}
		switch of.Type {
		case schemas.TypeSelect:
			in.Options = of.Options
		case schemas.TypeStage:
			if p := obj.Pipeline(of.Pipeline); p != nil {
				for _, s := range p.Stages {
					in.Options = append(in.Options, schemas.Option{Value: s.Name, Label: s.Label})
				}
			}
		case schemas.TypeFile:
			if in.MaxSize <= 0 {
				in.MaxSize = defaultFileMaxSize
			}
		}
		in.MinLength, in.MaxLength, in.Pattern = textLimits(of)
		c.inputs = append(c.inputs, in)
	}

	for _, name := range sortedKeys(f.Hidden) {
		ptr := "/hidden/" + name
		of := obj.Field(name)
		if of == nil {
			unknown(ptr, name)
			continue
		}
		if seen[name] {
			add(ptr, "field %q is both on the form and hidden; pick one", name)
			continue
		}
		t, ok := schemas.LookupFieldType(of.Type)
		if !ok {
			add(ptr, "field %q has unknown type %s", name, of.Type)
			continue
		}
		if err := t.CheckValue(obj, of, f.Hidden[name]); err != nil {
			add(ptr, "hidden value of %q: %v", name, err)
		}
	}

	for _, param := range sortedKeys(anyMap(f.FromQuery)) {
		ptr := "/fromQuery/" + param
		name := f.FromQuery[param]
		of := obj.Field(name)
		switch {
		case param == KeyConsent || param == KeyToken || param == f.Spam.HoneypotName() || c.input(param) != nil:
			add(ptr, "parameter %q is already an input of the form; name the parameter differently", param)
		case of == nil:
			unknown(ptr, name)
		case seen[name]:
			add(ptr, "field %q is on the form; a parameter can only fill fields that are not (use \"prefill\": true on the field instead)", name)
		case hasKey(f.Hidden, name):
			add(ptr, "field %q has a hidden value; pick one", name)
		case of.ShowInForms != nil && !*of.ShowInForms:
			add(ptr, "field %q may not be set by forms (showInForms is false)", name)
		case of.Type != schemas.TypeText && of.Type != schemas.TypeLongText && of.Type != schemas.TypeSelect && of.Type != schemas.TypeURL || of.Multiple:
			add(ptr, "field %q has type %s; a query parameter can only fill text, longtext, url and single select fields", name, of.Type)
		default:
			for _, other := range c.captures {
				if other.Field.Name == name {
					add(ptr, "field %q is already filled by parameter %q", name, other.Param)
				}
			}
			c.captures = append(c.captures, &capture{Param: param, Field: of})
		}
	}

	for i, l := range f.Create {
		checkLinked(fmt.Sprintf("/create/%d", i), l, f, obj, c, objects, add)
	}

	for _, of := range obj.Fields {
		if of.Required && of.Default == nil && !seen[of.Name] && !hasKey(f.Hidden, of.Name) && !isOwnerByForm(f, obj, of) {
			add("/fields", "%s requires field %q: put it on the form or give it a hidden value", obj.Name, of.Name)
		}
	}

	if f.SuccessMessage != "" && f.RedirectURL != "" {
		add("/redirectUrl", "set successMessage or redirectUrl, not both")
	}
	if f.RedirectURL != "" {
		if u, err := url.Parse(f.RedirectURL); err != nil || u.Host == "" {
			add("/redirectUrl", "must be an absolute http(s) URL")
		}
	}

	if d := f.Dedupe; d != nil {
		in := c.input(d.By)
		switch {
		case in == nil:
			add("/dedupe/by", "dedupe field %q is not a field of the form", d.By)
		case in.Field.Type != schemas.TypeEmail:
			add("/dedupe/by", "dedupe field %q must be an email field, not %s", d.By, in.Field.Type)
		case !in.Required:
			add("/dedupe/by", "dedupe field %q must be required on the form", d.By)
		}
		for key, list := range map[string][]string{"update": d.Update, "fill": d.Fill} {
			for i, name := range list {
				if c.input(name) == nil && !hasKey(f.Hidden, name) && !c.captures.has(name) {
					add(fmt.Sprintf("/dedupe/%s/%d", key, i), "%q is neither a field of the form, hidden, nor taken from the address", name)
				}
			}
		}
	}

	if co := f.Consent; co != nil && co.DoubleOptIn {
		asked := false
		for _, in := range c.inputs {
			if in.Field.Type == schemas.TypeEmail && in.Required {
				asked = true
			}
		}
		if !asked {
			add("/consent/doubleOptIn", "double opt-in sends the confirmation to the record's email: the form must ask for a required email field")
		}
	}

	hp := f.Spam.HoneypotName()
	if obj.Field(hp) != nil {
		add("/spam/honeypot", "the honeypot %q is a field of %s; name it something else", hp, obj.Name)
	}
	if f.Owner != "" && obj.OwnerField() == nil {
		add("/owner", "%s has no owner field", obj.Name)
	}
	if f.Assign != nil {
		if f.Owner != "" {
			add("/assign", "set owner or assign, not both")
		}
		for _, p := range f.Assign.Check(obj) {
			add("/assign"+p.Pointer, "%s", p.Message)
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	c.maxBody = f.Spam.MaxBodyBytes
	if c.maxBody == 0 {
		c.maxBody = DefaultMaxBodyBytes
		for _, in := range c.inputs {
			if in.Kind == kindFile {
				n := int64(1)
				if in.Multiple {
					n = maxFilesPerField
				}
				c.maxBody += n * in.MaxSize
			}
		}
	}
	if err := c.buildSchema(); err != nil {
		return nil, schemas.Errors{{File: f.file, Message: "generated JSON Schema: " + err.Error()}}
	}
	return c, nil
}

// isOwnerByForm reports whether of is the owner field the form's owner setting fills.
func isOwnerByForm(f *Form, obj *schemas.Object, of *schemas.Field) bool {
	owner := obj.OwnerField()
	return (f.Owner != "" || f.Assign != nil) && owner != nil && owner.Name == of.Name
}

// Limits of uploads on forms.
const (
	defaultFileMaxSize = 10 << 20 // as schemas' file fields
	maxFilesPerField   = 5
)

// Length limits of the text types, as the schemas package applies them.
const (
	textMax     = 1000
	longTextMax = 100000
	richTextMax = 100000
	phoneMax    = 32
)

// textLimits returns the length limits and pattern a text-like field is checked with.
func textLimits(f *schemas.Field) (lo, hi int, pattern string) {
	switch f.Type {
	case schemas.TypeText:
		hi = textMax
	case schemas.TypeLongText:
		hi = longTextMax
	case schemas.TypeRichText:
		hi = richTextMax
	case schemas.TypePhone:
		hi, pattern = phoneMax, schemas.PhonePattern
	case schemas.TypeEmail:
		return 0, 254, ""
	case schemas.TypeURL:
		return 0, 2000, ""
	default:
		return 0, 0, ""
	}
	if f.Min != nil {
		lo = int(*f.Min)
	}
	if f.Max != nil && (int(*f.Max) < hi || f.Type == schemas.TypeText || f.Type == schemas.TypeLongText) {
		hi = int(*f.Max) // as the object model: text and longtext take any limit
	}
	if f.Pattern != "" {
		pattern = f.Pattern
	}
	return lo, hi, pattern
}

func (c *compiled) input(name string) *input {
	for _, in := range c.inputs {
		if in.Name == name {
			return in
		}
	}
	return nil
}

func anyMap(m map[string]string) map[string]any {
	out := make(map[string]any, len(m))
	for k, v := range m {
		out[k] = v
	}
	return out
}

func targetObject(objects []*schemas.Object, name string) *schemas.Object {
	for _, o := range objects {
		if o.Name == name {
			return o
		}
	}
	return nil
}

// checkPicker checks a relation field's picker: a single relation to a defined object with a
// title field, and a filter of plain field conditions (the filter is checked against the
// database when the form is served, see [Service.Load]).
func checkPicker(ptr string, ff *Field, of *schemas.Field, objects []*schemas.Object, add func(ptr, format string, args ...any)) bool {
	ok := true
	if of.Multiple {
		add(ptr+"/name", "field %q holds several records; a picker chooses one (make the relation single)", ff.Name)
		ok = false
	}
	target := targetObject(objects, of.Target)
	switch {
	case target == nil:
		add(ptr+"/name", "field %q points to %q, which is not an object", ff.Name, of.Target)
		return false
	case target.TitleField == "" || target.Field(target.TitleField) == nil:
		add(ptr+"/picker", "%s has no titleField: a picker shows titles only", target.Name)
		ok = false
	}
	if ff.Picker == nil {
		add(ptr+"/picker", "field %q is a relation: give it a picker", ff.Name)
		return false
	}
	for key, s := range map[string]string{"filter": ff.Picker.Filter, "sort": ff.Picker.Sort} {
		if strings.Contains(s, "@") {
			add(ptr+"/picker/"+key, "a picker's %s may name fields of %s only, not @request or @collection", key, target.Name)
			ok = false
		}
	}
	if ff.Picker.Filter != "" {
		if _, err := fexpr.Parse(ff.Picker.Filter); err != nil {
			add(ptr+"/picker/filter", "filter %q does not parse: %v", ff.Picker.Filter, err)
			ok = false
		}
	}
	return ok
}

// textual reports whether a field type holds plain text.
func textual(t string) bool {
	switch t {
	case schemas.TypeText, schemas.TypeLongText, schemas.TypeEmail, schemas.TypePhone, schemas.TypeURL, schemas.TypeSelect:
		return true
	}
	return false
}

// checkLinked checks one record the form creates beside its own (Form.Create): the object,
// the relation back to the form's record, the copied fields (same types; relations to the
// same object) and the fixed values, and that every field the object requires is set.
func checkLinked(ptr string, l *Linked, f *Form, obj *schemas.Object, c *compiled, objects []*schemas.Object, add func(ptr, format string, args ...any)) {
	lo := targetObject(objects, l.Object)
	if lo == nil {
		add(ptr+"/object", "object %q is not defined", l.Object)
		return
	}
	set := map[string]bool{}
	if lf := lo.Field(l.LinkTo); lf == nil || lf.Type != schemas.TypeRelation || lf.Target != obj.Name {
		add(ptr+"/linkTo", "%q must be a relation field of %s pointing at %s", l.LinkTo, lo.Name, obj.Name)
	}
	set[l.LinkTo] = true
	for _, name := range sortedKeys(anyMap(l.Copy)) {
		src := l.Copy[name]
		p := ptr + "/copy/" + name
		lf, sf := lo.Field(name), obj.Field(src)
		switch {
		case lf == nil:
			add(p, "%q is not a field of %s", name, lo.Name)
			continue
		case set[name]:
			add(p, "%q is already set by linkTo", name)
			continue
		case sf == nil || c.input(src) == nil && !hasKey(f.Hidden, src) && !c.captures.has(src):
			add(p, "%q is neither a field of the form, hidden, nor taken from the address", src)
			continue
		case lf.Type == schemas.TypeFile || sf.Type == schemas.TypeFile:
			add(p, "files cannot be copied to a linked record")
			continue
		case lf.Type == schemas.TypeRelation && (sf.Type != schemas.TypeRelation || sf.Target != lf.Target):
			add(p, "%q is a relation to %s; copy a relation to the same object, not %s %q", name, lf.Target, sf.Type, src)
			continue
		case lf.Type != sf.Type && !(textual(sf.Type) && (lf.Type == schemas.TypeText || lf.Type == schemas.TypeLongText)):
			add(p, "%q has type %s and %q type %s; copy a field of the same type", name, lf.Type, src, sf.Type)
			continue
		}
		set[name] = true
	}
	for _, name := range sortedKeys(l.Values) {
		p := ptr + "/values/" + name
		lf := lo.Field(name)
		switch {
		case lf == nil:
			add(p, "%q is not a field of %s", name, lo.Name)
			continue
		case set[name]:
			add(p, "%q is already set by linkTo or copy", name)
			continue
		}
		if t, ok := schemas.LookupFieldType(lf.Type); !ok {
			add(p, "field %q has unknown type %s", name, lf.Type)
		} else if err := t.CheckValue(lo, lf, l.Values[name]); err != nil {
			add(p, "value of %q: %v", name, err)
		}
		set[name] = true
	}
	owner := lo.OwnerField()
	for _, lf := range lo.Fields {
		if lf.Required && lf.Default == nil && !set[lf.Name] && !(owner != nil && owner.Name == lf.Name && obj.OwnerField() != nil) {
			add(ptr, "%s requires field %q: copy it from the form or give it a value", lo.Name, lf.Name)
		}
	}
}

func hasKey(m map[string]any, k string) bool {
	_, ok := m[k]
	return ok
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// suggest returns ` (did you mean "x"?)` for the known name closest to name, or "".
func suggest(name string, known []string) string {
	best, bestD := "", len(name)/2+1
	for _, k := range known {
		if d := schemas.EditDistance(name, k); d < bestD {
			best, bestD = k, d
		}
	}
	if best == "" {
		return ""
	}
	return fmt.Sprintf(" (did you mean %q?)", best)
}
