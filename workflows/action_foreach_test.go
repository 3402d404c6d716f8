package workflows_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows"
	"github.com/relata/relata/workflows/outbox"
)

// bulkCreate saves n records of collection in one transaction (fast fixtures).
func bulkCreate(t testing.TB, app core.App, collection string, n int, values func(i int) map[string]any) []*core.Record {
	t.Helper()
	coll, err := app.FindCollectionByNameOrId(collection)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]*core.Record, 0, n)
	err = app.RunInTransaction(func(tx core.App) error {
		for i := range n {
			r := core.NewRecord(coll)
			r.Load(values(i))
			if err := tx.Save(r); err != nil {
				return err
			}
			out = append(out, r)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// A for_each over a back-relation reaches every item — more than one page of them — with
// item and record both visible to values and conditions; a task made per item links to it.
func TestForEachBackRelationHandlesEveryItem(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	acme := schemastest.MustCreate(t, e.app, "companies", map[string]any{"name": "Acme", "owner": e.alice.Id})
	other := schemastest.MustCreate(t, e.app, "companies", map[string]any{"name": "Other", "owner": e.alice.Id})
	const n = 450 // more than two pages
	contacts := bulkCreate(t, e.app, "contacts", n, func(i int) map[string]any {
		src := "referral"
		if i%50 == 0 {
			src = "website"
		}
		return map[string]any{"full_name": fmt.Sprintf("Person %03d", i), "company": acme.Id, "source": src, "owner": e.alice.Id}
	})
	outsider := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Outsider", "company": other.Id, "owner": e.alice.Id})
	e.save(t, `{"name": "churn", "enabled": true, "object": "companies", "runAs": "alice@example.com",
	  "trigger": {"type": "field_changed", "field": "industry"},
	  "actions": [{"type": "for_each", "over": "contacts.company", "actions": [
	    {"type": "update_record", "target": "item", "values": {"job_title": "=item.full_name + \" at \" + record.name"}},
	    {"type": "branch", "if": "item.source == \"website\"", "then": [
	      {"type": "create_task", "subject": "=\"Call \" + item.full_name", "assignee": "=item.owner"}]}
	  ]}]}`)
	if code, out := e.api(t, http.MethodPatch, "/api/collections/companies/records/"+acme.Id, e.aliceTok, map[string]any{"industry": "software"}); code != 200 {
		t.Fatalf("update company: %d %v", code, out)
	}
	e.drain(t)
	runs := e.runs(t, "")
	if len(runs) != 1 || runs[0].GetString("status") != workflows.StatusSucceeded {
		t.Fatalf("runs = %d, %s %s", len(runs), runs[0].GetString("status"), runs[0].GetString("error"))
	}
	if got := e.count(t, "contacts", "job_title = 'Person 007 at Acme'"); got != 1 {
		t.Errorf("contact 7 not updated with item and record values")
	}
	if got := e.count(t, "contacts", "job_title ~ ' at Acme'"); got != n {
		t.Errorf("%d contacts updated; want %d", got, n)
	}
	if o, _ := e.app.FindRecordById("contacts", outsider.Id); o.GetString("job_title") != "" {
		t.Errorf("a contact of another company was updated: %q", o.GetString("job_title"))
	}
	tasks, err := e.app.FindAllRecords("activities")
	if err != nil || len(tasks) != n/50 {
		t.Fatalf("tasks = %d, %v; want %d", len(tasks), err, n/50)
	}
	for _, task := range tasks {
		c, _ := e.app.FindRecordById("contacts", task.GetString("contact"))
		if c == nil || task.GetString("subject") != "Call "+c.GetString("full_name") || task.GetString("company") != acme.Id || task.GetString("owner") != e.alice.Id {
			t.Errorf("task %v", task.FieldsData())
		}
	}
	// One step per item action, keyed by the item: visible in the run's history.
	steps, err := e.app.FindAllRecords(workflows.StepsCollection)
	if err != nil {
		t.Fatal(err)
	}
	paths := map[string]bool{}
	for _, s := range steps {
		paths[s.GetString("path")] = true
	}
	for _, want := range []string{"0", "0.item:" + contacts[7].Id + ".0", "0.item:" + contacts[50].Id + ".1", "0.item:" + contacts[50].Id + ".1.then.0"} {
		if !paths[want] {
			t.Errorf("no step %s", want)
		}
	}
	if len(steps) != 1+2*n+n/50 {
		t.Errorf("%d steps; want %d", len(steps), 1+2*n+n/50)
	}
}

// Items are read as the run-as user: records they may not list are not items. Mail to
// "item" goes to each item under the item's own name.
func TestForEachReadsAsTheRunAsUserAndMailsEachItem(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	carol, _ := schemastest.NewUser(t, e.app, "carol@example.com", "sales", "south")
	deal := schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "Big deal", "stage": "lead", "owner": e.alice.Id})
	var ids []string
	for i, owner := range []string{e.alice.Id, e.bob.Id, carol.Id} {
		c := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": fmt.Sprintf("Buyer %d", i),
			"email": fmt.Sprintf("buyer%d@example.com", i), "owner": owner})
		ids = append(ids, c.Id)
	}
	// As an admin would, link all three (the API would refuse alice linking carol's contact).
	d, _ := e.app.FindRecordById("deals", deal.Id)
	d.Set("contacts", ids)
	if err := e.app.Save(d); err != nil {
		t.Fatal(err)
	}
	visible, err := schemas.Find(e.app, schemas.User(e.alice), schemas.Query{Object: "contacts"})
	if err != nil {
		t.Fatal(err)
	}
	e.save(t, `{"name": "tell-buyers", "enabled": true, "object": "deals", "runAs": "alice@example.com",
	  "trigger": {"type": "field_changed", "field": "stage"},
	  "actions": [{"type": "for_each", "over": "contacts", "actions": [
	    {"type": "send_email", "to": "item", "subject": "=record.name + \" moved\"", "text": "=\"Dear \" + item.full_name"}]}]}`)
	if code, out := e.api(t, http.MethodPatch, "/api/collections/deals/records/"+deal.Id, e.aliceTok, map[string]any{"stage": "qualified"}); code != 200 {
		t.Fatalf("update deal: %d %v", code, out)
	}
	e.drain(t)
	if failed := e.runs(t, `status != "succeeded"`); len(failed) != 0 {
		t.Fatalf("run: %s", failed[0].GetString("error"))
	}
	mails, err := e.app.FindAllRecords(outbox.Collection)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, m := range mails {
		got = append(got, m.GetStringSlice("to")...)
		if m.GetString("subject") != "Big deal moved" || !strings.HasPrefix(m.GetString("text"), "Dear Buyer ") {
			t.Errorf("mail %v", m.FieldsData())
		}
		if m.GetString("record_id") == deal.Id {
			t.Errorf("mail to an item is filed under the deal, not the item")
		}
	}
	var want []string
	for i := range ids {
		if slices.ContainsFunc(visible, func(r *core.Record) bool { return r.Id == ids[i] }) {
			want = append(want, fmt.Sprintf(`"Buyer %d" <buyer%d@example.com>`, i, i))
		}
	}
	slices.Sort(got)
	if len(want) == len(ids) || !slices.Equal(got, want) {
		t.Errorf("mails to %q; want %q (the contacts alice may list, of %d)", got, want, len(ids))
	}
}

// {"object", "filter", "params"}: the filter is bound per run; more items than max fail the
// run before any item is touched.
func TestForEachFilterAndMax(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	acme := schemastest.MustCreate(t, e.app, "companies", map[string]any{"name": "Acme", "owner": e.alice.Id})
	for i, stage := range []string{"lead", "won", "lead", "lost"} {
		schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": fmt.Sprint("D", i), "stage": stage, "company": acme.Id, "owner": e.alice.Id})
	}
	e.save(t, `{"name": "close-open", "enabled": true, "object": "companies", "trigger": {"type": "field_changed", "field": "industry"},
	  "condition": "record.industry == \"software\"",
	  "actions": [{"type": "for_each", "over": {"object": "deals", "filter": "company = {:c} && stage = 'lead'", "params": {"c": "=record.id"}},
	    "actions": [{"type": "update_record", "target": "item", "values": {"stage": "lost", "lost_reason": "=\"company \" + record.name + \" closed\""}}]}]}`)
	e.save(t, `{"name": "capped", "enabled": true, "object": "companies", "trigger": {"type": "field_changed", "field": "industry"},
	  "condition": "record.industry == \"retail\"",
	  "actions": [{"type": "for_each", "over": "deals.company", "max": 3,
	    "actions": [{"type": "update_record", "target": "item", "values": {"description": "touched"}}]}]}`)
	e.api(t, http.MethodPatch, "/api/collections/companies/records/"+acme.Id, e.aliceTok, map[string]any{"industry": "retail"})
	e.drain(t)
	failed := e.runs(t, `status = "failed"`)
	if len(failed) != 1 || !strings.Contains(failed[0].GetString("error"), "more than 3 items") {
		t.Fatalf("want the capped run failed, got %d failed", len(failed))
	}
	if n := e.count(t, "deals", "description = 'touched'"); n != 0 {
		t.Errorf("%d deals touched by a run over its max", n)
	}
	e.api(t, http.MethodPatch, "/api/collections/companies/records/"+acme.Id, e.aliceTok, map[string]any{"industry": "software"})
	e.drain(t)
	if n := e.count(t, "deals", "stage = 'lost' && lost_reason = 'company Acme closed'"); n != 2 {
		t.Errorf("%d lead deals closed; want 2", n)
	}
	if n := e.count(t, "deals", "stage = 'won'"); n != 1 {
		t.Errorf("the won deal changed")
	}
}

func TestForEachDefinitionErrorsAreLocated(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	tests := []struct{ action, ptr, msg string }{
		{`{"type": "for_each", "over": "nope", "actions": [{"type": "update_record", "target": "item", "values": {}}]}`, "/actions/0/over", `no relation field "nope"`},
		{`{"type": "for_each", "over": "deals.owner", "actions": [{"type": "update_record", "values": {}}]}`, "/actions/0/over", `no relation field "owner" pointing at companies`},
		{`{"type": "for_each", "over": "contacts.company", "max": 0, "actions": []}`, "/actions/0/max", "minimum"},
		{`{"type": "for_each", "over": "contacts.company", "max": 200000, "actions": [{"type": "update_record", "target": "item", "values": {}}]}`, "/actions/0/max", "maximum"},
		{`{"type": "for_each", "over": "contacts.company", "actions": [{"type": "update_record", "target": "item", "values": {"job_title": "=item.ful_name"}}]}`, "/actions/0/actions/0/values/job_title", `unknown field "ful_name" of item (a record of contacts) (did you mean "full_name"?)`},
		{`{"type": "for_each", "over": "contacts.company", "actions": [{"type": "branch", "if": "item.source == 1", "then": [{"type": "wait", "for": "1d"}]}]}`, "/actions/0/actions/0/if", "condition"},
		{`{"type": "for_each", "over": "contacts.company", "actions": [{"type": "wait", "for": "1d"}]}`, "/actions/0/actions/0", "cannot be inside a for_each"},
		{`{"type": "for_each", "over": "contacts.company", "actions": [{"type": "send_email", "to": "item.phone", "subject": "s", "text": "t"}]}`, "/actions/0/actions/0/to", `"item.phone" is a phone field`},
		{`{"type": "for_each", "over": {"object": "deals", "filter": "amount > {:min}"}, "actions": [{"type": "update_record", "target": "item", "values": {}}]}`, "/actions/0/over/filter", "{:min} has no value"},
		{`{"type": "for_each", "over": {"object": "deals", "filter": "colour = 'red'"}, "actions": [{"type": "update_record", "target": "item", "values": {}}]}`, "/actions/0/over/filter", "colour"},
		{`{"type": "for_each", "over": {"object": "nope"}, "actions": [{"type": "update_record", "values": {}}]}`, "/actions/0/over/object", `unknown object "nope"`},
		{`{"type": "for_each", "over": "contacts.company", "actions": [{"type": "for_each", "over": "contacts.company", "actions": [{"type": "update_record", "values": {}}]}]}`, "/actions/0/actions/0", "inside another for_each"},
		{`{"type": "update_record", "target": "item", "values": {}}`, "/actions/0/target", "not inside one"},
		{`{"type": "send_email", "to": "item", "subject": "s", "text": "t"}`, "/actions/0/to", "inside a for_each"},
	}
	for _, tt := range tests {
		def := `{"name": "bad", "object": "companies", "trigger": {"type": "record_created"}, "actions": [` + tt.action + `]}`
		d, err := workflows.Parse("bad.json", []byte(def))
		if err == nil {
			_, err = e.eng.Compile("bad.json", d)
		}
		if err == nil {
			t.Errorf("%s: accepted", tt.action)
			continue
		}
		var found bool
		for _, x := range errsOf(err) {
			if x.Pointer == tt.ptr && strings.Contains(x.Message, tt.msg) {
				found = true
			}
		}
		if !found {
			t.Errorf("%s:\n got %v\nwant %s: …%s…", tt.action, err, tt.ptr, tt.msg)
		}
	}
}

func errsOf(err error) schemas.Errors {
	var es schemas.Errors
	if x, ok := err.(schemas.Errors); ok {
		es = x
	}
	return es
}

// A dry run shows each item's steps and changes nothing.
func TestForEachDryRunListsEachItem(t *testing.T) {
	e := newEnv(t, workflows.Config{})
	acme := schemastest.MustCreate(t, e.app, "companies", map[string]any{"name": "Acme", "owner": e.alice.Id})
	a := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "A", "company": acme.Id, "owner": e.alice.Id})
	b := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "B", "company": acme.Id, "owner": e.alice.Id})
	e.save(t, `{"name": "dry", "enabled": true, "object": "companies", "trigger": {"type": "record_updated"},
	  "actions": [{"type": "for_each", "over": "contacts.company", "actions": [
	    {"type": "update_record", "target": "item", "values": {"job_title": "=\"x\""}}]}]}`)
	w, ok := e.eng.Workflow("dry")
	if !ok {
		t.Fatal("workflow not loaded")
	}
	rec, _ := e.app.FindRecordById("companies", acme.Id)
	rep, err := e.eng.DryRun(w, rec, nil, nil)
	if err != nil || rep.Error != "" {
		t.Fatalf("dry run: %v %s", err, rep.Error)
	}
	var paths []string
	for _, s := range rep.Steps {
		paths = append(paths, s.Path)
	}
	first, second := a.Id, b.Id
	if second < first {
		first, second = second, first
	}
	want := []string{"0", "0.item:" + first + ".0", "0.item:" + second + ".0"}
	if !slices.Equal(paths, want) {
		t.Errorf("dry run steps %q; want %q", paths, want)
	}
	if n := e.count(t, "contacts", "job_title = 'x'"); n != 0 {
		t.Errorf("the dry run changed %d contacts", n)
	}
}
