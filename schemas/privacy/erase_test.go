package privacy_test

import (
	"bytes"
	"encoding/json"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"

	"github.com/relata/relata/schemas/privacy"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows/outbox"
	"github.com/relata/relata/workflows/outbox/outboxtest"
)

// runCommand runs `relata privacy ARGS...` on w's app and returns what it printed.
func runCommand(t *testing.T, w *world, args ...string) (string, error) {
	t.Helper()
	root := &cobra.Command{Use: "relata", SilenceErrors: true}
	if _, err := privacy.Register(w.app, root, privacy.Config{Registry: w.reg}); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(append([]string{"privacy"}, args...))
	err := root.Execute()
	return out.String(), err
}

// TestEraseManyByEmail erases three people by email in one data directory, each through
// another door (the command, the function, the API). Each erasure leaves a hashed suppression
// entry with an empty address; the unique index on the address once let only one such entry
// exist, so the second erasure failed. Afterwards marketing mail to every erased address is
// still refused, while the address of a plain suppression stays unique.
func TestEraseManyByEmail(t *testing.T) {
	t.Parallel()
	w := seedPerson(t)
	smtp := outboxtest.NewServer(t, outboxtest.Options{})
	sender, err := outbox.Register(w.app, outbox.Config{Registry: w.reg, Getenv: func(string) string { return "" },
		From: "crm@relata.test", SMTP: outbox.SMTP{Host: smtp.Host, Port: smtp.Port, TLS: outbox.TLSStartTLS,
			RootCAs: smtp.CertPool, Timeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	privacy.MustRegister(w.app, nil, privacy.Config{Registry: w.reg})
	srv := schemastest.Serve(t, w.app) // serves the privacy API of the "api" scenario
	sender.Stop()                      // mail goes out through Drain below only
	t.Cleanup(sender.Stop)
	_, adminTok := schemastest.NewUser(t, w.app, "privacy-admin@example.com", "admin", "")

	scenarios := []struct {
		name, email string
		erase       func(t *testing.T, email string)
	}{
		{"command", adaEmail, func(t *testing.T, email string) {
			if out, err := runCommand(t, w, "erase", "--email", email, "--yes"); err != nil {
				t.Fatalf("relata privacy erase: %v\n%s", err, out)
			}
		}},
		{"function", "grace.hopper@navy.example", func(t *testing.T, email string) {
			if _, err := privacy.Erase(w.app, w.reg, privacy.Subject{Email: email}, "test"); err != nil {
				t.Fatal(err)
			}
		}},
		{"api", "Katherine.Johnson@NASA.example", func(t *testing.T, email string) {
			var cert privacy.Certificate
			if code := schemastest.Call(t, srv, "POST", "/api/relata/privacy/erase", adminTok,
				map[string]any{"email": email, "confirm": true}, &cert); code != 200 || !cert.Suppressed {
				t.Fatalf("POST /api/relata/privacy/erase = %d %+v", code, cert)
			}
		}},
	}
	for _, sc := range scenarios[1:] {
		schemastest.MustCreate(t, w.app, "contacts", map[string]any{"full_name": sc.name + " person", "email": sc.email})
	}
	for _, sc := range scenarios {
		sc.erase(t, sc.email)
		if n := count(t, w.app, "contacts", dbx.NewExp("lower(email) = {:e}", dbx.Params{"e": strings.ToLower(sc.email)})); n != 0 {
			t.Errorf("%s: %d contacts with the erased address remain", sc.name, n)
		}
	}
	if n := count(t, w.app, "email_suppressions", dbx.NewExp("email = '' AND email_hash != ''")); n != len(scenarios) {
		t.Errorf("%d hashed suppression entries; want %d", n, len(scenarios))
	}

	// A plain suppression is still one row per address.
	if err := outbox.Suppress(w.app, "Plain@Example.com", outbox.ReasonUnsubscribe, "test"); err != nil {
		t.Fatal(err)
	}
	coll, err := w.app.FindCollectionByNameOrId(outbox.SuppressionsCollection)
	if err != nil {
		t.Fatal(err)
	}
	dup := core.NewRecord(coll)
	dup.Set("email", "plain@example.com")
	if err := w.app.Save(dup); err == nil {
		t.Error("a second suppression of plain@example.com was saved; the address must stay unique")
	}

	// Marketing mail to each erased address, in any case, is refused; mail to another
	// address goes out (the control: the sender does send).
	var ids []string
	for _, sc := range scenarios {
		rec, err := outbox.Enqueue(w.app, outbox.Message{To: []string{strings.ToUpper(sc.email)}, Category: outbox.Marketing,
			Subject: "News", Text: "Our offers."})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, rec.Id)
	}
	control, err := outbox.Enqueue(w.app, outbox.Message{To: []string{"still-here@example.com"}, Category: outbox.Marketing,
		Subject: "News", Text: "Our offers."})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := sender.Drain(); err != nil {
		t.Fatal(err)
	}
	for i, id := range ids {
		rec, err := w.app.FindRecordById(outbox.Collection, id)
		if err != nil {
			t.Fatal(err)
		}
		if rec.GetString("status") != outbox.StatusSuppressed || !strings.Contains(rec.GetString("last_error"), "erased person") {
			t.Errorf("%s: marketing email to the erased address = %s %q; want suppressed", scenarios[i].name, rec.GetString("status"), rec.GetString("last_error"))
		}
	}
	if rec, err := w.app.FindRecordById(outbox.Collection, control.Id); err != nil || rec.GetString("status") != outbox.StatusSent {
		t.Errorf("the control email was not sent: %v %v", rec, err)
	}
	if msgs := smtp.Messages(); len(msgs) != 1 {
		t.Errorf("the SMTP server got %d messages; want only the control", len(msgs))
	}
}

// TestSuppressionLookupsUseIndexes: the address lookups of the outbox, campaigns and sequences
// and the hash lookups of erased addresses read an index, with and without statistics. The
// unique index on the address is partial (erased entries have none), and SQLite reads a
// partial index only for a query that repeats its condition, which these lookups do not.
func TestSuppressionLookupsUseIndexes(t *testing.T) {
	t.Parallel()
	app := schemastest.OpenApp(t, t.TempDir())
	// Rows of both kinds, so that ANALYZE has something to weigh.
	for i := range 50 {
		_, err := app.DB().Insert("email_suppressions", dbx.Params{"id": "sup" + strconv.Itoa(1000000000000+i),
			"email": "a" + strconv.Itoa(i) + "@example.com", "email_hash": "", "reason": "manual"}).Execute()
		if err != nil {
			t.Fatal(err)
		}
		_, err = app.DB().Insert("email_suppressions", dbx.Params{"id": "era" + strconv.Itoa(1000000000000+i),
			"email": "", "email_hash": strings.Repeat(strconv.Itoa(i%10), 64), "reason": "manual"}).Execute()
		if err != nil {
			t.Fatal(err)
		}
	}
	params := dbx.Params{"a": "a1@example.com", "b": "a2@example.com", "h": strings.Repeat("1", 64), "i": strings.Repeat("2", 64)}
	scenarios := []struct{ name, sql string }{
		{"by address (outbox)", "SELECT * FROM email_suppressions WHERE email = {:a}"},
		{"by hash (outbox)", "SELECT * FROM email_suppressions WHERE email_hash = {:h}"},
		{"by either (outbox.Suppressed: campaigns, sequences; the sender's batch)", "SELECT * FROM email_suppressions WHERE email IN ({:a}, {:b}) OR email_hash IN ({:h}, {:i})"},
		{"by either, one address (a sequence)", "SELECT * FROM email_suppressions WHERE email IN ({:a}) OR email_hash IN ({:h})"},
	}
	for _, sc := range scenarios {
		plan := schemastest.QueryPlan(t, app, sc.sql, params)
		if regexp.MustCompile(`(?m)^SCAN email_suppressions`).MatchString(plan) {
			t.Errorf("%s scans the table:\n%s", sc.name, plan)
		}
	}
}

// TestErasePreviewMatchesCertificate: what `relata privacy erase` without --yes lists is what
// the erasure then reports. The preview used to count every audit entry an export shows
// (those of the deal linked to the person too, which hold only record ids and are kept).
func TestErasePreviewMatchesCertificate(t *testing.T) {
	t.Parallel()
	w := seedPerson(t)
	// Two more entries of her deal that hold no value of hers: the export shows them, the
	// erasure keeps them.
	for _, amount := range []int{20000, 25000} {
		w.deal.Set("amount", amount)
		if err := w.app.Save(w.deal); err != nil {
			t.Fatal(err)
		}
	}
	out, err := runCommand(t, w, "erase", "--email", adaEmail)
	if err != nil {
		t.Fatalf("preview: %v\n%s", err, out)
	}
	preview := map[string]int{}
	for _, m := range regexp.MustCompile(`(?m)^(\w+): (\d+)$`).FindAllStringSubmatch(out, -1) {
		preview[m[1]], _ = strconv.Atoi(m[2])
	}
	if preview["relata_audit"] == 0 || preview["deals"] == 0 {
		t.Fatalf("the preview lists no audit entries or deals:\n%s", out)
	}
	out, err = runCommand(t, w, "erase", "--email", adaEmail, "--yes")
	if err != nil {
		t.Fatalf("erase: %v\n%s", err, out)
	}
	var cert privacy.Certificate
	if err := json.Unmarshal([]byte(out), &cert); err != nil {
		t.Fatalf("certificate %q: %v", out, err)
	}
	if cert.AuditErased != preview["relata_audit"] {
		t.Errorf("the preview listed relata_audit: %d; the erasure erased %d entries", preview["relata_audit"], cert.AuditErased)
	}
	for coll, n := range preview {
		if coll == "relata_audit" {
			continue
		}
		if got := cert.Deleted[coll] + cert.Scrubbed[coll]; got != n {
			t.Errorf("the preview listed %s: %d; the erasure deleted or scrubbed %d", coll, n, got)
		}
	}
}
