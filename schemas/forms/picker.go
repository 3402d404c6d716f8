package forms

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// Pickers offer the records of a relation's target that match the admin's filter, and only
// their id and title leave the server. Who reads them depends on the form ([compiled.pickerReader]):
// on a public form the system (a stranger has no CRM access; the admin's filter is what the
// form publishes), on a private form the signed-in user, through the one access check
// ([schemas.MatchQuery]) — she is offered, and may pick, only records she may view.

// pickerReader is who reads the choices of c's pickers for a request signed in as auth (nil:
// signed out): [schemas.System] for a public form, the user ([schemas.User]) for a private
// one — her list rule applies, as on GET /api/collections/{target}/records; a superuser
// lists every record. A private form never reads as the system: without auth (which its
// routes refuse first) it reads as a guest, who may list no CRM record.
func (c *compiled) pickerReader(auth *core.Record) schemas.Caller {
	if c.form.IsPublic() {
		return schemas.System
	}
	return schemas.User(auth)
}

// pickerQuery is the query of the records a picker offers to as, as [schemas.MatchQuery]
// builds it: the admin's filter and sort, with the package's filter checks, and as's list
// rule when as is a user.
func pickerQuery(app core.App, as schemas.Caller, in *input) (*dbx.SelectQuery, error) {
	sort := in.Picker.Sort
	if sort == "" {
		sort = in.TitleField + ",id"
	}
	if err := checkPickerPaths(app, in, sort); err != nil {
		return nil, err
	}
	return schemas.MatchQuery(app, as, schemas.Query{Object: in.Target, Filter: in.Picker.Filter, Sort: sort})
}

// refusedToUser reports whether err is the access check refusing a user's read of a picker
// (the filter guard, or a target she may not list at all). She is then offered nothing
// rather than an error page: what she may not list, she may not pick. The refusal is logged
// for the admin. The system's refusals are errors of the definition, reported at load.
func refusedToUser(app core.App, as schemas.Caller, in *input, err error) bool {
	if as.IsSystem() || !errors.Is(err, schemas.ErrForbidden) {
		return false
	}
	user := ""
	if a := as.Auth(); a != nil {
		user = a.Id
	}
	app.Logger().Warn("relata: a private form's picker offers a user nothing: the access check refuses its read", "field", in.Name, "target", in.Target, "user", user, "error", err)
	return true
}

// checkPickerPaths refuses a picker's filter or sort that reaches past the CRM objects and
// their users, compares users' emails or crosses more than [schemas.MaxBackRelations]
// back-relations ([schemas.CheckSystemFilter]): a public form's choices are read as the
// system — without rules, hidden fields allowed — and shown to anyone who loads the page, as
// often as they like; managers, who write forms in the form editor, may read none of those.
// Private forms, read as the user, keep the same guard: a definition is checked once, as
// the system, when it loads, whichever way it is later read.
func checkPickerPaths(app core.App, in *input, sort string) error {
	coll, err := app.FindCachedCollectionByNameOrId(in.Target)
	if err != nil {
		return nil // MatchQuery answers an unknown object
	}
	return schemas.CheckSystemFilter(app, coll, in.Picker.Filter, sort, func(name string) bool { return in.Reachable[name] }, "pickers")
}

// pickerChoices returns the choices of a picker offered to as: the id and title of each
// record its filter matches that as may list, at most [MaxPickerChoices].
func pickerChoices(app core.App, as schemas.Caller, in *input) ([]schemas.Option, error) {
	q, err := pickerQuery(app, as, in)
	if err != nil {
		if refusedToUser(app, as, in, err) {
			return nil, nil
		}
		return nil, err
	}
	// Only the id and the title: a public page is anyone's to load, as often as they like, and
	// the records may hold long texts (500 of 90 KB were 45 MB per view).
	var rows []struct {
		ID    string `db:"id"`
		Title string `db:"title"`
	}
	q.Select("[["+in.Target+"]].[[id]] AS [[id]]", "COALESCE(CAST([["+in.Target+"]].[["+in.TitleField+"]] AS TEXT), '') AS [[title]]")
	if err := q.Limit(MaxPickerChoices).All(&rows); err != nil {
		return nil, fmt.Errorf("choices of %s: %w", in.Name, err)
	}
	out := make([]schemas.Option, len(rows))
	for i, r := range rows {
		title := r.Title
		if title == "" {
			title = r.ID
		}
		out[i] = schemas.Option{Value: r.ID, Label: title}
	}
	return out, nil
}

// checkPicked returns an error per picker whose submitted id is not one of the choices it
// offers to as (see [compiled.pickerReader]).
func (c *compiled) checkPicked(tx core.App, as schemas.Caller, doc map[string]any) (storeErrors, error) {
	var errs storeErrors
	for _, in := range c.inputs {
		if in.Kind != kindPicker {
			continue
		}
		id, ok := doc[in.Name].(string)
		if !ok {
			continue
		}
		var found []string
		q, err := pickerQuery(tx, as, in)
		switch {
		case err != nil && refusedToUser(tx, as, in, err):
			// no choices: found stays empty
		case err != nil:
			return nil, fmt.Errorf("picker %s: %w", in.Name, err)
		default:
			err = q.Select("[[" + in.Target + "]].[[id]]").AndWhere(dbx.HashExp{in.Target + ".id": id}).Limit(1).Column(&found)
			if err != nil {
				return nil, fmt.Errorf("picker %s: %w", in.Name, err)
			}
		}
		if len(found) == 0 {
			if errs == nil {
				errs = storeErrors{}
			}
			errs[in.Name] = "is not one of the choices; load the form again and pick one"
		}
	}
	return errs, nil
}

// checkPickers runs every picker's query once, so that a filter naming a field the target
// does not have is reported when the forms load, located in the file.
func (c *compiled) checkPickers(app core.App) schemas.Errors {
	var errs schemas.Errors
	for i, in := range c.inputs {
		if in.Kind != kindPicker {
			continue
		}
		_ = i
		ptr := fmt.Sprintf("/fields/%d/picker", c.fieldIndex(in.Name))
		if _, err := pickerChoices(app, schemas.System, in); err != nil {
			where := "/filter"
			var ae *schemas.AccessError
			if errors.As(err, &ae) && ae.Where == "sort" {
				where = "/sort"
			}
			errs = append(errs, &schemas.Error{File: c.form.file, Pointer: ptr + where,
				Message: fmt.Sprintf("the picker of %q cannot list %s: %v", in.Name, in.Target, err)})
		}
	}
	return errs
}

func (c *compiled) fieldIndex(name string) int {
	for i, ff := range c.form.Fields {
		if ff.Name == name {
			return i
		}
	}
	return -1
}

// capture returns the form's capture of a query parameter, or nil.
func (c *compiled) capture(param string) *capture {
	for _, cp := range c.captures {
		if cp.Param == param {
			return cp
		}
	}
	return nil
}

// prefill returns what the page's address fills in: the values of inputs marked prefill
// that pass the same checks as a submission (others are dropped, never shown as an error
// to a visitor who followed a link), and the captured parameters that are valid.
func (c *compiled) prefill(q url.Values) map[string][]string {
	vals := url.Values{}
	for _, in := range c.inputs {
		if in.Prefill && in.Kind != kindFile && len(q[in.Name]) > 0 {
			vals[in.Name] = q[in.Name]
		}
	}
	for _, cp := range c.captures {
		if v := q.Get(cp.Param); v != "" {
			vals.Set(cp.Param, v)
		}
	}
	if len(vals) == 0 {
		return nil
	}
	sub := c.fromValues(vals, nil)
	errs := c.validate(sub.doc)
	out := map[string][]string{}
	for k, v := range sub.raw {
		if errs[k] == "" && sub.errs[k] == "" {
			out[k] = v
		}
	}
	return out
}

// checkLoaded checks forms against the database once it is ready: pickers' filters. Errors
// carry the file, JSON pointer and line.
func (s *Service) checkLoaded(forms []*Form) error {
	var errs schemas.Errors
	for _, f := range forms {
		obj, ok := s.reg.Object(f.Object)
		if !ok {
			continue
		}
		c, cerrs := compile(f, obj, s.reg.Objects())
		if len(cerrs) > 0 {
			continue // reported by Load
		}
		perrs := c.checkPickers(s.app)
		if len(perrs) == 0 {
			continue
		}
		if data, err := os.ReadFile(f.file); err == nil {
			schemas.Locate(perrs, f.file, data)
		}
		errs = append(errs, perrs...)
	}
	if err := errs.Err(); err != nil {
		return fmt.Errorf("form definitions:\n%w", err)
	}
	return nil
}

// createLinked creates the form's linked records (Form.Create) for rec, in the transaction
// tx that saved rec. A fixed relation value naming a missing record, or a linked record the
// database refuses, fails the whole submission: nothing is saved.
func (s *Service) createLinked(tx core.App, c *compiled, rec *core.Record, now time.Time) error {
	for i, l := range c.form.Create {
		lo, ok := s.reg.Object(l.Object)
		if !ok {
			return fmt.Errorf("linked object %s is not defined", l.Object)
		}
		coll, err := tx.FindCachedCollectionByNameOrId(l.Object)
		if err != nil {
			return err
		}
		vals := make(map[string]any, len(l.Values))
		for k, v := range l.Values {
			if lf := lo.Field(k); lf != nil && (lf.Type == schemas.TypeDate || lf.Type == schemas.TypeDateTime) {
				if str, ok := v.(string); ok && str != "" {
					if v, err = schemas.ResolveDate(str, now); err != nil {
						return fmt.Errorf("create/%d/values/%s: %w", i, k, err)
					}
				}
			}
			vals[k] = v
		}
		if errs := references(tx, lo, vals); len(errs) > 0 {
			s.app.Logger().Error("relata: a form's linked record points to a record that does not exist", "form", c.form.Slug, "create", i, "fields", fmt.Sprint(map[string]string(errs)))
			return storeErrors{KeyForm: "this form cannot take submissions right now: its configuration links to a record that does not exist"}
		}
		lr := core.NewRecord(coll)
		for k, v := range vals {
			lr.Set(k, v)
		}
		lr.Set(l.LinkTo, rec.Id)
		for k, src := range l.Copy {
			lr.Set(k, rec.Get(src))
		}
		if lof, of := lo.OwnerField(), c.obj.OwnerField(); lof != nil && of != nil && !hasKey(vals, lof.Name) && l.Copy[lof.Name] == "" {
			lr.Set(lof.Name, rec.GetString(of.Name))
		}
		if err := tx.Save(lr); err != nil {
			s.app.Logger().Error("relata: a form's linked record was refused", "form", c.form.Slug, "create", i, "error", err)
			var fe storeErrors
			if errors.As(fieldErrorsOf(err), &fe) {
				msgs := make([]string, 0, len(fe))
				for k, m := range fe {
					msgs = append(msgs, k+" "+m)
				}
				slices.Sort(msgs)
				return storeErrors{KeyForm: fmt.Sprintf("the %s record could not be created: %s", singular(l.Object), strings.Join(msgs, "; "))}
			}
			return err
		}
	}
	return nil
}
