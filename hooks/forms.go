package hooks

import (
	"fmt"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/relata/relata/schemas/forms"
	"github.com/relata/relata/workflows"
)

// bindForms turns every new form_submissions record into the "form submitted" workflow
// trigger of its form, queued in the transaction that stores the submission together with
// its record and consent: the forms package writes the record and knows nothing of workflows
// (STYLE.md B2, rule 6). The workers are woken once the transaction has committed.
func bindForms(app core.App, eng *workflows.Engine) {
	app.OnRecordCreateExecute(forms.SubmissionsCollection).Bind(&hook.Handler[*core.RecordEvent]{
		Id: "relata.hooks.form-submitted",
		Func: func(e *core.RecordEvent) error {
			orig := e.App
			defer func() { e.App = orig }()
			return e.App.RunInTransaction(func(tx core.App) error {
				e.App = tx
				if err := e.Next(); err != nil {
					return err
				}
				slug, object, id := e.Record.GetString("form"), e.Record.GetString("object"), e.Record.GetString("record_id")
				target, err := tx.FindRecordById(object, id)
				if err != nil {
					return fmt.Errorf("form %s: the submitted %s record %s: %w", slug, object, id, err)
				}
				if _, err := eng.EnqueueForm(tx, slug, target); err != nil {
					return fmt.Errorf("queue the form_submitted trigger of form %s: %w", slug, err)
				}
				return nil
			})
		},
	})
	app.OnRecordAfterCreateSuccess(forms.SubmissionsCollection).Bind(&hook.Handler[*core.RecordEvent]{
		Id: "relata.hooks.form-wake",
		Func: func(e *core.RecordEvent) error {
			eng.Wake()
			return e.Next()
		},
	})
}
