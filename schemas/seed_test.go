package schemas_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/relata/relata/schemas"
)

func TestSeedExample(t *testing.T) {
	app := openApp(t, t.TempDir())
	objs := defaults(t)
	applyObjs(t, app, objs, false)
	res, err := schemas.Seed(app, objs, os.DirFS(schemas.SeedDir("../examples/sales")))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"users": 5, "companies": 50, "contacts": 200, "deals": 105, "activities": 300}
	for name, n := range want {
		if res.Created[name] != n {
			t.Errorf("created %d %s; want %d", res.Created[name], name, n)
		}
		total, err := app.CountRecords(name)
		if err != nil || int(total) != n {
			t.Errorf("%s holds %d records (%v); want %d", name, total, err, n)
		}
	}
	// Stages are spread over the whole pipeline.
	for _, stage := range []string{"lead", "qualified", "proposal", "negotiation", "won", "lost"} {
		recs, err := app.FindAllRecords("deals")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range recs {
			if r.GetString("stage") == stage {
				n++
			}
		}
		if n == 0 {
			t.Errorf("no seeded deal in stage %s", stage)
		}
	}
	// Relative dates resolve against today.
	open, err := app.FindFirstRecordByFilter("deals", `stage = "lead"`)
	if err != nil {
		t.Fatal(err)
	}
	if !open.GetDateTime("expected_close").Time().After(time.Now()) {
		t.Errorf("an open deal's expected close is not in the future: %v", open.GetDateTime("expected_close"))
	}

	again, err := schemas.Seed(app, objs, os.DirFS(schemas.SeedDir("../examples/sales")))
	if err != nil {
		t.Fatal(err)
	}
	for name, n := range again.Created {
		if n != 0 {
			t.Errorf("seeding twice created %d more %s", n, name)
		}
	}
}

func TestSeedRejectsBadRecords(t *testing.T) {
	app := openApp(t, t.TempDir())
	objs := defaults(t)
	applyObjs(t, app, objs, false)
	fsys := fstest.MapFS{
		"deals.json": {Data: []byte(`[
  {"id": "dea000000000001", "name": "Fine", "stage": "lead"},
  {"id": "short", "name": "Bad id", "stage": "won"},
  {"id": "dea000000000003", "name": "Bad stage", "stage": "closed"},
  {"id": "dea000000000004", "name": "Bad amount", "amount": "lots", "colour": "red"},
  {"id": "dea000000000005", "name": "Bad date", "expected_close": "soon"}
]`)},
		"gadgets.json": {Data: []byte(`[]`)},
	}
	_, err := schemas.Seed(app, objs, fsys)
	var errs schemas.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v; want schemas.Errors", err)
	}
	got := err.Error()
	for _, want := range []string{
		`deals.json:3 /1/id: every seed record needs an "id" of 15 lowercase letters and digits`,
		`deals.json:4 /2/stage: "closed" is not among the stages of this field (lead, qualified, proposal, negotiation, won, lost, renewal_due, renewal_talks, renewed, churned)`,
		`deals.json:5 /3/amount: must be a number, not a string`,
		`deals.json:5 /3/colour: deals has no field "colour"`,
		`deals.json:6 /4/expected_close: "soon" is not a date`,
		`gadgets.json: no object named "gadgets"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors lack %q\ngot:\n%s", want, got)
		}
	}
	// Nothing was written, not even the good record.
	if n, _ := app.CountRecords("deals"); n != 0 {
		t.Errorf("a refused seed wrote %d deals", n)
	}
}

// exampleSeed is the example data of examples/sales.
var exampleSeed = os.DirFS(schemas.SeedDir("../examples/sales"))

// TestSeedOnce: what was seeded once is never recreated or overwritten, whatever users did
// to it since (issue 10 finding 6).
func TestSeedOnce(t *testing.T) {
	app := openApp(t, t.TempDir())
	objs := defaults(t)
	applyObjs(t, app, objs, false)
	if _, err := schemas.Seed(app, objs, exampleSeed); err != nil {
		t.Fatal(err)
	}
	// Without demo mode nobody knows the seeded users' passwords.
	alice, err := app.FindAuthRecordByEmail("users", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if alice.ValidatePassword("relata-demo-1") {
		t.Error("seeding without demo mode gave alice the published demo password")
	}
	if got, err := schemas.DemoAccounts(app); err != nil || len(got) != 0 {
		t.Errorf("DemoAccounts = %v, %v; want none", got, err)
	}

	admin, err := app.FindAuthRecordByEmail("users", "admin@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Delete(admin); err != nil {
		t.Fatal(err)
	}
	gone, err := app.FindRecordById("deals", "dea000000000005")
	if err != nil {
		t.Fatal(err)
	}
	if err := app.Delete(gone); err != nil {
		t.Fatal(err)
	}
	edited, err := app.FindRecordById("deals", "dea000000000002")
	if err != nil {
		t.Fatal(err)
	}
	edited.Set("name", "Renamed by a user")
	edited.Set("amount", 123)
	if err := app.Save(edited); err != nil {
		t.Fatal(err)
	}
	deals, _ := app.CountRecords("deals")

	for round := 1; round <= 2; round++ {
		res, err := schemas.SeedWith(app, objs, exampleSeed, schemas.SeedOptions{Demo: round == 2})
		if err != nil {
			t.Fatal(err)
		}
		for name, n := range res.Created {
			if n != 0 {
				t.Errorf("round %d: seeding again created %d %s", round, n, name)
			}
		}
		if res.Deleted["users"] != 1 || res.Deleted["deals"] != 1 {
			t.Errorf("round %d: deleted since = %v; want 1 user and 1 deal", round, res.Deleted)
		}
		if _, err := app.FindAuthRecordByEmail("users", "admin@example.com"); err == nil {
			t.Errorf("round %d: the deleted admin@example.com came back", round)
		}
		if _, err := app.FindRecordById("deals", "dea000000000005"); err == nil {
			t.Errorf("round %d: the deleted deal came back", round)
		}
		got, err := app.FindRecordById("deals", "dea000000000002")
		if err != nil {
			t.Fatal(err)
		}
		if got.GetString("name") != "Renamed by a user" || got.GetFloat("amount") != 123 {
			t.Errorf("round %d: the edited deal is %q %v; want the user's edit", round, got.GetString("name"), got.GetFloat("amount"))
		}
		if n, _ := app.CountRecords("deals"); n != deals {
			t.Errorf("round %d: %d deals; want %d", round, n, deals)
		}
		// A later demo seed does not hand out demo passwords to existing accounts.
		alice, _ := app.FindAuthRecordByEmail("users", "alice@example.com")
		if alice.ValidatePassword("relata-demo-1") {
			t.Errorf("round %d: reseeding gave alice the demo password", round)
		}
	}
	if ok, err := schemas.WasSeeded(app, "deals/dea000000000005"); err != nil || !ok {
		t.Errorf("WasSeeded(deleted deal) = %v, %v; want true", ok, err)
	}
}

// TestSeedDemoAccounts: demo mode gives the users their published passwords, and
// DemoAccounts lists the accounts they still open.
func TestSeedDemoAccounts(t *testing.T) {
	app := openApp(t, t.TempDir())
	objs := defaults(t)
	applyObjs(t, app, objs, false)
	if _, err := schemas.SeedWith(app, objs, exampleSeed, schemas.SeedOptions{Demo: true}); err != nil {
		t.Fatal(err)
	}
	got, err := schemas.DemoAccounts(app)
	if err != nil {
		t.Fatal(err)
	}
	if want := "admin@example.com alice@example.com bob@example.com carol@example.com manager@example.com"; strings.Join(got, " ") != want {
		t.Errorf("DemoAccounts = %v; want %s", got, want)
	}
	alice, _ := app.FindAuthRecordByEmail("users", "alice@example.com")
	alice.SetPassword("a-better-secret-42")
	if err := app.Save(alice); err != nil {
		t.Fatal(err)
	}
	bob, _ := app.FindAuthRecordByEmail("users", "bob@example.com")
	if err := app.Delete(bob); err != nil {
		t.Fatal(err)
	}
	got, _ = schemas.DemoAccounts(app)
	if want := "admin@example.com carol@example.com manager@example.com"; strings.Join(got, " ") != want {
		t.Errorf("after a password change and a deletion DemoAccounts = %v; want %s", got, want)
	}
}

// TestSeedLivedIn: the example data has a past — creation dates, stage histories, idle
// deals — so time in stage, time to close and dormant-deal workflows have something to show
// (issue 11 item 10).
func TestSeedLivedIn(t *testing.T) {
	app := openApp(t, t.TempDir())
	objs := defaults(t)
	applyObjs(t, app, objs, false)
	if _, err := schemas.Seed(app, objs, exampleSeed); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC()
	day := 24 * time.Hour
	deals, err := app.FindAllRecords("deals")
	if err != nil {
		t.Fatal(err)
	}
	var rotting, idle, inStageDays, closeDays, won int
	for _, d := range deals {
		changes, err := app.FindRecordsByFilter("stage_changes", "object = 'deals' && record = {:id}", "at", 0, 0, map[string]any{"id": d.Id})
		if err != nil {
			t.Fatal(err)
		}
		if len(changes) == 0 {
			t.Fatalf("deal %s has no stage history", d.Id)
		}
		last := changes[len(changes)-1]
		if last.GetString("to") != d.GetString("stage") {
			t.Errorf("deal %s: history ends in %s; the deal is in %s", d.Id, last.GetString("to"), d.GetString("stage"))
		}
		for i, c := range changes {
			if i > 0 && c.GetString("from") != changes[i-1].GetString("to") {
				t.Errorf("deal %s: change %d from %q; want %q", d.Id, i, c.GetString("from"), changes[i-1].GetString("to"))
			}
		}
		created := d.GetDateTime("created").Time()
		if !changes[0].GetDateTime("at").Time().Equal(created) {
			t.Errorf("deal %s: first stage at %v; created %v", d.Id, changes[0].GetDateTime("at"), created)
		}
		entered := last.GetDateTime("at").Time()
		in := now.Sub(entered)
		inStageDays += int(in / day)
		stage := d.GetString("stage")
		if stage == "won" {
			won++
			closed := d.GetDateTime("closed_at").Time()
			if !closed.After(created) {
				t.Errorf("won deal %s closed %v before it was created %v", d.Id, closed, created)
			}
			closeDays += int(closed.Sub(created) / day)
		}
		if stage != "won" && stage != "lost" {
			if in > 14*day {
				rotting++
			}
			cut := now.Add(-14 * day)
			lt := d.GetDateTime("last_touched").Time()
			if d.GetDateTime("updated").Time().Before(cut) && lt.Before(cut) {
				idle++
			}
		}
		if u := d.GetDateTime("updated").Time(); u.Before(created) {
			t.Errorf("deal %s updated %v before it was created %v", d.Id, u, created)
		}
	}
	if inStageDays == 0 {
		t.Error("every deal entered its stage today: time in stage is 0")
	}
	if won == 0 || closeDays/won < 20 {
		t.Errorf("average time to close %d days over %d won deals; want a realistic figure", closeDays/max(won, 1), won)
	}
	if rotting < 5 {
		t.Errorf("%d open deals past 14 days in their stage; want rotting cards on the board", rotting)
	}
	// Seeded activities touch their deals; the idle ones keep the last_touched of the file.
	if idle < 5 {
		t.Errorf("%d idle open deals (no edit, no activity for 14 days); want some for idle-deal-reminder", idle)
	}
	c, err := app.FindRecordById("companies", "cmp000000000001")
	if err != nil {
		t.Fatal(err)
	}
	if age := now.Sub(c.GetDateTime("created").Time()); age < 80*day {
		t.Errorf("company created %v ago; want its seeded past", age)
	}
}

func TestSeedRejectsBadHistory(t *testing.T) {
	app := openApp(t, t.TempDir())
	objs := defaults(t)
	applyObjs(t, app, objs, false)
	fsys := fstest.MapFS{
		"deals.json": {Data: []byte(`[
  {"id": "dea000000000001", "name": "Fine", "stage": "qualified", "created": "now-30d",
   "stageHistory": [{"to": "lead", "at": "now-30d"}, {"to": "qualified", "at": "now-10d"}]},
  {"id": "dea000000000002", "name": "Bad", "stage": "won", "created": "yesterday",
   "stageHistory": [{"to": "lead", "at": "now-5d"}, {"to": "closed", "at": "now-9d", "why": 1}, {"to": "won"}]},
  {"id": "dea000000000003", "name": "Ends elsewhere", "stage": "won", "updated": 7,
   "stageHistory": [{"to": "lead", "at": "now-5d"}]},
  {"id": "dea000000000004", "name": "Not a list", "stage": "lead", "stageHistory": {"to": "lead"}}
]`)},
		"companies.json": {Data: []byte(`[
  {"id": "cmp000000000001", "name": "No stages", "stageHistory": [{"to": "lead", "at": "now-1d"}]}
]`)},
	}
	_, err := schemas.Seed(app, objs, fsys)
	if err == nil {
		t.Fatal("bad stage histories were accepted")
	}
	got := err.Error()
	for _, want := range []string{
		`deals.json:4 /1/created: "yesterday" is not a date`,
		`deals.json:5 /1/stageHistory/1/to: "closed" is not among the stages of this field`,
		`/1/stageHistory/1/at: now-9d is before the entry above it: list the history oldest first`,
		`/1/stageHistory/1/why: unknown key "why" (known: to, at, field)`,
		`/1/stageHistory/2/at: "at" is required: when the record entered the stage`,
		`deals.json:6 /2/updated: updated must be a date ("now-3d", "2026-01-31"), not 7`,
		`/2/stageHistory: the history ends in stage "lead" but the record's stage is "won"`,
		`/3/stageHistory: must be a non-empty list of {"to": STAGE, "at": DATE}, oldest first`,
		`companies.json:2 /0/stageHistory/0/field: companies has no stage field, so no stage history`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors lack %q\ngot:\n%s", want, got)
		}
	}
	if strings.Contains(got, "/0/") && strings.Contains(got, "deals.json:2 ") {
		t.Errorf("the good record was reported:\n%s", got)
	}
	if n, _ := app.CountRecords("deals"); n != 0 {
		t.Errorf("a refused seed wrote %d deals", n)
	}
}

// TestSeedMarksPublishedPasswords: a database seeded by an older Relata (no ledger entries,
// users with the demo password) gets its demo accounts marked on the first seed with the
// ledger, so serve refuses a public address for them too.
func TestSeedMarksPublishedPasswords(t *testing.T) {
	app := openApp(t, t.TempDir())
	objs := defaults(t)
	applyObjs(t, app, objs, false)
	if _, err := schemas.SeedWith(app, objs, exampleSeed, schemas.SeedOptions{Demo: true}); err != nil {
		t.Fatal(err)
	}
	// Forget the ledger, as in a database from before it existed; carol changed her password.
	if _, err := app.DB().NewQuery("DELETE FROM " + schemas.SeededCollection).Execute(); err != nil {
		t.Fatal(err)
	}
	carol, _ := app.FindAuthRecordByEmail("users", "carol@example.com")
	carol.SetPassword("carol-chose-this-1")
	if err := app.Save(carol); err != nil {
		t.Fatal(err)
	}
	if got, _ := schemas.DemoAccounts(app); len(got) != 0 {
		t.Fatalf("DemoAccounts without a ledger = %v", got)
	}
	res, err := schemas.Seed(app, objs, exampleSeed)
	if err != nil {
		t.Fatal(err)
	}
	if res.Created["users"] != 0 || res.Skipped["users"] != 5 {
		t.Errorf("users: %d created, %d skipped; want 0, 5", res.Created["users"], res.Skipped["users"])
	}
	got, _ := schemas.DemoAccounts(app)
	if want := "admin@example.com alice@example.com bob@example.com manager@example.com"; strings.Join(got, " ") != want {
		t.Errorf("DemoAccounts = %v; want %s", got, want)
	}
}
