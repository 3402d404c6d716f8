package workflows_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows"
)

func TestScriptAction(t *testing.T) {
	tests := []struct {
		name       string
		source     string
		wantStatus string
		wantErr    string
		check      func(t *testing.T, e *env, deal string)
	}{
		{
			name:       "sets fields of the record",
			source:     `if (record.amount > 10000) { set('description', 'large: ' + record.name); set('lost_reason', '') } log('checked')`,
			wantStatus: workflows.StatusSucceeded,
			check: func(t *testing.T, e *env, deal string) {
				d, _ := e.app.FindRecordById("deals", deal)
				if d.GetString("description") != "large: Big" {
					t.Errorf("description = %q", d.GetString("description"))
				}
			},
		},
		{
			name: "finds and creates records",
			source: `const mine = find('deals', 'owner = {:o}', {o: record.owner}, 10);
create('activities', {type: 'note', subject: 'owner has ' + mine.length + ' deals', deal: record.id, owner: record.owner});`,
			wantStatus: workflows.StatusSucceeded,
			check: func(t *testing.T, e *env, deal string) {
				if n := e.count(t, "activities", "subject = 'owner has 1 deals' && deal = {:d}", map[string]any{"d": deal}); n != 1 {
					t.Errorf("notes = %d; want 1", n)
				}
			},
		},
		{
			name:       "an endless loop is stopped and the run fails with the reason",
			source:     `while (true) {}`,
			wantStatus: workflows.StatusFailed,
			wantErr:    "time limit",
		},
		{
			name:       "a huge allocation is stopped",
			source:     `'x'.repeat(2 ** 28)`,
			wantStatus: workflows.StatusFailed,
			wantErr:    "script stopped",
		},
		{
			name:       "no file system, no network, no eval",
			source:     `typeof require + typeof process + typeof fetch + typeof $os + typeof $http + eval('1')`,
			wantStatus: workflows.StatusFailed,
			wantErr:    "script",
		},
		{
			name:       "setting an unknown field fails",
			source:     `set('colour', 'red')`,
			wantStatus: workflows.StatusFailed,
			wantErr:    `unknown field "colour"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			e := newEnv(t, workflows.Config{ScriptTimeout: 300 * time.Millisecond})
			e.save(t, `{"name": "s", "enabled": true, "object": "deals", "trigger": {"type": "record_created"},
			  "actions": [{"type": "script", "source": `+jsonOf(tt.source)+`}]}`)
			_, d := e.api(t, http.MethodPost, "/api/collections/deals/records", e.aliceTok, map[string]any{"name": "Big", "amount": 50000})
			start := time.Now()
			e.drain(t)
			if el := time.Since(start); el > 5*time.Second {
				t.Errorf("the run took %v", el)
			}
			run := e.runs(t, "")[0]
			if run.GetString("status") != tt.wantStatus || !strings.Contains(run.GetString("error"), tt.wantErr) {
				t.Fatalf("run = %s %q; want %s with %q", run.GetString("status"), run.GetString("error"), tt.wantStatus, tt.wantErr)
			}
			if tt.check != nil {
				tt.check(t, e, d["id"].(string))
			}
		})
	}
}

func TestScriptSyntaxErrorRefusedAtSave(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	d, err := workflows.Parse("s.json", []byte(`{"name": "s", "object": "deals", "trigger": {"type": "record_created"},
	  "actions": [{"type": "script", "source": "let x = ;"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.eng.Compile("s.json", d)
	if err == nil || !strings.Contains(err.Error(), "/actions/0/source: line 1, column") {
		t.Fatalf("err = %v", err)
	}
}

// A script's own timeout replaces the engine's, above it too, up to MaxScriptTimeout.
func TestScriptTimeoutIsHonoured(t *testing.T) {
	e := newEnv(t, workflows.Config{ScriptTimeout: 200 * time.Millisecond})
	e.save(t, `{"name": "s", "enabled": true, "object": "deals", "trigger": {"type": "record_created"},
	  "actions": [{"type": "script", "timeout": "1500ms", "source": "while (true) {}"}]}`)
	schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "Big", "stage": "lead"})
	start := time.Now()
	e.drain(t)
	el := time.Since(start)
	run := e.runs(t, "")[0]
	if !strings.Contains(run.GetString("error"), "ran longer than 1.5s") {
		t.Errorf("error = %q; want the 1.5s limit named", run.GetString("error"))
	}
	if el < 1400*time.Millisecond || el > 10*time.Second {
		t.Errorf("the script ran %v; want about 1.5s", el)
	}
	d, err := workflows.Parse("s.json", []byte(`{"name": "s", "object": "deals", "trigger": {"type": "record_created"},
	  "actions": [{"type": "script", "timeout": "11s", "source": "1"}]}`))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.eng.Compile("s.json", d); err == nil || !strings.Contains(err.Error(), "/actions/0/timeout: must be a duration up to 10s") {
		t.Errorf("11s: err = %v", err)
	}
}

// A failing find says "find deals:" once, not once per layer.
func TestScriptStoreErrorsSayWhereOnce(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	e.save(t, `{"name": "s", "enabled": true, "object": "deals", "trigger": {"type": "record_created"},
	  "actions": [{"type": "script", "source": "const f = 'no_such_field = 1'; find('deals', f)"}]}`)
	schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "Big", "stage": "lead"})
	e.drain(t)
	msg := e.runs(t, "")[0].GetString("error")
	if strings.Count(msg, "find deals:") != 1 {
		t.Errorf("error = %q; want \"find deals:\" exactly once", msg)
	}
}

// A retried run uses the workflow's definition as it is now: after a fix is imported, the
// retry runs the fixed script, not the one that failed.
func TestRetryUsesTheCurrentDefinition(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	def := func(src string) string {
		return `{"name": "s", "enabled": true, "object": "deals", "trigger": {"type": "record_created"},
		  "actions": [{"type": "script", "source": ` + jsonOf(src) + `}]}`
	}
	e.save(t, def(`throw new Error('v1 is broken')`))
	deal := schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "Big", "stage": "lead"})
	e.drain(t)
	run := e.runs(t, "")[0]
	if run.GetString("status") != workflows.StatusFailed {
		t.Fatalf("run = %s", run.GetString("status"))
	}
	e.save(t, def(`set('description', 'v2')`))
	if err := e.eng.Retry(run.Id); err != nil {
		t.Fatal(err)
	}
	e.drain(t)
	if d, _ := e.app.FindRecordById("deals", deal.Id); d.GetString("description") != "v2" {
		t.Errorf("description = %q; want v2 from the current definition", d.GetString("description"))
	}
}

// Literal object names, fields and filters of find, create and update are checked when the
// workflow is saved, with the line and column in the script.
func TestScriptNamesCheckedAtSave(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	src := "const open = find('deals', 'stag != \"lost\"');\n" +
		"create('taks', {subject: 'x'});\n" +
		"update('deals', record.id, {stage: 'won', amout: 1});\n" +
		"create('activities', {subject: 'ok', amount_currency: 'EUR'});\n" +
		"find('deals', 'amount > {:min}', {min: 1});\n" +
		"find('companies', 'deals_via_company.stage ?= \"won\"', {}, {limit: 5, sort: 'contacts_via_company.full_name'});\n" +
		"find('companies', '', {}, {'sort': 'nme'});\n" +
		"find('companies', 'deals_via_company.stage ?= \"won\"', {}, {sort: '-deals_via_company.amount'});"
	d, err := workflows.Parse("s.json", []byte(`{"name": "s", "object": "deals", "trigger": {"type": "record_created"},
	  "actions": [{"type": "script", "source": `+jsonOf(src)+`}]}`))
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.eng.Compile("s.json", d)
	got := fmt.Sprint(err)
	for _, want := range []string{
		`/actions/0/source: line 1, column 28: find: filter "stag != \"lost\"": invalid left operand "stag"`,
		`/actions/0/source: line 2, column 8: create: unknown object "taks"`,
		`/actions/0/source: line 3, column 43: update: deals has no field "amout" (did you mean "amount"?)`,
		`/actions/0/source: line 4, column 38: create: activities has no field "amount_currency"`,
		// a sort that adds a second back-relation to the filter's; a sort on no field
		`/actions/0/source: line 6, column 76: find: `,
		`/actions/0/source: line 7, column 36: find: sort "nme": invalid sort field "nme"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("missing %s\nin %s", want, got)
		}
	}
	if !strings.Contains(got, "different back-relations (deals_via_company, contacts_via_company)") {
		t.Errorf("the sort's second back-relation is not named:\n%s", got)
	}
	if n := strings.Count(got, "/actions/0/source"); n != 6 {
		t.Errorf("%d errors; want 6 (the sort through the filter's own back-relation is fine):\n%s", n, got)
	}
}

// update changes a record as the run-as user; find pages with offset and sort.
func TestScriptUpdateAndPaging(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	for i := range 5 {
		schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": fmt.Sprint("D", i), "stage": "lead", "owner": e.alice.Id})
	}
	bobs := schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "Bob's", "stage": "lead", "owner": e.bob.Id})
	e.save(t, `{"name": "s", "enabled": true, "object": "companies", "trigger": {"type": "record_created"}, "runAs": "alice@example.com",
	  "actions": [{"type": "script", "source": `+jsonOf(`
		let all = [], page;
		for (let offset = 0; (page = find('deals', 'stage = "lead"', {}, {limit: 2, offset, sort: 'name'})).length; offset += 2) all.push(...page);
		for (const d of all) update('deals', d.id, {stage: 'qualified'});
		let refused = '';
		try { update('deals', '`+bobs.Id+`', {stage: 'won'}) } catch (e) { refused = e.message }
		set('address', all.map(d => d.name).join(',') + '|' + refused);`)+`}]}`)
	e.api(t, http.MethodPost, "/api/collections/companies/records", e.mgrTok, map[string]any{"name": "Trigger"})
	e.drain(t)
	if failed := e.runs(t, "status != 'succeeded'"); len(failed) != 0 {
		t.Fatalf("run: %s", failed[0].GetString("error"))
	}
	co, err := e.app.FindFirstRecordByFilter("companies", "name = 'Trigger'")
	if err != nil {
		t.Fatal(err)
	}
	if got := co.GetString("address"); got != "D0,D1,D2,D3,D4|update deals: no deals "+bobs.Id {
		t.Errorf("address = %q", got)
	}
	if n := e.count(t, "deals", "stage = 'qualified'"); n != 5 {
		t.Errorf("%d deals updated; want alice's 5", n)
	}
}
