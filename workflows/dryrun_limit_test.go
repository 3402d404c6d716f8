package workflows_test

import (
	"net/http"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows"
)

// TestDryRunIsBounded: a dry run runs every step of every item of a for_each in one
// transaction, which holds the database's only writer. A manager's test of a for_each over
// many records with a slow script (up to 10s each, up to 100,000 items) made every save of
// every user wait for it — a rep's save waited 11.6s behind ten 1.2s scripts, and nothing
// bounded it. A dry run now stops at Config.DryRunTimeout, scripts included, and says so.
func TestDryRunIsBounded(t *testing.T) {
	e := newEnv(t, workflows.Config{DryRunTimeout: 300 * time.Millisecond})
	var deal string
	for i := range 10 {
		deal = schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "D" + strconv.Itoa(i), "stage": "lead", "owner": e.alice.Id}).Id
	}
	// Each item's script busies itself for up to 10s (its own limit): ten of them would hold
	// the writer for far longer than the dry run may.
	def := `{"name": "slow", "object": "deals", "trigger": {"type": "manual"},
	  "actions": [{"type": "for_each", "over": {"object": "deals"},
	    "actions": [{"type": "script", "timeout": "10s", "source": "let x = 0; for (let i = 0; i < 1e6; i++) { x += i }; x"}]}]}`
	start := time.Now()
	code, rep := e.api(t, http.MethodPost, "/api/relata/workflows/test", e.mgrTok, map[string]any{"definition": jsonRaw(def), "recordId": deal})
	took := time.Since(start)
	if code != 200 {
		t.Fatalf("test = %d %v", code, rep)
	}
	msg, _ := rep["error"].(string)
	if !strings.Contains(msg, "the dry run stopped after 300ms") {
		t.Errorf("error = %q (after %v); want the dry run stopped at its limit", msg, took)
	}
	if n := strings.Count(jsonOf(rep["steps"]), `"action":"script"`); n >= 10 {
		t.Errorf("the dry run ran all %d scripts (%v)", n, took)
	}
}
