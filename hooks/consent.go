package hooks

import (
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
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
	// A form's submission hands over the record it saved in this transaction: no second read.
	rec := forms.SubmittedRecord(c)
	if rec == nil {
		var err error
		if rec, err = tx.FindRecordById(object, id); err != nil {
			return fmt.Errorf("double opt-in: the %s record %s: %w", object, id, err)
		}
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
	// Anyone can post a public form with any address, so the confirmation must not become a
	// way to mail someone over and over: the consent is recorded (the poster learns nothing),
	// but no email goes to a suppressed address, nor a second one while one sent for the same
	// record and purpose in the last day still waits.
	if quiet, err := h.confirmationWaits(tx, c, addr); quiet || err != nil {
		return err
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

// confirmationKeyPrefix starts the idempotency key of a consent's confirmation email.
const confirmationKeyPrefix = "consent-confirmation:"

// confirmationWindow is how long a confirmation email that waits for its click holds back
// another one for the same record and purpose.
const confirmationWindow = 24 * time.Hour

// confirmationWaits reports whether consent c must get no confirmation email: addr is on the
// suppression list, or a confirmation for another consent of the same record and purpose,
// still neither confirmed nor withdrawn, was queued within confirmationWindow.
func (h *handlers) confirmationWaits(tx core.App, c *core.Record, addr string) (bool, error) {
	addr = strings.ToLower(addr)
	sup, err := outbox.Suppressed(tx, []string{addr})
	if err != nil {
		return false, fmt.Errorf("double opt-in: %w", err)
	}
	if sup[addr] {
		return true, nil
	}
	var n int
	err = tx.DB().NewQuery(`SELECT count(*) FROM consents c WHERE c.object = {:o} AND c.record_id = {:id}
		AND c.purpose = {:purpose} AND c.id != {:self} AND c.needs_confirmation = TRUE
		AND coalesce(c.confirmed_at, '') = '' AND coalesce(c.withdrawn_at, '') = '' AND c.created >= {:since}
		AND EXISTS (SELECT 1 FROM {{` + outbox.Collection + `}} WHERE idempotency_key != '' AND idempotency_key = {:prefix} || c.id)`).
		Bind(dbx.Params{"o": c.GetString("object"), "id": c.GetString("record_id"), "purpose": c.GetString("purpose"),
			"self": c.Id, "prefix": confirmationKeyPrefix, "since": time.Now().UTC().Add(-confirmationWindow).Format("2006-01-02 15:04:05.000Z")}).Row(&n)
	if err != nil {
		return false, fmt.Errorf("double opt-in: look for a waiting confirmation: %w", err)
	}
	return n > 0, nil
}
