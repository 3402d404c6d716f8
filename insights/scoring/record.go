package scoring

import (
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// StageChange is one entry of a record's stage history.
type StageChange struct {
	To string
	At time.Time
}

// Activity is one activity linked to a record: its type ("meeting") and when it happened
// (done_at, else created).
type Activity struct {
	Type string
	At   time.Time
}

// Record is one record of a scored object with its history: everything the features are
// computed from, at any moment.
type Record struct {
	ID      string
	Created time.Time
	// Stage is the record's current stage.
	Stage string
	// Closed reports whether Stage is a closed stage; Won whether it is a won one.
	Closed, Won bool
	// ClosedAt is when the record closed (closed_at, else its last stage change).
	ClosedAt time.Time
	// Amount is the record's amount in the base currency (0 when it has none). When its
	// currency has no rate, Amount is in that currency and Unconverted is set: the model
	// reads it as is, sums in the base currency (the forecast) leave it out.
	Amount      float64
	Unconverted bool
	// ExpectedClose is the expected_close date, when the object has one and it is set.
	ExpectedClose time.Time
	// Cats holds the categorical values by label ("source", "owner", "industry"); they are
	// the record's current values (fields that do not change once a record is closed).
	Cats map[string]string
	// Counts holds the size of each multiple relation ("contacts").
	Counts map[string]float64
	// Stages is the stage history, oldest first.
	Stages []StageChange
	// Activities are the linked activities, oldest first.
	Activities []Activity
}

// ScoredAt returns the moment the record is scored at: when it closed, else now.
func (r *Record) ScoredAt(now time.Time) time.Time {
	if r.Closed {
		return r.ClosedAt
	}
	return now
}

// Window is the number of days "recent" activities are counted over.
const Window = 21

// Snapshot is what was known of a record at one moment: the features' raw values.
type Snapshot struct {
	ID          string
	Stage       string
	DaysInStage float64
	AgeDays     float64
	Amount      float64
	Cats        map[string]string
	Counts      map[string]float64
	// Recent counts activities by type in the [Window] days before the moment; Total all
	// activities by type before it.
	Recent, Total map[string]float64
	// DaysSinceTouch is the time since the last activity (or since creation).
	DaysSinceTouch float64
}

// At returns what was known of r just before t: the stage it was in (a stage change at t
// itself, such as the change to "won", is not yet known), and only the activities that
// happened before t. Nothing after t is read, so closed records scored at their close
// carry no trace of their outcome.
func (r *Record) At(t time.Time) Snapshot {
	s := Snapshot{ID: r.ID, Cats: r.Cats, Counts: r.Counts, Amount: r.Amount,
		Recent: map[string]float64{}, Total: map[string]float64{}}
	since := r.Created
	for _, c := range r.Stages {
		if !c.At.Before(t) {
			break
		}
		s.Stage, since = c.To, c.At
	}
	if s.Stage == "" && !r.Closed {
		s.Stage = r.Stage
	}
	s.DaysInStage = days(t.Sub(since))
	s.AgeDays = days(t.Sub(r.Created))
	last := r.Created
	from := t.AddDate(0, 0, -Window)
	for _, a := range r.Activities {
		if !a.At.Before(t) {
			break
		}
		s.Total[a.Type]++
		if !a.At.Before(from) {
			s.Recent[a.Type]++
		}
		last = a.At
	}
	s.DaysSinceTouch = days(t.Sub(last))
	return s
}

func days(d time.Duration) float64 { return max(0, d.Hours()/24) }

// Data is a scored object's records with what the stage probability needs.
type Data struct {
	Object  string
	Records []*Record
	// StageProb is each stage's probability (0–1) as the pipeline defines it.
	StageProb map[string]float64
	// StageLabels maps stage names to labels.
	StageLabels map[string]string
	// Lead is set for a lead object: "won" means converted, and a record's stage is its
	// lifecycle value (see [DefaultLeads]).
	Lead bool
}

// Load reads every record of object with its stage history and activities. Amounts are
// converted to the base currency at today's rates ([schemas.LoadRates]); categorical values
// are the object's single select fields, its owner (by name), and the select fields and
// country of the records its single relations point to (a deal's company). It reads as the
// server, for the commands and for training; callers serving a user check access first.
func Load(app core.App, reg *schemas.Registry, object string) (*Data, error) {
	return load(app, reg, object, nil)
}

// LoadRecord is [Load] for one record of object: only its own history is read.
func LoadRecord(app core.App, reg *schemas.Registry, rec *core.Record) (*Record, *Data, error) {
	d, err := load(app, reg, rec.Collection().Name, []*core.Record{rec})
	if err != nil {
		return nil, nil, err
	}
	return d.Records[0], d, nil
}

// LoadRecords is [Load] for the given records of object (all of one collection): only their
// own histories are read, in one query each for stages and activities. Data.Records keeps
// the order of recs.
func LoadRecords(app core.App, reg *schemas.Registry, object string, recs []*core.Record) (*Data, error) {
	if recs == nil {
		recs = []*core.Record{} // none, not all
	}
	return load(app, reg, object, recs)
}

// load reads the given records (only != nil) or all the records of object.
func load(app core.App, reg *schemas.Registry, object string, only []*core.Record) (*Data, error) {
	o, ok := reg.Object(object)
	if !ok {
		return nil, fmt.Errorf("no object named %q (known: %s)", object, strings.Join(reg.ObjectNames(), ", "))
	}
	oc, err := outcomeOf(o)
	if err != nil {
		return nil, err
	}
	rates, err := schemas.LoadRates(app, time.Now())
	if err != nil {
		return nil, err
	}
	rows := only
	var ids []string
	if only != nil {
		ids = make([]string, 0, len(only))
		for _, r := range only {
			ids = append(ids, r.Id)
		}
	} else if rows, err = app.FindAllRecords(object); err != nil {
		return nil, fmt.Errorf("read %s: %w", object, err)
	}
	// The owners' names (of the given records' owners only: a page of a forecast reads the
	// users it names, not every user).
	users := map[string]string{}
	uq := app.DB().Select("id", "name").From(schemas.UsersCollection)
	if only != nil {
		var owners []any
		seen := map[string]bool{}
		for _, f := range o.Fields {
			if f.Type != schemas.TypeOwner || f.Multiple {
				continue
			}
			for _, r := range only {
				if id := r.GetString(f.Name); id != "" && !seen[id] {
					seen[id] = true
					owners = append(owners, id)
				}
			}
		}
		uq.Where(dbx.In("id", owners...)) // none: no user
	}
	var ur []struct {
		ID   string `db:"id"`
		Name string `db:"name"`
	}
	if err := uq.All(&ur); err == nil {
		for _, u := range ur {
			name := u.Name
			if name == "" {
				name = u.ID
			}
			users[u.ID] = name
		}
	}
	// The records single relations point to, by field.
	related := map[string]map[string]*core.Record{}
	for _, f := range o.Fields {
		if f.Type != schemas.TypeRelation || f.Multiple {
			continue
		}
		var recs []*core.Record
		if only != nil {
			var targets []string
			for _, r := range only {
				if id := r.GetString(f.Name); id != "" && !slices.Contains(targets, id) {
					targets = append(targets, id)
				}
			}
			if len(targets) > 0 {
				recs, err = app.FindRecordsByIds(f.Target, targets)
			}
		} else {
			recs, err = app.FindAllRecords(f.Target)
		}
		if err != nil {
			return nil, fmt.Errorf("read %s: %w", f.Target, err)
		}
		m := make(map[string]*core.Record, len(recs))
		for _, r := range recs {
			m[r.Id] = r
		}
		related[f.Name] = m
	}
	byID := make(map[string]*Record, len(rows))
	out := make([]*Record, 0, len(rows))
	updated := map[string]time.Time{} // leads without a history closed when last updated
	for _, row := range rows {
		r := &Record{ID: row.Id, Created: row.GetDateTime(schemas.FieldCreated).Time(), Stage: row.GetString(oc.field),
			Cats: map[string]string{}, Counts: map[string]float64{}}
		r.Won, r.Closed = oc.won[r.Stage], oc.closed(r.Stage)
		for _, f := range o.Fields {
			switch {
			case f.Type == schemas.TypeCurrency && r.Amount == 0:
				code := row.GetString(f.Name + schemas.CurrencySuffix)
				if code == "" {
					code = f.Currency
				}
				v := row.GetFloat(f.Name)
				if conv, ok := rates.Convert(v, code); ok {
					v = conv
				} else if v != 0 {
					r.Unconverted = true
				}
				r.Amount = v
			case f.Type == schemas.TypeSelect && !f.Multiple && f.Name != oc.field:
				// (a lead's lifecycle field is its outcome: never a feature)
				r.Cats[f.Name] = row.GetString(f.Name)
			case f.Type == schemas.TypeOwner && !f.Multiple:
				r.Cats[f.Name] = users[row.GetString(f.Name)]
			case f.Type == schemas.TypeRelation && f.Multiple:
				r.Counts[f.Name] = float64(len(row.GetStringSlice(f.Name)))
			case f.Type == schemas.TypeRelation:
				target, _ := reg.Object(f.Target)
				rel := related[f.Name][row.GetString(f.Name)]
				if target == nil {
					continue
				}
				for _, tf := range target.Fields {
					if (tf.Type == schemas.TypeSelect && !tf.Multiple) || (tf.Name == "country" && tf.Type == schemas.TypeText) {
						v := ""
						if rel != nil {
							v = rel.GetString(tf.Name)
						}
						r.Cats[f.Name+"."+tf.Name] = v
					}
				}
			}
		}
		if f := o.Field("closed_at"); f != nil {
			r.ClosedAt = row.GetDateTime(f.Name).Time()
		}
		if oc.lead {
			updated[r.ID] = row.GetDateTime(schemas.FieldUpdated).Time()
		}
		if f := o.Field("expected_close"); f != nil {
			r.ExpectedClose = row.GetDateTime(f.Name).Time()
		}
		byID[r.ID] = r
		out = append(out, r)
	}
	if err := loadStages(app, object, oc.field, ids, byID); err != nil {
		return nil, err
	}
	if err := loadActivities(app, reg, object, ids, byID, false, nil); err != nil {
		return nil, err
	}
	for _, r := range out {
		if r.Closed && r.ClosedAt.IsZero() {
			switch n := len(r.Stages); {
			case n > 0:
				r.ClosedAt = r.Stages[n-1].At
			case !updated[r.ID].IsZero():
				r.ClosedAt = updated[r.ID]
			default:
				r.ClosedAt = r.Created
			}
		}
	}
	return &Data{Object: object, Records: out, StageProb: oc.prob, StageLabels: oc.labels, Lead: oc.lead}, nil
}

// loadStages reads the stage history of the records of byID (of the records ids only, when
// not nil).
func loadStages(app core.App, object, field string, ids []string, byID map[string]*Record) error {
	var rows []struct {
		Record string `db:"record"`
		To     string `db:"to"`
		At     string `db:"at"`
	}
	q := app.DB().Select("record", "to", "at").From("stage_changes").
		Where(dbx.HashExp{"object": object, "field": field})
	if ids != nil {
		q.AndWhere(dbx.In("record", anys(ids)...))
	}
	err := q.OrderBy("at ASC", "rowid ASC").All(&rows)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return fmt.Errorf("read the stage history of %s: %w", object, err)
	}
	for _, row := range rows {
		r := byID[row.Record]
		if r == nil {
			continue
		}
		at, err := parseTime(row.At)
		if err != nil {
			continue
		}
		r.Stages = append(r.Stages, StageChange{To: row.To, At: at})
	}
	return nil
}

// loadActivities reads the activities of every activity object that links to object (to the
// records ids only, when not nil); with doneOnly, of an object with a "done" flag, only
// those done (behaviour rules count what happened, not what is planned). With as, only those
// as may open; without, all of them (as the server).
func loadActivities(app core.App, reg *schemas.Registry, object string, ids []string, byID map[string]*Record, doneOnly bool, as *schemas.Caller) error {
	for _, ao := range reg.Objects() {
		if !ao.Activity {
			continue
		}
		typeCol := ""
		if f := ao.Field("type"); f != nil && f.Type == schemas.TypeSelect {
			typeCol = "type"
		}
		for _, f := range ao.Fields {
			if f.Type != schemas.TypeRelation || f.Multiple || f.Target != object {
				continue
			}
			q := app.DB().Select(f.Name+" AS rec", "created").From(ao.Name).
				Where(dbx.NewExp("[[" + f.Name + "]] != ''"))
			if ids != nil {
				q.AndWhere(dbx.In(f.Name, anys(ids)...))
			}
			if d := ao.Field("done"); doneOnly && d != nil && d.Type == schemas.TypeBoolean {
				q.AndWhere(dbx.HashExp{"done": true}) // a planned meeting is not one held
			}
			if ao.Field("done_at") != nil {
				q.AndSelect("done_at")
			} else {
				q.AndSelect("created AS done_at")
			}
			if typeCol != "" {
				q.AndSelect("type")
			} else {
				q.AndSelect("id AS type")
			}
			var rows []struct {
				ID      string `db:"id"`
				Rec     string `db:"rec"`
				Created string `db:"created"`
				DoneAt  string `db:"done_at"`
				Type    string `db:"type"`
			}
			if err := q.AndSelect("id").All(&rows); err != nil {
				return fmt.Errorf("read the %s of %s: %w", ao.Name, object, err)
			}
			open, err := viewable(app, as, ao.Name, len(rows), func(i int) string { return rows[i].ID })
			if err != nil {
				return err
			}
			for _, row := range rows {
				r := byID[row.Rec]
				if r == nil || (as != nil && !open[row.ID]) {
					continue
				}
				at, err := parseTime(row.DoneAt)
				if err != nil || at.IsZero() {
					if at, err = parseTime(row.Created); err != nil {
						continue
					}
				}
				typ := row.Type
				if typeCol == "" || typ == "" {
					typ = ao.Name
				}
				r.Activities = append(r.Activities, Activity{Type: typ, At: at})
			}
		}
	}
	for _, r := range byID {
		slices.SortStableFunc(r.Activities, func(a, b Activity) int { return a.At.Compare(b.At) })
	}
	return nil
}

// EngagementPrefix prefixes the activity types of campaign engagement: a contact's
// "campaign_open", "campaign_click", "campaign_reply", "campaign_bounce" and
// "campaign_unsubscribe" (the campaign_events of workflows/campaigns), which behaviour rules
// of a contacts score count like activities, e.g. {"activity": "campaign_click", "points": 5}.
const EngagementPrefix = "campaign_"

// loadEngagement adds the campaign events of contacts (to the records ids only, when not nil)
// to their activities, for rule-based scores (not for the win-probability features). Without
// campaigns (no campaign_events collection) it adds nothing.
func loadEngagement(app core.App, object string, ids []string, byID map[string]*Record, as *schemas.Caller) error {
	if object != "contacts" {
		return nil
	}
	if _, err := app.FindCachedCollectionByNameOrId("campaign_events"); err != nil {
		return nil
	}
	q := app.DB().Select("id", "contact", "type", "created").From("campaign_events").Where(dbx.NewExp("[[contact]] != ''"))
	if ids != nil {
		q.AndWhere(dbx.In("contact", anys(ids)...))
	}
	var rows []struct {
		ID      string `db:"id"`
		Contact string `db:"contact"`
		Type    string `db:"type"`
		Created string `db:"created"`
	}
	if err := q.All(&rows); err != nil {
		return fmt.Errorf("read the campaign events of contacts: %w", err)
	}
	open, err := viewable(app, as, "campaign_events", len(rows), func(i int) string { return rows[i].ID })
	if err != nil {
		return err
	}
	touched := map[*Record]bool{}
	for _, row := range rows {
		r := byID[row.Contact]
		at, err := parseTime(row.Created)
		if r == nil || err != nil || at.IsZero() || (as != nil && !open[row.ID]) {
			continue
		}
		r.Activities = append(r.Activities, Activity{Type: EngagementPrefix + row.Type, At: at})
		touched[r] = true
	}
	for r := range touched {
		slices.SortStableFunc(r.Activities, func(a, b Activity) int { return a.At.Compare(b.At) })
	}
	return nil
}

// viewable returns which of n records of collection (the ith's id is id(i)) as may open
// (their view rule; nil when as is nil), 500 per query: the rule is checked on those records
// alone, not on every record of the collection (a manager's rule matches them all).
func viewable(app core.App, as *schemas.Caller, collection string, n int, id func(int) string) (map[string]bool, error) {
	if as == nil {
		return nil, nil
	}
	out := map[string]bool{}
	for from := 0; from < n; from += 500 {
		ids := make([]string, 0, min(500, n-from))
		for i := from; i < min(from+500, n); i++ {
			ids = append(ids, id(i))
		}
		ok, err := as.ViewableIDs(app, collection, ids)
		if err != nil {
			return nil, fmt.Errorf("check the %s the caller may open: %w", collection, err)
		}
		for id, v := range ok {
			out[id] = out[id] || v
		}
	}
	return out, nil
}

func anys(ids []string) []any {
	out := make([]any, len(ids))
	for i, id := range ids {
		out[i] = id
	}
	return out
}

func parseTime(s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	for _, layout := range []string{"2006-01-02 15:04:05.000Z", "2006-01-02 15:04:05Z", time.RFC3339Nano, time.DateOnly} {
		if t, err := time.Parse(layout, s); err == nil {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("%q is not a date", s)
}
