package transfer_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/transfer"
)

const changedSince = "changed since the job: left as it is"

// people imports n contacts "Person i" (lifecycle stage lead) and returns them by email.
func (e *env) people(t *testing.T, n int) {
	t.Helper()
	var b strings.Builder
	b.WriteString("Full name,Email,Job title\n")
	for i := 1; i <= n; i++ {
		fmt.Fprintf(&b, "Person %d,p%d@example.com,Buyer\n", i, i)
	}
	res := e.importBytes(t, "people.csv", []byte(b.String()), transfer.ImportOptions{Object: "contacts"})
	if res.Created != n {
		t.Fatalf("imported %d of %d people", res.Created, n)
	}
}

func (e *env) stages(t *testing.T) map[string]int {
	t.Helper()
	var rows []struct {
		Stage string `db:"lifecycle_stage"`
		N     int    `db:"n"`
	}
	if err := e.app.DB().NewQuery("SELECT lifecycle_stage, count(*) AS n FROM contacts GROUP BY lifecycle_stage").All(&rows); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.Stage] = r.N
	}
	return out
}

// undoAPI starts undoing job id over the API as tok and waits for the undo job.
func (e *env) undoAPI(t *testing.T, id, tok string) (int, *transfer.Job) {
	t.Helper()
	var raw json.RawMessage
	code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/bulk/"+id+"/undo", tok, nil, &raw)
	if code != http.StatusAccepted {
		return code, nil
	}
	var j transfer.Job
	if err := json.Unmarshal(raw, &j); err != nil {
		t.Fatal(err)
	}
	return code, e.waitJob(t, j.ID)
}

// bulkUndoAt updates the lifecycle stage of n contacts as a manager, lets someone else change
// three of them since (and a field the job did not touch on a fourth), then undoes the job
// over the API: every other record gets its stage back, the three are left alone and
// reported, the undo is one audited job, and a second undo is refused.
func bulkUndoAt(t *testing.T, n int) {
	e := newEnv(t)
	e.people(t, n)
	fwd := time.Now()
	j, err := e.svc.Bulk(context.Background(), transfer.BulkOptions{Object: "contacts", All: true, Filter: `job_title = "Buyer"`,
		Action: transfer.ActionUpdate, Field: "lifecycle_stage", Value: "customer", As: e.mgr, BatchSize: 1000})
	if err != nil || j.Changed != n {
		t.Fatalf("job %+v, %v", j, err)
	}
	t.Logf("bulk update of %d records: %s", n, time.Since(fwd))
	var recorded int
	_ = e.app.DB().NewQuery("SELECT count(*) FROM relata_bulk_changes WHERE job = {:j}").Bind(dbx.Params{"j": j.ID}).Row(&recorded)
	if recorded != n {
		t.Fatalf("%d changes recorded; want %d", recorded, n)
	}
	for i := 1; i <= 3; i++ { // changed since by someone else
		r := e.one(t, "contacts", "email", fmt.Sprintf("p%d@example.com", i))
		r.Set("lifecycle_stage", "opportunity")
		if err := e.app.Save(r); err != nil {
			t.Fatal(err)
		}
	}
	other := e.one(t, "contacts", "email", "p4@example.com") // another field changed: still restored
	other.Set("job_title", "CEO")
	if err := e.app.Save(other); err != nil {
		t.Fatal(err)
	}
	// others cannot undo the manager's job: not even see it
	for _, tok := range []string{"", e.aliceTok, e.carolTok} {
		if code, _ := e.undoAPI(t, j.ID, tok); code != http.StatusNotFound && code != http.StatusUnauthorized {
			t.Fatalf("undo as someone else: %d", code)
		}
	}
	start := time.Now()
	code, u := e.undoAPI(t, j.ID, e.mgrTok)
	if code != http.StatusAccepted || u.Status != transfer.JobDone {
		t.Fatalf("undo: %d %+v", code, u)
	}
	t.Logf("undo of %d records: %s", n, time.Since(start))
	if u.Changed != n-3 || u.Unchanged != 3 || u.Reasons[changedSince] != 3 || u.Kind != "undo" {
		t.Fatalf("undo job %+v", u)
	}
	if got := e.stages(t); got["lead"] != n-3 || got["opportunity"] != 3 || got["customer"] != 0 {
		t.Fatalf("stages after undo: %v", got)
	}
	if e.reload(t, other).GetString("job_title") != "CEO" {
		t.Fatal("the undo overwrote a field the job did not change")
	}
	if got := e.auditVia(t, "bulk undo "+u.ID); got != n-3 {
		t.Fatalf("%d audit entries of the undo; want %d", got, n-3)
	}
	if code, _ := e.undoAPI(t, j.ID, e.mgrTok); code != http.StatusBadRequest {
		t.Fatalf("second undo: %d; want 400", code)
	}
	if code, _ := e.undoAPI(t, u.ID, e.mgrTok); code != http.StatusBadRequest {
		t.Fatalf("undo of the undo: %d; want 400", code)
	}
}

// 1,001 records: more than one transaction of 1,000 and one page of schemas.Find.
func TestBulkUndo1001(t *testing.T) { bulkUndoAt(t, 1001) }

func TestBulkUndo10000(t *testing.T) {
	if testing.Short() {
		t.Skip("10,000 records")
	}
	bulkUndoAt(t, 10000)
}

// Tags, owners and reassignments are undone as their starter's access allows; a hostile
// sales rep cannot undo another's job; deletes point at the trash; dry runs, old jobs and
// undone jobs are refused.
func TestBulkUndoKindsAndRefusals(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	a := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Ann", "tags": []string{"vip"}, "owner": e.alice.Id})
	b := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Ben", "owner": e.bob.Id})
	tags := func(r *core.Record) string {
		var out []string
		_ = e.reload(t, r).UnmarshalJSONField("tags", &out)
		return strings.Join(out, ",")
	}
	j, err := e.svc.Bulk(ctx, transfer.BulkOptions{Object: "contacts", IDs: []string{a.Id, b.Id}, Action: transfer.ActionAddTags, Field: "tags", Tags: []string{"expo"}, As: e.alice})
	if err != nil || j.Changed != 2 {
		t.Fatalf("add tags %+v, %v", j, err)
	}
	// bob (her team) and carol (another team) may not undo alice's job, over the API or not
	for _, as := range []*core.Record{e.bob, e.carol, e.mgr} {
		if _, err := e.svc.UndoBulkNow(ctx, j.ID, as); err == nil {
			t.Fatalf("%s undid alice's job", as.Email())
		}
	}
	if code, _ := e.undoAPI(t, j.ID, e.carolTok); code != http.StatusNotFound {
		t.Fatalf("carol undoes alice's job over the API: %d", code)
	}
	if tags(a) != "vip,expo" || tags(b) != "expo" {
		t.Fatalf("tags changed by a refused undo: %q %q", tags(a), tags(b))
	}
	code, u := e.undoAPI(t, j.ID, e.aliceTok)
	if code != http.StatusAccepted || u.Changed != 2 {
		t.Fatalf("alice's undo: %d %+v", code, u)
	}
	if tags(a) != "vip" || tags(b) != "" {
		t.Fatalf("tags after undo: %q %q", tags(a), tags(b))
	}

	// An owner change by the manager, and a reassignment: undone by an admin.
	deals := e.deals(t, e.carol, 3, "Carol")
	j, err = e.svc.Bulk(ctx, transfer.BulkOptions{Object: "deals", IDs: []string{deals[0].Id}, Action: transfer.ActionOwner, Value: e.alice.Id, As: e.mgr})
	if err != nil || j.Changed != 1 {
		t.Fatalf("owner %+v, %v", j, err)
	}
	if u, err := e.svc.UndoBulkNow(ctx, j.ID, e.admin); err != nil || u.Changed != 1 || e.reload(t, deals[0]).GetString("owner") != e.carol.Id {
		t.Fatalf("owner undo %+v, %v", u, err)
	}
	r, _, err := e.svc.Reassign(ctx, transfer.ReassignOptions{From: "carol@example.com", To: []string{"bob@example.com"}, As: e.mgr})
	if err != nil || r.Objects["deals"].Changed != 3 {
		t.Fatalf("reassign %+v, %v", r, err)
	}
	// carol takes one deal back herself since: the undo leaves it alone
	d := e.reload(t, deals[1])
	d.Set("owner", e.alice.Id)
	if err := e.app.Save(d); err != nil {
		t.Fatal(err)
	}
	u, err = e.svc.UndoBulkNow(ctx, r.ID, e.mgr)
	if err != nil || u.Changed != 2 || u.Unchanged != 1 || u.Objects["deals"].Changed != 2 {
		t.Fatalf("reassign undo %+v, %v", u, err)
	}
	if e.reload(t, deals[0]).GetString("owner") != e.carol.Id || e.reload(t, deals[2]).GetString("owner") != e.carol.Id || e.reload(t, deals[1]).GetString("owner") != e.alice.Id {
		t.Fatal("owners after undoing the reassignment")
	}

	// two undos started at once: one runs, the other is refused
	j, err = e.svc.Bulk(ctx, transfer.BulkOptions{Object: "deals", IDs: []string{deals[2].Id}, Action: transfer.ActionUpdate, Field: "source", Value: "event", As: e.mgr})
	if err != nil || j.Changed != 1 {
		t.Fatalf("update %+v, %v", j, err)
	}
	errs := make(chan error, 2)
	for range 2 {
		go func() { _, err := e.svc.UndoBulkNow(ctx, j.ID, e.mgr); errs <- err }()
	}
	if a, b := <-errs, <-errs; (a == nil) == (b == nil) {
		t.Fatalf("two undos at once: %v, %v; want one to run and one refused", a, b)
	}

	// refusals
	del, err := e.svc.Bulk(ctx, transfer.BulkOptions{Object: "contacts", IDs: []string{b.Id}, Action: transfer.ActionDelete, As: e.alice})
	if err != nil || del.Changed != 1 {
		t.Fatalf("delete %+v, %v", del, err)
	}
	var bad struct{ Message string }
	if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/bulk/"+del.ID+"/undo", e.aliceTok, nil, &bad); code != http.StatusBadRequest || !strings.Contains(bad.Message, "trash") {
		t.Fatalf("undo of a delete: %d %q", code, bad.Message)
	}
	dry, err := e.svc.Bulk(ctx, transfer.BulkOptions{Object: "contacts", IDs: []string{a.Id}, Action: transfer.ActionAddTags, Field: "tags", Tags: []string{"x"}, DryRun: true, As: e.alice})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.UndoBulkNow(ctx, dry.ID, e.alice); err == nil || !strings.Contains(err.Error(), "dry run") {
		t.Fatalf("undo of a dry run: %v", err)
	}
	old, err := e.svc.Bulk(ctx, transfer.BulkOptions{Object: "contacts", IDs: []string{a.Id}, Action: transfer.ActionAddTags, Field: "tags", Tags: []string{"y"}, As: e.alice})
	if err != nil {
		t.Fatal(err)
	}
	past := time.Now().Add(-31 * 24 * time.Hour).UTC().Format("2006-01-02 15:04:05.000Z")
	if _, err := e.app.DB().Update(transfer.BulkJobsCollection, dbx.Params{"finished": past, "created": past}, dbx.HashExp{"id": old.ID}).Execute(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.UndoBulkNow(ctx, old.ID, e.alice); err == nil || !strings.Contains(err.Error(), "30 days") {
		t.Fatalf("undo of a 31-day-old job: %v", err)
	}
}
