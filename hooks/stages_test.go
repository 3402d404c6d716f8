package hooks_test

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	pbtypes "github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/hooks"
	_ "github.com/relata/relata/migrations"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
)

func newStageEnv(t *testing.T) *env {
	t.Helper()
	return newEnv(t)
}

func stageChanges(t *testing.T, app core.App, recordID string) []*core.Record {
	t.Helper()
	recs, err := app.FindRecordsByFilter(hooks.StageChangesCollection, "record = {:r}", "at,@rowid", 0, 0, map[string]any{"r": recordID})
	if err != nil {
		t.Fatal(err)
	}
	return recs
}

// TestStageHistory: creating a record records its first stage; changing the stage through the
// API records from, to, who and when; other edits record nothing.
func TestStageHistory(t *testing.T) {
	e := newStageEnv(t)
	alice, aliceTok := schemastest.NewUser(t, e.app, "alice@example.com", "sales", "north")

	var deal map[string]any
	if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/collections/deals/records", aliceTok,
		map[string]any{"name": "Big one", "amount": 100}, &deal); code != 200 {
		t.Fatalf("create = %d %v", code, deal)
	}
	id := deal["id"].(string)
	schemastest.Call(t, e.srv, http.MethodPatch, "/api/collections/deals/records/"+id, aliceTok, map[string]any{"amount": 200}, nil)
	if code := schemastest.Call(t, e.srv, http.MethodPatch, "/api/collections/deals/records/"+id, aliceTok, map[string]any{"stage": "proposal"}, &deal); code != 200 {
		t.Fatalf("move = %d", code)
	}
	// A change made by the system (a workflow, an import) has no user.
	rec, err := e.app.FindRecordById("deals", id)
	if err != nil {
		t.Fatal(err)
	}
	rec.Set("stage", "won")
	if err := e.app.Save(rec); err != nil {
		t.Fatal(err)
	}

	got := stageChanges(t, e.app, id)
	want := []struct{ from, to, by string }{{"", "lead", alice.Id}, {"lead", "proposal", alice.Id}, {"proposal", "won", ""}}
	if len(got) != len(want) {
		t.Fatalf("%d stage changes; want %d", len(got), len(want))
	}
	for i, w := range want {
		c := got[i]
		if c.GetString("object") != "deals" || c.GetString("field") != "stage" || c.GetString("from") != w.from ||
			c.GetString("to") != w.to || c.GetString("changed_by") != w.by {
			t.Errorf("change %d = %v; want %+v", i, c.PublicExport(), w)
		}
	}
	// "at" is the record's own timestamp of the change.
	if got[1].GetDateTime("at").String() != dateOf(t, deal["updated"]).String() {
		t.Errorf("at = %v; want the record's updated %v", got[1].GetDateTime("at"), deal["updated"])
	}
	if got[2].GetDateTime("at").String() != rec.GetDateTime(schemas.FieldUpdated).String() {
		t.Errorf("at = %v; want %v", got[2].GetDateTime("at"), rec.GetDateTime(schemas.FieldUpdated))
	}
}

// TestStageHistoryIsAtomic: when the record's write fails, its history is not kept either;
// objects without a stage field record nothing.
func TestStageHistoryIsAtomic(t *testing.T) {
	e := newStageEnv(t)
	boom := errors.New("boom")
	e.app.OnRecordUpdateExecute("deals").Bind(&hook.Handler[*core.RecordEvent]{
		Id:       "test.fail-inside",
		Priority: 1000, // runs inside the stage hook's transaction, after the row is written
		Func: func(ev *core.RecordEvent) error {
			if err := ev.Next(); err != nil {
				return err
			}
			if ev.Record.GetString("stage") == "lost" {
				return boom
			}
			return nil
		},
	})
	rec := schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "D", "stage": "lead"})
	rec.Set("stage", "lost")
	if err := e.app.Save(rec); !errors.Is(err, boom) {
		t.Fatalf("save = %v; want boom", err)
	}
	if got := stageChanges(t, e.app, rec.Id); len(got) != 1 || got[0].GetString("to") != "lead" {
		t.Errorf("after a failed save the history is %d changes; want only the creation", len(got))
	}
	if again, _ := e.app.FindRecordById("deals", rec.Id); again.GetString("stage") != "lead" {
		t.Errorf("the failed save changed the stage to %q", again.GetString("stage"))
	}
	c := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "No stages"})
	if got := stageChanges(t, e.app, c.Id); len(got) != 0 {
		t.Errorf("a contact got %d stage changes", len(got))
	}
}

func dateOf(t *testing.T, v any) pbtypes.DateTime {
	t.Helper()
	d, err := pbtypes.ParseDateTime(v)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// TestStagePerPipeline: a deal follows the pipeline its pipeline field holds; a stage of
// another pipeline is refused through the API with the reason under data.stage, a new renewal
// starts in the renewals pipeline's first stage, and a deal without a pipeline is a sales deal.
func TestStagePerPipeline(t *testing.T) {
	e := newStageEnv(t)
	_, tok := schemastest.NewUser(t, e.app, "alice@example.com", "sales", "north")

	var deal map[string]any
	if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/collections/deals/records", tok,
		map[string]any{"name": "Renewal 2027", "amount": 100, "pipeline": "renewals"}, &deal); code != 200 {
		t.Fatalf("create renewal = %d %v", code, deal)
	}
	if deal["stage"] != "renewal_due" {
		t.Errorf("new renewal stage = %v; want renewal_due (the renewals pipeline's first stage)", deal["stage"])
	}
	id := deal["id"].(string)

	var refusal map[string]any
	code := schemastest.Call(t, e.srv, http.MethodPatch, "/api/collections/deals/records/"+id, tok, map[string]any{"stage": "proposal"}, &refusal)
	if code != http.StatusBadRequest {
		t.Fatalf("move a renewal to proposal = %d %v; want 400", code, refusal)
	}
	msg, _ := refusal["data"].(map[string]any)["stage"].(map[string]any)["message"].(string)
	if want := `Stage "proposal" is not a stage of the Renewals pipeline (renewals: renewal_due, renewal_talks, renewed, churned).`; msg != want {
		t.Errorf("refusal reason = %q; want %q", msg, want)
	}
	if code := schemastest.Call(t, e.srv, http.MethodPatch, "/api/collections/deals/records/"+id, tok, map[string]any{"stage": "renewed"}, &deal); code != 200 {
		t.Fatalf("move a renewal to renewed = %d %v", code, deal)
	}

	// No pipeline: the sales pipeline, whose stages only it accepts.
	if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/collections/deals/records", tok,
		map[string]any{"name": "New logo", "amount": 5}, &deal); code != 200 || deal["stage"] != "lead" || deal["pipeline"] != "" {
		t.Fatalf("create sales deal = %d %v; want stage lead, no pipeline", code, deal)
	}
	if code := schemastest.Call(t, e.srv, http.MethodPatch, "/api/collections/deals/records/"+deal["id"].(string), tok, map[string]any{"stage": "churned"}, &refusal); code != http.StatusBadRequest {
		t.Errorf("move a sales deal to churned = %d; want 400", code)
	}
	// Switching pipeline needs a stage of the new one; with it, it works.
	if code := schemastest.Call(t, e.srv, http.MethodPatch, "/api/collections/deals/records/"+deal["id"].(string), tok, map[string]any{"pipeline": "renewals"}, &refusal); code != http.StatusBadRequest {
		t.Errorf("switch pipeline keeping stage lead = %d; want 400", code)
	}
	if code := schemastest.Call(t, e.srv, http.MethodPatch, "/api/collections/deals/records/"+deal["id"].(string), tok, map[string]any{"pipeline": "renewals", "stage": "renewal_talks"}, &deal); code != 200 {
		t.Errorf("switch pipeline with its stage = %d %v", code, deal)
	}

	// The rule holds for system writes (imports, workflows) too.
	rec, err := e.app.FindRecordById("deals", id)
	if err != nil {
		t.Fatal(err)
	}
	rec.Set("stage", "won")
	if err := e.app.Save(rec); err == nil || !strings.Contains(err.Error(), "not a stage of the Renewals pipeline") {
		t.Errorf("system save of a renewal in won = %v; want the refusal", err)
	}
}
