package hooks

import (
	"fmt"
	"sync"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/relata/relata/schemas/forms"
	"github.com/relata/relata/workflows"
)

// bindForms turns every new form_submissions record into the "form submitted" workflow
// trigger of its form, queued in the transaction that stores the submission together with
// its record and consent: the forms package writes the record and knows nothing of workflows
// (STYLE.md B2, rule 6). The submitted record is the one the forms package saved in this
// transaction ([forms.SubmittedRecord]), not read again. The workers are woken once the
// transaction has committed, and only when a run was queued: a form no workflow listens to
// neither queues runs nor wakes the workers (whose claim is a write competing with the next
// submission).
func bindForms(app core.App, eng *workflows.Engine) {
	var queued sync.Map // *core.Record (the submission) -> struct{}, until its transaction ends
	app.OnRecordCreateExecute(forms.SubmissionsCollection).Bind(&hook.Handler[*core.RecordEvent]{
		Id: "relata.hooks.form-submitted",
		Func: func(e *core.RecordEvent) error {
			slug, object := e.Record.GetString("form"), e.Record.GetString("object")
			if !eng.ListensForm(slug, object) {
				return e.Next()
			}
			orig := e.App
			defer func() { e.App = orig }()
			return e.App.RunInTransaction(func(tx core.App) error {
				e.App = tx
				if err := e.Next(); err != nil {
					return err
				}
				id := e.Record.GetString("record_id")
				// the record as the submission saved it a moment ago in this transaction;
				// read only when the submission was not saved by the forms package
				target := forms.SubmittedRecord(e.Record)
				if target == nil || target.Id != id || target.Collection().Name != object {
					var err error
					if target, err = tx.FindRecordById(object, id); err != nil {
						return fmt.Errorf("form %s: the submitted %s record %s: %w", slug, object, id, err)
					}
				}
				n, err := eng.EnqueueForm(tx, slug, target)
				if err != nil {
					return fmt.Errorf("queue the form_submitted trigger of form %s: %w", slug, err)
				}
				if n > 0 {
					queued.Store(e.Record, struct{}{})
				}
				return nil
			})
		},
	})
	app.OnRecordAfterCreateSuccess(forms.SubmissionsCollection).Bind(&hook.Handler[*core.RecordEvent]{
		Id: "relata.hooks.form-wake",
		Func: func(e *core.RecordEvent) error {
			if _, ok := queued.LoadAndDelete(e.Record); ok {
				eng.Wake()
			}
			return e.Next()
		},
	})
	app.OnRecordAfterCreateError(forms.SubmissionsCollection).Bind(&hook.Handler[*core.RecordErrorEvent]{
		Id: "relata.hooks.form-wake-error",
		Func: func(e *core.RecordErrorEvent) error {
			queued.Delete(e.Record)
			return e.Next()
		},
	})
}
