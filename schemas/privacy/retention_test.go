package privacy_test

import (
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/privacy"
	"github.com/relata/relata/schemas/schemastest"
)

func TestParseAge(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		in      string
		y, m, d int
		bad     bool
	}{
		{in: "90d", d: 90}, {in: "90 days", d: 90}, {in: "2w", d: 14}, {in: "12mo", m: 12}, {in: "24 months", m: 24},
		{in: "2y", y: 2}, {in: "1 year", y: 1}, {in: "0d", bad: true}, {in: "12", bad: true}, {in: "soon", bad: true}, {in: "-3d", bad: true},
	} {
		y, m, d, err := privacy.ParseAge(tc.in)
		if (err != nil) != tc.bad || y != tc.y || m != tc.m || d != tc.d {
			t.Errorf("ParseAge(%q) = %d %d %d %v", tc.in, y, m, d, err)
		}
	}
}

// TestRetentionUnderAFakeClock runs the default policies (and the contacts one, enabled) a
// year and two years after the data was made: a dry run changes nothing, the real run clears
// IP addresses and erases the dormant contact, and leaves the fresh ones alone.
func TestRetentionUnderAFakeClock(t *testing.T) {
	t.Parallel()
	w := seedPerson(t)
	privacy.MustRegister(w.app, nil, privacy.Config{Registry: w.reg})
	// Age Ada's traces: everything she left was made three years ago.
	old := time.Now().AddDate(-3, 0, 0).UTC().Format("2006-01-02 15:04:05.000Z")
	for _, q := range []string{"UPDATE form_submissions SET created = {:t}", "UPDATE consents SET created = {:t}",
		"UPDATE contacts SET last_touched = {:t}, updated = {:t} WHERE id = {:ada}"} {
		if _, err := w.app.DB().NewQuery(q).Bind(dbx.Params{"t": old, "ada": w.ada.Id}).Execute(); err != nil {
			t.Fatal(err)
		}
	}
	fresh := schemastest.MustCreate(t, w.app, "contacts", map[string]any{"full_name": "Grace Hopper", "email": "grace@example.org"})
	if _, err := w.app.DB().NewQuery("UPDATE retention_policies SET enabled = TRUE WHERE collection = 'contacts'").Execute(); err != nil {
		t.Fatal(err)
	}
	now := time.Now()
	preview, err := privacy.RunRetention(w.app, w.reg, now, true)
	if err != nil {
		t.Fatal(err)
	}
	due := map[string]int{}
	for _, o := range preview.Outcomes {
		if o.Error != "" {
			t.Errorf("%s: %s", o.Policy, o.Error)
		}
		due[o.Policy] = o.Matched
	}
	if due["Form submissions: clear IP address and user agent after 90 days"] != 1 || due["Contacts with no activity for 24 months: anonymise"] != 1 {
		t.Fatalf("dry run = %+v", preview.Outcomes)
	}
	if n := count(t, w.app, "form_submissions", dbx.NewExp("client_ip != ''")); n != 1 {
		t.Fatalf("the dry run changed the submissions")
	}
	rep, err := privacy.RunRetention(w.app, w.reg, now, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range rep.Outcomes {
		if o.Error != "" || o.Done != o.Matched {
			t.Errorf("run: %+v", o)
		}
	}
	if n := count(t, w.app, "form_submissions", dbx.NewExp("client_ip != '' OR user_agent != ''")); n != 0 {
		t.Errorf("%d submissions keep their IP address", n)
	}
	ada, err := w.app.FindRecordById("contacts", w.ada.Id)
	if err != nil {
		t.Fatalf("anonymise keeps the record: %v", err)
	}
	if ada.GetString("email") != "" || ada.GetString("full_name") != privacy.Marker || ada.GetString("phone") != "" {
		t.Errorf("Ada is not anonymised: %v %v %v", ada.GetString("email"), ada.GetString("full_name"), ada.GetString("phone"))
	}
	if g, err := w.app.FindRecordById("contacts", fresh.Id); err != nil || g.GetString("email") != "grace@example.org" {
		t.Errorf("a fresh contact was touched: %v", err)
	}
	// The next run finds nothing more to do.
	again, err := privacy.RunRetention(w.app, w.reg, now, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range again.Outcomes {
		if o.Matched != 0 && o.Policy != "Workflow runs: delete after 12 months" {
			t.Errorf("after the run, %s still has %d due", o.Policy, o.Matched)
		}
	}
	// A bad policy is refused when saved, with the reason.
	err = w.app.Save(func() *core.Record {
		c, _ := w.app.FindCollectionByNameOrId(privacy.PoliciesCollection)
		r := core.NewRecord(c)
		r.Load(map[string]any{"name": "bad", "collection": "form_submissions", "field": "client_ip", "after": "soon", "action": "anonymise"})
		return r
	}())
	if err == nil || !strings.Contains(err.Error(), "not a date field") || !strings.Contains(err.Error(), "after:") {
		t.Errorf("bad policy saved: %v", err)
	}
}
