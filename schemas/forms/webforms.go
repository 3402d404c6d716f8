package forms

import (
	"encoding/json"
	"fmt"
	"strings"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// WebFormsCollection holds the forms written in the web app's form editor. A file form and
// a web form cannot share a slug; files are loaded first and win (a web form saved with a
// file form's slug is refused).
const WebFormsCollection = "web_forms"

// webFormFile names a stored form in error messages.
func webFormFile(slug string) string { return WebFormsCollection + "/" + slug + ".json" }

// parseWebForm checks a stored definition exactly as a file: the form schema, the object
// model and the pickers' filters. It returns the form or the problems, located by line and
// JSON pointer in the definition's text.
func (s *Service) parseWebForm(slug string, data []byte) (*Form, schemas.Errors) {
	file := webFormFile(slug)
	f, errs := Parse(file, data)
	if len(errs) == 0 {
		if f.Slug != slug {
			errs = schemas.Errors{{File: file, Pointer: "/slug", Message: fmt.Sprintf("slug %q differs from the record's slug %q", f.Slug, slug)}}
		} else if errs = Check(f, s.reg.Objects()); len(errs) == 0 {
			if obj, ok := s.reg.Object(f.Object); ok {
				if c, cerrs := compile(f, obj, s.reg.Objects()); len(cerrs) == 0 {
					errs = c.checkPickers(s.app)
				}
			}
		}
		schemas.Locate(errs, file, data)
	}
	return f, errs
}

// loadWebForms returns the valid forms of the web_forms collection whose slugs no file form
// uses. A stored form that no longer fits the model (an object changed) is logged and left
// out; it never stops the server.
func (s *Service) loadWebForms(files []*Form) ([]*Form, error) {
	recs, err := s.app.FindAllRecords(WebFormsCollection)
	if err != nil {
		if _, cerr := s.app.FindCachedCollectionByNameOrId(WebFormsCollection); cerr != nil {
			return nil, nil // no migration yet: no web forms
		}
		return nil, fmt.Errorf("read %s: %w", WebFormsCollection, err)
	}
	taken := map[string]bool{}
	for _, f := range files {
		taken[f.Slug] = true
	}
	var out []*Form
	for _, r := range recs {
		slug := r.GetString("slug")
		if taken[slug] {
			s.app.Logger().Warn("relata: a web form has the slug of a file form; the file wins", "slug", slug)
			continue
		}
		f, errs := s.parseWebForm(slug, []byte(r.GetString("definition")))
		if len(errs) > 0 {
			s.app.Logger().Error("relata: a web form no longer fits the model; it is not served", "slug", slug, "error", errs.Error())
			continue
		}
		out = append(out, f)
	}
	return out, nil
}

// bindWebForms checks every save of a web form like a file and reloads the forms after each
// change.
func (s *Service) bindWebForms() {
	s.app.OnRecordValidate(WebFormsCollection).BindFunc(func(e *core.RecordEvent) error {
		slug := e.Record.GetString("slug")
		if _, isFile := s.fileSlugs()[slug]; isFile {
			return validation.Errors{"slug": validation.NewError("relata_form_slug_taken",
				fmt.Sprintf("a form file already has the slug %q; files take precedence, choose another slug", slug))}
		}
		if _, errs := s.parseWebForm(slug, []byte(e.Record.GetString("definition"))); len(errs) > 0 {
			lines := make([]string, len(errs))
			for i, err := range errs {
				lines[i] = err.Error()
			}
			return validation.Errors{"definition": validation.NewError("relata_form_invalid", strings.Join(lines, "\n"))}
		}
		return e.Next()
	})
	s.app.OnRecordCreateRequest(WebFormsCollection).BindFunc(checkWebFormOwner)
	s.app.OnRecordUpdateRequest(WebFormsCollection).BindFunc(checkWebFormOwner)
	reload := func(e *core.RecordEvent) error {
		if err := s.Load(); err != nil {
			s.app.Logger().Error("relata: reload forms", "error", err)
		}
		return e.Next()
	}
	s.app.OnRecordAfterCreateSuccess(WebFormsCollection).BindFunc(reload)
	s.app.OnRecordAfterUpdateSuccess(WebFormsCollection).BindFunc(reload)
	s.app.OnRecordAfterDeleteSuccess(WebFormsCollection).BindFunc(reload)
}

// fileSlugs are the slugs of the forms read from files at the last load.
func (s *Service) fileSlugs() map[string]struct{} {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make(map[string]struct{}, len(s.fromFile))
	for slug := range s.fromFile {
		out[slug] = struct{}{}
	}
	return out
}

// checkWebFormOwner refuses a form saved through the API whose owner (a user's email) is set
// to an address the editor may not read: the form's records would carry that user's id, so
// a manager guessing addresses would learn which hidden ones belong to whom. An address of
// no user is refused with the same words. An owner left as it was is not checked again.
func checkWebFormOwner(e *core.RecordRequestEvent) error {
	var def struct {
		Owner string `json:"owner"`
	}
	if json.Unmarshal([]byte(e.Record.GetString("definition")), &def) != nil || def.Owner == "" {
		return e.Next() // the definition's own check answers
	}
	if old := e.Record.Original(); !old.IsNew() {
		var was struct {
			Owner string `json:"owner"`
		}
		if json.Unmarshal([]byte(old.GetString("definition")), &was) == nil && strings.EqualFold(was.Owner, def.Owner) {
			return e.Next()
		}
	}
	u, err := e.App.FindAuthRecordByEmail(schemas.UsersCollection, def.Owner)
	if err != nil || !schemas.User(e.Auth).MayReadEmail(u) {
		msg := fmt.Sprintf("/owner: no user shows you the email %q: give the address of a colleague who shows theirs, or use assign", def.Owner)
		return e.BadRequestError(msg, validation.Errors{"definition": validation.NewError("relata_form_owner", msg)})
	}
	return e.Next()
}
