package dedupe

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas"
)

// Collection holds one row per merge: what undo needs, and the redirect of the merged-away id.
const Collection = "relata_merges"

// Errors of [Service.Merge] and [Service.Undo].
var (
	// ErrNotFound: no such object, record or merge.
	ErrNotFound = errors.New("not found")
	// ErrChanged: a merge cannot be undone because what it wrote changed since.
	ErrChanged = errors.New("changed since the merge")
)

// textRefs are Relata's collections that name a record by object and id in text fields
// rather than by a relation: a merge moves them to the winner too.
var textRefs = []struct{ collection, object, record string }{
	{"workflow_runs", "object", "record_id"},
	{"workflow_events", "object", "record_id"},
	{"emails", "object", "record_id"},
	{"consents", "object", "record_id"},
	{"form_submissions", "object", "record_id"},
	{"stage_changes", "object", "record"},
}

// savedViews hold filters that may name the loser's id.
const savedViews = "saved_views"

// MergeOptions says which two records to merge and which values survive.
type MergeOptions struct {
	Object string
	// Winner is kept; Loser is merged into it and deleted, its id redirecting to Winner.
	Winner, Loser string
	// Take names the fields whose value comes from the loser. Every other field keeps the
	// winner's value, or takes the loser's where the winner's is empty; lists (tags, multiple
	// selects and relations) get both records' values, the winner's first.
	Take []string
	// Keep names fields whose winner's value stays as it is, even when empty.
	Keep []string
}

// Moved is one reference a merge re-pointed from the loser to the winner.
type Moved struct {
	Collection string `json:"collection"`
	Record     string `json:"record"`
	Field      string `json:"field"`
	Before     any    `json:"before"`
	After      any    `json:"after"`
}

// Result is a merge done.
type Result struct {
	ID     string `json:"id"`
	Object string `json:"object"`
	Winner string `json:"winner"`
	Loser  string `json:"loser"`
	// Fields are the winner's fields that took the loser's value.
	Fields []string `json:"fields"`
	// Repointed are the references moved from the loser to the winner (by an undo: back to
	// the loser) that the caller may view.
	Repointed []Moved `json:"repointed"`
	// RepointedHidden counts the references moved in records the caller may not view: moved
	// all the same (leaving them pointing at nothing would lose data), but not named. Only
	// managers and admins get the count (of system records: runs, emails, consents); for a
	// sales user it would count records of other teams, so it is 0.
	RepointedHidden int `json:"repointedHidden"`
}

// origin attributes the merge's saves in the audit trail.
func origin(c schemas.Caller, via string) schemas.Origin {
	switch {
	case c.IsSuperuser():
		return schemas.Origin{Kind: schemas.OriginSuperuser, ID: c.Auth().Id, Via: via}
	case c.Auth() != nil:
		return schemas.Origin{Kind: schemas.OriginUser, ID: c.Auth().Id, Via: via}
	}
	return schemas.Origin{Kind: schemas.OriginSystem, Via: via}
}

func forbidden(format string, args ...any) error {
	return &schemas.AccessError{Where: "object", Message: fmt.Sprintf(format, args...)}
}

// Merge merges opts.Loser into opts.Winner for c, in one transaction: every reference to
// the loser — relation fields of every collection (single and multiple), the text
// references of workflow runs, emails, consents, form submissions and stage changes, and
// saved views' filters — is moved to the winner; the winner takes the chosen values; the
// loser is deleted (to the trash, audited) and its id redirects to the winner. c must be
// allowed to view and update both records and to delete the loser, as the REST API decides;
// a record c may not view is [ErrNotFound], as one that is not there.
func (s *Service) Merge(c schemas.Caller, opts MergeOptions) (*Result, error) {
	app := s.app
	o, ok := s.reg.Object(opts.Object)
	if !ok {
		return nil, fmt.Errorf("object %q: %w", opts.Object, ErrNotFound)
	}
	if opts.Winner == opts.Loser {
		return nil, errors.New("a record cannot be merged into itself")
	}
	coll, err := app.FindCachedCollectionByNameOrId(o.Name)
	if err != nil {
		return nil, fmt.Errorf("object %q: %w", o.Name, ErrNotFound)
	}
	// A record the caller may not view is not found, as the REST API answers: neither its
	// existence nor anything of it (its files below) is told.
	found := func(id string) (*core.Record, error) {
		rec, err := app.FindRecordById(coll, id)
		if err != nil {
			return nil, fmt.Errorf("%s %q: %w", o.Name, id, ErrNotFound)
		}
		if ok, err := c.CanView(app, rec); err != nil {
			return nil, err
		} else if !ok {
			return nil, fmt.Errorf("%s %q: %w", o.Name, id, ErrNotFound)
		}
		return rec, nil
	}
	winner, err := found(opts.Winner)
	if err != nil {
		return nil, err
	}
	loser, err := found(opts.Loser)
	if err != nil {
		return nil, err
	}
	// PocketBase deletes a record's files with it, and undo could not bring them back.
	for _, f := range coll.Fields {
		if f.Type() == core.FieldTypeFile && !empty(loser.Get(f.GetName())) {
			return nil, fmt.Errorf("%s %s has files in %q, which the merge would delete: move them to the kept record or remove them first", o.Name, loser.Id, f.GetName())
		}
	}
	for _, f := range slices.Concat(opts.Take, opts.Keep) {
		if o.Field(f) == nil {
			return nil, fmt.Errorf("--field %s: %s has no field %q", f, o.Name, f)
		}
	}
	// The winner's new values.
	changes := map[string]any{}
	before := map[string]any{}
	var took []string
	for _, f := range o.Fields {
		if f.Type == schemas.TypeFile || coll.Fields.GetByName(f.Name) == nil {
			continue // files stay with their record: copying them is not a merge's business
		}
		wv, lv := winner.Get(f.Name), loser.Get(f.Name)
		var nv any
		switch {
		case slices.Contains(opts.Take, f.Name):
			nv = lv
		case slices.Contains(opts.Keep, f.Name):
			nv = wv
		case f.Type == schemas.TypeTags || f.Multiple:
			nv = union(wv, lv)
		case empty(wv) && !empty(lv):
			nv = lv
		default:
			nv = wv
		}
		if !same(nv, wv) {
			changes[f.Name] = nv
			before[f.Name] = wv
			took = append(took, f.Name)
		}
	}
	// As the REST API would decide: c views both (above), may update the winner with the new values
	// (their links checked) and the loser, and may delete the loser.
	probe := winner.Clone()
	for k, v := range changes {
		probe.Set(k, v)
	}
	for _, chk := range []struct {
		what string
		rec  *core.Record
		can  func() (bool, error)
	}{
		{"update", winner, func() (bool, error) { return c.CanUpdate(app, probe, changes) }},
		{"update", loser, func() (bool, error) { return c.CanUpdate(app, loser, map[string]any{}) }},
		{"delete", loser, func() (bool, error) { return c.CanDelete(app, loser) }},
	} {
		ok, err := chk.can()
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, forbidden("you may not %s %s %s", chk.what, o.Name, chk.rec.Id)
		}
	}

	res := &Result{Object: o.Name, Winner: winner.Id, Loser: loser.Id, Fields: took}
	ctx := schemas.WithOrigin(schemas.WithoutTriggers(context.Background()), origin(c, "merge"))
	err = app.RunInTransaction(func(tx core.App) error {
		moved, err := repoint(ctx, tx, coll, loser.Id, winner.Id)
		if err != nil {
			return err
		}
		res.Repointed = moved
		loserData := loser.FieldsData()
		if err := tx.DeleteWithContext(ctx, loser); err != nil {
			return fmt.Errorf("delete %s %s: %w", o.Name, loser.Id, err)
		}
		for k, v := range changes {
			winner.Set(k, v)
		}
		if len(changes) > 0 {
			if err := tx.SaveWithContext(ctx, winner); err != nil {
				return fmt.Errorf("update %s %s: %w", o.Name, winner.Id, err)
			}
		}
		after := map[string]any{}
		for k := range changes {
			after[k] = winner.Get(k)
		}
		mcoll, err := tx.FindCachedCollectionByNameOrId(Collection)
		if err != nil {
			return err
		}
		m := core.NewRecord(mcoll)
		m.Set("object", o.Name)
		m.Set("winner", winner.Id)
		m.Set("loser", loser.Id)
		m.Set("loser_title", truncate(loser.GetString(o.TitleField), 300))
		m.Set("loser_data", loserData)
		m.Set("winner_before", before)
		m.Set("winner_after", after)
		m.Set("repointed", moved)
		if a := c.Auth(); a != nil {
			m.Set("merged_by", a.Id)
		}
		if err := tx.SaveNoValidate(m); err != nil {
			return fmt.Errorf("record the merge: %w", err)
		}
		res.ID = m.Id
		return nil
	})
	if err != nil {
		return nil, err
	}
	if res.Repointed, res.RepointedHidden, err = visible(app, c, res.Repointed); err != nil {
		return nil, err
	}
	return res, nil
}

// visible splits moved into the references c may view, as the REST API decides, and the
// number of the others. The system (the command line) and superusers view them all.
func visible(app core.App, c schemas.Caller, moved []Moved) ([]Moved, int, error) {
	out := make([]Moved, 0, len(moved))
	if c.IsSystem() || c.IsSuperuser() {
		return append(out, moved...), 0, nil
	}
	ids := map[string][]string{}
	for _, mv := range moved {
		ids[mv.Collection] = append(ids[mv.Collection], mv.Record)
	}
	viewable := map[string]map[string]bool{}
	for coll, list := range ids {
		v, err := c.ViewableIDs(app, coll, list)
		if err != nil {
			return nil, 0, fmt.Errorf("check which moved references of %s the caller may view: %w", coll, err)
		}
		viewable[coll] = v
	}
	for _, mv := range moved {
		if viewable[mv.Collection][mv.Record] {
			out = append(out, mv)
		}
	}
	if a := c.Auth(); a == nil || (a.GetString("role") != schemas.RoleManager && a.GetString("role") != schemas.RoleAdmin) {
		return out, 0, nil // how many records of other teams point at it is theirs to know
	}
	return out, len(moved) - len(out), nil
}

// mayUndo reports whether c may undo merge m: the user (or superuser) who made it, a manager
// or an admin, superusers, and the system (the command line). An undo rewrites every
// reference the merge moved, in records the caller may not see too, so it is for the merge's
// author or for those who see every record, not for anyone who may edit the kept record.
func mayUndo(c schemas.Caller, m *core.Record) bool {
	if c.IsSystem() || c.IsSuperuser() {
		return true
	}
	a := c.Auth()
	if a == nil {
		return false
	}
	if by := m.GetString("merged_by"); by != "" && by == a.Id {
		return true
	}
	role := a.GetString("role")
	return a.Collection().Name == schemas.UsersCollection && (role == schemas.RoleManager || role == schemas.RoleAdmin)
}

// repoint moves every reference to loser (a record of coll) to winner.
func repoint(ctx context.Context, tx core.App, coll *core.Collection, loser, winner string) ([]Moved, error) {
	var moved []Moved
	colls, err := tx.FindAllCollections(core.CollectionTypeBase, core.CollectionTypeAuth)
	if err != nil {
		return nil, err
	}
	for _, other := range colls {
		for _, f := range other.Fields {
			rf, ok := f.(*core.RelationField)
			if !ok || rf.CollectionId != coll.Id {
				continue
			}
			var ids []string
			err := tx.DB().Select("id").From(other.Name).
				Where(dbx.NewExp("[["+rf.Name+"]] = {:id} OR (json_valid([["+rf.Name+"]]) AND EXISTS (SELECT 1 FROM json_each([["+rf.Name+"]]) WHERE value = {:id}))", dbx.Params{"id": loser})).
				Column(&ids)
			if err != nil {
				return nil, fmt.Errorf("find references in %s.%s: %w", other.Name, rf.Name, err)
			}
			for _, id := range ids {
				if other.Id == coll.Id && id == loser {
					continue // the loser's own links go with it
				}
				rec, err := tx.FindRecordById(other, id)
				if err != nil {
					return nil, err
				}
				old := rec.GetStringSlice(rf.Name)
				next := make([]string, 0, len(old))
				for _, v := range old {
					if v == loser {
						v = winner
					}
					if (other.Id == coll.Id && v == id) || slices.Contains(next, v) {
						continue // no record links to itself, nor twice to the winner
					}
					next = append(next, v)
				}
				var b, a any = old, next
				if !rf.IsMultiple() {
					b, a = first(old), first(next)
				}
				rec.Set(rf.Name, a)
				if err := tx.SaveNoValidateWithContext(ctx, rec); err != nil {
					return nil, fmt.Errorf("re-point %s %s: %w", other.Name, id, err)
				}
				moved = append(moved, Moved{Collection: other.Name, Record: id, Field: rf.Name, Before: b, After: a})
			}
		}
	}
	for _, ref := range textRefs {
		if _, err := tx.FindCachedCollectionByNameOrId(ref.collection); err != nil {
			continue
		}
		var ids []string
		err := tx.DB().Select("id").From(ref.collection).
			Where(dbx.HashExp{ref.object: coll.Name, ref.record: loser}).Column(&ids)
		if err != nil {
			return nil, fmt.Errorf("find references in %s: %w", ref.collection, err)
		}
		if len(ids) == 0 {
			continue
		}
		if _, err := tx.DB().Update(ref.collection, dbx.Params{ref.record: winner},
			dbx.HashExp{ref.object: coll.Name, ref.record: loser}).Execute(); err != nil {
			return nil, fmt.Errorf("re-point %s: %w", ref.collection, err)
		}
		for _, id := range ids {
			moved = append(moved, Moved{Collection: ref.collection, Record: id, Field: ref.record, Before: loser, After: winner})
		}
	}
	if _, err := tx.FindCachedCollectionByNameOrId(savedViews); err == nil {
		var views []struct {
			ID    string `db:"id"`
			Query string `db:"query"`
		}
		err := tx.DB().Select("id", "query").From(savedViews).
			Where(dbx.Like("query", loser)).All(&views)
		if err != nil {
			return nil, fmt.Errorf("find saved views: %w", err)
		}
		for _, v := range views {
			next := strings.ReplaceAll(v.Query, loser, winner)
			if _, err := tx.DB().Update(savedViews, dbx.Params{"query": next}, dbx.HashExp{"id": v.ID}).Execute(); err != nil {
				return nil, fmt.Errorf("re-point saved view %s: %w", v.ID, err)
			}
			moved = append(moved, Moved{Collection: savedViews, Record: v.ID, Field: "query", Before: json.RawMessage(v.Query), After: json.RawMessage(next)})
		}
	}
	return moved, nil
}

// Undo reverses merge id for c, in one transaction: the loser comes back with its id, fields
// and dates, the winner's changed fields and every re-pointed reference are restored, and the
// redirect ends. It fails with [ErrChanged] (naming what) when anything the merge wrote has
// changed since. c must be the merge's author, a manager or an admin (or a superuser, or the
// system), and be allowed to view and update the winner and to view the loser brought back;
// the answer lists only the references c may view.
func (s *Service) Undo(c schemas.Caller, id string) (*Result, error) {
	app := s.app
	m, err := app.FindRecordById(Collection, id)
	if err != nil {
		return nil, fmt.Errorf("merge %q: %w", id, ErrNotFound)
	}
	if !mayUndo(c, m) {
		return nil, forbidden("only the user who made merge %s, a manager or an admin may undo it", id)
	}
	if m.GetBool("undone") {
		return nil, fmt.Errorf("merge %s was already undone", id)
	}
	object := m.GetString("object")
	coll, err := app.FindCachedCollectionByNameOrId(object)
	if err != nil {
		return nil, fmt.Errorf("object %q: %w", object, ErrNotFound)
	}
	winner, err := app.FindRecordById(coll, m.GetString("winner"))
	if err != nil {
		return nil, fmt.Errorf("the kept record %s no longer exists: %w", m.GetString("winner"), ErrChanged)
	}
	var before, after, loserData map[string]any
	var moved []Moved
	for field, dst := range map[string]any{"winner_before": &before, "winner_after": &after, "loser_data": &loserData, "repointed": &moved} {
		if err := json.Unmarshal([]byte(m.GetString(field)), dst); err != nil {
			return nil, fmt.Errorf("merge %s: read %s: %w", id, field, err)
		}
	}
	for _, can := range []func() (bool, error){
		func() (bool, error) { return c.CanView(app, winner) },
		func() (bool, error) { return c.CanUpdate(app, winner, before) },
	} {
		ok, err := can()
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, forbidden("you may not update %s %s", object, winner.Id)
		}
	}
	var changed []string
	for k, v := range after {
		if !same(winner.Get(k), v) {
			changed = append(changed, fmt.Sprintf("%s %s: field %s", object, winner.Id, k))
		}
	}
	var refs []Moved // the moved references changed since
	why := map[Moved]string{}
	for _, mv := range moved {
		cur, err := currentValue(app, mv)
		switch {
		case err != nil:
			why[key(mv)] = fmt.Sprintf("%s %s: %v", mv.Collection, mv.Record, err)
		case !same(cur, mv.After):
			why[key(mv)] = fmt.Sprintf("%s %s: field %s", mv.Collection, mv.Record, mv.Field)
		default:
			continue
		}
		refs = append(refs, mv)
	}
	// As the merge's answer: name only the references the caller may view (a sales user who
	// merged her contacts is not told which records of other teams point at them).
	shown, hidden, err := visible(app, c, refs)
	if err != nil {
		return nil, err
	}
	for _, mv := range shown {
		changed = append(changed, why[key(mv)])
	}
	switch {
	case hidden > 0:
		changed = append(changed, fmt.Sprintf("%d references in records you may not view", hidden))
	case len(shown) < len(refs):
		changed = append(changed, "references in records you may not view")
	}
	if len(changed) > 0 {
		slices.Sort(changed)
		return nil, fmt.Errorf("%w: %s", ErrChanged, strings.Join(changed, "; "))
	}
	loserID := m.GetString("loser")
	ctx := schemas.WithOrigin(schemas.WithoutTriggers(context.Background()), origin(c, "merge undo"))
	err = app.RunInTransaction(func(tx core.App) error {
		if len(before) > 0 {
			for k, v := range before {
				winner.Set(k, v)
			}
			if err := tx.SaveWithContext(ctx, winner); err != nil {
				return fmt.Errorf("restore %s %s: %w", object, winner.Id, err)
			}
		}
		rec := core.NewRecord(coll)
		rec.Load(loserData)
		rec.Id = loserID
		if err := tx.SaveWithContext(ctx, rec); err != nil {
			return fmt.Errorf("recreate %s %s: %w", object, loserID, err)
		}
		// As merging needed: the caller views the record she brings back.
		if ok, err := c.CanView(tx, rec); err != nil || !ok {
			if err != nil {
				return err
			}
			return forbidden("you may not view %s %s, which the undo would bring back", object, loserID)
		}
		// back to its own dates
		dates := dbx.Params{}
		for _, k := range []string{"created", "updated"} {
			if v, ok := loserData[k]; ok && coll.Fields.GetByName(k) != nil {
				dates[k] = v
			}
		}
		if len(dates) > 0 {
			if _, err := tx.DB().Update(coll.Name, dates, dbx.HashExp{"id": loserID}).Execute(); err != nil {
				return err
			}
		}
		for i := len(moved) - 1; i >= 0; i-- {
			if err := restore(ctx, tx, moved[i]); err != nil {
				return err
			}
		}
		// the trash's copy of the loser: it is back, so nothing is left to restore
		if _, err := tx.FindCachedCollectionByNameOrId("relata_trash"); err == nil {
			if _, err := tx.DB().Delete("relata_trash", dbx.HashExp{"object": object, "record": loserID}).Execute(); err != nil {
				return err
			}
		}
		m.Set("undone", true)
		now, _ := types.ParseDateTime(time.Now())
		m.Set("undone_at", now)
		return tx.SaveNoValidate(m)
	})
	if err != nil {
		return nil, err
	}
	res := &Result{ID: id, Object: object, Winner: winner.Id, Loser: loserID, Fields: keys(before)}
	if res.Repointed, res.RepointedHidden, err = visible(app, c, moved); err != nil {
		return nil, err
	}
	return res, nil
}

// key is mv without its values, to key a map by.
func key(mv Moved) Moved { return Moved{Collection: mv.Collection, Record: mv.Record, Field: mv.Field} }

func currentValue(app core.App, mv Moved) (any, error) {
	coll, err := app.FindCachedCollectionByNameOrId(mv.Collection)
	if err != nil {
		return nil, err
	}
	rec, err := app.FindRecordById(coll, mv.Record)
	if err != nil {
		return nil, errors.New("deleted since")
	}
	return rec.Get(mv.Field), nil
}

func restore(ctx context.Context, tx core.App, mv Moved) error {
	coll, err := tx.FindCachedCollectionByNameOrId(mv.Collection)
	if err != nil {
		return err
	}
	if _, ok := coll.Fields.GetByName(mv.Field).(*core.RelationField); ok {
		rec, err := tx.FindRecordById(coll, mv.Record)
		if err != nil {
			return err
		}
		rec.Set(mv.Field, mv.Before)
		if err := tx.SaveNoValidateWithContext(ctx, rec); err != nil {
			return fmt.Errorf("restore %s %s: %w", mv.Collection, mv.Record, err)
		}
		return nil
	}
	v := mv.Before
	if _, ok := v.(string); !ok { // a JSON column (saved views' query)
		b, err := json.Marshal(v)
		if err != nil {
			return err
		}
		v = string(b)
	}
	_, err = tx.DB().Update(coll.Name, dbx.Params{mv.Field: v}, dbx.HashExp{"id": mv.Record}).Execute()
	return err
}

// Redirect returns the record that id of object was merged into (following merges of merges),
// or "" when id was never merged away or its merge was undone.
func Redirect(app core.App, object, id string) (string, error) {
	cur := id
	for range 20 {
		var next string
		err := app.ConcurrentDB().Select("winner").From(Collection).
			Where(dbx.HashExp{"object": object, "loser": cur, "undone": false}).
			OrderBy("created DESC").Limit(1).Row(&next)
		if errors.Is(err, sql.ErrNoRows) {
			break
		}
		if err != nil {
			return "", err
		}
		cur = next
	}
	if cur == id {
		return "", nil
	}
	return cur, nil
}

// empty reports whether a field value holds nothing: nil, "", false, 0, an empty list.
func empty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case bool:
		return !x
	case float64:
		return x == 0
	case int:
		return x == 0
	case []string:
		return len(x) == 0
	case []any:
		return len(x) == 0
	case types.DateTime:
		return x.IsZero()
	case types.JSONRaw:
		s := strings.TrimSpace(string(x))
		return s == "" || s == "null" || s == "[]" || s == "{}"
	}
	return false
}

// same compares two values as JSON: a value read back from the stored merge equals the live one.
func same(a, b any) bool {
	ja, err1 := json.Marshal(canonical(a))
	jb, err2 := json.Marshal(canonical(b))
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

// canonical makes a value and its JSON round trip compare equal ([]string and []any, numbers,
// empty lists and nil).
func canonical(v any) any {
	b, err := json.Marshal(v)
	if err != nil {
		return v
	}
	var out any
	if json.Unmarshal(b, &out) != nil {
		return v
	}
	switch x := out.(type) {
	case []any:
		if len(x) == 0 {
			return nil
		}
	case string:
		if x == "" {
			return nil
		}
	}
	return out
}

// union is the values of the lists a and b, a's first, each once.
func union(a, b any) []string {
	out := []string{}
	for _, v := range []any{a, b} {
		list, _ := canonical(v).([]any)
		for _, x := range list {
			if s, ok := x.(string); ok && !slices.Contains(out, s) {
				out = append(out, s)
			}
		}
	}
	return out
}

func first(s []string) string {
	if len(s) == 0 {
		return ""
	}
	return s[0]
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}

func keys(m map[string]any) []string {
	out := make([]string, 0, len(m))
	for k := range m {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
