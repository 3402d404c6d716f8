package scoring_test

import (
	"bytes"
	"encoding/json"
	"io"
	"math"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"

	"github.com/relata/relata/insights/scoring"
	_ "github.com/relata/relata/migrations"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
)

// newApp is the default CRM model with testdata/leakage seeded, and the score command.
func newApp(t *testing.T) (*core.BaseApp, *schemas.Registry, *cobra.Command) {
	t.Helper()
	app, reg := seededApp(t)
	root := &cobra.Command{Use: "relata"}
	scoring.MustRegister(app, root, scoring.Config{Registry: reg, Schedule: "-"})
	return app, reg, root
}

// seededApp is the default CRM model with testdata/leakage seeded.
func seededApp(tb testing.TB) (*core.BaseApp, *schemas.Registry) {
	tb.Helper()
	app := schemastest.OpenApp(tb, tb.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	if err := reg.Sync(); err != nil {
		tb.Fatal(err)
	}
	if err := reg.SeedFrom(io.Discard, "testdata/leakage"); err != nil {
		tb.Fatal(err)
	}
	return app, reg
}

func run(t *testing.T, root *cobra.Command, args ...string) (string, error) {
	t.Helper()
	var out bytes.Buffer
	root.SetOut(&out)
	root.SetErr(&out)
	root.SetArgs(args)
	err := root.Execute()
	return out.String(), err
}

func TestLoadAsOfTheClose(t *testing.T) {
	t.Parallel()
	app, reg, _ := newApp(t)
	d, err := scoring.Load(app, reg, "deals")
	if err != nil {
		t.Fatal(err)
	}
	var won, open *scoring.Record
	for _, r := range d.Records {
		switch r.ID {
		case "lkd000000000001":
			won = r
		case "lkd000000000002":
			open = r
		}
	}
	if won == nil || !won.Closed || !won.Won || open == nil || open.Closed {
		t.Fatalf("records %+v / %+v", won, open)
	}
	if won.Amount != 900 { // 1,000 USD at 0.9
		t.Errorf("amount in EUR = %v; want 900", won.Amount)
	}
	if got := won.Cats["company.industry"]; got != "software" {
		t.Errorf("company.industry = %q; want software", got)
	}
	s := won.At(won.ScoredAt(time.Now()))
	if s.Stage != "proposal" {
		t.Errorf("stage as of the close = %q; want proposal (the change to won is the outcome)", s.Stage)
	}
	if s.Total["meeting"] != 1 || s.Recent["meeting"] != 1 || s.Total["email"] != 1 {
		t.Errorf("activities as of the close: total %v, recent %v; want 1 meeting (recent) and 1 email: the onboarding meeting after the close must not count", s.Total, s.Recent)
	}
	if d := s.DaysSinceTouch; d < 4.9 || d > 5.1 {
		t.Errorf("days since the last touch before the close = %v; want 5 (the demo, not the onboarding)", d)
	}

	// Activities logged after the close change nothing of what the deal is scored on, and
	// no feature of a model can come from them.
	schemastest.MustCreate(t, app, "activities", map[string]any{"type": "call", "subject": "After the close",
		"done": true, "done_at": time.Now().Add(-time.Hour), "deal": won.ID})
	d2, err := scoring.Load(app, reg, "deals")
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range d2.Records {
		if r.ID == won.ID {
			if got := r.At(r.ScoredAt(time.Now())); !reflect.DeepEqual(got, s) {
				t.Fatalf("snapshot changed by an activity after the close:\n got %+v\nwant %+v", got, s)
			}
		}
	}
}

func TestCommandsFallBackBelow50(t *testing.T) {
	t.Parallel()
	_, _, root := newApp(t)
	out, err := run(t, root, "score", "evaluate", "deals")
	if err != nil || !strings.Contains(out, "only 1 closed deals (a model needs at least 50): falling back to the stage probabilities") {
		t.Fatalf("evaluate: %v\n%s", err, out)
	}
	out, err = run(t, root, "score", "train", "deals")
	if err != nil || !strings.Contains(out, "no model stored") {
		t.Fatalf("train: %v\n%s", err, out)
	}
	out, err = run(t, root, "score", "explain", "deals", "lkd000000000002")
	if err != nil || !strings.Contains(out, `25 % (stage probability of "qualified", now)`) {
		t.Fatalf("explain: %v\n%s", err, out)
	}
	if _, err := run(t, root, "score", "explain", "deals", "nosuchdeal00000"); err == nil || !strings.Contains(err.Error(), `deals has no record "nosuchdeal00000"`) {
		t.Fatalf("explain of a missing record: %v", err)
	}
	if _, err := run(t, root, "score", "evaluate", "dealz"); err == nil || !strings.Contains(err.Error(), `no object named "dealz"`) {
		t.Fatalf("evaluate of a missing object: %v", err)
	}
	if _, err := run(t, root, "score", "evaluate", "companies"); err == nil || !strings.Contains(err.Error(), "companies has no stage field") {
		t.Fatalf("evaluate of an object without pipeline: %v", err)
	}
}

func TestStoredModelExplains(t *testing.T) {
	t.Parallel()
	app, _, root := newApp(t)
	h := history(500, 11)
	rep, err := scoring.Evaluate(h, scoring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	m, err := scoring.TrainAll(h, scoring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for want := 1; want <= 2; want++ {
		v, err := scoring.Save(app, m, rep.Closed, rep)
		if err != nil || v != want {
			t.Fatalf("Save = %d, %v; want version %d", v, err, want)
		}
	}
	st, err := scoring.Latest(app, "deals")
	if err != nil || st == nil || st.Version != 2 || st.Records != 500 || st.Metrics == nil || st.Metrics.Model.AUC != rep.Model.AUC {
		t.Fatalf("Latest = %+v, %v", st, err)
	}
	snap := h.Records[0].At(h.Records[0].ClosedAt)
	if got, want := st.Model.Predict(snap), m.Predict(snap); got != want {
		t.Fatalf("stored model predicts %v; trained one %v", got, want)
	}
	out, err := run(t, root, "score", "explain", "deals", "lkd000000000002", "--factors", "3")
	if err != nil || !strings.Contains(out, "win probability (now; model version 2 of") || strings.Count(out, "\n  ") > 3 {
		t.Fatalf("explain: %v\n%s", err, out)
	}
	out, err = run(t, root, "score", "explain", "deals", "lkd000000000002", "--json", "--factors", "2")
	var res scoring.Result
	if err != nil || json.Unmarshal([]byte(out), &res) != nil || res.Source != "model" || res.Version != 2 || len(res.Factors) == 0 || len(res.Factors) > 2 {
		t.Fatalf("explain --json: %v\n%s", err, out)
	}
}

func TestAPIScoreAsWhoeverMayView(t *testing.T) {
	t.Parallel()
	app, _, _ := newApp(t)
	alice, aliceTok := schemastest.NewUser(t, app, "alice@example.com", schemas.RoleSales, "north")
	_, bobTok := schemastest.NewUser(t, app, "bob@example.com", schemas.RoleSales, "north")
	_, mgrTok := schemastest.NewUser(t, app, "manager@example.com", schemas.RoleManager, "")
	giveOpenDeal(t, app, alice)
	srv := schemastest.Serve(t, app)
	const path = "/api/relata/score/deals/lkd000000000002"

	var got scoring.Result
	if code := schemastest.Call(t, srv, "GET", path, aliceTok, nil, &got); code != 200 || got.Source != "stage" || got.P != 0.25 {
		t.Fatalf("alice, no model: %d %+v; want the stage probability 0.25", code, got)
	}
	h := history(300, 2)
	m, err := scoring.TrainAll(h, scoring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := scoring.Evaluate(h, scoring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := scoring.Save(app, m, rep.Closed, rep); err != nil {
		t.Fatal(err)
	}
	for _, tok := range []string{aliceTok, mgrTok} {
		got = scoring.Result{}
		if code := schemastest.Call(t, srv, "GET", path, tok, nil, &got); code != 200 || got.Source != "model" || got.Version != 1 || len(got.Factors) == 0 || got.P <= 0 || got.P >= 1 {
			t.Fatalf("with a model: %d %+v", code, got)
		}
	}
	for _, c := range []struct {
		name, path, token string
		want              int
	}{
		{"another rep's deal", path, bobTok, 404},
		{"anonymous", path, "", 401},
		{"no such deal", "/api/relata/score/deals/nosuchdeal00000", aliceTok, 404},
		{"object without pipeline", "/api/relata/score/companies/lkc000000000001", aliceTok, 404},
	} {
		if code := schemastest.Call(t, srv, "GET", c.path, c.token, nil, nil); code != c.want {
			t.Errorf("%s: %d; want %d", c.name, code, c.want)
		}
	}
}

// giveOpenDeal makes user the owner of the open deal of testdata/leakage.
func giveOpenDeal(t *testing.T, app core.App, user *core.Record) {
	t.Helper()
	deal, err := app.FindRecordById("deals", "lkd000000000002")
	if err != nil {
		t.Fatal(err)
	}
	deal.Set("owner", user.Id)
	if err := app.Save(deal); err != nil {
		t.Fatal(err)
	}
}

func TestRetrainAllStoresVersions(t *testing.T) {
	t.Parallel()
	app, reg, _ := newApp(t)
	svc, err := scoring.Register(app, nil, scoring.Config{Registry: reg, Schedule: "-"})
	if err != nil {
		t.Fatal(err)
	}
	// 1 closed deal: nothing stored.
	svc.RetrainAll(app)
	if st, err := scoring.Latest(app, "deals"); err != nil || st != nil {
		t.Fatalf("below 50 closed deals: Latest = %+v, %v; want nothing stored", st, err)
	}
	// 80 closed deals, won more often from referrals.
	now := time.Now()
	for i := range 80 {
		src, stage := "website", "lost"
		if i%2 == 0 {
			src = "referral"
		}
		if (src == "referral" && i%5 != 0) || (src == "website" && i%5 == 0) {
			stage = "won"
		}
		schemastest.MustCreate(t, app, "deals", map[string]any{"name": "deal", "stage": stage, "source": src,
			"amount": 1000 + 10*i, "closed_at": now.Add(-time.Duration(i) * 24 * time.Hour)})
	}
	svc.RetrainAll(app)
	svc.RetrainAll(app)
	st, err := scoring.Latest(app, "deals")
	if err != nil || st == nil || st.Version != 2 || st.Records != 81 {
		t.Fatalf("Latest = %+v, %v; want version 2 trained on 81 closed deals", st, err)
	}
	if st.Metrics == nil || st.Metrics.Train != 56 || st.Metrics.Test != 25 || st.Metrics.Model.AUC < 0.7 {
		t.Fatalf("stored figures %+v", st.Metrics)
	}
	if _, err := scoring.Register(app, nil, scoring.Config{Registry: reg, Schedule: "every monday"}); err == nil || !strings.Contains(err.Error(), `Config.Schedule "every monday"`) {
		t.Fatalf("bad schedule: %v", err)
	}
}

// TestAPIScoreManyAsTheCaller: one request scores a page of records, only those the caller
// may view, and no factor names a value of a record she may not view.
func TestAPIScoreManyAsTheCaller(t *testing.T) {
	t.Parallel()
	app, _, _ := newApp(t)
	alice, aliceTok := schemastest.NewUser(t, app, "alice@example.com", schemas.RoleSales, "north")
	bob, _ := schemastest.NewUser(t, app, "bob@example.com", schemas.RoleSales, "south")
	_, mgrTok := schemastest.NewUser(t, app, "manager@example.com", schemas.RoleManager, "")
	giveOpenDeal(t, app, alice)
	bobs := schemastest.MustCreate(t, app, "deals", map[string]any{"name": "Bob's", "stage": "proposal", "owner": bob.Id,
		"source": "website", "company": "lkc000000000001"})
	// Only managers may view companies here: a sales rep must not learn a company's industry
	// from the words of a factor.
	companies, err := app.FindCollectionByNameOrId("companies")
	if err != nil {
		t.Fatal(err)
	}
	rule := `@request.auth.role = "manager"`
	companies.ViewRule = &rule
	if err := app.Save(companies); err != nil {
		t.Fatal(err)
	}
	m := &scoring.Model{Object: "deals",
		Features: []scoring.Feature{
			{Name: "company.industry=software", Kind: "cat", Key: "company.industry", Value: "software"},
			{Name: "source=website", Kind: "cat", Key: "source", Value: "website"}},
		Mean: []float64{0.5, 0.5}, SD: []float64{0.5, 0.5}, Weights: []float64{1.5, -0.8}}
	if _, err := scoring.Save(app, m, 100, &scoring.Report{}); err != nil {
		t.Fatal(err)
	}
	srv := schemastest.Serve(t, app)
	path := "/api/relata/score/deals?ids=lkd000000000002," + bobs.Id + ",nosuchdeal00000"
	type answer struct {
		Scores map[string]scoring.Result `json:"scores"`
	}
	texts := func(r scoring.Result) string {
		var out []string
		for _, f := range r.Factors {
			out = append(out, f.Text)
		}
		return strings.Join(out, "; ")
	}

	var got answer
	if code := schemastest.Call(t, srv, "GET", path, aliceTok, nil, &got); code != 200 {
		t.Fatalf("alice: %d", code)
	}
	if len(got.Scores) != 1 {
		t.Fatalf("alice got %d scores (%v); want only her own deal", len(got.Scores), got.Scores)
	}
	own := got.Scores["lkd000000000002"]
	if own.Source != "model" || own.Version != 1 || own.StageP != 0.25 || own.TrainedAt == nil {
		t.Errorf("alice's deal: %+v", own)
	}
	if want := "− source: website"; texts(own) != want {
		t.Errorf("alice's factors %q; want %q (the company's industry is not hers to see)", texts(own), want)
	}
	// The probability is the model's, whoever asks.
	if p := 1 / (1 + math.Exp(-(1.5 - 0.8))); math.Abs(own.P-p) > 1e-9 {
		t.Errorf("p = %v; want %v", own.P, p)
	}

	got = answer{}
	if code := schemastest.Call(t, srv, "GET", path, mgrTok, nil, &got); code != 200 || len(got.Scores) != 2 {
		t.Fatalf("manager: %d %v; want both deals", code, got.Scores)
	}
	if want := "+ company industry: software; − source: website"; texts(got.Scores["lkd000000000002"]) != want {
		t.Errorf("manager's factors %q; want %q", texts(got.Scores["lkd000000000002"]), want)
	}

	many := strings.Repeat("x,", scoring.MaxBulkIDs+1)
	for _, c := range []struct {
		name, path, token string
		want              int
	}{
		{"anonymous", path, "", 401},
		{"too many ids", "/api/relata/score/deals?ids=" + many, aliceTok, 400},
		{"bad factors", path + "&factors=11", aliceTok, 400},
		{"object without pipeline", "/api/relata/score/companies?ids=lkc000000000001", aliceTok, 404},
		{"no ids", "/api/relata/score/deals", aliceTok, 200},
	} {
		if code := schemastest.Call(t, srv, "GET", c.path, c.token, nil, nil); code != c.want {
			t.Errorf("%s: %d; want %d", c.name, code, c.want)
		}
	}
}
