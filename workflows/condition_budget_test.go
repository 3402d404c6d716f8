package workflows_test

import (
	"strings"
	"testing"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows"
)

// TestConditionBudgetInsideTheSave checks finding 5 of issue 10 through the engine: the
// condition that made every save take 13 s is refused when the workflow is saved, and one
// that compiles but goes over its budget on a record stops early, skips its workflow and
// lets the save (here an anonymous-like contact create) go through.
func TestConditionBudgetInsideTheSave(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	flow := func(name, cond string) string {
		return `{"name": "` + name + `", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
			"condition": ` + jsonOf(cond) + `, "actions": [{"type": "create_task", "subject": "x"}]}`
	}
	d, err := workflows.Parse("slow.json", []byte(flow("slow", `len(reduce(1..100000, #acc + "xxxxxxxxxx", "")) < 0`)))
	if err == nil {
		_, err = e.eng.Compile("slow.json", d)
	}
	if err == nil || !strings.Contains(err.Error(), "/condition") || !strings.Contains(err.Error(), "range 1..100000") {
		t.Fatalf("Compile = %v; want the range refused at /condition", err)
	}
	e.save(t, flow("busy", `len(reduce(1..5000, #acc + record.full_name, "")) < 0`))
	e.save(t, flow("fine", `record.full_name != ""`))
	schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": strings.Repeat("Ada ", 40)})
	if runs := e.runs(t, "workflow_name = 'busy'"); len(runs) != 0 {
		t.Errorf("the workflow whose condition went over its budget ran: %s", jsonOf(runs))
	}
	if runs := e.runs(t, "workflow_name = 'fine'"); len(runs) != 1 {
		t.Errorf("the other workflow got %d runs; want 1", len(runs))
	}
}
