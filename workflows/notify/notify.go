package notify

import (
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/workflows/outbox"
)

// Collection holds the notifications.
const Collection = "notifications"

// Kinds of notification.
const (
	KindAssigned = "assigned" // a record's owner became the user, by someone else
	KindMention  = "mention"  // the user was @mentioned in a note
	KindDue      = "due"      // a task of the user is due soon
	KindReply    = "reply"    // a reply arrived to an email about a record the user owns
	KindWorkflow = "workflow" // a workflow's notify action
)

// Kinds lists every kind, in the order the preferences page shows them.
var Kinds = []string{KindAssigned, KindMention, KindDue, KindReply, KindWorkflow}

// Notification is one notification to create.
type Notification struct {
	// User is the id of the user notified. Required.
	User string
	// Kind is one of the Kind constants. Required.
	Kind string
	// Title is the one line shown in the bell's list (cut to 300 characters). Required.
	Title string
	// Body is the detail (cut to 2,000 characters).
	Body string
	// Object and RecordID name the record it is about; the app opens it on a click.
	Object, RecordID string
	// Actor is the id of the user who caused it; empty for the system.
	Actor string
	// Key makes the notification happen once: a second Send with it does nothing. Required.
	Key string
	// Email sends it by email too, whatever the user's preferences for the kind say (the
	// notify action's "email": true). Without it, the preferences decide. Either way the
	// email counts towards the user's cap (Config.MaxEmailsPerHour) and is not sent beyond it.
	Email bool
}

// ErrInvalid is wrapped by errors about a notification that lacks a required part.
var ErrInvalid = errors.New("invalid notification")

// Send creates n through app (pass the transaction of the change that caused it) and queues
// its email when wanted, unless the user had Config.MaxEmailsPerHour notification emails in
// the last hour (counted in the outbox through app, so the emails this transaction queued
// count too). It returns the notification, or nil when the user turned this kind off in the
// app, the user is gone, or the key was used before (then nothing is done).
func Send(app core.App, n Notification) (*core.Record, error) {
	if n.User == "" || n.Kind == "" || strings.TrimSpace(n.Title) == "" || n.Key == "" {
		return nil, fmt.Errorf("%w: user, kind, title and key are required", ErrInvalid)
	}
	if existing, err := app.FindFirstRecordByData(Collection, "key", n.Key); err == nil {
		return existing, nil
	}
	user, err := app.FindRecordById(schemas.UsersCollection, n.User)
	if err != nil {
		return nil, nil // deleted since: nobody to tell
	}
	prefs := PrefsOf(user)
	ch := prefs.Channel(n.Kind)
	if (n.Email || ch.Email) && user.Email() != "" {
		capped, err := overCap(app, user)
		if err != nil {
			return nil, err
		}
		if !capped {
			if err := sendEmail(app, user, n); err != nil {
				return nil, err
			}
		}
	}
	if !ch.App {
		return nil, nil
	}
	coll, err := app.FindCachedCollectionByNameOrId(Collection)
	if err != nil {
		return nil, fmt.Errorf("the %s collection is missing (did the migrations run?): %w", Collection, err)
	}
	rec := core.NewRecord(coll)
	rec.Set("user", n.User)
	rec.Set("kind", n.Kind)
	rec.Set("title", clip(oneLine(n.Title), 300))
	rec.Set("body", clip(n.Body, 2000))
	rec.Set("object", n.Object)
	rec.Set("record_id", n.RecordID)
	rec.Set("actor", n.Actor)
	rec.Set("key", clip(n.Key, 300))
	if err := app.Save(rec); err != nil {
		return nil, fmt.Errorf("save notification %s: %w", n.Key, err)
	}
	return rec, nil
}

// sendEmail queues n's email to user in the outbox, once per key.
func sendEmail(app core.App, user *core.Record, n Notification) error {
	text := n.Body
	if link := RecordURL(app, n.Object, n.RecordID); link != "" {
		if text != "" {
			text += "\n\n"
		}
		text += link
	}
	if text == "" {
		text = n.Title
	}
	to := user.Email()
	if name := strings.Join(strings.Fields(user.GetString("name")), " "); name != "" {
		to = fmt.Sprintf("%q <%s>", name, to)
	}
	_, err := outbox.Enqueue(app, outbox.Message{
		To:             []string{to},
		UserIDs:        []string{user.Id}, // her address is hidden from colleagues who may not read it
		Subject:        clip(oneLine(n.Title), 300),
		Text:           text,
		Object:         n.Object,
		RecordID:       n.RecordID,
		Notice:         true, // to the user, not to the record's person: not on its timeline
		IdempotencyKey: clip("notify:"+n.Key, 300),
	})
	return err
}

// overCap reports whether user had the cap of notification emails in the rolling hour: the
// emails of the outbox marked notice, to her (to_users, her user id — not her address, which
// she may change, and which another user could share), created since an hour ago. It counts no
// further than the cap.
func overCap(app core.App, user *core.Record) (bool, error) {
	c := capOf(app)
	users, _ := outbox.StoredUserIDs([]string{user.Id})
	var count int
	err := app.DB().NewQuery(capCount).Bind(dbx.Params{
		"since": dbTime(c.now().Add(-time.Hour)),
		"users": users,
		"max":   c.max,
	}).Row(&count)
	if err != nil {
		return false, fmt.Errorf("count the notification emails of %s: %w", user.Id, err)
	}
	return count >= c.max, nil
}

// capCount counts a user's notification emails of the last hour, no further than the cap.
// Notices go to one user each, so hers have exactly to_users = ["<her id>"]; the count reads a
// range of that user's last hour (SEARCH emails USING INDEX idx_emails_notice_user (to_users=?
// AND created>?), migration 1764005600; TestEmailCapUsesIndex), not the whole outbox.
const capCount = `SELECT COUNT(*) FROM (SELECT 1 FROM {{` + outbox.Collection + `}}
	WHERE [[notice]] = 1 AND [[to_users]] = {:users} AND [[created]] > {:since}
	LIMIT {:max})`

// RecordURL is the web app's address of a record ("" without a record or an application
// URL in the settings).
func RecordURL(app core.App, object, id string) string {
	base := strings.TrimRight(app.Settings().Meta.AppURL, "/")
	if object == "" || id == "" || base == "" {
		return ""
	}
	return base + "/#/record/" + object + "/" + id
}

// oneLine folds line breaks and runs of spaces into single spaces and drops the other
// control characters: a title is one line of text, and a NUL in the email's subject (a
// header) refused the whole notification, and with it the save that caused it.
func oneLine(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) && !unicode.IsSpace(r) {
			return -1
		}
		return r
	}, s)
	return strings.Join(strings.Fields(s), " ")
}

// clip cuts s to at most n characters, on a character boundary, with an ellipsis.
func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}
