package workflows_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows"
	"github.com/relata/relata/workflows/outbox"
)

// TestSendEmailToUserRecordsHer: a workflow's email to a CRM user — the record's owner, or
// her address written as it is — records her id (to_users), run by run and in a group of runs
// alike, so the emails API shows managers "user <id> (address hidden)" instead of the address
// Alice keeps hidden; an email to an address of no user records none and shows its address.
func TestSendEmailToUserRecordsHer(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	if _, err := outbox.Register(e.app, outbox.Config{Getenv: func(string) string { return "" }}); err != nil {
		t.Fatal(err) // the emails API's hooks; its workers never start (served before)
	}
	for i, to := range []string{"owner", "alice@example.com", `="lit@example.com"`} {
		e.save(t, fmt.Sprintf(`{"name": "mail-%d", "enabled": true, "object": "deals", "trigger": {"type": "record_created"},
		  "actions": [{"type": "send_email", "to": %q, "subject": "x", "text": "y"}]}`, i, to))
	}
	e.save(t, `{"name": "welcome", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
	  "actions": [{"type": "send_email", "to": "owner", "subject": "New contact", "text": "y"}]}`)
	schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "Elm", "stage": "lead", "owner": e.alice.Id})
	for i := range 5 { // several runs due at once (the engine may run them as a group)
		if code, out := e.api(t, http.MethodPost, "/api/collections/contacts/records", e.aliceTok,
			map[string]any{"full_name": fmt.Sprint("C", i), "email": fmt.Sprintf("c%d@example.com", i)}); code != 200 {
			t.Fatalf("create = %d %v", code, out)
		}
	}
	e.drain(t)
	if failed := e.runs(t, `status != "succeeded"`); len(failed) != 0 {
		for _, r := range failed {
			t.Errorf("run %s %s: %s", r.GetString("object"), r.GetString("status"), r.GetString("error"))
		}
		t.FailNow()
	}
	mails, err := e.app.FindAllRecords(outbox.Collection)
	if err != nil {
		t.Fatal(err)
	}
	if len(mails) != 8 {
		t.Fatalf("%d emails, want 8", len(mails))
	}
	for _, m := range mails {
		var users []string
		_ = m.UnmarshalJSONField(outbox.UsersField, &users)
		toAlice := strings.Contains(m.GetStringSlice("to")[0], "alice@example.com")
		if want := map[bool]string{true: "[" + e.alice.Id + "]", false: "[]"}[toAlice]; fmt.Sprint(users) != want {
			t.Errorf("email to %v: to_users = %v, want %s", m.GetStringSlice("to"), users, want)
		}
	}

	code, list := e.api(t, http.MethodGet, "/api/collections/emails/records?perPage=50", e.mgrTok, nil)
	if code != 200 || strings.Contains(jsonOf(list), "alice@example.com") {
		t.Fatalf("the manager's list (%d) shows Alice's hidden address: %s", code, jsonOf(list))
	}
	shown := map[string]int{}
	for _, it := range list["items"].([]any) {
		for _, to := range it.(map[string]any)["to"].([]any) {
			shown[to.(string)]++
		}
	}
	if shown[outbox.HiddenRecipient(e.alice.Id)] != 7 || shown["lit@example.com"] != 1 {
		t.Errorf("the manager reads the recipients %v, want Alice's stand-in 7 times and lit@example.com", shown)
	}
}
