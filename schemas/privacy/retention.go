package privacy

import (
	"encoding/json"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/audit"
)

// PoliciesCollection holds the retention policies, editable by admins (in the web app, the
// dashboard or the REST API). The migrations add the defaults.
const PoliciesCollection = "retention_policies"

// Retention actions.
const (
	// ActionAnonymise erases the person a record is about, as [Erase] does (for objects).
	ActionAnonymise = "anonymise"
	// ActionDelete deletes the records (for objects: each person erased first, so nothing of
	// them stays elsewhere; for system collections: the rows).
	ActionDelete = "delete"
	// ActionClear empties the policy's fields (e.g. IP and user agent of form submissions).
	ActionClear = "clear"
)

// Policy is one retention rule: records of Collection whose Field is older than After get
// Action.
type Policy struct {
	ID         string   `json:"id"`
	Name       string   `json:"name"`
	Collection string   `json:"collection"`
	Field      string   `json:"field"`
	After      string   `json:"after"`
	Action     string   `json:"action"`
	Fields     []string `json:"fields,omitempty"`
	Enabled    bool     `json:"enabled"`
}

var durationRe = regexp.MustCompile(`^(\d+)\s*(d|days?|w|weeks?|mo|months?|y|years?)$`)

// ParseAge reads a retention age: "90d", "12 months", "2y" (days, weeks, months, years).
func ParseAge(s string) (years, months, days int, err error) {
	m := durationRe.FindStringSubmatch(strings.ToLower(strings.TrimSpace(s)))
	if m == nil {
		return 0, 0, 0, fmt.Errorf("%q is not an age like 90d, 12 months or 2y", s)
	}
	n, _ := strconv.Atoi(m[1])
	switch {
	case n == 0:
		return 0, 0, 0, fmt.Errorf("%q: the age must be more than 0", s)
	case strings.HasPrefix(m[2], "d"):
		return 0, 0, n, nil
	case strings.HasPrefix(m[2], "w"):
		return 0, 0, 7 * n, nil
	case strings.HasPrefix(m[2], "m"):
		return 0, n, 0, nil
	}
	return n, 0, 0, nil
}

// Cutoff is the instant before which a record falls under p at now.
func (p *Policy) Cutoff(now time.Time) (time.Time, error) {
	y, m, d, err := ParseAge(p.After)
	if err != nil {
		return time.Time{}, err
	}
	return now.AddDate(-y, -m, -d), nil
}

// Validate checks p against the model and the database; errors name the field of the policy.
func (p *Policy) Validate(app core.App, reg *schemas.Registry) error {
	var errs []string
	coll, err := app.FindCachedCollectionByNameOrId(p.Collection)
	_, isObject := reg.Object(p.Collection)
	switch {
	case err != nil:
		errs = append(errs, fmt.Sprintf("collection: %q does not exist", p.Collection))
	case p.Collection != coll.Name:
		// Collection names are case-insensitive to PocketBase and SQLite alike, and the
		// lookup takes ids too: a policy on "Privacy_Requests" or "Contacts" slipped past the
		// checks below (and the erasure objects get) and deleted rows with SQL.
		errs = append(errs, fmt.Sprintf("collection: write %q as %q", p.Collection, coll.Name))
	case strings.HasPrefix(coll.Name, "_") || strings.HasPrefix(coll.Name, "relata_") || coll.Name == RequestsCollection || coll.Name == PoliciesCollection:
		errs = append(errs, fmt.Sprintf("collection: %q is not subject to retention (the audit trail, the register of requests and Relata's internal collections are kept)", p.Collection))
	case coll.IsAuth():
		errs = append(errs, fmt.Sprintf("collection: %q is not subject to retention: users are deleted in the app, with their tokens and their audit", p.Collection))
	default:
		f := coll.Fields.GetByName(p.Field)
		if f == nil || (f.Type() != core.FieldTypeDate && f.Type() != core.FieldTypeAutodate) {
			errs = append(errs, fmt.Sprintf("field: %q is not a date field of %s", p.Field, p.Collection))
		}
		for _, name := range p.Fields {
			if g := coll.Fields.GetByName(name); g == nil || g.GetSystem() || name == "id" {
				errs = append(errs, fmt.Sprintf("fields: %q is not a field of %s that can be cleared", name, p.Collection))
			}
		}
	}
	if _, _, _, err := ParseAge(p.After); err != nil {
		errs = append(errs, "after: "+err.Error())
	}
	switch p.Action {
	case ActionAnonymise:
		if !isObject {
			errs = append(errs, fmt.Sprintf("action: anonymise works on CRM objects, not on %s: use clear or delete", p.Collection))
		}
	case ActionClear:
		if len(p.Fields) == 0 {
			errs = append(errs, "fields: name the fields to clear")
		}
	case ActionDelete:
	default:
		errs = append(errs, fmt.Sprintf("action: %q is not anonymise, delete or clear", p.Action))
	}
	if len(errs) > 0 {
		return errors.New(strings.Join(errs, "; "))
	}
	return nil
}

// Policies reads the retention policies.
func Policies(app core.App) ([]*Policy, error) {
	recs, err := app.FindAllRecords(PoliciesCollection)
	if err != nil {
		return nil, fmt.Errorf("privacy: read the retention policies: %w", err)
	}
	out := make([]*Policy, 0, len(recs))
	for _, r := range recs {
		var fields []string
		_ = json.Unmarshal([]byte(r.GetString("fields")), &fields)
		out = append(out, &Policy{ID: r.Id, Name: r.GetString("name"), Collection: r.GetString("collection"),
			Field: r.GetString("field"), After: r.GetString("after"), Action: r.GetString("action"),
			Fields: fields, Enabled: r.GetBool("enabled")})
	}
	slices.SortFunc(out, func(a, b *Policy) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Outcome is what one policy did (or would do, in a dry run).
type Outcome struct {
	Policy  string `json:"policy"`
	Cutoff  string `json:"cutoff"`
	Matched int    `json:"matched"`
	Done    int    `json:"done"`
	Error   string `json:"error,omitempty"`
}

// Report is the result of a retention run.
type Report struct {
	At       string    `json:"at"`
	DryRun   bool      `json:"dryRun"`
	Outcomes []Outcome `json:"outcomes"`
}

// retentionBatch bounds each transaction of a run.
const retentionBatch = 500

// RunRetention applies every enabled policy at now; a dry run counts what would happen and
// changes nothing. Each policy's last run and report are stored on its record.
func RunRetention(app core.App, reg *schemas.Registry, now time.Time, dryRun bool) (*Report, error) {
	policies, err := Policies(app)
	if err != nil {
		return nil, err
	}
	rep := &Report{At: dbTime(now), DryRun: dryRun}
	compact := false
	for _, p := range policies {
		if !p.Enabled {
			continue
		}
		out := Outcome{Policy: p.Name}
		n, done, err := runPolicy(app, reg, p, now, dryRun)
		out.Matched, out.Done = n, done
		if cutoff, cerr := p.Cutoff(now); cerr == nil {
			out.Cutoff = dbTime(cutoff)
		}
		if err != nil {
			out.Error = err.Error()
		}
		compact = compact || done > 0
		rep.Outcomes = append(rep.Outcomes, out)
		if !dryRun {
			b, _ := json.Marshal(out)
			_, _ = app.DB().Update(PoliciesCollection, dbx.Params{"last_run_at": dbTime(now), "last_report": string(b)},
				dbx.HashExp{"id": p.ID}).Execute()
		}
	}
	if compact {
		if err := Compact(app); err != nil {
			return rep, err
		}
	}
	return rep, nil
}

// runPolicy applies p; it returns how many records matched and how many were handled.
func runPolicy(app core.App, reg *schemas.Registry, p *Policy, now time.Time, dryRun bool) (int, int, error) {
	if err := p.Validate(app, reg); err != nil {
		return 0, 0, err
	}
	cutoff, _ := p.Cutoff(now)
	due := dbx.NewExp("[["+p.Field+"]] != '' AND [["+p.Field+"]] < {:cutoff}", dbx.Params{"cutoff": dbTime(cutoff)})
	if p.Field == schemas.FieldLastTouched {
		// A record never touched counts from its last change.
		due = dbx.NewExp("coalesce(nullif([["+p.Field+"]], ''), [[updated]]) < {:cutoff}", dbx.Params{"cutoff": dbTime(cutoff)})
	}
	if p.Action == ActionClear {
		var or []dbx.Expression
		for _, f := range p.Fields {
			or = append(or, dbx.NewExp("coalesce(CAST([["+f+"]] AS TEXT), '') NOT IN ('', '[]', '{}', 'null')"))
		}
		due = dbx.And(due, dbx.Or(or...))
	}
	var total int
	if err := app.DB().Select("count(*)").From(p.Collection).AndWhere(due).Row(&total); err != nil {
		return 0, 0, fmt.Errorf("count: %w", err)
	}
	if dryRun || total == 0 {
		return total, 0, nil
	}
	done := 0
	for done < total {
		var ids []string
		if err := app.DB().Select("id").From(p.Collection).AndWhere(due).OrderBy("id").Limit(retentionBatch).Column(&ids); err != nil {
			return total, done, err
		}
		if len(ids) == 0 {
			break
		}
		var after []*erasure
		err := app.RunInTransaction(func(tx core.App) error {
			if _, isObject := reg.Object(p.Collection); isObject && p.Action == ActionClear {
				return clearAudited(tx, p, ids, now)
			}
			for _, id := range ids {
				switch p.Action {
				case ActionClear:
					set := dbx.Params{}
					for _, f := range p.Fields {
						set[f] = ""
					}
					if _, err := tx.DB().Update(p.Collection, set, dbx.HashExp{"id": id}).Execute(); err != nil {
						return err
					}
				case ActionDelete, ActionAnonymise:
					if _, isObject := reg.Object(p.Collection); isObject {
						e, err := eraseTx(tx, reg, Subject{RecordID: id}, now, p.Action == ActionAnonymise)
						if err != nil {
							return err
						}
						after = append(after, e)
						continue
					}
					if _, err := tx.DB().NewQuery("PRAGMA secure_delete = ON").Execute(); err != nil {
						return err
					}
					if _, err := tx.DB().Delete(p.Collection, dbx.HashExp{"id": id}).Execute(); err != nil {
						return err
					}
				}
			}
			return nil
		})
		if err != nil {
			return total, done, err
		}
		for _, e := range after {
			if err := e.cleanup(app); err != nil {
				return total, done, err
			}
		}
		done += len(ids)
	}
	return total, done, nil
}

// clearAudited empties p's fields on the records ids of an object, as [RunRetention] does for
// system collections, and keeps the audit trail true to it: each cleared record gets an
// entry of the change (the fields redacted, as erasure writes them), and the fields' values
// are erased from the records' earlier entries — or a rep who may view the record would
// read on its History tab what retention removed.
func clearAudited(tx core.App, p *Policy, ids []string, now time.Time) error {
	actor := audit.Actor{Kind: audit.KindSystem, Via: "retention"}
	in := make([]any, len(ids))
	for i, id := range ids {
		in[i] = id
	}
	var recs []*core.Record
	if err := tx.RecordQuery(p.Collection).AndWhere(dbx.In("id", in...)).All(&recs); err != nil {
		return err
	}
	set := dbx.Params{}
	for _, f := range p.Fields {
		set[f] = ""
	}
	for _, r := range recs {
		changes := map[string]audit.Change{}
		for _, f := range p.Fields {
			if !audit.Blank(r.Get(f)) {
				changes[f] = audit.Change{Redacted: true}
			}
		}
		if _, err := tx.DB().Update(p.Collection, set, dbx.HashExp{"id": r.Id}).Execute(); err != nil {
			return err
		}
		if len(changes) == 0 {
			continue
		}
		if _, err := audit.Append(tx, now, actor, p.Collection, r.Id, audit.ActionUpdate, changes); err != nil {
			return err
		}
	}
	var entries []*audit.Entry
	err := tx.DB().Select("id", "changes").From(audit.Collection).
		AndWhere(dbx.HashExp{"object": p.Collection}).AndWhere(dbx.In("record", in...)).
		AndWhere(dbx.NewExp("changes != {:whole}", dbx.Params{"whole": audit.WholeErasedJSON})).All(&entries)
	if err != nil {
		return fmt.Errorf("read the audit entries of the cleared records: %w", err)
	}
	fields := map[string][]string{}
	for _, en := range entries {
		var changes map[string]audit.Change
		_ = json.Unmarshal([]byte(en.ChangesJSON), &changes)
		for _, f := range p.Fields {
			if c, ok := changes[f]; ok && !c.Redacted && (c.Old != nil || c.New != nil) {
				fields[en.ID] = append(fields[en.ID], f)
			}
		}
	}
	_, err = audit.EraseFields(tx, now, actor, "retention", p.ID, nil, fields)
	return err
}
