package workflows_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/workflows"
)

// FuzzDefinition feeds workflow definitions to the loader — the JSON Schema check, decoding
// and the checks of meaning against the default object model (Engine.Compile) — as saving a
// workflow or `relata workflow import` does. Every refusal must be located schemas.Errors,
// never a panic; a definition that compiles must survive Marshal → Parse → Compile.
//
//	go test -run '^$' -fuzz '^FuzzDefinition$' -fuzztime 1m ./workflows/
func FuzzDefinition(f *testing.F) {
	paths, _ := filepath.Glob("../examples/sales/workflows/*.json")
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	for _, s := range []string{
		`{"name": "w", "enabled": true, "object": "deals", "trigger": {"type": "stage_changed", "from": "lead", "to": "won"},
		  "condition": "record.amount > 1000 && isChanged(\"stage\")",
		  "actions": [{"type": "branch", "if": "record.amount > 5000", "then": [{"type": "change_stage", "stage": "negotiation"}],
		    "else": [{"type": "wait", "for": "2d"}, {"type": "update_record", "values": {"description": "=lower(record.name)"}}]}]}`,
		`{"name": "s", "enabled": true, "trigger": {"type": "schedule", "cron": "0 9 * * 1-5"}, "actions": [{"type": "script", "source": "log(1)"}]}`,
		`{"name": "d", "object": "deals", "trigger": {"type": "date", "field": "contract_end", "offset": "-30d"},
		  "actions": [{"type": "webhook", "url": "https://example.com/h", "secret": {"ref": "x"}, "timeout": "5s"}]}`,
		`{"name": "o", "object": "contacts", "trigger": {"type": "dormant", "days": 14}, "runAs": "a@example.com",
		  "actions": [{"type": "assign_owner", "strategy": "round_robin", "role": "sales"},
		    {"type": "send_email", "to": "email", "subject": "Hi", "text": "=record.full_name"},
		    {"type": "create_record", "object": "activities", "values": {"subject": "x"}, "link": true}]}`,
		`{"name": "f", "object": "contacts", "trigger": {"type": "form_submitted", "form": "contact-us"}, "actions": []}`,
		`{"name": "x", "object": "deals", "trigger": {"type": "field_changed", "field": "amout"}, "condition": "record.amout >", "actions": [{"type": "change_stage", "stage": "signed"}]}`,
		`{"name": "e", "object": "companies", "trigger": {"type": "record_updated"},
		  "actions": [{"type": "for_each", "over": "contacts.company", "max": 10, "actions": [
		    {"type": "branch", "if": "item.source == \"website\"", "then": [{"type": "update_record", "target": "item", "values": {"job_title": "=item.full_name"}}]},
		    {"type": "send_email", "to": "item", "subject": "=record.name", "text": "x"}, {"type": "create_task", "subject": "=item.full_name"}]}]}`,
		`{"name": "q", "object": "deals", "trigger": {"type": "record_created"},
		  "actions": [{"type": "for_each", "over": {"object": "contacts", "filter": "company = {:c} && email != ''", "params": {"c": "=record.company"}},
		    "actions": [{"type": "script", "source": "update('contacts', item, {tags: ['x']}); find('deals', 'stage = \"won\"', {}, {offset: 2})"}]}]}`,
		`{}`, `[]`, `null`, `{"name": 1}`,
	} {
		f.Add([]byte(s))
	}
	e := newBareEnv(f, workflows.Config{})
	f.Fuzz(func(t *testing.T, data []byte) {
		d, err := workflows.Parse("fuzz.json", data)
		if err != nil {
			located(t, err)
			return
		}
		w, err := e.eng.Compile("fuzz.json", d)
		if err != nil {
			located(t, err)
			return
		}
		if w == nil {
			t.Fatal("Compile returned neither a workflow nor an error")
		}
		again, err := workflows.Marshal(d)
		if err != nil {
			t.Fatalf("a compiled definition does not marshal: %v", err)
		}
		d2, err := workflows.Parse("again.json", again)
		if err != nil {
			t.Fatalf("a compiled definition does not parse after Marshal: %v\n%s", err, again)
		}
		if _, err := e.eng.Compile("again.json", d2); err != nil {
			t.Fatalf("a compiled definition does not compile after Marshal: %v\n%s", err, again)
		}
	})
}

// located fails unless err is a non-empty schemas.Errors whose every problem names the file.
func located(t *testing.T, err error) {
	t.Helper()
	var errs schemas.Errors
	if !errors.As(err, &errs) || len(errs) == 0 {
		t.Fatalf("error is not a located schemas.Errors: %T %v", err, err)
	}
	for _, e := range errs {
		if e.File == "" || e.Message == "" {
			t.Fatalf("problem without file or message: %#v", e)
		}
		if e.Pointer != "" && !strings.HasPrefix(e.Pointer, "/") {
			t.Fatalf("pointer %q is not a JSON pointer", e.Pointer)
		}
	}
}

// FuzzParseDuration checks the durations of definitions ("30m", "-30d", "2w"): a duration
// that parses has the sign that was written — a count too large for time.Duration must be
// refused, not wrap around.
func FuzzParseDuration(f *testing.F) {
	for _, s := range []string{"30m", "4h", "1d", "-30d", "+2w", "0d", "1x", "", "d"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d, err := workflows.ParseDuration(s)
		if err != nil {
			return
		}
		neg := strings.HasPrefix(strings.TrimSpace(s), "-")
		if (neg && d > 0) || (!neg && d < 0) {
			t.Fatalf("ParseDuration(%q) = %v: the sign flipped (overflow)", s, d)
		}
		if d != 0 && d%time.Minute != 0 {
			t.Fatalf("ParseDuration(%q) = %v: not whole minutes (overflow)", s, d)
		}
	})
}
