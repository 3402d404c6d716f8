package hooks_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"

	"github.com/relata/relata/schemas/forms"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows/notify"
)

// TestFormDuplicateFlaggedForTheTeam: a public form creating a contact that may duplicate
// an existing one answers the submitter exactly as for any other, flags the submission with
// the existing record and notifies that record's owner; a distinct contact flags nothing.
func TestFormDuplicateFlaggedForTheTeam(t *testing.T) {
	e := newFormEnv(t)
	alice, _ := schemastest.NewUser(t, e.app, "alice@example.com", "sales", "north")
	existing := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Ada Lovelace", "email": "ada@example.com", "owner": alice.Id})

	var raw json.RawMessage
	code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/forms/lead", "", map[string]any{"full_name": "Ada Lovelace", "email": "ada+web@example.com", "_consent": true}, &raw)
	if code != http.StatusOK {
		t.Fatalf("submit = %d %s", code, raw)
	}
	if strings.Contains(string(raw), existing.Id) || strings.Contains(strings.ToLower(string(raw)), "duplicate") {
		t.Fatalf("the submitter learns of the existing record: %s", raw)
	}
	var distinct json.RawMessage
	if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/forms/lead", "", map[string]any{"full_name": "Grace Hopper", "email": "grace@example.com", "_consent": true}, &distinct); code != http.StatusOK {
		t.Fatalf("submit = %d %s", code, distinct)
	}
	shape := func(s string) string { // the answers differ only in the ids they carry
		var m map[string]any
		_ = json.Unmarshal([]byte(s), &m)
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		return strings.Join(keys, ",")
	}
	if len(shape(string(raw))) != len(shape(string(distinct))) {
		t.Fatalf("answers differ: %s / %s", raw, distinct)
	}

	var rows []struct {
		Email      string `db:"email"`
		Duplicates string `db:"duplicates"`
	}
	if err := e.app.DB().NewQuery("SELECT c.email, COALESCE(s.duplicates, '') AS duplicates FROM " + forms.SubmissionsCollection + " s JOIN contacts c ON c.id = s.record_id ORDER BY c.email").All(&rows); err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 {
		t.Fatalf("%d submissions", len(rows))
	}
	var flags []struct {
		Object, ID string
		Score      float64
	}
	if err := json.Unmarshal([]byte(rows[0].Duplicates), &flags); err != nil || rows[0].Email != "ada+web@example.com" || len(flags) != 1 || flags[0].ID != existing.Id || flags[0].Object != "contacts" || flags[0].Score < 0.5 {
		t.Fatalf("flags of Ada's submission: %q %v %v", rows[0].Duplicates, flags, err)
	}
	if d := rows[1].Duplicates; d != "" && d != "null" {
		t.Fatalf("Grace's submission flagged: %q", d)
	}
	var notes []struct {
		User   string `db:"user"`
		Record string `db:"record_id"`
		Title  string `db:"title"`
	}
	if err := e.app.DB().Select("user", "record_id", "title").From(notify.Collection).Where(dbx.HashExp{"kind": notify.KindWorkflow}).All(&notes); err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || notes[0].User != alice.Id || notes[0].Record != existing.Id || !strings.Contains(notes[0].Title, "may duplicate") {
		t.Fatalf("notifications %+v", notes)
	}
}

// The owner of the existing record is told in her language.
func TestFormDuplicateNoticeInTheOwnersLanguage(t *testing.T) {
	e := newFormEnv(t)
	ada, _ := schemastest.NewUser(t, e.app, "ada@example.com", "sales", "north")
	ada.Set("language", "it")
	if err := e.app.Save(ada); err != nil {
		t.Fatal(err)
	}
	existing := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Grace Hopper", "email": "grace@example.com", "owner": ada.Id})
	var raw json.RawMessage
	if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/forms/lead", "", map[string]any{"full_name": "Grace Hopper", "email": "grace+web@example.com", "_consent": true}, &raw); code != http.StatusOK {
		t.Fatalf("submit = %d %s", code, raw)
	}
	var notes []struct {
		Title string `db:"title"`
		Body  string `db:"body"`
	}
	if err := e.app.DB().Select("title", "body").From(notify.Collection).Where(dbx.HashExp{"record_id": existing.Id}).All(&notes); err != nil {
		t.Fatal(err)
	}
	if len(notes) != 1 || !strings.Contains(notes[0].Title, `potrebbe duplicare il contatto “Grace Hopper”`) || !strings.Contains(notes[0].Body, "Aprilo") {
		t.Fatalf("notifications %+v", notes)
	}
}
