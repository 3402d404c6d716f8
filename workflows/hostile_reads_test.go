package workflows_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/dbx"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows"
)

// TestSlowReadsStopWithTheirRun: a script's find runs in its step's transaction and a dry
// run's reads in the dry run's, both holding the database's only writer. A filter of 30
// any-match terms through a back-relation over a company of 2,000 deals read for 20 s and
// more: the query did not stop at the script's time limit (the sandbox's store contract: a
// store returns promptly when its context is done), nor at the dry run's end (5 s), and
// every save of every user waited meanwhile. The reads stop now, and the dry run says why.
func TestSlowReadsStopWithTheirRun(t *testing.T) {
	e := newEnv(t, workflows.Config{DryRunTimeout: 300 * time.Millisecond})
	co := schemastest.MustCreate(t, e.app, "companies", map[string]any{"name": "Big"})
	bulkCreate(t, e.app, "deals", 2000, func(i int) map[string]any {
		return map[string]any{"name": fmt.Sprintf("d%d", i), "stage": "lead", "company": co.Id, "owner": e.alice.Id}
	})
	deal := schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "D", "stage": "lead", "owner": e.mgr.Id})
	var terms []string
	for i := range 30 {
		terms = append(terms, fmt.Sprintf("company.deals_via_company.name ?= 'x%d'", i))
	}
	slow := strings.Join(terms, " || ")

	t.Run("for_each", func(t *testing.T) {
		def := `{"name": "probe", "object": "deals", "trigger": {"type": "manual"}, "actions": [{"type": "for_each",
		  "over": {"object": "deals", "filter": ` + jsonOf(slow) + `}, "actions": [{"type": "update_record", "target": "item", "values": {"description": "x"}}]}]}`
		code, rep := e.api(t, http.MethodPost, "/api/relata/workflows/test", e.mgrTok, map[string]any{"definition": jsonRaw(def), "recordId": deal.Id})
		steps, _ := rep["steps"].([]any)
		if code != 200 || len(steps) != 1 {
			t.Fatalf("dry run = %d %s", code, jsonOf(rep))
		}
		step, _ := steps[0].(map[string]any)
		if msg, _ := step["error"].(string); !strings.Contains(msg, "the dry run stopped after") || step["output"] != nil ||
			!strings.Contains(fmt.Sprint(rep["error"]), "the dry run stopped after") {
			t.Errorf("the for_each's count = %s; want it stopped at the dry run's end", jsonOf(rep))
		}
	})
	t.Run("save", func(t *testing.T) {
		// Checking a definition does not run its filters (it ran them whole: 6 s a check).
		def := `{"name": "probe", "object": "deals", "trigger": {"type": "manual"}, "actions": [
		  {"type": "for_each", "over": {"object": "deals", "filter": ` + jsonOf(slow) + `}, "actions": [{"type": "update_record", "target": "item", "values": {"description": "x"}}]},
		  {"type": "script", "source": ` + jsonOf(`return find('deals', `+jsonOf(slow)+`).length`) + `}]}`
		var mu sync.Mutex
		var reads []string
		db := e.app.ConcurrentDB().(*dbx.DB)
		db.QueryLogFunc = func(_ context.Context, _ time.Duration, s string, _ *sql.Rows, _ error) {
			if strings.Contains(s, "'x7'") || strings.Contains(s, "x7") {
				mu.Lock()
				reads = append(reads, s)
				mu.Unlock()
			}
		}
		code, out := e.api(t, http.MethodPost, "/api/relata/workflows/validate", e.mgrTok, map[string]any{"definition": jsonRaw(def)})
		db.QueryLogFunc = nil
		if code != 200 {
			t.Errorf("validate = %d %v", code, out)
		}
		mu.Lock()
		if len(reads) < 2 {
			t.Errorf("validate made %d reads with the filters; want their checks (2)", len(reads))
		}
		for _, r := range reads {
			if !strings.Contains(r, "1 = 0") {
				t.Errorf("validate read the records matching the filter: %.300s", r)
			}
		}
		mu.Unlock()
		bad := strings.Replace(def, "company.deals_via_company.name ?= 'x7'", "company.deals_via_company.nam ?= 'x7'", 2)
		if code, out := e.api(t, http.MethodPost, "/api/relata/workflows/validate", e.mgrTok, map[string]any{"definition": jsonRaw(bad)}); code != 400 ||
			strings.Count(jsonOf(out), "unknown field \\\"nam\\\"") != 2 {
			t.Errorf("validate of a typo = %d %s; want both filters refused", code, jsonOf(out))
		}
	})
	t.Run("script", func(t *testing.T) {
		src := `const r = find('deals', ` + jsonOf(slow) + `, {}, 1); return r.length;`
		def := `{"name": "probe", "object": "deals", "trigger": {"type": "manual"}, "actions": [{"type": "script", "timeout": "200ms", "source": ` + jsonOf(src) + `}]}`
		code, rep := e.api(t, http.MethodPost, "/api/relata/workflows/test", e.mgrTok, map[string]any{"definition": jsonRaw(def), "recordId": deal.Id})
		if code != 200 || !strings.Contains(jsonOf(rep), "time limit") {
			t.Errorf("dry run = %d %s; want the script stopped at its time limit", code, jsonOf(rep))
		}
	})
}
