package hooks

import (
	"fmt"
	"net/mail"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/forms"
	"github.com/relata/relata/workflows/outbox"
)

// bindConsents queues the double opt-in email of every consent that needs confirmation, in
// the transaction that stores the consent with its form submission: the forms package writes
// the consent and knows nothing of email (STYLE.md B2, rule 6).
func (h *handlers) bindConsents(app core.App) {
	app.OnRecordCreateExecute(forms.ConsentsCollection).Bind(&hook.Handler[*core.RecordEvent]{
		Id: "relata.hooks.consent-confirmation",
		Func: func(e *core.RecordEvent) error {
			if !e.Record.GetBool("needs_confirmation") {
				return e.Next()
			}
			orig := e.App
			defer func() { e.App = orig }()
			return e.App.RunInTransaction(func(tx core.App) error {
				e.App = tx
				if err := e.Next(); err != nil {
					return err
				}
				return h.queueConfirmation(tx, e.Record)
			})
		},
	})
}

// queueConfirmation emails the confirmation link of consent c to the record it was given for.
func (h *handlers) queueConfirmation(tx core.App, c *core.Record) error {
	object, id := c.GetString("object"), c.GetString("record_id")
	o, ok := h.reg.Object(object)
	if !ok {
		return fmt.Errorf("double opt-in: %s is not an object", object)
	}
	rec, err := tx.FindRecordById(object, id)
	if err != nil {
		return fmt.Errorf("double opt-in: the %s record %s: %w", object, id, err)
	}
	var addr string
	for _, f := range o.Fields {
		if f.Type == schemas.TypeEmail && rec.GetString(f.Name) != "" {
			addr = rec.GetString(f.Name)
			break
		}
	}
	if addr == "" {
		return fmt.Errorf("double opt-in: %s %s has no email address to confirm", object, id)
	}
	token, err := forms.ConfirmToken(tx, c.Id)
	if err != nil {
		return err
	}
	to := (&mail.Address{Name: rec.GetString(o.TitleField), Address: addr}).String()
	link := outbox.PublicURLPlaceholder + forms.ConfirmPath + token
	_, err = outbox.Enqueue(tx, outbox.Message{
		To:      []string{to},
		Subject: "Please confirm your subscription",
		Text: "Hello,\n\nplease confirm that you want to receive our emails by opening this link:\n\n" + link +
			"\n\nIf you did not ask for this, ignore this email: nothing will be sent to you.\n",
		Category:       outbox.Transactional,
		Object:         object,
		RecordID:       id,
		IdempotencyKey: "consent-confirmation:" + c.Id,
	})
	if err != nil {
		return fmt.Errorf("double opt-in: queue the confirmation email: %w", err)
	}
	return nil
}
