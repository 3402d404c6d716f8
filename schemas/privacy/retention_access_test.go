package privacy_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"

	"github.com/relata/relata/schemas/audit"
	"github.com/relata/relata/schemas/privacy"
	"github.com/relata/relata/schemas/schemastest"
)

// TestRetentionClearLeavesNoValuesInHistory: a policy that clears a field of an object (the
// message contacts wrote, after 30 days) empties it on the record, records the change in the
// audit trail (without the values) and erases the field's values from the record's earlier
// entries: the rep who may view the contact must not read the message on its History tab once
// retention removed it. The other fields' history stays, and the chain verifies.
func TestRetentionClearLeavesNoValuesInHistory(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	later := time.Now().AddDate(0, 2, 0)
	privacy.MustRegister(w.app, nil, privacy.Config{Registry: w.reg, Now: func() time.Time { return later }})
	audit.MustRegister(w.app, nil, audit.Config{Registry: w.reg})
	srv := schemastest.Serve(t, w.app)
	rep, repTok := schemastest.NewUser(t, w.app, "rep@example.com", "sales", "north")
	_, adminTok := schemastest.NewUser(t, w.app, "boss@example.com", "admin", "")
	c := schemastest.MustCreate(t, w.app, "contacts", map[string]any{"full_name": "Mona Message", "owner": rep.Id,
		"message": "My home address is 12 Quiet Lane"})
	c.Set("message", "My home address is 14 Quiet Lane, not 12")
	if err := w.app.Save(c); err != nil {
		t.Fatal(err)
	}
	if code := schemastest.Call(t, srv, http.MethodPost, "/api/collections/retention_policies/records", adminTok, map[string]any{
		"name": "Contacts: clear messages after 30 days", "collection": "contacts", "field": "created", "after": "30d",
		"action": "clear", "fields": []string{"message"}, "enabled": true}, nil); code != 200 {
		t.Fatalf("create the policy = %d", code)
	}
	var rep1 privacy.Report
	if code := schemastest.Call(t, srv, http.MethodPost, "/api/relata/privacy/retention", adminTok, nil, &rep1); code != 200 {
		t.Fatalf("run retention = %d", code)
	}
	for _, o := range rep1.Outcomes {
		if o.Error != "" {
			t.Errorf("%s: %s", o.Policy, o.Error)
		}
	}
	if got, err := w.app.FindRecordById("contacts", c.Id); err != nil || got.GetString("message") != "" {
		t.Fatalf("the message was not cleared: %v", err)
	}
	var hist struct {
		Items []*audit.Entry `json:"items"`
	}
	if code := schemastest.Call(t, srv, http.MethodGet, "/api/relata/audit/contacts/"+c.Id, repTok, nil, &hist); code != 200 {
		t.Fatalf("history = %d", code)
	}
	b, _ := json.Marshal(hist.Items)
	if strings.Contains(string(b), "Quiet Lane") {
		t.Errorf("after retention cleared the message, the contact's history still shows it: %s", b)
	}
	if !strings.Contains(string(b), "Mona Message") {
		t.Errorf("the history lost the fields retention keeps: %s", b)
	}
	if len(hist.Items) == 0 || !hist.Items[0].Changes["message"].Redacted {
		t.Errorf("the clearing is not the newest entry of the history, with the message redacted: %s", b)
	}
	if r, err := audit.Verify(w.app); err != nil || !r.OK() {
		t.Errorf("verify after retention: %v %+v", err, r)
	}
}

// TestRetentionRefusesKeptCollections: the register of requests, the audit trail and
// Relata's internal collections are not subject to retention, however an admin spells
// their names: collection names are case-insensitive to PocketBase and SQLite alike, and a
// policy on "Privacy_Requests" deleted the register (which admins may only read), and one on
// "Contacts" deleted contacts with SQL instead of erasing them (no audit entry, links to them
// left behind). Users are not subject to retention either (SQL would skip their tokens and
// their audit).
func TestRetentionRefusesKeptCollections(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	later := time.Now().AddDate(0, 2, 0)
	privacy.MustRegister(w.app, nil, privacy.Config{Registry: w.reg, Now: func() time.Time { return later }})
	srv := schemastest.Serve(t, w.app)
	_, adminTok := schemastest.NewUser(t, w.app, "boss@example.com", "admin", "")
	contact := schemastest.MustCreate(t, w.app, "contacts", map[string]any{"full_name": "Kept Contact"})
	if _, err := privacy.Erase(w.app, w.reg, privacy.Subject{Email: "someone@example.net"}, "cli"); err != nil {
		t.Fatal(err)
	}
	for _, sc := range []struct{ collection, field string }{
		{"Privacy_Requests", "requested_at"},
		{"PRIVACY_REQUESTS", "created"},
		{"privacy_requests", "created"},
		{"Relata_Trash", "created"},
		{"relata_seeded", "created"},
		{"Contacts", "created"}, // deleted with SQL, not erased: no audit, no trash, links left behind
		{"users", "created"},
	} {
		code := schemastest.Call(t, srv, http.MethodPost, "/api/collections/retention_policies/records", adminTok, map[string]any{
			"name": "drop " + sc.collection, "collection": sc.collection, "field": sc.field, "after": "1d", "action": "delete", "enabled": true}, nil)
		if code == 200 {
			t.Errorf("a policy on %s was saved", sc.collection)
		}
	}
	schemastest.Call(t, srv, http.MethodPost, "/api/relata/privacy/retention", adminTok, nil, nil)
	var n int
	if err := w.app.DB().Select("count(*)").From("privacy_requests").Row(&n); err != nil || n != 1 {
		t.Errorf("the register holds %d requests after retention (%v); want 1", n, err)
	}
	if n, err := w.app.CountRecords("contacts", dbx.HashExp{"id": contact.Id}); err != nil || n != 1 {
		t.Errorf("retention deleted the contact: %d %v", n, err)
	}
}

// TestRetentionDeletesOnlyTheRecords: a policy that deletes old activities erases each one as
// erasure does — but an activity is no person, and its subject ("Quarterly review") is no name
// to wipe from everyone else's records: an unrelated, recent activity of a rep that mentions
// it keeps its text and its history.
func TestRetentionDeletesOnlyTheRecords(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	later := time.Now().AddDate(3, 0, 0)
	privacy.MustRegister(w.app, nil, privacy.Config{Registry: w.reg, Now: func() time.Time { return later }})
	audit.MustRegister(w.app, nil, audit.Config{Registry: w.reg})
	srv := schemastest.Serve(t, w.app)
	rep, repTok := schemastest.NewUser(t, w.app, "rep@example.com", "sales", "north")
	_, adminTok := schemastest.NewUser(t, w.app, "boss@example.com", "admin", "")
	old := schemastest.MustCreate(t, w.app, "activities", map[string]any{"type": "note", "subject": "Quarterly review", "body": "done", "owner": rep.Id})
	// The other activity is recent when the policy runs.
	if _, err := w.app.DB().NewQuery("UPDATE activities SET created = {:t}").Bind(dbx.Params{"t": time.Now().AddDate(-1, 0, 0).UTC().Format("2006-01-02 15:04:05.000Z")}).Execute(); err != nil {
		t.Fatal(err)
	}
	keep := schemastest.MustCreate(t, w.app, "activities", map[string]any{"type": "note", "subject": "Prep",
		"body": "Agenda for the Quarterly review with Acme", "owner": rep.Id})
	if _, err := w.app.DB().NewQuery("UPDATE activities SET created = {:t} WHERE id = {:id}").
		Bind(dbx.Params{"t": later.AddDate(0, -1, 0).UTC().Format("2006-01-02 15:04:05.000Z"), "id": keep.Id}).Execute(); err != nil {
		t.Fatal(err)
	}
	if code := schemastest.Call(t, srv, http.MethodPost, "/api/collections/retention_policies/records", adminTok, map[string]any{
		"name": "Activities: delete after 2 years", "collection": "activities", "field": "created", "after": "2y",
		"action": "delete", "enabled": true}, nil); code != 200 {
		t.Fatalf("create the policy = %d", code)
	}
	var run privacy.Report
	if code := schemastest.Call(t, srv, http.MethodPost, "/api/relata/privacy/retention", adminTok, nil, &run); code != 200 {
		t.Fatalf("run retention = %d", code)
	}
	if _, err := w.app.FindRecordById("activities", old.Id); err == nil {
		t.Errorf("the old activity is still there: %+v", run)
	}
	var got map[string]any
	if code := schemastest.Call(t, srv, http.MethodGet, "/api/collections/activities/records/"+keep.Id, repTok, nil, &got); code != 200 ||
		got["body"] != "Agenda for the Quarterly review with Acme" {
		t.Errorf("the recent activity = %d %v; want its text untouched", code, got["body"])
	}
	var hist struct {
		Items []*audit.Entry `json:"items"`
	}
	schemastest.Call(t, srv, http.MethodGet, "/api/relata/audit/activities/"+keep.Id, repTok, nil, &hist)
	if b, _ := json.Marshal(hist.Items); !strings.Contains(string(b), "Agenda for the Quarterly review") {
		t.Errorf("the recent activity's history was erased: %s", b)
	}
}
