package scoring_test

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"os"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/cron"
	"github.com/spf13/cobra"

	"github.com/relata/relata/insights/scoring"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
)

func rulesRegistry(t *testing.T) *schemas.Registry {
	t.Helper()
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{Dir: "testdata/rules/objects"})
	if err := reg.Sync(); err != nil {
		t.Fatal(err)
	}
	return reg
}

func TestParseRulesErrors(t *testing.T) {
	t.Parallel()
	reg := rulesRegistry(t)
	valid, err := os.ReadFile("testdata/rules/valid/contact-fit.json")
	if err != nil {
		t.Fatal(err)
	}
	scenarios := []struct {
		name, from, to string
		want           []string
	}{
		{"unknown object", `"object": "contacts"`, `"object": "people"`, []string{`f.json:4 /object: no object named "people"`}},
		{"score field is text", `"field": "score"`, `"field": "job_title"`, []string{`/field: contacts has no number field "job_title"`}},
		{"grade field lacks options", `"gradeField": "grade"`, `"gradeField": "lifecycle_stage"`, []string{`/gradeField: select field lifecycle_stage has no option "A"`}},
		{"typo in a condition", `record.job_title matches`, `record.job_tittle matches`, []string{`/rules/0/when: unknown field "job_tittle" of contacts (did you mean "job_title"?) (line 1, column 8)`}},
		{"condition not boolean", `"record.source == \"website\""`, `"record.source"`, []string{`/rules/1/when:`, `bool`}},
		{"grades do not descend", `"B": 30`, `"B": 60`, []string{`/grades: grades must descend: A (50) > B (60) > C (15)`}},
		{"both when and activity", `"activity": "meeting", "points": 15`, `"activity": "meeting", "when": "true", "points": 15`, []string{`/rules/3`}},
		{"unknown key", `"points": 20}`, `"points": 20, "weight": 2}`, []string{`/rules/0`, `weight`}},
		{"bad JSON", `"grades": {`, `"grades": {,`, []string{`f.json:14`}},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			data := strings.Replace(string(valid), s.from, s.to, 1)
			if data == string(valid) {
				t.Fatalf("%q not in the valid file", s.from)
			}
			rs, errs := scoring.ParseRules("f.json", []byte(data), reg.Object)
			if rs != nil || len(errs) == 0 {
				t.Fatalf("no error for %s", s.name)
			}
			msg := errs.Err().Error()
			for _, w := range s.want {
				if !strings.Contains(msg, w) {
					t.Errorf("error %q; want it to contain %q", msg, w)
				}
			}
		})
	}
	if _, errs := scoring.ParseRules("f.json", valid, reg.Object); len(errs) > 0 {
		t.Fatalf("valid file: %v", errs.Err())
	}
}

func FuzzParseRules(f *testing.F) {
	valid, err := os.ReadFile("testdata/rules/valid/contact-fit.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(valid)
	f.Add([]byte(`{"name": "x", "object": "contacts", "rules": [{"name": "a", "when": "record.", "points": 1}], "grades": {"A": 3, "B": 2, "C": 1}}`))
	f.Add([]byte(`{`))
	obj := &schemas.Object{Name: "contacts", Fields: []*schemas.Field{{Name: "job_title", Type: schemas.TypeText}, {Name: "score", Type: schemas.TypeNumber}}}
	lookup := func(name string) (*schemas.Object, bool) { return obj, name == "contacts" }
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, errs := scoring.ParseRules("f.json", data, lookup)
		if (rs == nil) == (len(errs) == 0) {
			t.Fatalf("ParseRules returned a rule set and errors, or neither: %v %v", rs, errs)
		}
		for _, e := range errs {
			if e.File != "f.json" || e.Message == "" {
				t.Fatalf("unlocated error %+v", e)
			}
		}
	})
}

func TestRuleScoreDecay(t *testing.T) {
	t.Parallel()
	reg := rulesRegistry(t)
	sets, err := scoring.LoadRules(os.DirFS("testdata/rules/valid"), reg)
	if err != nil || len(sets) != 1 {
		t.Fatalf("LoadRules = %v, %v", sets, err)
	}
	rs := sets[0]
	now := time.Date(2026, 12, 1, 0, 0, 0, 0, time.UTC)
	values := map[string]any{"job_title": "Head of Sales", "source": "referral", "do_not_email": false}
	acts := []scoring.Activity{
		{Type: "meeting", At: now.AddDate(0, 0, -90)}, // beyond max 3: not counted
		{Type: "meeting", At: now.AddDate(0, 0, -60)}, // 15 × ¼
		{Type: "meeting", At: now.AddDate(0, 0, -30)}, // 15 × ½
		{Type: "meeting", At: now},                    // 15
		{Type: "email", At: now.AddDate(0, 0, -14)},   // 4 × ½
		{Type: "email", At: now.AddDate(0, 0, 2)},     // in the future: not counted
	}
	sc, err := rs.Score("c1", values, acts, now)
	if err != nil {
		t.Fatal(err)
	}
	want := 20 + 15*(0.25+0.5+1) + 2.0 // 48.25 → meeting 26.3 (rounded), email 2
	if math.Abs(sc.Score-48.3) > 1e-9 || sc.Grade != "B" {
		t.Fatalf("score %v grade %s (hits %+v); want 48.3 (%.2f unrounded), B", sc.Score, sc.Grade, sc.Hits, want)
	}
	if len(sc.Hits) != 3 || sc.Hits[0].Rule != "Decision maker" || sc.Hits[1].Points != 26.3 || sc.Hits[2].Points != 2 {
		t.Fatalf("hits %+v", sc.Hits)
	}
	for score, grade := range map[float64]string{50: "A", 49.9: "B", 30: "B", 15: "C", 14.9: "D", -5: "D"} {
		if g := rs.Grade(score); g != grade {
			t.Errorf("Grade(%v) = %s; want %s", score, g, grade)
		}
	}
}

func TestRulesCommandApplies(t *testing.T) {
	t.Parallel()
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{Dir: "testdata/rules/objects"})
	if err := reg.Sync(); err != nil {
		t.Fatal(err)
	}
	root := &cobra.Command{Use: "relata"}
	scoring.MustRegister(app, root, scoring.Config{Registry: reg, Schedule: "-"})
	boss := schemastest.MustCreate(t, app, "contacts", map[string]any{"full_name": "Ada", "job_title": "CEO", "source": "website"})
	quiet := schemastest.MustCreate(t, app, "contacts", map[string]any{"full_name": "Bo", "job_title": "Intern", "do_not_email": true})
	schemastest.MustCreate(t, app, "activities", map[string]any{"type": "meeting", "subject": "Demo", "done": true,
		"done_at": time.Now().Add(-time.Hour), "contact": boss.Id})

	out, err := run(t, root, "score", "rules", "testdata/rules/valid")
	if err != nil || !strings.Contains(out, "contact-fit (contacts): 2 records: A 0, B 1, C 0, D 1") {
		t.Fatalf("rules: %v\n%s", err, out)
	}
	if r, _ := app.FindRecordById("contacts", boss.Id); r.GetString("grade") != "" {
		t.Fatalf("without --apply the grade was written: %q", r.GetString("grade"))
	}
	out, err = run(t, root, "score", "rules", "testdata/rules/valid", "--apply")
	if err != nil || !strings.Contains(out, "; 2 updated") {
		t.Fatalf("rules --apply: %v\n%s", err, out)
	}
	for id, want := range map[string]struct {
		score float64
		grade string
	}{boss.Id: {45, "B"}, quiet.Id: {-15, "D"}} {
		r, err := app.FindRecordById("contacts", id)
		if err != nil {
			t.Fatal(err)
		}
		if r.GetFloat("score") != want.score || r.GetString("grade") != want.grade {
			t.Errorf("%s: score %v grade %q; want %v %q", id, r.GetFloat("score"), r.GetString("grade"), want.score, want.grade)
		}
	}
	// Nothing changed: nothing saved again.
	out, err = run(t, root, "score", "rules", "testdata/rules/valid", "--apply")
	if err != nil || !strings.Contains(out, "; 0 updated") {
		t.Fatalf("second --apply: %v\n%s", err, out)
	}
	out, err = run(t, root, "score", "rules", "testdata/rules/valid", "--json") // last: cobra keeps a flag set
	var all map[string][]scoring.RuleScore
	if err != nil || json.Unmarshal([]byte(out), &all) != nil || len(all["contact-fit"]) != 2 {
		t.Fatalf("rules --json: %v\n%s", err, out)
	}
	for _, sc := range all["contact-fit"] {
		if want := map[string]float64{boss.Id: 45, quiet.Id: -15}[sc.ID]; sc.Score != want || len(sc.Hits) == 0 {
			t.Errorf("--json: %+v; want score %v with its rules", sc, want)
		}
	}
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/bad.json", []byte(`{"name": "bad", "object": "people", "rules": [{"name": "x", "when": "true", "points": 1}], "grades": {"A": 3, "B": 2, "C": 1}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := run(t, root, "score", "rules", dir); err == nil || !strings.Contains(err.Error(), `bad.json:1 /object: no object named "people"`) {
		t.Fatalf("bad definition: %v", err)
	}
}

func TestRescoreWithRulesLoadedAtServe(t *testing.T) {
	t.Parallel()
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{Dir: "testdata/rules/objects"})
	if err := reg.Sync(); err != nil {
		t.Fatal(err)
	}
	svc := scoring.MustRegister(app, nil, scoring.Config{Registry: reg, Schedule: "-", RulesDir: "testdata/rules/valid"})
	schemastest.Serve(t, app) // loads the rule sets and schedules them
	if !slices.ContainsFunc(app.Cron().Jobs(), func(j *cron.Job) bool { return j.Id() == "relata.scoring.rules" }) {
		t.Fatal("the daily rule-based scoring is not scheduled")
	}
	c := schemastest.MustCreate(t, app, "contacts", map[string]any{"full_name": "Cy", "job_title": "Director of IT"})
	schemastest.MustCreate(t, app, "activities", map[string]any{"type": "email", "subject": "Hi", "done": true,
		"done_at": time.Now().Add(-time.Minute), "contact": c.Id})
	if err := svc.Rescore(app, c); err != nil {
		t.Fatal(err)
	}
	if c.GetFloat("score") != 24 || c.GetString("grade") != "C" {
		t.Fatalf("rescored: %v %q; want 24 (director 20 + email 4) and C", c.GetFloat("score"), c.GetString("grade"))
	}
	// Another object: untouched.
	d := schemastest.MustCreate(t, app, "deals", map[string]any{"name": "x", "stage": "lead"})
	if err := svc.Rescore(app, d); err != nil {
		t.Fatal(err)
	}

	// A bad definition stops serve with its location.
	dir := t.TempDir()
	if err := os.WriteFile(dir+"/bad.json", []byte(`{"name": "bad", "object": "contacts", "rules": [{"name": "x", "when": "record.nope", "points": 1}], "grades": {"A": 3, "B": 2, "C": 1}}`), 0o644); err != nil {
		t.Fatal(err)
	}
	app2 := schemastest.OpenApp(t, t.TempDir())
	reg2 := schemas.MustRegister(app2, nil, schemas.Config{Dir: "testdata/rules/objects"})
	scoring.MustRegister(app2, nil, scoring.Config{Registry: reg2, Schedule: "-", RulesDir: dir})
	r, err := apis.NewRouter(app2)
	if err != nil {
		t.Fatal(err)
	}
	err = app2.OnServe().Trigger(&core.ServeEvent{App: app2, Router: r}, func(e *core.ServeEvent) error { return nil })
	if err == nil || !strings.Contains(err.Error(), "bad.json:1 /rules/0/when") {
		t.Fatalf("serve with a bad definition: %v", err)
	}
}

// TestScoresFollowSaves: with rule sets loaded, saving a record of a scored object sets its
// score and grade in the same save — a new contact, a changed job title, an activity logged
// then the contact saved — and records of other objects are left alone.
func TestScoresFollowSaves(t *testing.T) {
	t.Parallel()
	app, _, _, _ := servedRules(t)
	stored := func(id string) (float64, string) {
		t.Helper()
		r, err := app.FindRecordById("contacts", id)
		if err != nil {
			t.Fatal(err)
		}
		return r.GetFloat("score"), r.GetString("grade")
	}
	c := schemastest.MustCreate(t, app, "contacts", map[string]any{"full_name": "Cy", "job_title": "Director of IT", "source": "website"})
	if sc, g := stored(c.Id); sc != 30 || g != "B" {
		t.Fatalf("a new contact is stored with %v %q; want 30 (director 20 + website 10) and B", sc, g)
	}
	c.Set("job_title", "Intern")
	if err := app.Save(c); err != nil {
		t.Fatal(err)
	}
	if sc, g := stored(c.Id); sc != 10 || g != "D" {
		t.Fatalf("after the job title changed: %v %q; want 10 and D", sc, g)
	}
	schemastest.MustCreate(t, app, "activities", map[string]any{"type": "meeting", "subject": "Demo", "done": true,
		"done_at": time.Now().Add(-time.Minute), "contact": c.Id})
	c.Set("full_name", "Cy Young")
	if err := app.Save(c); err != nil {
		t.Fatal(err)
	}
	if sc, g := stored(c.Id); sc != 25 || g != "C" {
		t.Fatalf("after a meeting and a save: %v %q; want 25 (website 10 + meeting 15) and C", sc, g)
	}
	d := schemastest.MustCreate(t, app, "deals", map[string]any{"name": "x", "stage": "lead"})
	if _, err := app.FindRecordById("deals", d.Id); err != nil {
		t.Fatal(err)
	}
}

// TestRunRulesPages: the daily run over 2,503 contacts (three pages of reads, writes in
// groups) writes every changed score at the run's moment — not recomputed at another by the
// save hook —, keeps a title changed during the run and scores it on it, and goes on past a
// record that cannot be saved, reporting it.
func TestRunRulesPages(t *testing.T) {
	t.Parallel()
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{Dir: "testdata/rules/objects"})
	if err := reg.Sync(); err != nil {
		t.Fatal(err)
	}
	sets, err := scoring.LoadRules(os.DirFS("testdata/rules/valid"), reg)
	if err != nil {
		t.Fatal(err)
	}
	svc := scoring.MustRegister(app, nil, scoring.Config{Registry: reg, Schedule: "-"})
	svc.SetRules(sets) // the save hook scores at time.Now()
	const n = 2503
	seedContacts(t, app, n)
	broken, moved := "c00000000001500", "c00000000002100"
	if _, err := app.DB().NewQuery("UPDATE contacts SET full_name = '' WHERE id = {:id}").Bind(dbx.Params{"id": broken}).Execute(); err != nil {
		t.Fatal(err) // a required field left empty (by another program): its save fails
	}
	later := time.Now().Add(45 * 24 * time.Hour)
	run, err := scoring.RunRules(app, reg, sets[0], scoring.RunOptions{Now: later, Apply: true, Top: 5, Each: func(sc scoring.RuleScore) error {
		if sc.ID == moved { // a user changes the contact while the run is at its page
			r, err := app.FindRecordById("contacts", moved)
			if err != nil {
				return err
			}
			r.Set("job_title", "Chief of staff")
			return app.Save(r)
		}
		return nil
	}})
	if err == nil || !strings.Contains(err.Error(), "1 scores of contacts not saved") || !strings.Contains(err.Error(), broken) {
		t.Fatalf("run: %v; want the broken record reported", err)
	}
	if run.Records != n || run.Failed != 1 || run.Changed != n-1 {
		t.Fatalf("records %d, changed %d, failed %d; want %d, %d, 1", run.Records, run.Changed, run.Failed, n, n-1)
	}
	if g := run.Grades; g["A"]+g["B"]+g["C"]+g["D"] != n {
		t.Fatalf("grades %v do not add up to %d", g, n)
	}
	// Scored again at the same moment: every stored score is the run's.
	want := map[string]float64{}
	var all []float64
	again, err := scoring.RunRules(app, reg, sets[0], scoring.RunOptions{Now: later, Each: func(sc scoring.RuleScore) error {
		want[sc.ID] = sc.Score
		all = append(all, sc.Score)
		return nil
	}})
	if err != nil || again.Records != n {
		t.Fatalf("second run: %v, %+v", err, again)
	}
	var recs []*core.Record
	if err := app.RecordQuery("contacts").All(&recs); err != nil {
		t.Fatal(err)
	}
	wrong := 0
	for _, r := range recs {
		if r.Id != broken && r.GetFloat("score") != want[r.Id] {
			if wrong++; wrong < 4 {
				t.Errorf("%s: stored %v, scored at the run's moment %v", r.Id, r.GetFloat("score"), want[r.Id])
			}
		}
	}
	if wrong > 0 {
		t.Fatalf("%d of %d stored scores are not the run's", wrong, n)
	}
	if r, _ := app.FindRecordById("contacts", moved); r.GetString("job_title") != "Chief of staff" {
		t.Fatalf("the title changed during the run became %q", r.GetString("job_title"))
	}
	slices.Sort(all)
	slices.Reverse(all)
	for i, sc := range run.Top {
		if sc.Score != all[i] {
			t.Fatalf("top %d is %v; the %d-th highest is %v", i, sc.Score, i+1, all[i])
		}
	}
	if len(run.Top) != 5 {
		t.Fatalf("%d top scores; want 5", len(run.Top))
	}
}

// TestScoresFollowActivities: with behaviour rules loaded, logging, moving, deleting and
// completing an activity, and a campaign event, change the stored score of the contacts
// concerned without any save of them; a planned meeting counts once it is done; an activity
// of an unscored kind saves nothing.
func TestScoresFollowActivities(t *testing.T) {
	t.Parallel()
	app, reg, svc, _ := servedRules(t)
	rs, errs := scoring.ParseRules("engagement.json", []byte(`{"name": "engagement", "object": "contacts", "field": "score",
		"rules": [{"name": "Clicked a campaign", "activity": "campaign_click", "points": 7}], "grades": {"A": 40, "B": 20, "C": 5}}`), reg.Object)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	stored := func(id string) (float64, string, string) {
		t.Helper()
		svc.Flush() // the scores follow behind the writes
		r, err := app.FindRecordById("contacts", id)
		if err != nil {
			t.Fatal(err)
		}
		return r.GetFloat("score"), r.GetString("grade"), r.GetString("updated")
	}
	ada := schemastest.MustCreate(t, app, "contacts", map[string]any{"full_name": "Ada", "job_title": "CEO"})
	bo := schemastest.MustCreate(t, app, "contacts", map[string]any{"full_name": "Bo"})
	if sc, g, _ := stored(ada.Id); sc != 20 || g != "C" {
		t.Fatalf("Ada starts at %v %q; want 20 C", sc, g)
	}
	meeting := schemastest.MustCreate(t, app, "activities", map[string]any{"type": "meeting", "subject": "Demo", "done": true,
		"done_at": time.Now().Add(-time.Minute), "contact": ada.Id})
	if sc, g, _ := stored(ada.Id); sc != 35 || g != "B" {
		t.Fatalf("after a meeting with Ada: %v %q; want 35 (CEO 20 + meeting 15) B", sc, g)
	}
	_, _, was := stored(bo.Id)
	schemastest.MustCreate(t, app, "activities", map[string]any{"type": "note", "subject": "Likes tea", "contact": bo.Id})
	if sc, _, now := stored(bo.Id); sc != 0 || now != was {
		t.Fatalf("a note (no rule counts it) saved Bo: score %v, updated %s → %s", sc, was, now)
	}
	meeting.Set("contact", bo.Id) // logged on the wrong contact: moved
	if err := app.Save(meeting); err != nil {
		t.Fatal(err)
	}
	if a, _, _ := stored(ada.Id); a != 20 {
		t.Fatalf("Ada after the meeting moved away: %v; want 20", a)
	}
	if b, _, _ := stored(bo.Id); b != 15 {
		t.Fatalf("Bo after the meeting moved to him: %v; want 15", b)
	}
	if err := app.Delete(meeting); err != nil {
		t.Fatal(err)
	}
	if b, g, _ := stored(bo.Id); b != 0 || g != "D" {
		t.Fatalf("Bo after the meeting was deleted: %v %q; want 0 D", b, g)
	}
	planned := schemastest.MustCreate(t, app, "activities", map[string]any{"type": "meeting", "subject": "Call back",
		"due": time.Now().Add(48 * time.Hour), "contact": bo.Id})
	if b, _, _ := stored(bo.Id); b != 0 {
		t.Fatalf("Bo with a meeting planned: %v; want 0 (not held yet)", b)
	}
	planned.Set("done", true)
	planned.Set("done_at", time.Now().Add(-time.Minute))
	if err := app.Save(planned); err != nil {
		t.Fatal(err)
	}
	if b, _, _ := stored(bo.Id); b != 15 {
		t.Fatalf("Bo once the meeting was held: %v; want 15", b)
	}
	// A campaign click (saved as workflows/campaigns does) counts for a rule on engagement.
	svc.SetRules([]*scoring.RuleSet{rs})
	coll, err := app.FindCollectionByNameOrId("campaign_events")
	if err != nil {
		t.Fatal(err)
	}
	ev := core.NewRecord(coll)
	ev.Set("campaign", "c")
	ev.Set("recipient", "r")
	ev.Set("contact", bo.Id)
	ev.Set("type", "click")
	if err := app.SaveNoValidate(ev); err != nil { // the campaign and recipient are not there
		t.Fatal(err)
	}
	if b, _, _ := stored(bo.Id); b != 7 {
		t.Fatalf("Bo after a campaign click: %v; want 7", b)
	}
}

// TestScoresFollowAMerge: 2,000 activities moved from one contact to another in one
// transaction, as a merge moves them, score the two contacts again a few times, not once per
// activity, and leave both with the score the daily run would give them.
func TestScoresFollowAMerge(t *testing.T) {
	t.Parallel()
	app, reg, svc, _ := servedRules(t)
	seedContacts(t, app, 2) // c00000000000000, c00000000000001
	winner, loser := "c00000000000000", "c00000000000001"
	const n = 2000
	if _, err := app.DB().NewQuery(`WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i+1 FROM n WHERE i < {:last})
		INSERT INTO activities (id, type, subject, done, done_at, contact, created, updated)
		SELECT printf('x%014d', i), 'email', 'Hi', 1, {:at}, {:loser}, {:at}, {:at} FROM n`).
		Bind(dbx.Params{"last": n - 1, "at": time.Now().Add(-time.Hour).UTC().Format("2006-01-02 15:04:05.000Z"), "loser": loser}).Execute(); err != nil {
		t.Fatal(err)
	}
	var saves atomic.Int32
	app.OnRecordUpdateExecute("contacts").BindFunc(func(e *core.RecordEvent) error {
		saves.Add(1)
		return e.Next()
	})
	err := app.RunInTransaction(func(tx core.App) error {
		var acts []*core.Record
		if err := tx.RecordQuery("activities").Where(dbx.HashExp{"contact": loser}).All(&acts); err != nil {
			return err
		}
		for _, a := range acts {
			a.Set("contact", winner)
			if err := tx.Save(a); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	svc.Flush()
	if s := saves.Load(); s < 1 || s > 4 {
		t.Fatalf("%d saves of the two contacts for %d moved activities; want 1–4", s, n)
	}
	want := dailyScores(t, app, reg)
	for _, id := range []string{winner, loser} {
		r, err := app.FindRecordById("contacts", id)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(r.GetFloat("score")-want[id]) > 0.1 { // 0.1: decay between the two moments
			t.Errorf("%s: stored %v, the daily run's %v", id, r.GetFloat("score"), want[id])
		}
	}
	if want[winner] < 7000 {
		t.Fatalf("the winner's score %v does not count the moved emails", want[winner])
	}
}

// TestAPIRuleScores: GET /api/relata/score/{object}/{id}/rules explains a record's rule-based
// score to whoever may view the record — its owner, her team, a manager — and is a 404 to a
// rep of another team; an object no definition scores answers an empty list.
func TestAPIRuleScores(t *testing.T) {
	t.Parallel()
	app, _, _, srv := servedRules(t)
	alice, aliceTok := schemastest.NewUser(t, app, "alice@example.com", schemas.RoleSales, "north")
	_, carolTok := schemastest.NewUser(t, app, "carol@example.com", schemas.RoleSales, "north")
	_, bobTok := schemastest.NewUser(t, app, "bob@example.com", schemas.RoleSales, "south")
	_, mgrTok := schemastest.NewUser(t, app, "manager@example.com", schemas.RoleManager, "")
	ada := schemastest.MustCreate(t, app, "contacts", map[string]any{"full_name": "Ada", "job_title": "CEO", "owner": alice.Id})
	schemastest.MustCreate(t, app, "activities", map[string]any{"type": "meeting", "subject": "Demo", "done": true,
		"done_at": time.Now().Add(-time.Minute), "contact": ada.Id, "owner": alice.Id})
	deal := schemastest.MustCreate(t, app, "deals", map[string]any{"name": "x", "stage": "lead", "owner": alice.Id})
	path := "/api/relata/score/contacts/" + ada.Id + "/rules"
	for _, tok := range []string{aliceTok, carolTok, mgrTok} {
		var got struct{ Scores []scoring.RuleExplanation }
		if code := schemastest.Call(t, srv, "GET", path, tok, nil, &got); code != 200 || len(got.Scores) != 1 {
			t.Fatalf("%d %+v; want one score", code, got)
		}
		sc := got.Scores[0]
		if sc.Name != "contact-fit" || sc.Field != "score" || sc.Score != 35 || sc.Grade != "B" ||
			!slices.Equal(sc.Hits, []scoring.Hit{{Rule: "Decision maker", Points: 20}, {Rule: "Meeting held", Points: 15}}) {
			t.Fatalf("explained: %+v; want 35 B from Decision maker +20 and Meeting held +15", sc)
		}
	}
	var none struct{ Scores []scoring.RuleExplanation }
	if code := schemastest.Call(t, srv, "GET", "/api/relata/score/deals/"+deal.Id+"/rules", aliceTok, nil, &none); code != 200 || none.Scores == nil || len(none.Scores) != 0 {
		t.Fatalf("an unscored object: %d %+v; want 200 and []", code, none)
	}
	for _, c := range []struct {
		name, path, token string
		want              int
	}{
		{"a rep of another team", path, bobTok, 404},
		{"anonymous", path, "", 401},
		{"no such contact", "/api/relata/score/contacts/nosuchcontact00/rules", aliceTok, 404},
		{"no such object", "/api/relata/score/people/" + ada.Id + "/rules", aliceTok, 404},
	} {
		if code := schemastest.Call(t, srv, "GET", c.path, c.token, nil, nil); code != c.want {
			t.Errorf("%s: %d; want %d", c.name, code, c.want)
		}
	}
}

// servedRules opens an app with the objects of testdata/rules/objects and serves it, which
// loads the score definitions of testdata/rules/valid as `relata serve` does.
func servedRules(t *testing.T) (*core.BaseApp, *schemas.Registry, *scoring.Service, *httptest.Server) {
	t.Helper()
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{Dir: "testdata/rules/objects"})
	if err := reg.Sync(); err != nil {
		t.Fatal(err)
	}
	svc := scoring.MustRegister(app, nil, scoring.Config{Registry: reg, Schedule: "-", RulesDir: "testdata/rules/valid"})
	return app, reg, svc, schemastest.Serve(t, app)
}

// TestScoresFollowPastAFullQueue: more activity writes than the queue holds (bounded, so an
// import of a million activities keeps its memory flat) still score every contact concerned:
// the records left out are scored with their whole object once the queue is empty.
func TestScoresFollowPastAFullQueue(t *testing.T) {
	t.Parallel()
	app, reg, svc, _ := servedRules(t)
	svc.SetMaxQueued(10)
	const n = 120
	seedContacts(t, app, n) // each with an email an hour to 60 days old
	longest := 0
	err := app.RunInTransaction(func(tx core.App) error {
		for i := range n {
			schemastest.MustCreate(t, tx, "activities", map[string]any{"type": "meeting", "subject": "Demo", "done": true,
				"done_at": time.Now().Add(-time.Minute), "contact": fmt.Sprintf("c%014d", i)})
			longest = max(longest, svc.Queued())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	svc.Flush()
	if longest > 10 {
		t.Fatalf("the queue held %d records; its bound is 10", longest)
	}
	want := dailyScores(t, app, reg)
	for i := range n {
		id := fmt.Sprintf("c%014d", i)
		r, err := app.FindRecordById("contacts", id)
		if err != nil {
			t.Fatal(err)
		}
		if math.Abs(r.GetFloat("score")-want[id]) > 0.1 || want[id] < 15 { // 0.1: decay between the two moments
			t.Fatalf("%s: stored %v, the daily run's %v (with a meeting: at least 15)", id, r.GetFloat("score"), want[id])
		}
	}
}

// dailyScores is what the daily run of testdata/rules/valid would store now, by contact id.
func dailyScores(t *testing.T, app core.App, reg *schemas.Registry) map[string]float64 {
	t.Helper()
	sets, err := scoring.LoadRules(os.DirFS("testdata/rules/valid"), reg)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]float64{}
	if _, err := scoring.RunRules(app, reg, sets[0], scoring.RunOptions{Each: func(sc scoring.RuleScore) error {
		want[sc.ID] = sc.Score
		return nil
	}}); err != nil {
		t.Fatal(err)
	}
	return want
}
