package schemas

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/santhosh-tekuri/jsonschema/v6"
	"github.com/santhosh-tekuri/jsonschema/v6/kind"
	"golang.org/x/text/language"
	"golang.org/x/text/message"
)

// maxFileSize bounds one definition file; a larger one is refused before it is parsed.
const maxFileSize = 1 << 20

var (
	metaOnce   sync.Once
	metaSchema *jsonschema.Schema
	metaErr    error
)

// MetaSchema returns the compiled JSON Schema (2020-12) that every object definition must pass.
func MetaSchema() (*jsonschema.Schema, error) {
	metaOnce.Do(func() {
		metaSchema, metaErr = compileEmbedded("meta/object.schema.json")
	})
	return metaSchema, metaErr
}

// compileEmbedded compiles one of the package's embedded JSON Schemas.
func compileEmbedded(name string) (*jsonschema.Schema, error) { return CompileSchema(files, name) }

// Load reads every *.json object definition at the top of fsys, checks each against the
// meta-schema and then checks their meaning together (see [Validate]). It returns the objects
// sorted by name, or [Errors] listing every problem found.
func Load(fsys fs.FS) ([]*Object, error) {
	names, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var (
		objs []*Object
		errs Errors
		src  = map[*Object]*lineIndex{}
		file = map[*Object]string{}
	)
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			errs = append(errs, &Error{File: name, Message: "cannot read: " + err.Error()})
			continue
		}
		obj, li, ferrs := Parse(name, data)
		errs = append(errs, ferrs...)
		if obj != nil {
			objs = append(objs, obj)
			src[obj] = li
			file[obj] = name
		}
	}
	if len(names) == 0 {
		errs = append(errs, &Error{File: ".", Message: "no *.json object definitions found"})
	}
	structural := slices.Clone(errs)
	for _, e := range validate(objs, func(o *Object) string { return file[o] }) {
		if coveredBy(structural, e) {
			continue // the same place already has a structural problem
		}
		for o, f := range file {
			if f == e.File && e.Line == 0 {
				e.Line = src[o].line(e.Pointer)
			}
		}
		errs = append(errs, e)
	}
	if err := errs.errOrNil(); err != nil {
		return nil, err
	}
	sort.Slice(objs, func(i, j int) bool { return objs[i].Name < objs[j].Name })
	return objs, nil
}

// coveredBy reports whether errs already hold a problem of e's file at e's JSON pointer or at
// one of its parents.
func coveredBy(errs Errors, e *Error) bool {
	for _, x := range errs {
		if x.File == e.File && (x.Pointer == e.Pointer || x.Pointer != "" && strings.HasPrefix(e.Pointer, x.Pointer+"/")) {
			return true
		}
	}
	return false
}

// Parse decodes one definition file and checks it against the meta-schema. It does not check
// the object's meaning against other objects; [Load] and [Validate] do. When the file breaks
// the meta-schema, Parse returns the errors and, if the file decodes at all, the object
// decoded leniently, so that [Load] can report its other problems too.
func Parse(file string, data []byte) (*Object, *lineIndex, Errors) {
	if len(data) > maxFileSize {
		return nil, nil, Errors{{File: file, Message: fmt.Sprintf("file is larger than %d bytes", maxFileSize)}}
	}
	li := indexLines(data)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, li, Errors{syntaxError(file, data, err)}
	}
	meta, err := MetaSchema()
	if err != nil {
		return nil, li, Errors{{File: file, Message: "meta-schema: " + err.Error()}}
	}
	if err := meta.Validate(doc); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			return nil, li, Errors{{File: file, Message: err.Error()}}
		}
		errs := schemaErrors(file, li, ve)
		// Decode what can be decoded anyway, so that [Load] also reports the problems of
		// meaning in the rest of the file; the object is never returned as valid.
		var partial Object
		_ = json.Unmarshal(data, &partial)
		if partial.Name == "" {
			return nil, li, errs
		}
		return &partial, li, errs
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	var obj Object
	if err := dec.Decode(&obj); err != nil {
		return nil, li, Errors{syntaxError(file, data, err)}
	}
	return &obj, li, nil
}

var printer = message.NewPrinter(language.English)

// schemaErrors flattens a jsonschema validation error into one located [Error] per failing leaf.
func schemaErrors(file string, li *lineIndex, ve *jsonschema.ValidationError) Errors {
	var errs Errors
	seen := map[string]bool{}
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		// A failed oneOf over the shapes of a value reads best as one message.
		if _, ok := e.ErrorKind.(*kind.OneOf); ok || len(e.Causes) == 0 {
			ptr := pointerOf(e.InstanceLocation)
			msg := e.ErrorKind.LocalizedString(printer)
			switch k := e.ErrorKind.(type) {
			case *kind.OneOf:
				msg = "has the wrong shape: " + causesText(e)
			case *kind.AdditionalProperties:
				// Point at the unknown key itself, so the line is right.
				if len(k.Properties) == 1 {
					ptr += "/" + escapePointer(k.Properties[0])
					msg = fmt.Sprintf("unknown property %q", k.Properties[0])
				}
			}
			if key := ptr + "\x00" + msg; !seen[key] {
				seen[key] = true
				errs = append(errs, &Error{File: file, Line: li.line(ptr), Pointer: ptr, Message: msg})
			}
			return
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(ve)
	return errs
}

func causesText(e *jsonschema.ValidationError) string {
	var parts []string
	var walk func(e *jsonschema.ValidationError)
	walk = func(e *jsonschema.ValidationError) {
		if len(e.Causes) == 0 {
			parts = append(parts, e.ErrorKind.LocalizedString(printer))
		}
		for _, c := range e.Causes {
			walk(c)
		}
	}
	walk(e)
	return strings.Join(parts, ", or ")
}

func pointerOf(tokens []string) string {
	var b strings.Builder
	for _, t := range tokens {
		b.WriteByte('/')
		b.WriteString(escapePointer(t))
	}
	return b.String()
}

// fileName is the conventional definition file name of an object.
func fileName(object string) string { return path.Clean(object + ".json") }

// CompileSchema compiles the JSON Schema file name of fsys (for other definition formats:
// workflows, forms).
func CompileSchema(fsys fs.FS, name string) (*jsonschema.Schema, error) {
	data, err := fs.ReadFile(fsys, name)
	if err != nil {
		return nil, err
	}
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", name, err)
	}
	c := jsonschema.NewCompiler()
	c.AssertFormat()
	if err := c.AddResource(name, doc); err != nil {
		return nil, err
	}
	return c.Compile(name)
}

// CheckJSON parses data as JSON and validates it against sch. Every problem is returned
// located by file, line and JSON pointer; nil means the document is valid.
func CheckJSON(file string, data []byte, sch *jsonschema.Schema) Errors {
	li := indexLines(data)
	doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(data))
	if err != nil {
		return Errors{syntaxError(file, data, err)}
	}
	if err := sch.Validate(doc); err != nil {
		var ve *jsonschema.ValidationError
		if !errors.As(err, &ve) {
			return Errors{{File: file, Message: err.Error()}}
		}
		return schemaErrors(file, li, ve)
	}
	return nil
}

// Locate fills in the line of every error of file whose line is unknown, from the file's data.
func Locate(errs Errors, file string, data []byte) {
	li := indexLines(data)
	for _, e := range errs {
		if e.File == file && e.Line == 0 {
			e.Line = li.line(e.Pointer)
		}
	}
}

// Err returns es as an error, or nil when es holds no problem; problems are sorted by file,
// line and pointer.
func (es Errors) Err() error { return es.errOrNil() }
