package outbox

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas"
)

// Collection names of the outbox.
const (
	// Collection holds every email: queued, being sent, sent, failed or suppressed.
	Collection = "emails"
	// TemplatesCollection holds the email templates admins and managers edit.
	TemplatesCollection = "email_templates"
	// SuppressionsCollection lists the addresses marketing mail is never sent to.
	SuppressionsCollection = "email_suppressions"
)

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
	// To are the recipients, each "ada@example.com" or "Ada Lovelace <ada@example.com>".
	// Marketing mail has exactly one (its unsubscribe link names the recipient).
	To []string
	// UserIDs says which recipients are CRM users: UserIDs[i] is the id of the user To[i] is
	// the address of, "" for an address of no user; nil when none is (else as long as To).
	// Stored as the email's to_users, it lets the emails API show a user's address only to
	// those who may read it (see [HiddenRecipient]) and counts notices by user, not by
	// address. Delivery ignores it.
	UserIDs []string
	// From and ReplyTo, when set, replace the configured sender and reply-to address.
	From    string
	ReplyTo string
	Subject string
	// Text and HTML are the bodies; with HTML only, the text part is derived from it
	// ([HTMLToText]). Either may hold [UnsubscribePlaceholder], replaced when sent.
	Text     string
	HTML     string
	Category string // Transactional (default) or Marketing
	Template string // the template it was rendered from, if any
	// Object and RecordID name the CRM record the email is about (for its timeline).
	Object, RecordID string
	// Notice marks an email to a CRM user about the record (a notification), not to the
	// record's person: it leaves no activity on the record's timeline, which everyone who may
	// view the record reads.
	Notice bool
	// RunID is the workflow run that produced the email, if any.
	RunID string
	// IdempotencyKey makes Enqueue return the already queued email instead of a second one;
	// the Message-ID header is derived from it, so receivers can spot a duplicate delivery.
	IdempotencyKey string
	// ID, when set, is the id the queued email gets, for a caller that must know it before
	// the insert (a group of workflow runs queues its emails at its end); empty: a new id.
	// A message whose idempotency key is already queued keeps the queued email's id.
	ID string
}

// ErrInvalid is wrapped by errors about a message that cannot be sent as written.
var ErrInvalid = errors.New("invalid email")

// Validate checks addresses and headers: every address parses, and no header value holds a
// line break (which would let a value inject headers).
func (m *Message) Validate() error {
	if len(m.To) == 0 {
		return fmt.Errorf("%w: no recipient", ErrInvalid)
	}
	if m.Category != "" && m.Category != Transactional && m.Category != Marketing {
		return fmt.Errorf("%w: unknown category %q", ErrInvalid, m.Category)
	}
	if m.Category == Marketing && len(m.To) != 1 {
		return fmt.Errorf("%w: marketing mail goes to exactly one recipient, not %d", ErrInvalid, len(m.To))
	}
	for _, a := range m.To {
		if _, err := parseAddress(a); err != nil {
			return err
		}
	}
	if len(m.UserIDs) != 0 && len(m.UserIDs) != len(m.To) {
		return fmt.Errorf("%w: %d user ids for %d recipients", ErrInvalid, len(m.UserIDs), len(m.To))
	}
	for _, a := range []string{m.From, m.ReplyTo} {
		if a == "" {
			continue
		}
		if _, err := parseAddress(a); err != nil {
			return err
		}
	}
	if err := checkHeader("subject", m.Subject); err != nil {
		return err
	}
	return nil
}

// parseAddress parses one address, refusing line breaks anywhere in it.
func parseAddress(a string) (*mail.Address, error) {
	if strings.ContainsAny(a, "\r\n") {
		return nil, fmt.Errorf("%w: address %q contains a line break", ErrInvalid, a)
	}
	addr, err := mail.ParseAddress(a)
	if err != nil {
		return nil, fmt.Errorf("%w: %q is not an email address", ErrInvalid, a)
	}
	return addr, nil
}

// checkHeader refuses a header value with a line break or another control character that
// would end the header.
func checkHeader(name, v string) error {
	if strings.ContainsAny(v, "\r\n\x00") {
		return fmt.Errorf("%w: the %s contains a line break", ErrInvalid, name)
	}
	return nil
}

// Enqueue validates m and stores it as a queued email through app (pass the caller's
// transaction, so the email commits with the change that caused it). With an idempotency key
// already used, it returns the existing email.
func Enqueue(app core.App, m Message) (*core.Record, error) {
	if err := m.Validate(); err != nil {
		return nil, err
	}
	if m.IdempotencyKey != "" {
		rec := &core.Record{}
		// "!= ''" lets SQLite use the partial unique index on the key; without it every
		// lookup scanned the whole outbox.
		err := app.RecordQuery(Collection).
			AndWhere(dbx.HashExp{"idempotency_key": m.IdempotencyKey}).
			AndWhere(dbx.NewExp("[[idempotency_key]] != ''")).Limit(1).One(rec)
		if err == nil {
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
	if m.Text == "" && m.HTML != "" {
		m.Text = HTMLToText(m.HTML)
	}
	rec := core.NewRecord(coll)
	rec.Id = schemas.OrderedID()
	rec.Set("to", m.To)
	if users, ok := StoredUserIDs(m.UserIDs); ok {
		rec.Set("to_users", types.JSONRaw(users))
	}
	rec.Set("from", m.From)
	rec.Set("reply_to", m.ReplyTo)
	rec.Set("subject", m.Subject)
	rec.Set("text", m.Text)
	rec.Set("html", m.HTML)
	rec.Set("category", m.Category)
	rec.Set("template", m.Template)
	rec.Set("object", m.Object)
	rec.Set("record_id", m.RecordID)
	rec.Set("notice", m.Notice)
	rec.Set("run", m.RunID)
	rec.Set("idempotency_key", m.IdempotencyKey)
	rec.Set("status", StatusQueued)
	rec.Set("next_at", time.Now().UTC())
	if err := app.Save(rec); err != nil {
		return nil, fmt.Errorf("queue email: %w", err)
	}
	return rec, nil
}

// EnqueueMany is [Enqueue] for a batch: it validates every message (an invalid one fails the
// batch, naming its index), looks the idempotency keys up in one query, and writes the new
// emails with multi-row inserts through app (pass the caller's transaction). It returns the
// id of each message's email, in order: the existing one for a key already used (or used
// earlier in the batch). The rows are written without record hooks (emails are the outbox's
// own collection; nothing else reacts to their creation): call [Wake] after the transaction
// commits so idle senders pick them up at once rather than at their next poll.
func EnqueueMany(app core.App, ms []Message) ([]string, error) {
	ids := make([]string, len(ms))
	var keys []any
	for i := range ms {
		if err := ms[i].Validate(); err != nil {
			return nil, fmt.Errorf("message %d: %w", i, err)
		}
		if ms[i].IdempotencyKey != "" {
			keys = append(keys, ms[i].IdempotencyKey)
		}
	}
	have := map[string]string{}
	for start := 0; start < len(keys); start += schemas.InsertMaxParams {
		var rows []struct {
			ID  string `db:"id"`
			Key string `db:"idempotency_key"`
		}
		err := app.DB().Select("id", "idempotency_key").From(Collection).
			Where(dbx.In("idempotency_key", keys[start:min(start+schemas.InsertMaxParams, len(keys))]...)).
			AndWhere(dbx.NewExp("[[idempotency_key]] != ''")). // uses the partial index instead of a scan
			All(&rows)
		if err != nil {
			return nil, fmt.Errorf("look up idempotency keys: %w", err)
		}
		for _, r := range rows {
			have[r.Key] = r.ID
		}
	}
	now := dbTime(time.Now())
	cols := []string{"id", "to", "to_users", "from", "reply_to", "subject", "text", "html", "category", "template", "object",
		"record_id", "run", "idempotency_key", "status", "attempts", "next_at", "last_error", "message_id", "sent_at",
		"lease_until", "notice", "created", "updated"}
	rows := make([][]any, 0, len(ms))
	for i, m := range ms {
		if id, ok := have[m.IdempotencyKey]; ok && m.IdempotencyKey != "" {
			ids[i] = id
			continue
		}
		if m.Category == "" {
			m.Category = Transactional
		}
		if m.Text == "" && m.HTML != "" {
			m.Text = HTMLToText(m.HTML)
		}
		to, err := json.Marshal(m.To)
		if err != nil {
			return nil, fmt.Errorf("message %d: %w", i, err)
		}
		id := m.ID
		if id == "" {
			id = schemas.OrderedID()
		}
		ids[i] = id
		if m.IdempotencyKey != "" {
			have[m.IdempotencyKey] = id
		}
		var users any // NULL: no recipient is a user
		if u, ok := StoredUserIDs(m.UserIDs); ok {
			users = u
		}
		rows = append(rows, []any{id, string(to), users, m.From, m.ReplyTo, m.Subject, m.Text, m.HTML, m.Category, m.Template, m.Object,
			m.RecordID, m.RunID, m.IdempotencyKey, StatusQueued, 0, now, "", "", "", "", m.Notice, now, now})
	}
	if err := schemas.InsertMany(app, Collection, cols, rows); err != nil {
		return nil, fmt.Errorf("queue emails: %w", err)
	}
	return ids, nil
}

// senderKey is where Register keeps the app's Sender in app.Store(), for [Wake].
const senderKey = "relata.outbox.sender"

// Wake tells the outbox of app (if one is registered) that emails were queued without record
// hooks ([EnqueueMany]).
func Wake(app core.App) {
	if s, ok := app.Store().Get(senderKey).(*Sender); ok {
		s.Wake()
	}
}

// messageOf reads a stored email back as a Message.
func messageOf(rec *core.Record) Message {
	return Message{
		To:             rec.GetStringSlice("to"),
		UserIDs:        storedUserIDs(rec),
		From:           rec.GetString("from"),
		ReplyTo:        rec.GetString("reply_to"),
		Subject:        rec.GetString("subject"),
		Text:           rec.GetString("text"),
		HTML:           rec.GetString("html"),
		Category:       rec.GetString("category"),
		Template:       rec.GetString("template"),
		Object:         rec.GetString("object"),
		RecordID:       rec.GetString("record_id"),
		Notice:         rec.GetBool("notice"),
		RunID:          rec.GetString("run"),
		IdempotencyKey: rec.GetString("idempotency_key"),
	}
}
