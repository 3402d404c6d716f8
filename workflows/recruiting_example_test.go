package workflows_test

import (
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"

	"github.com/relata/relata/hooks"
	"github.com/relata/relata/insights/scoring"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/forms"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows"
)

// TestRecruitingExample loads examples/recruiting — its own object model, seed data, form and
// workflows, none of them a script — and runs each automation.
func TestRecruitingExample(t *testing.T) {
	const dir = "../examples/recruiting"
	// No automation of this example may need code.
	wfs, _ := filepath.Glob(filepath.Join(dir, "workflows", "*.json"))
	for _, f := range wfs {
		b, _ := os.ReadFile(f)
		if strings.Contains(string(b), `"script"`) {
			t.Errorf("%s uses a script action", f)
		}
	}
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{Dir: filepath.Join(dir, "schemas")})
	c := &clock{now: time.Now().UTC()}
	eng := workflows.MustRegister(app, nil, workflows.Config{Registry: reg, Now: c.Now, RetryBase: time.Minute})
	hooks.MustRegister(app, hooks.Config{Registry: reg, Engine: eng})
	forms.MustRegister(app, nil, forms.Config{Registry: reg, Dirs: []string{filepath.Join(dir, "forms")}})
	scores := scoring.MustRegister(app, nil, scoring.Config{Registry: reg, Schedule: "-"}) // schemas/scores
	srv := schemastest.Serve(t, app)
	eng.Stop()
	t.Cleanup(eng.Stop)
	e := &env{app: app, reg: reg, eng: eng, srv: srv, clock: c}

	if _, err := schemas.Seed(app, reg.Objects(), os.DirFS(filepath.Join(dir, "seed"))); err != nil {
		t.Fatal(err)
	}
	n, err := eng.ImportDir(filepath.Join(dir, "workflows"))
	if err != nil || n != len(wfs) || n < 4 {
		t.Fatalf("imported %d of %d workflows: %v", n, len(wfs), err)
	}
	alice, err := app.FindAuthRecordByEmail("users", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	aliceTok, _ := alice.NewAuthToken()
	defer func() {
		for _, r := range e.runs(t, "status != 'succeeded'") {
			t.Errorf("run of %s: %s %s", r.GetString("workflow_name"), r.GetString("status"), r.GetString("error"))
		}
	}()
	// mailsTo counts the queued emails with subject whose recipient starts with to.
	mailsTo := func(to, subject string) int {
		recs, err := app.FindAllRecords("emails", dbx.HashExp{"subject": subject})
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range recs {
			for _, addr := range r.GetStringSlice("to") {
				if strings.HasPrefix(addr, to) {
					n++
				}
			}
		}
		return n
	}
	e.drain(t) // nothing seeded starts a run but the interview dates (below)

	t.Run("candidates are scored as they are seeded and as calls are held", func(t *testing.T) {
		grade := func(id string) (float64, string) {
			t.Helper()
			scores.Flush()
			r, err := app.FindRecordById("candidates", id)
			if err != nil {
				t.Fatal(err)
			}
			return r.GetFloat("score"), r.GetString("grade")
		}
		for id, want := range map[string]struct {
			score float64
			grade string
		}{
			"cnd000000000001": {30, "B"}, // Ada: referred, frontend developer
			"cnd000000000012": {20, "C"}, // Liam: backend developer, interested in two openings
			"cnd000000000002": {0, "D"},  // Bruno: analyst from a job board
		} {
			if sc, g := grade(id); sc != want.score || g != want.grade {
				t.Errorf("%s: %v %q; want %v %q", id, sc, g, want.score, want.grade)
			}
		}
		schemastest.MustCreate(t, app, "activities", map[string]any{"type": "call", "subject": "Screening call", "done": true,
			"done_at": time.Now().Add(-time.Minute), "candidate": "cnd000000000002"})
		if sc, g := grade("cnd000000000002"); sc != 10 || g != "C" {
			t.Errorf("Bruno after a call: %v %q; want 10 C", sc, g)
		}
	})

	t.Run("a reopened job emails every interested candidate", func(t *testing.T) {
		// Data Analyst (on hold) interests candidates 3, 6, 9 and 12.
		if code, out := e.api(t, http.MethodPatch, "/api/collections/job_openings/records/job000000000003", aliceTok, map[string]any{"status": "open"}); code != 200 {
			t.Fatalf("reopen = %d %v", code, out)
		}
		e.drain(t)
		for _, who := range []string{`"Chiara Rossi" <chiara@`, `"Femi Adeyemi" <femi@`, `"Ines Castro" <ines@`, `"Liam O'Brien" <liam@`} {
			if got := mailsTo(who, "Data Analyst is open again"); got != 1 {
				t.Errorf("emails to %s = %d; want 1", who, got)
			}
		}
		if got := e.count(t, "emails", "subject = 'Data Analyst is open again'"); got != 4 {
			t.Errorf("%d emails; want 4, one per interested candidate", got)
		}
	})

	t.Run("a filled job closes every open application", func(t *testing.T) {
		// Senior Go Engineer has applications 1 (interview), 2 (screening) and 11 (applied).
		if code, out := e.api(t, http.MethodPatch, "/api/collections/job_openings/records/job000000000001", aliceTok, map[string]any{"status": "filled"}); code != 200 {
			t.Fatalf("fill = %d %v", code, out)
		}
		e.drain(t)
		if got := e.count(t, "applications", "job = 'job000000000001' && stage = 'closed' && closed_reason = 'Position filled: Senior Go Engineer'"); got != 3 {
			t.Errorf("%d applications closed; want 3", got)
		}
		if got := e.count(t, "applications", "job != 'job000000000001' && closed_reason ~ 'Senior Go'"); got != 0 {
			t.Errorf("applications of other jobs closed: %d", got)
		}
		if got := mailsTo(`"Ada Moreau" <ada@`, "Your application: Senior Go Engineer"); got != 1 {
			t.Errorf("emails to the candidate = %d; want 1", got)
		}
	})

	t.Run("interviewers are reminded a day before", func(t *testing.T) {
		// Interview 1 is in two days: nothing yet; a day later its reminder is due.
		if err := eng.Tick(c.Now()); err != nil {
			t.Fatal(err)
		}
		e.drain(t)
		if got := e.count(t, "emails", "subject ~ 'Tomorrow: Technical interview'"); got != 0 {
			t.Fatalf("reminded two days ahead")
		}
		c.Add(25 * time.Hour)
		if err := eng.Tick(c.Now()); err != nil {
			t.Fatal(err)
		}
		e.drain(t)
		if got := mailsTo(`"Bob Okafor" <bob@example.com>`, "Tomorrow: Technical interview: Ada Moreau"); got != 1 {
			t.Errorf("reminders to the interviewer = %d; want 1", got)
		}
		if got := e.count(t, "activities", "interview = 'ivw000000000001' && owner = 'usrbob000000001' && subject = 'Prepare: Technical interview: Ada Moreau'"); got != 1 {
			t.Errorf("preparation tasks = %d; want 1", got)
		}
	})

	t.Run("the application form creates the application for the chosen opening", func(t *testing.T) {
		var def map[string]any
		if code := schemastest.Call(t, srv, http.MethodGet, "/api/relata/forms/apply", "", nil, &def); code != 200 {
			t.Fatalf("form = %d %v", code, def)
		}
		// The opening is a picker of the open jobs: their titles only, nothing of the others.
		var offered []string
		for _, f := range def["fields"].([]any) {
			if f := f.(map[string]any); f["name"] == "applied_for" {
				for _, o := range f["options"].([]any) {
					o := o.(map[string]any)
					offered = append(offered, o["value"].(string)+" "+o["label"].(string))
				}
			}
		}
		// (The steps above filled one opening and reopened another.)
		if want := []string{"job000000000003 Data Analyst", "job000000000002 Frontend Developer", "job000000000004 Site Reliability Engineer"}; !slices.Equal(offered, want) {
			t.Errorf("openings offered = %q; want the open ones %q", offered, want)
		}
		time.Sleep(3100 * time.Millisecond) // the form's minimum fill time
		var out map[string]any
		code := schemastest.Call(t, srv, http.MethodPost, "/api/relata/forms/apply", "", map[string]any{
			"full_name": "Zoe Quinn", "email": "zoe@candidates.example", "applied_for": "job000000000004",
			"_consent": true, "_token": def["token"]}, &out)
		if code != 200 {
			t.Fatalf("submit = %d %v", code, out)
		}
		e.drain(t)
		if got := e.count(t, "applications", "candidate.email = 'zoe@candidates.example' && job = 'job000000000004' && stage = 'applied' && title = 'Zoe Quinn for Site Reliability Engineer' && owner = 'usrbob000000001'"); got != 1 {
			t.Errorf("applications = %d; want 1 linked to the opening", got)
		}
		if got := mailsTo(`"Zoe Quinn" <zoe@`, "We received your application: Site Reliability Engineer"); got != 1 {
			t.Errorf("confirmations = %d; want 1", got)
		}
	})
}
