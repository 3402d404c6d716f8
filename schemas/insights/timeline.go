package insights

import (
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// ErrNotFound is returned for a record that does not exist or that the caller may not view.
var ErrNotFound = errors.New("insights: no such record")

// Timeline entry kinds.
const (
	KindActivity = "activity"
	KindEmail    = "email"
	KindStage    = "stage"
	KindRun      = "run"
	KindCreated  = "created"
	// KindCampaign is a tracked click or open of a campaign email (workflows/campaigns).
	KindCampaign = "campaign"
)

// Entry is one event in a record's timeline.
type Entry struct {
	Kind  string    `json:"kind"`
	At    time.Time `json:"at"`
	Title string    `json:"title"`
	// ID and Object name the record behind the entry (an activity, an email, a run).
	ID     string `json:"id,omitempty"`
	Object string `json:"object,omitempty"`
	// Activities: their type, details, due date, done flag and assignee.
	Type  string     `json:"type,omitempty"`
	Body  string     `json:"body,omitempty"`
	Due   *time.Time `json:"due,omitempty"`
	Done  bool       `json:"done,omitempty"`
	Owner string     `json:"owner,omitempty"`
	// Status of emails and workflow runs; Error of failed runs, for callers who may read
	// the run (managers and admins: see [Service.Timeline]).
	Status string `json:"status,omitempty"`
	Error  string `json:"error,omitempty"`
	// Stage changes: the field, the stages and who changed it.
	Field string `json:"field,omitempty"`
	From  string `json:"from,omitempty"`
	To    string `json:"to,omitempty"`
	By    string `json:"by,omitempty"`
}

// TimelineLimit caps each kind of entry in one timeline.
const TimelineLimit = 200

// Timeline returns the events of one record, newest first: the activities linked to it (those
// the caller may list), the emails sent about it, its stage changes and the workflow runs it
// started (a run's error only to callers who may read the run). The caller must be allowed to
// view the record.
func (s *Service) Timeline(info *core.RequestInfo, object, id string) ([]Entry, error) {
	obj, ok := s.reg.Object(object)
	if !ok {
		return nil, ErrNotFound
	}
	rec, err := s.app.FindRecordById(obj.Name, id)
	if err != nil {
		return nil, ErrNotFound
	}
	if ok, err := schemas.Request(info).CanView(s.app, rec); err != nil || !ok {
		return nil, ErrNotFound
	}
	out := []Entry{{Kind: KindCreated, At: rec.GetDateTime(schemas.FieldCreated).Time(), Title: "Created"}}
	acts, err := s.activities(info, obj, id)
	if err != nil {
		return nil, err
	}
	out = append(out, acts...)
	for _, src := range []func(*core.RequestInfo, *schemas.Object, string) ([]Entry, error){s.emails, s.stageChanges, s.runs, s.campaignEvents} {
		es, err := src(info, obj, id)
		if err != nil {
			return nil, err
		}
		out = append(out, es...)
	}
	sort.SliceStable(out, func(i, j int) bool { return out[i].At.After(out[j].At) })
	return out, nil
}

// activities lists the records of activity objects that link to the record.
func (s *Service) activities(info *core.RequestInfo, obj *schemas.Object, id string) ([]Entry, error) {
	var out []Entry
	for _, act := range s.reg.Objects() {
		if !act.Activity {
			continue
		}
		var conds []dbx.Expression
		for _, f := range act.Fields {
			if f.Type != schemas.TypeRelation || f.Target != obj.Name {
				continue
			}
			col := act.Name + "." + f.Name
			if f.Multiple {
				conds = append(conds, dbx.NewExp("EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid([["+col+"]]) THEN [["+col+"]] ELSE '[]' END) je WHERE je.value = {:timelineID})", dbx.Params{"timelineID": id}))
			} else {
				conds = append(conds, dbx.HashExp{col: id})
			}
		}
		if len(conds) == 0 {
			continue
		}
		coll, err := s.app.FindCachedCollectionByNameOrId(act.Name)
		if err != nil {
			continue
		}
		recs, err := s.listScoped(coll, info, dbx.Or(conds...), act.Name+".created DESC", TimelineLimit)
		if errors.Is(err, ErrForbidden) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("timeline activities of %s %s: %w", obj.Name, id, err)
		}
		// the activity's fields as the REST API shows them to the caller: no hidden ones
		hidden := hiddenFor(coll, schemas.Request(info))
		str := func(r *core.Record, name string) string {
			if name == "" || hidden(name) {
				return ""
			}
			return r.GetString(name)
		}
		for _, r := range recs {
			e := Entry{Kind: KindActivity, Object: act.Name, ID: r.Id, At: r.GetDateTime(schemas.FieldCreated).Time(),
				Title: str(r, act.TitleField), Type: str(r, "type"), Body: str(r, "body"),
				Done: !hidden("done") && r.GetBool("done")}
			if of := act.OwnerField(); of != nil {
				e.Owner = str(r, of.Name)
			}
			if due := r.GetDateTime("due"); !due.IsZero() && !hidden("due") {
				t := due.Time()
				e.Due = &t
			}
			out = append(out, e)
		}
	}
	return out, nil
}

func (s *Service) emails(info *core.RequestInfo, obj *schemas.Object, id string) ([]Entry, error) {
	// Notices to users about the record (a manager's notification) are not its correspondence:
	// whoever may view the record must not read what was written to someone else.
	recs, err := s.related("emails", dbx.And(dbx.HashExp{"object": obj.Name, "record_id": id}, dbx.NewExp("[[notice]] IS NOT TRUE")))
	if err != nil {
		return nil, err
	}
	out := make([]Entry, 0, len(recs))
	for _, r := range recs {
		// The emails API's enrich hooks, as for a list of emails by the caller: a subject
		// that prints the address of a user who keeps it hidden reads the stand-in
		// (workflows/outbox, hideUserAddresses).
		ev := &core.RecordEnrichEvent{App: s.app, RequestInfo: info}
		ev.Record = r
		if err := s.app.OnRecordEnrich().Trigger(ev, func(*core.RecordEnrichEvent) error { return nil }); err != nil {
			return nil, fmt.Errorf("timeline emails: %w", err)
		}
		at := r.GetDateTime("sent_at")
		if at.IsZero() {
			at = r.GetDateTime("created")
		}
		out = append(out, Entry{Kind: KindEmail, Object: "emails", ID: r.Id, At: at.Time(), Title: r.GetString("subject"), Status: r.GetString("status")})
	}
	return out, nil
}

// campaignEvents lists the tracked clicks and opens, the bounces, replies and unsubscribes of
// campaign emails to the contact (workflows/campaigns/events.go), for
// callers who may list campaign events (managers and admins).
func (s *Service) campaignEvents(info *core.RequestInfo, obj *schemas.Object, id string) ([]Entry, error) {
	coll, err := s.app.FindCachedCollectionByNameOrId("campaign_events")
	if err != nil || obj.Name != "contacts" {
		return nil, nil
	}
	recs, err := s.listScoped(coll, info, dbx.HashExp{"campaign_events.contact": id}, "campaign_events.created DESC", TimelineLimit)
	if errors.Is(err, ErrForbidden) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("timeline campaign events of %s: %w", id, err)
	}
	names := map[string]string{}
	out := make([]Entry, 0, len(recs))
	for _, r := range recs {
		cid := r.GetString("campaign")
		if _, ok := names[cid]; !ok {
			if c, err := s.app.FindRecordById("campaigns", cid); err == nil {
				names[cid] = c.GetString("name")
			}
		}
		title := "Opened the campaign " + names[cid]
		switch r.GetString("type") {
		case "click":
			title = "Clicked " + r.GetString("url") + " in the campaign " + names[cid]
		case "bounce":
			title = "The campaign " + names[cid] + " bounced (" + r.GetString("detail") + ")"
		case "reply":
			title = "Replied to the campaign " + names[cid]
		case "unsubscribe":
			title = "Unsubscribed from the campaign " + names[cid]
		}
		out = append(out, Entry{Kind: KindCampaign, Object: "campaign_events", ID: r.Id, At: r.GetDateTime("created").Time(),
			Title: title, Type: r.GetString("type")})
	}
	return out, nil
}

func (s *Service) stageChanges(info *core.RequestInfo, obj *schemas.Object, id string) ([]Entry, error) {
	recs, err := s.related(StageChangesCollection, dbx.HashExp{"object": obj.Name, "record": id})
	if err != nil {
		return nil, err
	}
	hidden := func(string) bool { return false }
	if coll, err := s.app.FindCachedCollectionByNameOrId(obj.Name); err == nil {
		hidden = hiddenFor(coll, schemas.Request(info))
	}
	names := map[string]string{}
	out := make([]Entry, 0, len(recs))
	for _, r := range recs {
		if hidden(r.GetString("field")) {
			continue // the history of a hidden stage field tells its values
		}
		e := Entry{Kind: KindStage, At: r.GetDateTime("at").Time(), Field: r.GetString("field"),
			From: r.GetString("from"), To: r.GetString("to")}
		e.Title = stageLabel(obj, e.Field, e.To)
		if by := r.GetString("changed_by"); by != "" {
			if _, ok := names[by]; !ok {
				if u, err := s.app.FindRecordById(schemas.UsersCollection, by); err == nil {
					if ok, err := schemas.Request(info).CanView(s.app, u); err == nil && ok {
						names[by] = u.GetString("name")
					}
				}
			}
			e.By = names[by]
		}
		out = append(out, e)
	}
	return out, nil
}

func stageLabel(obj *schemas.Object, field, stage string) string {
	if f := obj.Field(field); f != nil {
		if p := obj.Pipeline(f.Pipeline); p != nil {
			if st := p.Stage(stage); st != nil && st.Label != "" {
				return st.Label
			}
		}
	}
	return stage
}

// runs lists the workflow runs the record started: their workflow's name and status for
// whoever may view the record, and their error only for callers who may read the run itself
// (run history is for managers and admins). An error tells the workflow's internals — a
// webhook's URL with the key in its path or query, the body another system answered with, a
// script's message — which a sales rep who may view the record must not read.
func (s *Service) runs(info *core.RequestInfo, obj *schemas.Object, id string) ([]Entry, error) {
	recs, err := s.related("workflow_runs", dbx.HashExp{"object": obj.Name, "record_id": id})
	if err != nil || len(recs) == 0 {
		return nil, err
	}
	failed := []string{}
	for _, r := range recs {
		if r.GetString("error") != "" {
			failed = append(failed, r.Id)
		}
	}
	readable := map[string]bool{}
	if len(failed) > 0 {
		if readable, err = schemas.Request(info).ViewableIDs(s.app, "workflow_runs", failed); err != nil {
			return nil, fmt.Errorf("timeline runs of %s %s: %w", obj.Name, id, err)
		}
	}
	out := make([]Entry, 0, len(recs))
	for _, r := range recs {
		e := Entry{Kind: KindRun, Object: "workflow_runs", ID: r.Id, At: r.GetDateTime("created").Time(),
			Title: r.GetString("workflow_name"), Status: r.GetString("status")}
		if readable[r.Id] {
			e.Error = r.GetString("error")
		}
		out = append(out, e)
	}
	return out, nil
}

// related lists the newest records of a Relata collection about one record; none when the
// collection does not exist in this app.
func (s *Service) related(collection string, cond dbx.Expression) ([]*core.Record, error) {
	if _, err := s.app.FindCachedCollectionByNameOrId(collection); err != nil {
		return nil, nil
	}
	var out []*core.Record
	q := s.app.RecordQuery(collection).AndWhere(cond).OrderBy("rowid DESC").Limit(TimelineLimit)
	if err := q.All(&out); err != nil {
		return nil, fmt.Errorf("timeline %s: %w", collection, err)
	}
	return out, nil
}
