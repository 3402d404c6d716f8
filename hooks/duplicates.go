package hooks

import (
	"encoding/json"
	"fmt"
	"math"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/dedupe"
	"github.com/relata/relata/schemas/forms"
	"github.com/relata/relata/workflows/notify"
)

// maxFormDuplicates is how many likely duplicates of a form's record are flagged.
const maxFormDuplicates = 5

// bindFormDuplicates flags, for the team, a record a public form created that may duplicate
// existing records: the submission's "duplicates" field names them and each one's owner is
// notified, with a link to their record (whose page lists the new one, to merge). The
// anonymous submitter is told nothing: the form's answer is the same either way. It runs
// after the submission's transaction has committed and never fails it. Matching uses each
// object's default rules ([dedupe.DefaultRules]), those an index bounds ([dedupe.CheckIndexed]):
// this runs for every submission, however large the table.
func (h *handlers) bindFormDuplicates(app core.App) {
	app.OnRecordAfterCreateSuccess(forms.SubmissionsCollection).Bind(&hook.Handler[*core.RecordEvent]{
		Id: "relata.hooks.form-duplicates",
		Func: func(e *core.RecordEvent) error {
			if err := h.formDuplicates(app, e.Record); err != nil {
				app.Logger().Warn("relata: duplicates of a form submission", "submission", e.Record.Id, "error", err)
			}
			return e.Next()
		},
	})
}

func (h *handlers) formDuplicates(app core.App, sub *core.Record) error {
	if sub.GetString("action") != "created" {
		return nil // the form updated an existing record: no new duplicate
	}
	o, ok := h.reg.Object(sub.GetString("object"))
	if !ok || o == nil {
		return nil
	}
	// the record as the submission saved it, in its transaction (no second read)
	rec := forms.SubmittedRecord(sub)
	if rec == nil || rec.Id != sub.GetString("record_id") || rec.Collection().Name != o.Name {
		var err error
		if rec, err = app.FindRecordById(o.Name, sub.GetString("record_id")); err != nil {
			return err
		}
	}
	var rules *dedupe.Rules
	matches, err := dedupe.CheckIndexed(app, schemas.System, o, rules, dedupe.RecordValues(o, rules.For(o), rec), rec.Id)
	if err != nil || len(matches) == 0 {
		return err
	}
	matches = matches[:min(len(matches), maxFormDuplicates)]
	type flag struct {
		Object string  `json:"object"`
		ID     string  `json:"id"`
		Score  float64 `json:"score"`
	}
	flags := make([]flag, len(matches))
	for i, m := range matches {
		flags[i] = flag{Object: o.Name, ID: m.ID, Score: m.Score}
	}
	raw, err := json.Marshal(flags)
	if err != nil {
		return err
	}
	if _, err := app.DB().Update(forms.SubmissionsCollection, dbx.Params{"duplicates": string(raw)}, dbx.HashExp{"id": sub.Id}).Execute(); err != nil {
		return fmt.Errorf("flag the submission: %w", err)
	}
	of := o.OwnerField()
	if of == nil {
		return nil
	}
	form := sub.GetString("form")
	for _, m := range matches {
		existing, err := app.FindRecordById(o.Name, m.ID)
		if err != nil {
			continue
		}
		owner := existing.GetString(of.Name)
		if owner == "" {
			continue
		}
		// About the existing record, which its owner may view: the new record's details are
		// on its page (the duplicates it may have), for those who may view the new one.
		// In the owner's language (a user gone since is skipped by Send).
		user, _ := app.FindRecordById(schemas.UsersCollection, owner)
		if _, err := notify.Send(app, notify.Notification{
			User: owner,
			Kind: notify.KindWorkflow,
			Title: fmt.Sprintf(notify.Message(user, "form-duplicate"), form,
				notify.Noun(user, singular(o))+" "+titleOf(o, existing), int(math.Round(m.Score*100))),
			Body:     notify.Message(user, "form-dup-body"),
			Object:   o.Name,
			RecordID: existing.Id,
			Key:      "duplicate:" + sub.Id + ":" + existing.Id,
		}); err != nil {
			return err
		}
	}
	return nil
}
