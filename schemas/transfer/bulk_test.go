package transfer_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/audit"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/transfer"
)

// deals creates n deals owned by owner and returns them.
func (e *env) deals(t *testing.T, owner *core.Record, n int, name string) []*core.Record {
	t.Helper()
	out := make([]*core.Record, n)
	for i := range out {
		out[i] = schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": fmt.Sprintf("%s %d", name, i+1), "stage": "lead", "owner": owner.Id})
	}
	return out
}

func (e *env) reload(t *testing.T, r *core.Record) *core.Record {
	t.Helper()
	got, err := e.app.FindRecordById(r.Collection(), r.Id)
	if err != nil {
		t.Fatalf("%s %s: %v", r.Collection().Name, r.Id, err)
	}
	return got
}

func (e *env) auditVia(t *testing.T, prefix string) int {
	t.Helper()
	var n int
	if err := audit.Flush(e.app); err != nil { // the entries still in the journal
		t.Fatal(err)
	}
	if err := e.app.DB().NewQuery("SELECT count(*) FROM relata_audit WHERE via LIKE {:p}").Bind(dbx.Params{"p": prefix + "%"}).Row(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

// A sales rep's bulk update on "all records" changes only hers; a selection naming records
// she cannot see counts them as not found and leaves them alone; handing her deals to
// someone else is refused record by record (her update rule), with the reason counted.
func TestBulkAsSalesRepStaysInsideHerAccess(t *testing.T) {
	e := newEnv(t)
	mine := e.deals(t, e.alice, 3, "Alice")
	bobs := e.deals(t, e.bob, 2, "Bob")
	carols := e.deals(t, e.carol, 2, "Carol")

	j, err := e.svc.Bulk(context.Background(), transfer.BulkOptions{Object: "deals", All: true, Action: transfer.ActionUpdate,
		Field: "source", Value: "referral", As: e.alice})
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != transfer.JobDone || j.Total != 3 || j.Changed != 3 || j.Refused+j.Failed != 0 {
		t.Fatalf("job %+v", j)
	}
	for _, d := range mine {
		if got := e.reload(t, d).GetString("source"); got != "referral" {
			t.Errorf("alice's %s: source %q", d.Id, got)
		}
	}
	for _, d := range append(bobs, carols...) {
		if got := e.reload(t, d).GetString("source"); got != "" {
			t.Errorf("%s's deal changed by alice's bulk update: source %q", d.GetString("owner"), got)
		}
	}
	if n := e.auditVia(t, "bulk update "+j.ID); n != 3 {
		t.Errorf("%d audit entries for the job; want 3", n)
	}

	// A selection with carol's deal and a made-up id: both "not found, or you may not see it".
	j, err = e.svc.Bulk(context.Background(), transfer.BulkOptions{Object: "deals", IDs: []string{mine[0].Id, carols[0].Id, "nosuchdeal12345"},
		Action: transfer.ActionUpdate, Field: "description", Value: "<p>touched</p>", As: e.alice})
	if err != nil {
		t.Fatal(err)
	}
	if j.Total != 3 || j.Changed != 1 || j.Refused != 2 || j.Reasons["not found, or you may not see it"] != 2 {
		t.Fatalf("selection job %+v", j)
	}
	if e.reload(t, carols[0]).GetString("description") != "" {
		t.Fatal("alice changed carol's deal through a selection")
	}

	// Handing her deals to bob: her update rule refuses it for each record.
	j, err = e.svc.Bulk(context.Background(), transfer.BulkOptions{Object: "deals", All: true, Action: transfer.ActionOwner, Value: e.bob.Id, As: e.alice})
	if err != nil {
		t.Fatal(err)
	}
	if j.Changed != 0 || j.Refused != 3 || j.Reasons["your access rules do not let you make this change"] != 3 || len(j.Samples) != 3 {
		t.Fatalf("owner job %+v", j)
	}
	for _, d := range mine {
		if e.reload(t, d).GetString("owner") != e.alice.Id {
			t.Fatal("alice handed a deal over")
		}
	}
	// A manager may.
	j, err = e.svc.Bulk(context.Background(), transfer.BulkOptions{Object: "deals", IDs: []string{mine[0].Id, carols[1].Id}, Action: transfer.ActionOwner, Value: e.bob.Id, As: e.mgr})
	if err != nil || j.Changed != 2 {
		t.Fatalf("manager's owner job %+v, %v", j, err)
	}
	if e.reload(t, carols[1]).GetString("owner") != e.bob.Id {
		t.Fatal("the manager's change of owner was not saved")
	}
}

// A filter that compares deals of others through a back-relation is refused before anything
// runs: it would let a sales rep learn which companies have a large deal of carol's by the
// job's counts.
func TestBulkFilterCannotCrossARelationAsAnOracle(t *testing.T) {
	e := newEnv(t)
	d := e.deals(t, e.carol, 1, "Carol")[0]
	d.Set("company", e.acme.Id)
	d.Set("amount", 50000)
	if err := e.app.Save(d); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Bulk(context.Background(), transfer.BulkOptions{Object: "companies", All: true, Filter: "deals_via_company.amount > 40000",
		Action: transfer.ActionAddTags, Field: "tags", Tags: []string{"big"}, As: e.alice})
	var bad *transfer.BadRequestError
	if !errors.As(err, &bad) || bad.Field != "filter" || !strings.Contains(bad.Message, "?>") {
		t.Fatalf("err = %v; want the filter refused with the any-match advice", err)
	}
	if got := e.count(t, transfer.BulkJobsCollection); got != 0 {
		t.Fatalf("%d jobs recorded for a refused filter", got)
	}
	// Over the API: a 400 naming the field.
	var res struct {
		Data map[string]any `json:"data"`
	}
	code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/bulk/companies", e.aliceTok,
		map[string]any{"all": true, "filter": "deals_via_company.amount > 40000", "action": "addTags", "field": "tags", "tags": []string{"big"}}, &res)
	if code != http.StatusBadRequest || res.Data["filter"] == nil {
		t.Fatalf("API answered %d %v; want 400 about the filter", code, res.Data)
	}
	// The manager may list every deal: the same filter is no oracle for her, and runs.
	j, err := e.svc.Bulk(context.Background(), transfer.BulkOptions{Object: "companies", All: true, Filter: "deals_via_company.amount > 40000",
		Action: transfer.ActionAddTags, Field: "tags", Tags: []string{"big"}, As: e.mgr})
	if err != nil || j.Changed != 1 {
		t.Fatalf("manager's job %+v, %v", j, err)
	}
}

func TestBulkTagsAndDeleteToTrash(t *testing.T) {
	e := newEnv(t)
	a := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Ann", "tags": []string{"vip"}, "owner": e.alice.Id})
	b := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Ben", "owner": e.bob.Id})
	c := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Cid", "owner": e.carol.Id})
	ids := []string{a.Id, b.Id, c.Id}
	// alice (team north) may edit her own and bob's contacts, not carol's (team south).
	j, err := e.svc.Bulk(context.Background(), transfer.BulkOptions{Object: "contacts", IDs: ids, Action: transfer.ActionAddTags, Field: "tags", Tags: []string{"expo", "vip"}, As: e.alice})
	if err != nil || j.Changed != 2 || j.Refused != 1 {
		t.Fatalf("add tags %+v, %v", j, err)
	}
	tags := func(r *core.Record) string {
		var out []string
		_ = e.reload(t, r).UnmarshalJSONField("tags", &out)
		return strings.Join(out, ",")
	}
	if tags(a) != "vip,expo" || tags(b) != "expo,vip" || tags(c) != "" {
		t.Fatalf("tags after adding: %q %q %q", tags(a), tags(b), tags(c))
	}
	j, err = e.svc.Bulk(context.Background(), transfer.BulkOptions{Object: "contacts", IDs: ids[:2], Action: transfer.ActionRemoveTags, Field: "tags", Tags: []string{"vip"}, As: e.alice})
	if err != nil || j.Changed != 2 {
		t.Fatalf("remove tags %+v, %v", j, err)
	}
	j, err = e.svc.Bulk(context.Background(), transfer.BulkOptions{Object: "contacts", IDs: ids[:2], Action: transfer.ActionRemoveTags, Field: "tags", Tags: []string{"vip"}, As: e.alice})
	if err != nil || j.Changed != 0 || j.Unchanged != 2 {
		t.Fatalf("remove again %+v, %v", j, err)
	}
	if tags(a) != "expo" || tags(b) != "expo" {
		t.Fatalf("tags after removing: %q %q", tags(a), tags(b))
	}
	// Not a tags field.
	if _, err := e.svc.Bulk(context.Background(), transfer.BulkOptions{Object: "contacts", IDs: ids, Action: transfer.ActionAddTags, Field: "full_name", Tags: []string{"x"}, As: e.alice}); err == nil {
		t.Fatal("tags added to a text field")
	}
	// A dry run counts and changes nothing.
	j, err = e.svc.Bulk(context.Background(), transfer.BulkOptions{Object: "contacts", IDs: ids, Action: transfer.ActionDelete, DryRun: true, As: e.alice})
	if err != nil || j.Changed != 2 || j.Refused != 1 || !j.DryRun || e.count(t, "contacts") != 3 {
		t.Fatalf("dry delete %+v, %v", j, err)
	}
	// Deleting goes to the trash, attributed to alice.
	j, err = e.svc.Bulk(context.Background(), transfer.BulkOptions{Object: "contacts", IDs: ids, Action: transfer.ActionDelete, As: e.alice})
	if err != nil || j.Changed != 2 || j.Refused != 1 {
		t.Fatalf("delete %+v, %v", j, err)
	}
	if e.count(t, "contacts") != 1 {
		t.Fatal("carol's contact was deleted, or alice's were not")
	}
	trashed, err := e.app.FindAllRecords("relata_trash")
	if err != nil || len(trashed) != 2 {
		t.Fatalf("%d trash entries, %v", len(trashed), err)
	}
	for _, tr := range trashed {
		if tr.GetString("deleted_by") != e.alice.Id || !slices.Contains(ids[:2], tr.GetString("record")) {
			t.Errorf("trash entry %v", tr.FieldsData())
		}
	}
}

// TestBulkAcrossTheFindLimit acts on 1,001 matching records: one more than a page of
// schemas.Find and than a transaction of 1,000.
func TestBulkAcrossTheFindLimit(t *testing.T) {
	e := newEnv(t)
	var b strings.Builder
	b.WriteString("Full name,Email,Job title\n")
	for i := 1; i <= 1002; i++ {
		title := "Buyer"
		if i == 1002 {
			title = "CEO" // does not match the filter
		}
		fmt.Fprintf(&b, "Person %d,p%d@example.com,%s\n", i, i, title)
	}
	e.importBytes(t, "people.csv", []byte(b.String()), transfer.ImportOptions{Object: "contacts"})
	j, err := e.svc.Bulk(context.Background(), transfer.BulkOptions{Object: "contacts", All: true, Filter: `job_title = "Buyer"`,
		Action: transfer.ActionUpdate, Field: "lifecycle_stage", Value: "customer", As: e.mgr, BatchSize: 1000})
	if err != nil {
		t.Fatal(err)
	}
	if j.Total != 1001 || j.Processed != 1001 || j.Changed != 1001 || j.Status != transfer.JobDone {
		t.Fatalf("job %+v", j)
	}
	var n int
	_ = e.app.DB().NewQuery("SELECT count(*) FROM contacts WHERE lifecycle_stage = 'customer'").Row(&n)
	if n != 1001 {
		t.Fatalf("%d customers; want 1001", n)
	}
	if e.one(t, "contacts", "email", "p1002@example.com").GetString("lifecycle_stage") == "customer" {
		t.Fatal("the record outside the filter was changed")
	}
	if got := e.auditVia(t, "bulk update "+j.ID); got != 1001 {
		t.Fatalf("%d audit entries; want 1001", got)
	}
	// An invalid value fails every record with the reason, and saves none.
	j, err = e.svc.Bulk(context.Background(), transfer.BulkOptions{Object: "contacts", All: true, Filter: `job_title = "Buyer"`,
		Action: transfer.ActionUpdate, Field: "lifecycle_stage", Value: "nonsense", As: e.mgr, BatchSize: 1000})
	if err != nil || j.Failed != 1001 || len(j.Reasons) != 1 || len(j.Samples) != 100 {
		t.Fatalf("invalid job %+v, %v", j, err)
	}
}

// A job in the background reports progress and stops when cancelled.
func TestBulkJobCancel(t *testing.T) {
	e := newEnv(t)
	e.deals(t, e.alice, 60, "Alice")
	j, err := e.svc.StartBulk(transfer.BulkOptions{Object: "deals", All: true, Action: transfer.ActionUpdate, Field: "source", Value: "event", As: e.alice, BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	if !e.svc.Cancel(j.ID, e.alice) && !finished(t, e, j.ID) {
		t.Fatal("the running job was not found to cancel")
	}
	if e.svc.Cancel(j.ID, e.bob) {
		t.Fatal("bob cancelled alice's job")
	}
	e.svc.StopJobs()
	got, err := e.svc.Job(j.ID, e.alice)
	if err != nil {
		t.Fatal(err)
	}
	if got.Status != transfer.JobCancelled || got.Processed >= 60 || got.Changed != got.Processed {
		t.Fatalf("after cancel: %+v", got)
	}
	if _, err := e.svc.Job(j.ID, e.bob); err == nil {
		t.Fatal("bob reads alice's job")
	}
	if _, err := e.svc.Job(j.ID, e.admin); err != nil {
		t.Fatal("an admin cannot read the job")
	}
}

// waitJob polls job id until it stops running.
func (e *env) waitJob(t *testing.T, id string) *transfer.Job {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		j, err := e.svc.Job(id, nil)
		if err != nil {
			t.Fatal(err)
		}
		if j.Status != transfer.JobRunning || time.Now().After(deadline) {
			return j
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func finished(t *testing.T, e *env, id string) bool {
	j, err := e.svc.Job(id, nil)
	return err == nil && j.Status != transfer.JobRunning
}

func TestBulkAPI(t *testing.T) {
	e := newEnv(t)
	mine := e.deals(t, e.alice, 2, "Alice")
	carols := e.deals(t, e.carol, 1, "Carol")
	body := map[string]any{"ids": []string{mine[0].Id, mine[1].Id, carols[0].Id}, "action": "update", "field": "source", "value": "partner"}
	if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/bulk/deals", "", body, nil); code != http.StatusUnauthorized {
		t.Fatalf("anonymous: %d", code)
	}
	var j transfer.Job
	if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/bulk/deals", e.aliceTok, body, &j); code != http.StatusAccepted || j.Total != 3 {
		t.Fatalf("alice: %d %+v", code, j)
	}
	deadline := time.Now().Add(20 * time.Second)
	for j.Status == transfer.JobRunning && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		if code := schemastest.Call(t, e.srv, http.MethodGet, "/api/relata/bulk/"+j.ID, e.aliceTok, nil, &j); code != 200 {
			t.Fatalf("alice polls her job: %d", code)
		}
	}
	if j.Status != transfer.JobDone || j.Changed != 2 || j.Refused != 1 {
		t.Fatalf("job %+v", j)
	}
	if code := schemastest.Call(t, e.srv, http.MethodGet, "/api/relata/bulk/"+j.ID, e.carolTok, nil, nil); code != http.StatusNotFound {
		t.Fatalf("carol reads alice's job: %d", code)
	}
	if e.reload(t, carols[0]).GetString("source") != "" {
		t.Fatal("alice changed carol's deal over the API")
	}
	var bad struct{ Data map[string]any }
	if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/bulk/deals", e.aliceTok, map[string]any{"all": true, "action": "paint"}, &bad); code != http.StatusBadRequest || bad.Data["action"] == nil {
		t.Fatalf("unknown action: %d %v", code, bad.Data)
	}
}

// The app's termination stops the jobs still running, and waits until they have recorded it.
func TestBulkJobsStopWithTheApp(t *testing.T) {
	e := newEnv(t)
	e.deals(t, e.alice, 40, "Alice")
	// Each save of the job takes at least 25 ms (less once the job is stopped), and the app is
	// stopped as soon as the first one has begun: the stop comes in the middle of the job
	// however fast the machine. (A save cannot simply wait for the stop: it holds the write
	// connection, which other stop handlers need.)
	started := make(chan struct{})
	var once sync.Once
	e.app.OnRecordUpdate("deals").BindFunc(func(ev *core.RecordEvent) error {
		once.Do(func() { close(started) })
		select {
		case <-ev.Context.Done():
		case <-time.After(25 * time.Millisecond):
		}
		return ev.Next()
	})
	j, err := e.svc.StartBulk(transfer.BulkOptions{Object: "deals", All: true, Action: transfer.ActionUpdate, Field: "source", Value: "event", As: e.alice, BatchSize: 1})
	if err != nil {
		t.Fatal(err)
	}
	<-started
	if err := e.app.OnTerminate().Trigger(&core.TerminateEvent{App: e.app}); err != nil {
		t.Fatal(err)
	}
	got, err := e.svc.Job(j.ID, nil)
	if err != nil || got.Status != transfer.JobCancelled || got.Processed >= 40 {
		t.Fatalf("after the app stopped: %+v, %v", got, err)
	}
}

// A filter that would close the parentheses it is wrapped in, to escape the paging condition,
// is refused as the filter it is.
func TestBulkFilterCannotEscapeItsParentheses(t *testing.T) {
	e := newEnv(t)
	e.deals(t, e.alice, 2, "Alice")
	for _, f := range []string{`name != "") || (name != ""`, `name = "x" || (1=1`, `)`} {
		_, err := e.svc.Bulk(context.Background(), transfer.BulkOptions{Object: "deals", All: true, Filter: f,
			Action: transfer.ActionUpdate, Field: "source", Value: "event", As: e.alice})
		var bad *transfer.BadRequestError
		if !errors.As(err, &bad) || bad.Field != "filter" {
			t.Errorf("filter %q: err %v; want it refused as the filter", f, err)
		}
	}
}

// Bulk changes trigger workflows only when asked, then once per changed record; records the
// job leaves unchanged trigger nothing.
func TestBulkWorkflowsTriggerOnlyWhenAsked(t *testing.T) {
	e := newEnv(t)
	d, err := parseWorkflow(`{"name": "on-deal-update", "enabled": true, "object": "deals", "trigger": {"type": "record_updated"},
		"actions": [{"type": "update_record", "values": {"lost_reason": "seen"}}]}`)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.eng.Save(e.app, d); err != nil {
		t.Fatal(err)
	}
	deals := e.deals(t, e.alice, 3, "Alice")
	runs := func() int { return e.count(t, "workflow_runs") }
	before := runs()
	ids := []string{deals[0].Id, deals[1].Id, deals[2].Id}
	if _, err := e.svc.Bulk(context.Background(), transfer.BulkOptions{Object: "deals", IDs: ids, Action: transfer.ActionUpdate, Field: "source", Value: "event", As: e.alice}); err != nil {
		t.Fatal(err)
	}
	if n := runs() - before; n != 0 {
		t.Fatalf("a bulk update without workflows queued %d runs", n)
	}
	// Two deals get "partner" quietly; then, with workflows, only the third changes: one run.
	if _, err := e.svc.Bulk(context.Background(), transfer.BulkOptions{Object: "deals", IDs: ids[1:], Action: transfer.ActionUpdate, Field: "source", Value: "partner", As: e.alice}); err != nil {
		t.Fatal(err)
	}
	j, err := e.svc.Bulk(context.Background(), transfer.BulkOptions{Object: "deals", IDs: ids, Action: transfer.ActionUpdate, Field: "source", Value: "partner", As: e.alice, Workflows: true})
	if err != nil || j.Changed != 1 || j.Unchanged != 2 {
		t.Fatalf("job %+v, %v", j, err)
	}
	if n := runs() - before; n != 1 {
		t.Fatalf("a bulk update with workflows queued %d runs; want 1 (the one changed record)", n)
	}
}
