package forms

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"regexp"
	"strings"
	"unicode/utf8"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"

	"github.com/relata/relata/schemas"
)

// Limits of list values.
const (
	maxTags    = 50
	maxTagSize = 100
)

// buildSchema generates the JSON Schema of the form's submissions from the object's field
// definitions and compiles it.
func (c *compiled) buildSchema() error {
	props := map[string]any{}
	required := []string{}
	for _, in := range c.inputs {
		if in.Kind == kindFile {
			continue // files travel as multipart parts, checked on their own
		}
		p := map[string]any{"title": in.Label}
		if in.Help != "" {
			p["description"] = in.Help
		}
		switch in.Kind {
		case kindText, kindTextarea, kindTel, kindEmail, kindURL:
			p["type"] = "string"
			if in.MinLength > 0 {
				p["minLength"] = in.MinLength
			}
			if in.MaxLength > 0 {
				p["maxLength"] = in.MaxLength
			}
			if in.Pattern != "" {
				p["pattern"] = in.Pattern
			}
			switch in.Kind {
			case kindEmail:
				p["format"] = "email"
			case kindURL:
				p["format"] = "uri"
				p["pattern"] = "^https?://"
			}
		case kindNumber:
			p["type"] = "number"
			if in.Min != nil {
				p["minimum"] = *in.Min
			}
			if in.Max != nil {
				p["maximum"] = *in.Max
			}
		case kindCheckbox:
			p["type"] = "boolean"
			if in.Required {
				p["const"] = true
			}
		case kindDate:
			p["type"] = "string"
			p["format"] = "date"
		case kindDateTime:
			p["type"] = "string"
			p["format"] = "date-time"
		case kindSelect:
			p["type"] = "string"
			p["enum"] = optionValues(in.Options)
		case kindPicker:
			// The choices change with the records: the id is checked against the picker's
			// filter when the submission is stored.
			p["type"] = "string"
			p["pattern"] = pickerIDPattern
			p["maxLength"] = 100
		case kindCheckboxes:
			p["type"] = "array"
			p["items"] = map[string]any{"type": "string", "enum": optionValues(in.Options)}
			p["uniqueItems"] = true
			if in.Required {
				p["minItems"] = 1
			}
		case kindTags:
			p["type"] = "array"
			p["items"] = map[string]any{"type": "string", "minLength": 1, "maxLength": maxTagSize}
			p["maxItems"] = maxTags
			if in.Required {
				p["minItems"] = 1
			}
		}
		props[in.Name] = p
		if in.Required {
			required = append(required, in.Name)
		}
	}
	for _, cp := range c.captures {
		props[cp.Param] = map[string]any{"type": "string", "maxLength": captureMax,
			"description": "Taken from the page's address (?" + cp.Param + "=…) into " + cp.Field.Name + "."}
	}
	f := c.form
	if f.Consent != nil {
		p := map[string]any{"type": "boolean", "title": "Consent", "description": f.Consent.Text}
		if f.Consent.IsRequired() {
			p["const"] = true
			required = append(required, KeyConsent)
		}
		props[KeyConsent] = p
	}
	props[KeyToken] = map[string]any{"type": "string", "maxLength": 200,
		"description": "The token of GET /api/relata/forms/" + f.Slug + " (or of the page), proving the form was loaded before it was sent."}
	if f.Spam.MinFill() > 0 {
		required = append(required, KeyToken)
	}
	props[f.Spam.HoneypotName()] = map[string]any{"type": "string", "maxLength": 0,
		"description": "A trap for robots: leave it out or empty."}
	doc := map[string]any{
		"$schema":              "https://json-schema.org/draft/2020-12/schema",
		"title":                f.Title,
		"type":                 "object",
		"properties":           props,
		"required":             required,
		"additionalProperties": false,
	}
	if f.Description != "" {
		doc["description"] = f.Description
	}
	data, err := json.Marshal(doc)
	if err != nil {
		return err
	}
	parsed, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return err
	}
	comp := jsonschema.NewCompiler()
	comp.AssertFormat()
	loc := "https://relata.invalid/forms/" + f.Slug + ".schema.json"
	if err := comp.AddResource(loc, parsed); err != nil {
		return err
	}
	sch, err := comp.Compile(loc)
	if err != nil {
		return err
	}
	c.schemaDoc, c.schema = doc, sch
	return nil
}

func optionValues(opts []schemas.Option) []string {
	vals := make([]string, len(opts))
	for i, o := range opts {
		vals[i] = o.Value
	}
	return vals
}

// FieldErrors maps a submitted key (a field name, [KeyConsent], [KeyToken], the honeypot or
// [KeyForm] for the whole submission) to what is wrong with it.
type FieldErrors map[string]string

func (fe FieldErrors) add(key, msg string) {
	if _, ok := fe[key]; !ok {
		fe[key] = msg
	}
}

// validate checks a normalized submission (see normalize) against the form's JSON Schema,
// then each value for what a schema cannot say clearly: control characters, markup in
// single-line text, and the field type's own check. It returns nil when all is well.
func (c *compiled) validate(doc map[string]any) FieldErrors {
	errs := FieldErrors{}
	if err := c.schema.Validate(doc); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			errs.add(KeyForm, err.Error())
			return errs
		}
		c.schemaErrors(ve, errs)
	}
	for _, in := range c.inputs {
		v, ok := doc[in.Name]
		if !ok || errs[in.Name] != "" {
			continue
		}
		if msg := checkStrings(in, v); msg != "" {
			errs.add(in.Name, msg)
			continue
		}
		t, ok := schemas.LookupFieldType(in.Field.Type)
		if !ok {
			continue
		}
		if err := t.CheckValue(c.obj, in.Field, v); err != nil {
			errs.add(in.Name, clip(err.Error(), 200))
		}
	}
	for _, cp := range c.captures {
		v, ok := doc[cp.Param]
		if !ok || errs[cp.Param] != "" {
			continue
		}
		if msg := checkStrings(&input{Kind: kindText}, v); msg != "" {
			errs.add(cp.Param, msg)
			continue
		}
		if t, ok := schemas.LookupFieldType(cp.Field.Type); ok {
			if err := t.CheckValue(c.obj, cp.Field, v); err != nil {
				errs.add(cp.Param, clip(err.Error(), 200))
			}
		}
	}
	if len(errs) == 0 {
		return nil
	}
	return errs
}

// Limits of picked ids and captured parameters.
const (
	pickerIDPattern = "^[A-Za-z0-9_-]+$"
	captureMax      = 500
)

// markup matches the start of an HTML tag, comment or declaration.
var markup = regexp.MustCompile(`<[a-zA-Z!/?]`)

// checkStrings checks every string of v: valid UTF-8, no control characters (line breaks and
// tabs are allowed in multi-line text), and no HTML markup in single-line text. Text is
// stored as written; every page escapes it when it shows it.
func checkStrings(in *input, v any) string {
	var list []any
	switch x := v.(type) {
	case string:
		list = []any{x}
	case []any:
		list = x
	}
	for _, e := range list {
		s, ok := e.(string)
		if !ok {
			continue
		}
		if !utf8.ValidString(s) {
			return "contains bytes that are not valid UTF-8 text"
		}
		for _, r := range s {
			if isControl(r, in.Kind == kindTextarea) {
				if r == '\n' || r == '\r' {
					return "must be a single line"
				}
				return fmt.Sprintf("must not contain control characters (found U+%04X)", r)
			}
		}
		if in.Kind == kindText && markup.MatchString(s) {
			return "must not contain HTML tags such as <script>"
		}
	}
	return ""
}

// isControl reports whether r is a control or invisible formatting character that has no
// place in form input: C0 and C1 controls, DEL, and the bidirectional overrides and
// isolates used to disguise text. Multi-line text may hold tabs and line breaks.
func isControl(r rune, multiline bool) bool {
	switch {
	case r == '\t' || r == '\n' || r == '\r':
		return !multiline
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069, r == 0x2028, r == 0x2029, r == 0xfeff:
		return true
	}
	return false
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n]) + "…"
}

// schemaErrors turns a jsonschema validation error into one plain message per key.
func (c *compiled) schemaErrors(ve *jsonschema.ValidationError, errs FieldErrors) {
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) > 0 {
			for _, sub := range e.Causes {
				walk(sub)
			}
			return
		}
		key := KeyForm
		if len(e.InstanceLocation) > 0 {
			key = e.InstanceLocation[0]
		}
		switch k := e.ErrorKind.(type) {
		case *kind.Required:
			for _, m := range k.Missing {
				errs.add(m, c.missingMessage(m))
			}
		case *kind.AdditionalProperties:
			for _, p := range k.Properties {
				if c.obj.Field(p) != nil {
					errs.add(p, "cannot be set through this form")
				} else {
					errs.add(p, "is not a field of this form")
				}
			}
		default:
			errs.add(key, c.message(key, e))
		}
	}
	walk(ve)
}

func (c *compiled) missingMessage(key string) string {
	switch key {
	case KeyConsent:
		return "please tick the box to give your consent"
	case KeyToken:
		return "the form's token is missing; load the form again and send it"
	}
	if in := c.input(key); in != nil {
		switch in.Kind {
		case kindCheckbox:
			return "must be ticked"
		case kindSelect, kindCheckboxes, kindPicker:
			return "please choose an option"
		}
	}
	return "is required"
}

// message is the plain-language message of one failed schema keyword on key.
func (c *compiled) message(key string, e *jsonschema.ValidationError) string {
	in := c.input(key)
	switch k := e.ErrorKind.(type) {
	case *kind.Type:
		return "must be " + typeName(k.Want) + ", not " + typeName([]string{k.Got})
	case *kind.MaxLength:
		return fmt.Sprintf("must be at most %d characters long (it has %d)", k.Want, k.Got)
	case *kind.MinLength:
		return fmt.Sprintf("must be at least %d characters long", k.Want)
	case *kind.Pattern:
		switch {
		case in != nil && in.Kind == kindTel:
			return "must be a phone number: digits, an optional leading +, spaces and ( ) - . /"
		case in != nil && in.Kind == kindURL:
			return "must be a web address starting with http:// or https://"
		case in != nil && in.Kind == kindPicker:
			return "is not one of the choices"
		}
		return "is not in the expected format"
	case *kind.Enum:
		if in != nil {
			return fmt.Sprintf("%s is not one of the choices (%s)", describeValue(k.Got), optionList(in.Options))
		}
		return "is not one of the allowed values"
	case *kind.Const:
		if key == KeyConsent {
			return "please tick the box to give your consent"
		}
		return "must be ticked"
	case *kind.Minimum:
		return "must be at least " + ratString(k.Want)
	case *kind.Maximum:
		return "must be at most " + ratString(k.Want)
	case *kind.Format:
		switch k.Want {
		case "email":
			return "must be a valid email address, such as name@example.com"
		case "date":
			return "must be a date (YYYY-MM-DD)"
		case "date-time":
			return "must be a date and time (YYYY-MM-DDTHH:MM, read as UTC, or RFC 3339 with a zone)"
		case "uri":
			return "must be a web address starting with http:// or https://"
		}
		return "is not a valid " + k.Want
	case *kind.MaxItems:
		return fmt.Sprintf("has too many entries (at most %d)", k.Want)
	case *kind.MinItems:
		return "please choose at least one option"
	case *kind.UniqueItems:
		return "lists the same value twice"
	}
	return "is not valid"
}

func typeName(types []string) string {
	names := make([]string, len(types))
	for i, t := range types {
		switch t {
		case "string":
			names[i] = "text"
		case "number", "integer":
			names[i] = "a number"
		case "boolean":
			names[i] = "true or false"
		case "array":
			names[i] = "a list"
		case "object":
			names[i] = "an object"
		default:
			names[i] = t
		}
	}
	return strings.Join(names, " or ")
}

func describeValue(v any) string {
	if s, ok := v.(string); ok {
		return fmt.Sprintf("%q", clip(s, 50))
	}
	return fmt.Sprint(v)
}

func optionList(opts []schemas.Option) string {
	labels := make([]string, len(opts))
	for i, o := range opts {
		labels[i] = o.Value
	}
	return strings.Join(labels, ", ")
}

func ratString(r *big.Rat) string {
	if r.IsInt() {
		return r.Num().String()
	}
	f, _ := r.Float64()
	return fmt.Sprint(f)
}
