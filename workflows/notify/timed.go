package notify

import (
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/workflows/outbox"
)

// tasks describes the activity object's fields the timed notifications read.
type tasks struct {
	obj   *schemas.Object
	owner string
	done  bool // the object has a "done" field
}

func (n *Notifier) tasks() (tasks, bool) {
	act := n.cfg.Registry.ActivityObject()
	if act == nil || act.Field("due") == nil || act.OwnerField() == nil {
		return tasks{}, false
	}
	return tasks{obj: act, owner: act.OwnerField().Name, done: act.Field("done") != nil}, true
}

func (t tasks) open() string {
	if t.done {
		return "done = false && "
	}
	return ""
}

func dbTime(t time.Time) string { return t.UTC().Format(types.DefaultDateLayout) }

// dateOnly reports whether a due time is a day without a time: exactly 00:00:00 UTC, as date
// pickers, imports and spreadsheets store days (the web app reads them so too).
func dateOnly(t time.Time) bool {
	t = t.UTC()
	return t.Hour() == 0 && t.Minute() == 0 && t.Second() == 0 && t.Nanosecond() == 0
}

// Reminders notifies the owners of open tasks whose due time is less than their reminder lead
// time away (default 15 minutes), once per task and due time. Tasks due on a day without a
// time get no reminder: the morning digest lists them.
//
// Every task due within MaxReminder is read, every minute, so the pages are read by key
// (sorted by due time and id, each page starting after the last task of the one before), not
// by offset: with an index on the due time each page is a range of it, where an offset made
// the database walk and drop every task of the pages before (quadratic in the tasks due).
func (n *Notifier) Reminders(now time.Time) error {
	t, ok := n.tasks()
	if !ok {
		return nil
	}
	users := map[string]*core.Record{} // owners read in this pass (nil: gone)
	var errs []error
	err := n.dueTasks(t, now, func(rec *core.Record) {
		if err := n.remind(t, rec, now, users); err != nil {
			errs = append(errs, err)
		}
	})
	if err != nil {
		return fmt.Errorf("reminders: %w", err)
	}
	return errors.Join(errs...)
}

// dueTasks calls fn with each open task with an owner due after now and within MaxReminder,
// in order of due time and id, reading them a page (FindMaxLimit) at a time: the first page
// from now, each next one after the last task read, so none is skipped or read twice where a
// page ends among tasks due at the same time.
func (n *Notifier) dueTasks(t tasks, now time.Time, fn func(*core.Record)) error {
	base := t.open() + t.owner + " != '' && due <= {:to}"
	filter := base + " && due > {:from}"
	params := dbx.Params{"from": dbTime(now), "to": dbTime(now.Add(MaxReminder))}
	for {
		recs, err := schemas.Find(n.app, schemas.System, schemas.Query{
			Object: t.obj.Name,
			Filter: filter,
			Sort:   "due,id",
			Limit:  schemas.FindMaxLimit,
			Params: params,
		})
		if err != nil {
			return err
		}
		for _, rec := range recs {
			fn(rec)
		}
		if len(recs) < schemas.FindMaxLimit {
			return nil
		}
		last := recs[len(recs)-1]
		filter = base + " && due >= {:due} && (due > {:due} || id > {:id})" // (due, id) > last
		params = dbx.Params{"to": params["to"], "due": last.GetDateTime("due").String(), "id": last.Id}
	}
}

func (n *Notifier) remind(t tasks, rec *core.Record, now time.Time, users map[string]*core.Record) error {
	due := rec.GetDateTime("due").Time()
	if dateOnly(due) {
		return nil
	}
	key := fmt.Sprintf("due:%s:%s:%d", t.obj.Name, rec.Id, due.Unix())
	n.mu.Lock()
	handled := n.done[key]
	n.mu.Unlock()
	if handled {
		return nil
	}
	owner := rec.GetString(t.owner)
	user, seen := users[owner]
	if !seen {
		user, _ = n.app.FindRecordById(schemas.UsersCollection, owner)
		users[owner] = user
	}
	if user == nil {
		return nil
	}
	lead := PrefsOf(user).Reminder()
	if lead == 0 || due.Sub(now) > lead {
		return nil
	}
	if !n.once(key) {
		return nil
	}
	loc := Location(user)
	title := rec.GetString(t.obj.TitleField)
	msg := message(user, "due")
	_, err := Send(n.app, Notification{
		User:     user.Id,
		Kind:     KindDue,
		Title:    fmt.Sprintf(msg, title, due.In(loc).Format("15:04")),
		Body:     rec.GetString("body"),
		Object:   t.obj.Name,
		RecordID: rec.Id,
		Key:      key,
	})
	if err != nil {
		n.forget(key)
		return fmt.Errorf("reminder of %s/%s: %w", t.obj.Name, rec.Id, err)
	}
	return nil
}

// Digests emails each user who wants it (the default) the list of their open tasks due today
// or overdue, once per local day, at the first tick from DigestHour (08:00) in the user's time
// zone — or later that morning when the server was down at 08:00. Users with no such task get
// no email. The tasks are read as the user, through the one access check.
func (n *Notifier) Digests(now time.Time) error {
	t, ok := n.tasks()
	if !ok {
		return nil
	}
	users, err := n.app.FindAllRecords(schemas.UsersCollection)
	if err != nil {
		return fmt.Errorf("digests: %w", err)
	}
	var errs []error
	for _, u := range users {
		if err := n.digest(t, u, now); err != nil {
			errs = append(errs, fmt.Errorf("digest for %s: %w", u.Id, err))
		}
	}
	return errors.Join(errs...)
}

func (n *Notifier) digest(t tasks, u *core.Record, now time.Time) error {
	if u.Email() == "" || !PrefsOf(u).DigestOn() {
		return nil
	}
	loc := Location(u)
	local := now.In(loc)
	if h := local.Hour(); h < n.cfg.DigestHour || h >= n.cfg.DigestHour+n.cfg.DigestUntil {
		return nil
	}
	day := local.Format(time.DateOnly)
	key := "digest:" + u.Id + ":" + day
	if !n.once(key) {
		return nil
	}
	if _, err := n.app.FindFirstRecordByData(outbox.Collection, "idempotency_key", key); err == nil {
		return nil // sent before a restart
	}
	today0 := time.Date(local.Year(), local.Month(), local.Day(), 0, 0, 0, 0, loc)
	tomorrow0 := today0.AddDate(0, 0, 1)
	recs, err := schemas.Find(n.app, schemas.User(u), schemas.Query{
		Object: t.obj.Name,
		Filter: t.open() + t.owner + " = {:user} && due != '' && due < {:end}",
		Sort:   "due,id",
		Params: dbx.Params{"user": u.Id, "end": dbTime(tomorrow0.Add(24 * time.Hour))},
	})
	if err != nil {
		n.forget(key)
		return err
	}
	var overdue, today []string
	for _, rec := range recs {
		due := rec.GetDateTime("due").Time()
		// One line: a title with line breaks (anyone who may edit the task writes it) would
		// add links and sections to the digest that look like the CRM's own.
		title := oneLine(rec.GetString(t.obj.TitleField))
		line := func(when string) string {
			s := "- " + title
			if when != "" {
				s += " (" + when + ")"
			}
			if link := RecordURL(n.app, t.obj.Name, rec.Id); link != "" {
				s += "\n  " + link
			}
			return s
		}
		if dateOnly(due) {
			d := due.UTC().Format(time.DateOnly)
			switch {
			case d < day:
				overdue = append(overdue, line(d))
			case d == day:
				today = append(today, line(""))
			}
			continue
		}
		switch at := due.In(loc); {
		case !at.Before(tomorrow0):
		case at.Before(now):
			overdue = append(overdue, line(at.Format("2006-01-02 15:04")))
		default:
			today = append(today, line(at.Format("15:04")))
		}
	}
	if len(overdue)+len(today) == 0 {
		return nil
	}
	var b strings.Builder
	fmt.Fprintf(&b, message(u, "digest-hello")+"\n\n", displayName(u))
	if len(overdue) > 0 {
		fmt.Fprintf(&b, message(u, "digest-overdue")+"\n%s\n\n", len(overdue), strings.Join(overdue, "\n"))
	}
	if len(today) > 0 {
		fmt.Fprintf(&b, message(u, "digest-today")+"\n%s\n\n", len(today), strings.Join(today, "\n"))
	}
	to := u.Email()
	if name := oneLine(u.GetString("name")); name != "" {
		to = fmt.Sprintf("%q <%s>", name, to)
	}
	if _, err := outbox.Enqueue(n.app, outbox.Message{
		To:             []string{to},
		UserIDs:        []string{u.Id},
		Subject:        fmt.Sprintf(message(u, "digest-subject"), day, len(today), len(overdue)),
		Text:           strings.TrimSpace(b.String()),
		Notice:         true,
		IdempotencyKey: key,
	}); err != nil {
		n.forget(key)
		return err
	}
	return nil
}

func displayName(u *core.Record) string {
	if name := oneLine(u.GetString("name")); name != "" {
		return name
	}
	return u.Email()
}

// messages are the texts of notifications and digests, by language.
var messages = map[string]map[string]string{
	"en": {
		"due":              "Due at %[2]s: %[1]s",
		"digest-subject":   "Your tasks for %s: %d today, %d overdue",
		"digest-hello":     "Good morning %s,",
		"digest-overdue":   "Overdue (%d):",
		"digest-today":     "Due today (%d):",
		"assigned":         "%s assigned you %s",
		"mention":          "%s mentioned you in %s",
		"reply":            "Reply from %s: %s",
		"form-duplicate":   "A submission of form %q may duplicate the %s (%d%% alike)",
		"form-dup-body":    "Open it to see the possible duplicate and merge them.",
		"inbox-unverified": "Mail in your name to the CRM was not logged: its sender could not be verified",
		"inbox-unverified-body": "Subject: %s\nWhy: %s\n\nIf you sent it, your mail server does not sign with DKIM: ask your admin " +
			"(RELATA_INBOUND_AUTH). If you did not, someone used your address. Further ones today are not notified.",
	},
	"it": {
		"due":              "In scadenza alle %[2]s: %[1]s",
		"digest-subject":   "Le tue attività del %s: %d oggi, %d scadute",
		"digest-hello":     "Buongiorno %s,",
		"digest-overdue":   "Scadute (%d):",
		"digest-today":     "In scadenza oggi (%d):",
		"assigned":         "%s ti ha assegnato %s",
		"mention":          "%s ti ha menzionato in %s",
		"reply":            "Risposta da %s: %s",
		"form-duplicate":   "Un invio del modulo %q potrebbe duplicare %s (simile al %d%%)",
		"form-dup-body":    "Aprilo per vedere il possibile doppione e unirli.",
		"inbox-unverified": "Una email a tuo nome al CRM non è stata registrata: il mittente non è verificabile",
		"inbox-unverified-body": "Oggetto: %s\nMotivo: %s\n\nSe l'hai inviata tu, il tuo server di posta non firma con DKIM: " +
			"chiedi all'amministratore (RELATA_INBOUND_AUTH). Se non l'hai inviata tu, qualcuno ha usato il tuo indirizzo. " +
			"Le successive di oggi non vengono notificate.",
	},
}

// message is the text id in user's language (English when unset; see schemas.Languages).
func message(user *core.Record, id string) string {
	if m, ok := messages[schemas.UserLanguage(user)][id]; ok {
		return m
	}
	return messages["en"][id]
}

// nouns name the example model's records in a language other than English, with the article
// the sentence needs ("ti ha assegnato la trattativa “Acme”").
var nouns = map[string]map[string]string{
	"it": {"deal": "la trattativa", "contact": "il contatto", "company": "l'azienda", "activity": "l'attività", "lead": "il lead"},
}

// Noun is how a notification to user names a record of an object whose singular label is
// label (lower case, as "deal"): the translation of the example model's English label in her
// language, else the label as the model writes it (an admin's own wording is not translated).
func Noun(user *core.Record, label string) string {
	if n, ok := nouns[schemas.UserLanguage(user)][label]; ok {
		return n
	}
	return label
}

// Message is the text id (assigned, mention, reply, form-duplicate, form-dup-body) in user's
// language, for package hooks.
func Message(user *core.Record, id string) string { return message(user, id) }
