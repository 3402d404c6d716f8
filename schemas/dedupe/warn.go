package dedupe

import (
	"fmt"
	"strings"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/relata/relata/schemas"
)

// DuplicatesHeader is the response header of a REST create (or of an update that changes a
// compared field) naming the existing records the new values may duplicate, best first, that
// the caller may view: "contacts/ID;score=0.93, contacts/ID2;score=0.71". A client asks for it
// by sending the same header with the value "check": the check reads candidates before the
// save (0.4–0.6 ms a create at 10,000 contacts, more with phone rules, which scan), a cost
// writes that do not want the answer — integrations syncing in bulk — should not pay. The body stays
// PocketBase's record, so every PocketBase client keeps working; a client that wants the
// titles and reasons asks GET /api/relata/duplicates/{object}/check (docs/duplicates.md).
const DuplicatesHeader = "X-Relata-Duplicates"

// maxWarned is how many likely duplicates the header names at most.
const maxWarned = 5

// bindWarnings makes REST creates and updates of CRM objects that ask for it
// ("X-Relata-Duplicates: check") name their likely duplicates in [DuplicatesHeader]. Only signed-in CRM users and superusers are told, and only of records
// they may view (the check reads through [schemas.ListScope]); an anonymous create (a public
// API rule) learns nothing. The check reads only the records sharing a blocking key with the
// new values ([Check]).
func (s *Service) bindWarnings(app core.App) {
	app.OnRecordCreateRequest().Bind(&hook.Handler[*core.RecordRequestEvent]{Id: "relata.dedupe.warn-create",
		Func: func(e *core.RecordRequestEvent) error { return s.warn(e, false) }})
	app.OnRecordUpdateRequest().Bind(&hook.Handler[*core.RecordRequestEvent]{Id: "relata.dedupe.warn-update",
		Func: func(e *core.RecordRequestEvent) error { return s.warn(e, true) }})
}

func (s *Service) warn(e *core.RecordRequestEvent, update bool) error {
	if e.Auth == nil || e.Record == nil || !strings.EqualFold(strings.TrimSpace(e.Request.Header.Get(DuplicatesHeader)), "check") {
		return e.Next()
	}
	o, ok := s.reg.Object(e.Record.Collection().Name)
	if !ok || o == nil {
		return e.Next()
	}
	rules := s.rules.For(o)
	if len(rules.Rules) == 0 {
		return e.Next()
	}
	if update && !comparedChanged(rules, e.Record) {
		return e.Next()
	}
	c, ok := caller(e.RequestEvent)
	if !ok {
		return e.Next()
	}
	matches, err := Check(e.App, c, o, s.rules, RecordValues(o, rules, e.Record), e.Record.Id)
	if err != nil {
		// A warning is advice: a failed check never fails the save.
		e.App.Logger().Warn("relata: duplicate check", "object", o.Name, "error", err)
		return e.Next()
	}
	if len(matches) > 0 {
		e.Response.Header().Set(DuplicatesHeader, FormatWarning(o.Name, matches))
		e.Response.Header().Add("Access-Control-Expose-Headers", DuplicatesHeader)
	}
	return e.Next()
}

// comparedChanged reports whether an update changes a field the rules compare.
func comparedChanged(rules *ObjectRules, rec *core.Record) bool {
	orig := rec.Original()
	for _, r := range rules.Rules {
		for _, f := range []string{r.Field, r.SameField} {
			if f != "" && text(rec.Get(f)) != text(orig.Get(f)) {
				return true
			}
		}
	}
	return false
}

// RecordValues are the values of rec the rules of o compare (and its title), as [Check]
// takes them.
func RecordValues(o *schemas.Object, rules *ObjectRules, rec *core.Record) map[string]any {
	values := map[string]any{o.TitleField: rec.Get(o.TitleField)}
	for _, r := range rules.Rules {
		values[r.Field] = rec.Get(r.Field)
		if r.SameField != "" {
			values[r.SameField] = rec.Get(r.SameField)
		}
	}
	return values
}

// FormatWarning writes matches as the value of [DuplicatesHeader]: at most five
// "object/id;score=0.93" items, best first.
func FormatWarning(object string, matches []Match) string {
	var sb strings.Builder
	for i, m := range matches {
		if i == maxWarned {
			break
		}
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "%s/%s;score=%.2f", object, m.ID, m.Score)
	}
	return sb.String()
}
