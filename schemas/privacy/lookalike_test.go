package privacy_test

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/audit"
	"github.com/relata/relata/schemas/privacy"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows/outbox"
	"github.com/relata/relata/workflows/outbox/outboxtest"
)

// Ann, and addresses that hold hers as a substring: other people, whom her requests must not
// touch.
const (
	annEmail = "ann@example.com"
	annName  = "Ann Marlowe"
)

var lookalikes = []string{"joann@example.com", "ann@example.com.evil.org", "xann@example.com"}

// lookalikeCollections are the collections Find reads, with the number of Ann's rows in each
// (the audit trail has several; counted apart).
var lookalikeCollections = map[string]int{
	"contacts": 1, "activities": 1, "relata_trash": 1, "emails": 1, "consents": 1, "form_submissions": 1,
	"workflow_runs": 1, "workflow_events": 1, "workflow_steps": 1, "email_suppressions": 1,
	"inbound_emails": 1, "email_bounces": 1, "notifications": 1,
}

// seedLookalikes puts Ann and the owners of the lookalike addresses into every collection Find
// reads, each row naming its owner's address the way Relata stores it there: alone in a field
// (a suppression, a bounce, an envelope), in a display form or JSON (recipients, workflow
// inputs, audit values), and in free text (bodies, diagnostics, titles, logs), at the end of
// a sentence too. No row holds two people's addresses.
func seedLookalikes(t *testing.T) *world {
	t.Helper()
	w := newWorld(t)
	app := w.app
	rep, _ := schemastest.NewUser(t, app, "rep@relata.test", "sales", "north")
	n := 0
	insert := func(coll string, values map[string]any) string {
		t.Helper()
		n++
		values["id"] = fmt.Sprintf("lookalike%06d", n)
		c, err := app.FindCollectionByNameOrId(coll)
		if err != nil {
			t.Fatal(err)
		}
		r := core.NewRecord(c)
		r.Load(values)
		if err := app.SaveNoValidate(r); err != nil {
			t.Fatalf("insert %s: %v", coll, err)
		}
		return r.Id
	}
	now := time.Now().UTC().Format("2006-01-02 15:04:05.000Z")
	for i, addr := range append([]string{annEmail}, lookalikes...) {
		name := fmt.Sprintf("Person %c", 'K'+i)
		if addr == annEmail {
			name = annName
		}
		contact := schemastest.MustCreate(t, app, "contacts", map[string]any{"full_name": name, "email": addr})
		if addr == annEmail {
			w.ada = contact
		}
		schemastest.MustCreate(t, app, "activities", map[string]any{"type": "note", "subject": "Note " + name, "body": "Wrote to " + addr + "."})
		trashed := schemastest.MustCreate(t, app, "activities", map[string]any{"type": "note", "subject": "Old note", "body": "Forward to <" + addr + ">"})
		if err := app.Delete(trashed); err != nil {
			t.Fatal(err)
		}
		insert("emails", map[string]any{"to": []string{name + " <" + addr + ">"}, "subject": "Hello", "text": "Dear " + addr,
			"status": "sent", "category": "marketing"})
		insert("consents", map[string]any{"form": "contact-us", "object": "contacts", "record_id": contact.Id, "text": "I agree",
			"version": "1", "given_at": now})
		insert("form_submissions", map[string]any{"form": "contact-us", "object": "contacts", "record_id": contact.Id, "action": "created"})
		run := insert("workflow_runs", map[string]any{"workflow_name": "welcome", "object": "contacts", "status": "failed",
			"input": map[string]any{"record": map[string]any{"email": addr}}, "error": "rejected: " + addr})
		insert("workflow_steps", map[string]any{"run": run, "path": "0", "action": "send_email", "status": "failed",
			"output": map[string]any{"to": addr}, "error": "550 " + addr})
		insert("workflow_events", map[string]any{"object": "contacts", "event": "update",
			"input": map[string]any{"record": map[string]any{"email": addr}}})
		insert("email_suppressions", map[string]any{"email": addr, "reason": "unsubscribe", "source": "link"})
		insert("inbound_emails", map[string]any{"kind": "logged", "envelope_from": addr, "envelope_to": []string{"crm@relata.test"},
			"from": name + " <" + addr + ">", "to": []string{"rep@relata.test"}, "cc": []string{addr},
			"subject": "Re: hello", "text": "Sent by " + addr, "size": 100})
		insert("email_bounces", map[string]any{"email": addr, "class": "soft", "status": "4.2.2", "diagnostic": "452 4.2.2 <" + addr + ">: mailbox full"})
		insert("notifications", map[string]any{"user": rep.Id, "kind": "mention", "title": "Mail from " + addr,
			"body": "Answer " + addr, "object": "activities", "record_id": "", "key": fmt.Sprintf("mention:%d", i)})
		if _, err := app.AuxDB().Insert("_logs", dbx.Params{"id": fmt.Sprintf("lookalikelog%04d", i), "level": 0,
			"message": "GET /api/collections/contacts/records",
			"data":    `{"url":"/api/collections/contacts/records?filter=email='` + addr + `'"}`, "created": now}).Execute(); err != nil {
			t.Fatal(err)
		}
	}
	return w
}

// withoutLookalikes removes the lookalike addresses from s, so that what is left names Ann
// only if it holds her own address.
func withoutLookalikes(s string) string {
	s = strings.ToLower(s)
	for _, l := range lookalikes {
		s = strings.ReplaceAll(s, l, "")
	}
	return s
}

// TestExportFindsOnlyTheWholeAddress: an access request for ann@example.com exports Ann's rows
// in every collection, and no row of joann@example.com, ann@example.com.evil.org or
// xann@example.com. Find matched the address as a substring (SQL instr), so Ann's export held
// the others' suppressions, bounces, mail, workflow data and audit entries: their personal
// data handed to someone else.
func TestExportFindsOnlyTheWholeAddress(t *testing.T) {
	t.Parallel()
	w := seedLookalikes(t)
	scenarios := []struct {
		name   string
		export func(t *testing.T) []byte
	}{
		{"function", func(t *testing.T) []byte {
			d, err := privacy.Find(w.app, w.reg, privacy.Subject{Email: strings.ToUpper(annEmail)})
			if err != nil {
				t.Fatal(err)
			}
			var buf bytes.Buffer
			if err := d.WriteZip(&buf); err != nil {
				t.Fatal(err)
			}
			return buf.Bytes()
		}},
		{"command", func(t *testing.T) []byte {
			file := filepath.Join(t.TempDir(), "ann.zip")
			if out, err := runCommand(t, w, "export", "--email", annEmail, "-o", file); err != nil {
				t.Fatalf("relata privacy export: %v\n%s", err, out)
			}
			b, err := os.ReadFile(file)
			if err != nil {
				t.Fatal(err)
			}
			return b
		}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			files := unzip(t, sc.export(t))
			for name, data := range files {
				for _, l := range lookalikes {
					if strings.Contains(strings.ToLower(data), l) {
						t.Errorf("%s holds another person's address %s", name, l)
					}
				}
			}
			// The control: Ann's own rows are all there.
			for coll, want := range lookalikeCollections {
				if got := strings.Count(files["csv/"+coll+".csv"], "\n") - 1; got != want {
					t.Errorf("csv/%s.csv has %d rows; want %d (Ann's)", coll, got, want)
				}
			}
			if !strings.Contains(files["json/relata_audit.json"], annEmail) {
				t.Errorf("the export holds no audit entry with Ann's address")
			}
			if !strings.Contains(files["json/activities.json"], "Wrote to "+annEmail+".") {
				t.Errorf("the export misses the note naming Ann at the end of a sentence")
			}
		})
	}
}

// TestEraseKeepsLookalikes erases ann@example.com, through each door, where joann@example.com,
// ann@example.com.evil.org and xann@example.com are in every collection erasure reaches. Only
// Ann's rows go: the others' rows are left byte for byte, and Jo Ann, who unsubscribed, still
// gets no marketing mail. Erasure matched the address as a substring, so it deleted their
// suppression entries (mailing them again), bounces, inbound mail and logs, and cut "ann@…"
// out of their notes ("Wrote to jo[erased].").
func TestEraseKeepsLookalikes(t *testing.T) {
	t.Parallel()
	scenarios := []struct {
		name  string
		erase func(t *testing.T, w *world)
	}{
		{"function", func(t *testing.T, w *world) {
			if _, err := privacy.Erase(w.app, w.reg, privacy.Subject{Email: annEmail}, "test"); err != nil {
				t.Fatal(err)
			}
		}},
		{"command", func(t *testing.T, w *world) {
			if out, err := runCommand(t, w, "erase", "--email", annEmail, "--yes"); err != nil {
				t.Fatalf("relata privacy erase: %v\n%s", err, out)
			}
		}},
		{"api", func(t *testing.T, w *world) {
			privacy.MustRegister(w.app, nil, privacy.Config{Registry: w.reg})
			srv := schemastest.Serve(t, w.app)
			_, tok := schemastest.NewUser(t, w.app, "privacy-admin@relata.test", "admin", "")
			var cert privacy.Certificate
			if code := schemastest.Call(t, srv, "POST", "/api/relata/privacy/erase", tok,
				map[string]any{"email": annEmail, "confirm": true}, &cert); code != 200 {
				t.Fatalf("POST /api/relata/privacy/erase = %d %+v", code, cert)
			}
		}},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			w := seedLookalikes(t)
			before := lookalikeRows(t, w.app)
			if len(before) < len(lookalikeCollections)*len(lookalikes) {
				t.Fatalf("only %d rows name a lookalike before the erasure: the seed is incomplete", len(before))
			}
			sc.erase(t, w)
			after := allRows(t, w.app)
			for key, row := range before {
				if got, ok := after[key]; !ok {
					t.Errorf("%s was deleted: %s", key, row)
				} else if got != row {
					t.Errorf("%s was changed:\n  before %s\n  after  %s", key, row, got)
				}
			}
			// Ann's rows are gone or no longer hold her address.
			for _, key := range annRows(t, w.app) {
				t.Errorf("%s still holds Ann's address", key)
			}
			// Jo Ann and the others stay unsubscribed, Ann stays suppressed as erased.
			checkSuppressed(t, w)
		})
	}
}

// lookalikeRows are the rows of the collections erasure reaches (and the server logs) that
// hold a lookalike address, as text by "collection/id".
func lookalikeRows(t *testing.T, app core.App) map[string]string {
	t.Helper()
	out := map[string]string{}
	for coll, row := range allRows(t, app) {
		if withoutLookalikes(row) != strings.ToLower(row) {
			out[coll] = row
		}
	}
	return out
}

// annRows are the rows that still hold Ann's address.
func annRows(t *testing.T, app core.App) []string {
	t.Helper()
	var out []string
	for key, row := range allRows(t, app) {
		if strings.Contains(withoutLookalikes(row), annEmail) {
			out = append(out, key)
		}
	}
	sort.Strings(out)
	return out
}

// allRows reads every row of the collections Find reads, the audit trail and the logs.
func allRows(t *testing.T, app core.App) map[string]string {
	t.Helper()
	if err := audit.Flush(app); err != nil { // entries still in the journal
		t.Fatal(err)
	}
	out := map[string]string{}
	read := func(db dbx.Builder, table string) {
		var rows []dbx.NullStringMap
		if err := db.NewQuery("SELECT * FROM {{" + table + "}}").All(&rows); err != nil {
			t.Fatal(err)
		}
		for _, r := range rows {
			cols := make([]string, 0, len(r))
			for c, v := range r {
				cols = append(cols, c+"="+v.String)
			}
			sort.Strings(cols)
			out[table+"/"+r["id"].String] = strings.Join(cols, " ")
		}
	}
	for coll := range lookalikeCollections {
		read(app.DB(), coll)
	}
	read(app.DB(), "relata_audit")
	read(app.AuxDB(), "_logs")
	return out
}

// checkSuppressed sends marketing mail to every address: all are refused, the lookalikes by
// their plain entries, Ann's by the hash her erasure left; mail to another address goes out
// (the control: the sender does send).
func checkSuppressed(t *testing.T, w *world) {
	t.Helper()
	smtp := outboxtest.NewServer(t, outboxtest.Options{})
	sender, err := outbox.Register(w.app, outbox.Config{Registry: w.reg, Getenv: func(string) string { return "" },
		From: "crm@relata.test", SMTP: outbox.SMTP{Host: smtp.Host, Port: smtp.Port, TLS: outbox.TLSStartTLS,
			RootCAs: smtp.CertPool, Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	sender.Stop() // mail goes out through Drain below only
	t.Cleanup(sender.Stop)
	want := map[string]string{annEmail: "erased person", "control@relata.test": ""}
	for _, l := range lookalikes {
		want[l] = "on the suppression list"
	}
	ids := map[string]string{}
	for addr := range want {
		rec, err := outbox.Enqueue(w.app, outbox.Message{To: []string{addr}, Category: outbox.Marketing, Subject: "News", Text: "Our offers."})
		if err != nil {
			t.Fatal(err)
		}
		ids[addr] = rec.Id
	}
	if _, err := sender.Drain(); err != nil {
		t.Fatal(err)
	}
	for addr, why := range want {
		rec, err := w.app.FindRecordById(outbox.Collection, ids[addr])
		if err != nil {
			t.Fatal(err)
		}
		switch {
		case why == "" && rec.GetString("status") != outbox.StatusSent:
			t.Errorf("mail to %s = %s %q; want sent", addr, rec.GetString("status"), rec.GetString("last_error"))
		case why != "" && (rec.GetString("status") != outbox.StatusSuppressed || !strings.Contains(rec.GetString("last_error"), why)):
			t.Errorf("mail to %s = %s %q; want suppressed, %s", addr, rec.GetString("status"), rec.GetString("last_error"), why)
		}
	}
}
