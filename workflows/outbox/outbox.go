// Package outbox stores outgoing email as records of the "emails" collection. Workflow
// actions queue a message with [Enqueue] inside their own transaction, so a queued email is
// never lost and, thanks to its idempotency key, never queued twice.
//
//	rec, err := outbox.Enqueue(txApp, outbox.Message{To: []string{"ada@example.com"}, Subject: "Hi", Text: "Hello"})
package outbox

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"
)

// Collection is the name of the outbox collection.
const Collection = "emails"

// Statuses of an email.
const (
	StatusQueued     = "queued"
	StatusSending    = "sending"
	StatusSent       = "sent"
	StatusFailed     = "failed"
	StatusSuppressed = "suppressed"
)

// Categories of an email.
const (
	Transactional = "transactional"
	Marketing     = "marketing"
)

// Message is one email to queue.
type Message struct {
	To       []string
	From     string
	ReplyTo  string
	Subject  string
	Text     string
	HTML     string
	Category string // Transactional (default) or Marketing
	Template string // the template it was rendered from, if any
	// Object and RecordID name the CRM record the email is about (for its timeline).
	Object, RecordID string
	// RunID is the workflow run that produced the email, if any.
	RunID string
	// IdempotencyKey makes Enqueue return the already queued email instead of a second one.
	IdempotencyKey string
}

// ErrInvalid is wrapped by errors about a message that cannot be sent as written.
var ErrInvalid = errors.New("invalid email")

// Validate checks addresses and headers: every address parses, and no header value holds a
// line break (which would let a value inject headers).
func (m *Message) Validate() error {
	if len(m.To) == 0 {
		return fmt.Errorf("%w: no recipient", ErrInvalid)
	}
	for _, a := range append(append([]string{}, m.To...), m.From, m.ReplyTo) {
		if a == "" {
			continue
		}
		if strings.ContainsAny(a, "\r\n") {
			return fmt.Errorf("%w: address %q contains a line break", ErrInvalid, a)
		}
		if _, err := mail.ParseAddress(a); err != nil {
			return fmt.Errorf("%w: %q is not an email address", ErrInvalid, a)
		}
	}
	if strings.ContainsAny(m.Subject, "\r\n") {
		return fmt.Errorf("%w: the subject contains a line break", ErrInvalid)
	}
	if m.Category != "" && m.Category != Transactional && m.Category != Marketing {
		return fmt.Errorf("%w: unknown category %q", ErrInvalid, m.Category)
	}
	return nil
}

// Enqueue validates m and stores it as a queued email through app (pass the caller's
// transaction). With an idempotency key already used, it returns the existing email.
func Enqueue(app core.App, m Message) (*core.Record, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if m.IdempotencyKey != "" {
		if rec, err := app.FindFirstRecordByData(Collection, "idempotency_key", m.IdempotencyKey); err == nil {
			return rec, nil
		}
	}
	coll, err := app.FindCachedCollectionByNameOrId(Collection)
	if err != nil {
		return nil, fmt.Errorf("the %s collection is missing (did the migrations run?): %w", Collection, err)
	}
	if m.Category == "" {
		m.Category = Transactional
	}
	rec := core.NewRecord(coll)
	rec.Set("to", m.To)
	rec.Set("from", m.From)
	rec.Set("reply_to", m.ReplyTo)
	rec.Set("subject", m.Subject)
	rec.Set("text", m.Text)
	rec.Set("html", m.HTML)
	rec.Set("category", m.Category)
	rec.Set("template", m.Template)
	rec.Set("object", m.Object)
	rec.Set("record_id", m.RecordID)
	rec.Set("run", m.RunID)
	rec.Set("idempotency_key", m.IdempotencyKey)
	rec.Set("status", StatusQueued)
	rec.Set("next_at", time.Now().UTC())
	if err := app.Save(rec); err != nil {
		return nil, fmt.Errorf("queue email: %w", err)
	}
	return rec, nil
}
