package hooks_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows/inbox"
	"github.com/relata/relata/workflows/notify"
	"github.com/relata/relata/workflows/outbox"
)

type person struct {
	rec   *core.Record
	token string
}

func (e *env) person(t *testing.T, email, name, role, team string) person {
	t.Helper()
	u, tok := schemastest.NewUser(t, e.app, email, role, team)
	u.Set("name", name)
	if err := e.app.Save(u); err != nil {
		t.Fatal(err)
	}
	return person{u, tok}
}

func (e *env) notificationsOf(t *testing.T, p person) []*core.Record {
	t.Helper()
	recs, err := e.app.FindRecordsByFilter(notify.Collection, "user = {:u}", "created", 0, 0, map[string]any{"u": p.rec.Id})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

func (e *env) call(t *testing.T, p person, method, path string, body any, out any) int {
	t.Helper()
	return schemastest.Call(t, e.srv, method, path, p.token, body, out)
}

// Assigning a record to someone else notifies them, once per change; taking a record
// yourself, saving it unchanged or the system creating it owned notifies nobody.
func TestNotifyAssignment(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.person(t, "alice@example.com", "Alice Rossi", "sales", "north")
	bob := e.person(t, "bob@example.com", "Bob Bianchi", "sales", "north")
	carol := e.person(t, "carol@example.com", "Carol Verdi", "sales", "south")
	boss := e.person(t, "boss@example.com", "Boss", "manager", "")

	var deal struct {
		ID   string
		Data any
	}
	if code := e.call(t, boss, http.MethodPost, "/api/collections/deals/records", map[string]any{"name": "Acme renewal", "owner": bob.rec.Id}, &deal); code != 200 {
		t.Fatalf("create deal = %d %v", code, deal.Data)
	}
	got := e.notificationsOf(t, bob)
	if len(got) != 1 || got[0].GetString("kind") != notify.KindAssigned || got[0].GetString("title") != "Boss assigned you deal “Acme renewal”" ||
		got[0].GetString("record_id") != deal.ID || got[0].GetString("actor") != boss.rec.Id {
		t.Fatalf("bob's notifications = %v", got)
	}
	if code := e.call(t, alice, http.MethodPost, "/api/collections/deals/records", map[string]any{"name": "Mine"}, nil); code != 200 {
		t.Fatalf("create own deal = %d", code)
	}
	if n := len(e.notificationsOf(t, alice)); n != 0 {
		t.Errorf("alice was notified of her own deal: %d", n)
	}
	if code := e.call(t, boss, http.MethodPatch, "/api/collections/deals/records/"+deal.ID, map[string]any{"amount": 5}, nil); code != 200 {
		t.Fatalf("update = %d", code)
	}
	if code := e.call(t, boss, http.MethodPatch, "/api/collections/deals/records/"+deal.ID, map[string]any{"owner": carol.rec.Id}, nil); code != 200 {
		t.Fatalf("reassign = %d", code)
	}
	if n := len(e.notificationsOf(t, bob)); n != 1 {
		t.Errorf("bob has %d notifications after an update that kept him the owner, want 1", n)
	}
	if got := e.notificationsOf(t, carol); len(got) != 1 || !strings.HasPrefix(got[0].GetString("title"), "Boss assigned you") {
		t.Errorf("carol's notifications = %v", got)
	}
	// The system (a seed) creating an owned record is no assignment.
	schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "Seeded", "owner": bob.rec.Id, "stage": "lead"})
	if n := len(e.notificationsOf(t, bob)); n != 1 {
		t.Errorf("a seeded deal notified bob: %d", n)
	}
}

// @mentions in an activity notify the mentioned users who may view it, once each; a user who
// may not view the activity is not notified (the notification would carry its text).
func TestNotifyMentions(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.person(t, "alice@example.com", "Alice Rossi", "sales", "north")
	bob := e.person(t, "bob@example.com", "Bob Bianchi", "sales", "north")
	carol := e.person(t, "carol@example.com", "Carol Verdi", "sales", "south")

	var note struct{ ID string }
	body := map[string]any{"type": "note", "subject": "Pricing call", "body": "@bob bianchi and @Carol Verdi: the client wants 10% off. cc @alice"}
	if code := e.call(t, alice, http.MethodPost, "/api/collections/activities/records", body, &note); code != 200 {
		t.Fatalf("create note = %d", code)
	}
	got := e.notificationsOf(t, bob)
	if len(got) != 1 || got[0].GetString("kind") != notify.KindMention || got[0].GetString("title") != "Alice Rossi mentioned you in “Pricing call”" ||
		!strings.Contains(got[0].GetString("body"), "10% off") {
		t.Fatalf("bob's notifications = %v", got)
	}
	if n := len(e.notificationsOf(t, carol)); n != 0 {
		t.Errorf("carol (another team, who may not view the note) was notified: %d", n)
	}
	if n := len(e.notificationsOf(t, alice)); n != 0 {
		t.Errorf("alice was notified of her own mention: %d", n)
	}
	// Editing the note keeps bob's one notification.
	if code := e.call(t, alice, http.MethodPatch, "/api/collections/activities/records/"+note.ID, map[string]any{"body": "@Bob Bianchi: 12% off now"}, nil); code != 200 {
		t.Fatal("update note")
	}
	if n := len(e.notificationsOf(t, bob)); n != 1 {
		t.Errorf("bob has %d notifications after the edit, want 1", n)
	}
}

// A hostile user cannot list, view, mark or delete others' notifications, cannot create any
// (for others or herself), and can change only read_at of her own.
func TestNotificationsAccess(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	alice := e.person(t, "alice@example.com", "Alice Rossi", "sales", "north")
	bob := e.person(t, "bob@example.com", "Bob Bianchi", "sales", "north")
	mine, err := notify.Send(e.app, notify.Notification{User: alice.rec.Id, Kind: notify.KindWorkflow, Title: "For alice", Body: "secret", Key: "t:1"})
	if err != nil || mine == nil {
		t.Fatal(err)
	}
	path := "/api/collections/notifications/records"
	var list struct{ Items []map[string]any }
	if code := e.call(t, bob, http.MethodGet, path, nil, &list); code != 200 || len(list.Items) != 0 {
		t.Errorf("bob lists %d of alice's notifications (%d)", len(list.Items), code)
	}
	if code := e.call(t, bob, http.MethodGet, path+"?filter="+encodeQuery(fmt.Sprintf("user='%s'", alice.rec.Id)), nil, &list); len(list.Items) != 0 {
		t.Errorf("bob lists alice's notifications by filter (%d)", code)
	}
	for _, c := range []struct {
		method string
		body   any
	}{{http.MethodGet, nil}, {http.MethodPatch, map[string]any{"read_at": "2026-01-01 00:00:00.000Z"}}, {http.MethodDelete, nil}} {
		if code := e.call(t, bob, c.method, path+"/"+mine.Id, c.body, nil); code != 404 {
			t.Errorf("bob %s alice's notification = %d, want 404", c.method, code)
		}
	}
	for _, to := range []string{alice.rec.Id, bob.rec.Id} {
		if code := e.call(t, bob, http.MethodPost, path, map[string]any{"user": to, "kind": "workflow", "title": "Phish", "key": "x" + to}, nil); code < 400 {
			t.Errorf("bob created a notification for %s (%d)", to, code)
		}
	}
	if code := e.call(t, alice, http.MethodPatch, path+"/"+mine.Id, map[string]any{"title": "changed"}, nil); code < 400 {
		t.Errorf("alice changed the title of her notification (%d)", code)
	}
	if code := e.call(t, alice, http.MethodPatch, path+"/"+mine.Id, map[string]any{"user": bob.rec.Id}, nil); code < 400 {
		t.Errorf("alice passed her notification to bob (%d)", code)
	}
	if code := e.call(t, alice, http.MethodPatch, path+"/"+mine.Id, map[string]any{"read_at": "2026-01-01 10:00:00.000Z"}, nil); code != 200 {
		t.Errorf("alice cannot mark her notification read (%d)", code)
	}
	after, _ := e.app.FindRecordById(notify.Collection, mine.Id)
	if after.GetString("title") != "For alice" || after.GetString("user") != alice.rec.Id || after.GetString("read_at") == "" {
		t.Errorf("notification after the attempts = %v", after.FieldsData())
	}
	// A second Send with the same key is the same notification.
	again, err := notify.Send(e.app, notify.Notification{User: alice.rec.Id, Kind: notify.KindWorkflow, Title: "For alice", Key: "t:1"})
	if err != nil || again.Id != mine.Id {
		t.Errorf("second send = %v, %v", again, err)
	}
	// Time zones are IANA names.
	var zone struct{ Message string }
	if code := e.call(t, alice, http.MethodPatch, "/api/collections/users/records/"+alice.rec.Id, map[string]any{"timezone": "Mars/Olympus"}, &zone); code != 400 ||
		zone.Message != `Timezone: time zone "Mars/Olympus" is not an IANA time zone name such as Europe/Rome.` {
		t.Errorf("an unknown time zone = %d %q, want 400 naming timezone", code, zone.Message)
	}
	if code := e.call(t, alice, http.MethodPatch, "/api/collections/users/records/"+alice.rec.Id, map[string]any{"timezone": "Europe/Rome", "language": "it", "notify_prefs": map[string]any{"digest": false}}, nil); code != 200 {
		t.Errorf("saving her preferences = %d", code)
	}
	// Preferences that would read as the defaults are refused, naming the key.
	for _, bad := range []map[string]any{{"digest": "no"}, {"reminderMinutes": 99999}, {"reminderMinutes": "30"},
		{"kinds": map[string]any{"mentions": map[string]any{"email": true}}}, {"kinds": map[string]any{"mention": map[string]any{"email": "yes"}}}, {"digets": false}} {
		var out struct{ Message string }
		if code := e.call(t, alice, http.MethodPatch, "/api/collections/users/records/"+alice.rec.Id, map[string]any{"notify_prefs": bad}, &out); code != 400 || !strings.HasPrefix(strings.ToLower(out.Message), "notify_prefs: ") {
			t.Errorf("preferences %v = %d %q, want 400 naming notify_prefs and the key", bad, code, out.Message)
		}
	}
	if code := e.call(t, bob, http.MethodPatch, "/api/collections/users/records/"+alice.rec.Id, map[string]any{"notify_prefs": map[string]any{"digest": true}}, nil); code < 400 {
		t.Errorf("bob changed alice's preferences (%d)", code)
	}
}

// A reply to an email about a deal notifies the deal's owner, titled with the sender's address
// and the subject the CRM sent, not the reply's display name and subject (free text the
// sender writes).
func TestNotifyReply(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bob := e.person(t, "bob@example.com", "Bob Bianchi", "sales", "north")
	in, err := inbox.Register(e.app, inbox.Config{Registry: e.reg, Domain: "crm.example.com", Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	deal := schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "Acme", "owner": bob.rec.Id, "stage": "lead"})
	sent, err := outbox.Enqueue(e.app, outbox.Message{To: []string{"buyer@acme.test"}, Subject: "Our offer", Text: "Hi", Object: "deals", RecordID: deal.Id})
	if err != nil {
		t.Fatal(err)
	}
	key, _, err := outbox.VERPKey(e.app)
	if err != nil {
		t.Fatal(err)
	}
	returnPath := outbox.VERPLocal(key, sent.Id) + "@crm.example.com"
	raw := "From: \"Your CEO (urgent)\" <Buyer@acme.test>\r\nTo: x@crm.example.com\r\nSubject: Wire the money today\r\nMessage-ID: <r1@acme.test>\r\n\r\nYes please.\r\n"
	if _, err := in.Deliver("buyer@acme.test", []string{returnPath}, []byte(raw)); err != nil {
		t.Fatal(err)
	}
	got := e.notificationsOf(t, bob)
	if len(got) != 1 || got[0].GetString("kind") != notify.KindReply || got[0].GetString("record_id") != deal.Id ||
		got[0].GetString("title") != "Reply from buyer@acme.test: Our offer" || !strings.Contains(got[0].GetString("body"), "Yes please") {
		t.Fatalf("bob's notifications = %v", got)
	}
	// The same message again is handled once.
	if _, err := in.Deliver("buyer@acme.test", []string{returnPath}, []byte(raw)); err != nil {
		t.Fatal(err)
	}
	if n := len(e.notificationsOf(t, bob)); n != 1 {
		t.Errorf("%d notifications after the same reply twice", n)
	}
}

// Mail to the dropbox in a user's name that is quarantined because its From is not
// authenticated tells that user, once a day: her own BCCs from a server that does not sign,
// or someone forging her address.
func TestNotifyUnverifiedBCC(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bob := e.person(t, "bob@example.com", "Bob Bianchi", "sales", "north")
	carol := e.person(t, "carol@example.com", "Carol Verdi", "sales", "north")
	in, err := inbox.Register(e.app, inbox.Config{Registry: e.reg, Domain: "crm.example.com", Getenv: func(string) string { return "" }})
	if err != nil {
		t.Fatal(err)
	}
	for i, subject := range []string{"Offer for Acme", "Second offer"} {
		raw := fmt.Sprintf("From: Bob <Bob@Example.com>\r\nTo: buyer@acme.test\r\nSubject: %s\r\nMessage-ID: <f%d@example.com>\r\n\r\nHi\r\n", subject, i)
		rec, err := in.Deliver("bob@example.com", []string{"log@crm.example.com"}, []byte(raw))
		if err != nil {
			t.Fatal(err)
		}
		if rec.GetString("kind") != inbox.KindQuarantined || rec.GetString("user") != bob.rec.Id {
			t.Fatalf("inbound %s for %q; want quarantined, naming Bob", rec.GetString("kind"), rec.GetString("user"))
		}
	}
	got := e.notificationsOf(t, bob)
	if len(got) != 1 || got[0].GetString("kind") != notify.KindWorkflow ||
		got[0].GetString("title") != "Mail in your name to the CRM was not logged: its sender could not be verified" ||
		!strings.Contains(got[0].GetString("body"), "Subject: Offer for Acme\nWhy: none: no DKIM signature") {
		t.Fatalf("bob's notifications = %v; want one, the first of the day", got)
	}
	if n := len(e.notificationsOf(t, carol)); n != 0 {
		t.Errorf("carol got %d notifications about bob's mail", n)
	}
}

// A notification speaks its recipient's language: an Italian rep is told in Italian, with the
// example model's record names translated, while an English one reads English.
func TestNotifyAssignmentInItalian(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	bob := e.person(t, "bob@example.com", "Bob Bianchi", "sales", "north")
	carol := e.person(t, "carol@example.com", "Carol Verdi", "sales", "north")
	boss := e.person(t, "boss@example.com", "Boss", "manager", "")
	bob.rec.Set("language", "it")
	if err := e.app.Save(bob.rec); err != nil {
		t.Fatal(err)
	}
	for _, p := range []person{bob, carol} {
		if code := e.call(t, boss, http.MethodPost, "/api/collections/deals/records", map[string]any{"name": "Acme", "owner": p.rec.Id}, nil); code != 200 {
			t.Fatalf("create deal = %d", code)
		}
	}
	for _, c := range []struct {
		who  person
		want string
	}{{bob, "Boss ti ha assegnato la trattativa “Acme”"}, {carol, "Boss assigned you deal “Acme”"}} {
		if got := e.notificationsOf(t, c.who); len(got) != 1 || got[0].GetString("title") != c.want {
			var titles []string
			for _, n := range got {
				titles = append(titles, n.GetString("title"))
			}
			t.Errorf("%s's notifications = %q; want %q", c.who.rec.Email(), titles, c.want)
		}
	}
}
