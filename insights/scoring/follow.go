package scoring

import (
	"context"
	"slices"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/relata/relata/schemas"
)

// engagementCollection holds the campaign events of contacts (workflows/campaigns), which
// behaviour rules count as activities (see [EngagementPrefix]).
const engagementCollection = "campaign_events"

// bindFollow makes the behaviour points of a score follow what happens: when an activity, or
// a campaign event of a contact, is created, changed or deleted, the records it concerns —
// before and after, when it moved — are scored again in the same write (transaction, when
// there is one), and saved if their score or grade changed. A score is advice: a failure to
// score is logged and never stops the activity's write (the daily run corrects it).
func (s *Service) bindFollow(app core.App) {
	follow := func(e *core.RecordEvent) error { return s.follow(e) }
	app.OnRecordCreateExecute().Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.scoring.follow-create", Func: follow})
	app.OnRecordUpdateExecute().Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.scoring.follow-update", Func: follow})
	app.OnRecordDeleteExecute().Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.scoring.follow-delete", Func: follow})
}

// followed is a record whose score counts a written activity.
type followed struct{ object, id string }

func (s *Service) follow(e *core.RecordEvent) error {
	s.mu.RLock()
	sets := s.rules
	s.mu.RUnlock()
	if len(sets) == 0 {
		return e.Next() // every write passes here: most deployments score nothing
	}
	links := s.countedLinks(sets, e.Record.Collection().Name)
	if len(links) == 0 {
		return e.Next()
	}
	var targets []followed
	add := func(rec *core.Record) {
		for field, object := range links {
			if id := rec.GetString(field); id != "" && !slices.Contains(targets, followed{object, id}) {
				targets = append(targets, followed{object, id})
			}
		}
	}
	add(e.Record)
	if e.Type == core.ModelEventTypeUpdate {
		// Where it was: the stored row (the record's Original is only what it was loaded with).
		if stored, err := e.App.FindRecordById(e.Record.Collection(), e.Record.Id); err == nil {
			add(stored)
		}
	}
	if err := e.Next(); err != nil {
		return err
	}
	// The saves carry the writer's context (a workflow's depth: a workflow reacting to a new
	// score cannot loop through activities without end) and the score made for them.
	ctx := e.Context
	if ctx == nil {
		ctx = context.Background()
	}
	ctx = context.WithValue(ctx, scoredKey{}, true)
	for _, t := range targets {
		rec, err := e.App.FindRecordById(t.object, t.id)
		if err != nil {
			continue // deleted, or never there
		}
		before := rec.Clone()
		if err := s.Rescore(e.App, rec); err != nil {
			e.App.Logger().Warn("scoring: rescore after an activity", "object", t.object, "record", t.id, "error", err)
			continue
		}
		if same(before, rec, sets, t.object) {
			continue
		}
		if err := e.App.SaveWithContext(ctx, rec); err != nil {
			e.App.Logger().Warn("scoring: save a score after an activity", "object", t.object, "record", t.id, "error", err)
		}
	}
	return nil
}

// countedLinks returns the fields of collection name that make its rows count in the
// behaviour rules of sets, with the object each links to — as loadActivities and
// loadEngagement read them: single relations of activity objects, and the contact of
// campaign events.
func (s *Service) countedLinks(sets []*RuleSet, name string) map[string]string {
	counted := map[string]bool{}
	for _, rs := range sets {
		if slices.ContainsFunc(rs.Rules, func(r Rule) bool { return r.Activity != "" }) {
			counted[rs.Object] = true
		}
	}
	links := map[string]string{}
	if name == engagementCollection {
		if counted["contacts"] {
			links["contact"] = "contacts"
		}
		return links
	}
	if o, ok := s.reg.Object(name); ok && o.Activity {
		for _, f := range o.Fields {
			if f.Type == schemas.TypeRelation && !f.Multiple && counted[f.Target] {
				links[f.Name] = f.Target
			}
		}
	}
	return links
}

// same reports whether a and b hold the same scores and grades of the sets of object.
func same(a, b *core.Record, sets []*RuleSet, object string) bool {
	for _, rs := range sets {
		if rs.Object != object {
			continue
		}
		if rs.Field != "" && a.GetFloat(rs.Field) != b.GetFloat(rs.Field) ||
			rs.GradeField != "" && a.GetString(rs.GradeField) != b.GetString(rs.GradeField) {
			return false
		}
	}
	return true
}
