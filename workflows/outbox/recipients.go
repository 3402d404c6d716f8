package outbox

import (
	"encoding/json"
	"html"
	"net/mail"
	"regexp"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/relata/relata/schemas"
)

// UsersField is the email field that says which recipients are CRM users (see
// [Message.UserIDs]): a JSON array as long as "to", each item a user id or "", or null when
// no recipient is a user. Emails queued before it existed were filled in by migration
// 1764005600 where a recipient matched a user's address then.
const UsersField = "to_users"

// StoredUserIDs is ids as the to_users field stores them: the JSON array, and false when no
// id is set (the field stays null). Notices go to one user, so the to_users of a user's
// notices is exactly StoredUserIDs([]string{id}): the notification cap counts by it.
func StoredUserIDs(ids []string) (string, bool) {
	set := false
	for _, id := range ids {
		set = set || id != ""
	}
	if !set {
		return "", false
	}
	b, _ := json.Marshal(ids) // a []string always encodes
	return string(b), true
}

// storedUserIDs reads the to_users field of an email.
func storedUserIDs(rec *core.Record) []string {
	var ids []string
	_ = rec.UnmarshalJSONField(UsersField, &ids) // null or absent: no user
	return ids
}

// HiddenRecipient is what the emails API shows instead of the address of a recipient who is
// the CRM user id and keeps her address hidden, to a reader who may not read it: it names the
// user, never an address (not even her name, which may be one). The same stand-in replaces
// the address wherever it appears in the email (subject, text, html, last_error).
func HiddenRecipient(userID string) string {
	return "user " + userID + " (address hidden)"
}

// restrictedFields are the email fields the emails API never lets a reader other than a
// superuser filter or sort by: they may hold a user's hidden address, and the items or their
// order would tell it a letter at a time (`to ~ "a%"`).
var restrictedFields = []string{"to", "text", "html", "last_error"}

// bindHiddenRecipients hides, when emails are read through the API (lists, views, expands,
// realtime events), the address of each recipient who is a user and keeps it hidden from a
// reader who may not read it ([schemas.Caller.MayReadEmail]: superusers and the user herself
// always may, the others when she made it visible), and refuses filters and sorts by the
// fields that may hold it. The sender reads the records directly and is not affected.
func bindHiddenRecipients(app core.App) {
	app.OnRecordEnrich(Collection).Bind(&hook.Handler[*core.RecordEnrichEvent]{Id: "relata.outbox.hide-user-addresses", Func: hideUserAddresses})
	for _, f := range restrictedFields {
		schemas.RestrictField(app, schemas.RestrictedField{Collection: Collection, Field: f,
			May: func(c schemas.Caller) bool { return c.IsSuperuser() },
			Message: "it may hold the hidden address of a user, so only superusers filter or sort by it; " +
				"filter by object and record_id, by to_users (a user's id), status, category or subject instead"})
	}
}

func hideUserAddresses(e *core.RecordEnrichEvent) error {
	if e.RequestInfo != nil && e.RequestInfo.HasSuperuserAuth() {
		return e.Next()
	}
	hideAddresses(e.App, schemas.Request(e.RequestInfo), e.Record, "subject", "text", "html", "last_error")
	return e.Next()
}

// hideAddresses puts, in the email rec, the stand-in ([HiddenRecipient]) for the address of
// each recipient who is a user whose address c may not read: in "to" and in fields.
func hideAddresses(app core.App, c schemas.Caller, rec *core.Record, fields ...string) {
	ids := storedUserIDs(rec)
	if len(ids) == 0 {
		return
	}
	to := rec.GetStringSlice("to")
	var hidden []string // addresses to take out, and their stand-ins
	changed := false
	for i, id := range ids {
		if id == "" || i >= len(to) || mayReadAddress(app, c, id) {
			continue
		}
		if a, err := mail.ParseAddress(to[i]); err == nil && a.Address != "" {
			hidden = append(hidden, a.Address, HiddenRecipient(id))
		}
		to[i], changed = HiddenRecipient(id), true
	}
	if !changed {
		return
	}
	rec.Set("to", to)
	for _, f := range fields {
		v := rec.GetString(f)
		for i := 0; i < len(hidden); i += 2 {
			v = replaceAddress(v, hidden[i], hidden[i+1])
		}
		rec.Set(f, v)
	}
}

// mayReadAddress reports whether c may read the address of the user with id: c is a
// superuser or that user, or the user made it visible. A user deleted since is hidden.
func mayReadAddress(app core.App, c schemas.Caller, id string) bool {
	if c.IsSuperuser() {
		return true
	}
	if a := c.Auth(); a != nil && a.Id == id && a.Collection().Name == schemas.UsersCollection {
		return true
	}
	var visible bool
	err := app.DB().Select(core.FieldNameEmailVisibility).From(schemas.UsersCollection).
		Where(dbx.HashExp{"id": id}).Limit(1).Row(&visible)
	return err == nil && visible
}

// replaceAddress replaces addr in s, in any letter case and HTML-escaped too, with stand.
func replaceAddress(s, addr, stand string) string {
	if s == "" {
		return s
	}
	alts := []string{regexp.QuoteMeta(addr)}
	if esc := html.EscapeString(addr); esc != addr {
		alts = append(alts, regexp.QuoteMeta(esc))
	}
	return regexp.MustCompile("(?i)"+strings.Join(alts, "|")).ReplaceAllLiteralString(s, stand)
}
