package transfer_test

import (
	"context"
	"errors"
	"net/http"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/transfer"
)

// departing gives alice 4 deals, 2 contacts, 1 company, 3 open tasks, a done task and a
// call; bob has a deal of his own.
func (e *env) departing(t *testing.T) (deals, contacts []*core.Record, company *core.Record, open []*core.Record, done, call, bobs *core.Record) {
	t.Helper()
	deals = e.deals(t, e.alice, 4, "Alice")
	for _, n := range []string{"Ann", "Ben"} {
		contacts = append(contacts, schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": n, "owner": e.alice.Id}))
	}
	company = schemastest.MustCreate(t, e.app, "companies", map[string]any{"name": "Gamma", "owner": e.alice.Id})
	for _, s := range []string{"Call back", "Send offer", "Visit"} {
		open = append(open, schemastest.MustCreate(t, e.app, "activities", map[string]any{"type": "task", "subject": s, "owner": e.alice.Id}))
	}
	done = schemastest.MustCreate(t, e.app, "activities", map[string]any{"type": "task", "subject": "Old", "done": true, "owner": e.alice.Id})
	call = schemastest.MustCreate(t, e.app, "activities", map[string]any{"type": "call", "subject": "Logged call", "owner": e.alice.Id})
	bobs = e.deals(t, e.bob, 1, "Bob")[0]
	return
}

func TestReassignRoundRobin(t *testing.T) {
	e := newEnv(t)
	deals, contacts, company, open, done, call, bobs := e.departing(t)
	opts := transfer.ReassignOptions{From: "alice@example.com", To: []string{"bob@example.com", e.carol.Id}, As: e.mgr}

	pv, err := e.svc.PreviewReassign(opts)
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"deals": 4, "contacts": 2, "companies": 1, "tasks": 3}
	if len(pv.Objects) != 4 || pv.Total != 10 || pv.Shares[e.bob.Id] != 5 || pv.Shares[e.carol.Id] != 5 {
		t.Fatalf("preview %+v", pv)
	}
	for _, o := range pv.Objects {
		if want[o.Object] != o.Count {
			t.Errorf("preview of %s: %d; want %d", o.Object, o.Count, want[o.Object])
		}
	}
	if e.reload(t, deals[0]).GetString("owner") != e.alice.Id {
		t.Fatal("the preview changed an owner")
	}

	j, _, err := e.svc.Reassign(context.Background(), opts)
	if err != nil {
		t.Fatal(err)
	}
	if j.Status != transfer.JobDone || j.Total != 10 || j.Changed != 10 || j.Objects["tasks"].Changed != 3 || j.Objects["deals"].Total != 4 {
		t.Fatalf("job %+v", j)
	}
	// Round robin in creation order: deals 1 and 3 to bob, 2 and 4 to carol, then on.
	owners := []string{}
	for _, r := range append(append(append(deals, contacts...), company), open...) {
		owners = append(owners, e.reload(t, r).GetString("owner"))
	}
	for i, o := range owners {
		wantOwner := e.bob.Id
		if i%2 == 1 {
			wantOwner = e.carol.Id
		}
		if o != wantOwner {
			t.Errorf("record %d: owner %s; want %s", i, o, wantOwner)
		}
	}
	for _, r := range []*core.Record{done, call} {
		if e.reload(t, r).GetString("owner") != e.alice.Id {
			t.Errorf("%s %q was handed over; only open tasks go", r.GetString("type"), r.GetString("subject"))
		}
	}
	if e.reload(t, bobs).GetString("owner") != e.bob.Id {
		t.Error("bob's own deal changed")
	}
	if n := e.auditVia(t, "bulk reassign "+j.ID); n != 10 {
		t.Errorf("%d audit entries; want 10", n)
	}
	// Nothing is left to hand over.
	pv, err = e.svc.PreviewReassign(opts)
	if err != nil || pv.Total != 0 {
		t.Fatalf("second preview %+v, %v", pv, err)
	}
}

func TestReassignOnlyManagersAndAdmins(t *testing.T) {
	e := newEnv(t)
	deals, _, _, _, _, _, _ := e.departing(t)
	// bob (sales, alice's team) may not take alice's records, nor give carol's away.
	for _, as := range []*core.Record{e.bob, e.alice, e.carol} {
		_, _, err := e.svc.Reassign(context.Background(), transfer.ReassignOptions{From: "alice@example.com", To: []string{"bob@example.com"}, As: as})
		if !errors.Is(err, transfer.ErrNotManager) {
			t.Fatalf("%s: err %v; want ErrNotManager", as.Email(), err)
		}
	}
	if e.reload(t, deals[0]).GetString("owner") != e.alice.Id {
		t.Fatal("a sales rep reassigned a deal")
	}
	body := map[string]any{"from": "alice@example.com", "to": []string{"bob@example.com"}, "dryRun": true}
	for tok, want := range map[string]int{"": 401, e.bobTok: 403, e.carolTok: 403, e.mgrTok: 200, e.adminTok: 200, e.su: 200} {
		var res struct {
			Preview transfer.ReassignPreview `json:"preview"`
		}
		if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/reassign", tok, body, &res); code != want {
			t.Errorf("dry run: %d; want %d", code, want)
		} else if code == 200 && res.Preview.Total != 10 {
			t.Errorf("preview over the API: %+v", res.Preview)
		}
	}
	// Bad requests name the field.
	for _, b := range []map[string]any{
		{"from": "nobody@example.com", "to": []string{"bob@example.com"}},
		{"from": "alice@example.com", "to": []string{"alice@example.com"}},
		{"from": "alice@example.com", "to": []string{}},
		{"from": "alice@example.com", "to": []string{"bob@example.com"}, "objects": []string{"workflows"}},
	} {
		var res struct{ Data map[string]any }
		if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/reassign", e.mgrTok, b, &res); code != 400 || len(res.Data) != 1 {
			t.Errorf("%v: %d %v; want 400 naming the field", b, code, res.Data)
		}
	}
	// A manager's real run, only deals and tasks, over the API.
	var res struct {
		Job transfer.Job `json:"job"`
	}
	code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/reassign", e.mgrTok,
		map[string]any{"from": "alice@example.com", "to": []string{"bob@example.com"}, "objects": []string{"deals", "tasks"}}, &res)
	if code != http.StatusAccepted || res.Job.Total != 7 {
		t.Fatalf("reassign: %d %+v", code, res.Job)
	}
	j := e.waitJob(t, res.Job.ID)
	if j.Status != transfer.JobDone || j.Changed != 7 {
		t.Fatalf("job %+v", j)
	}
	if e.reload(t, deals[3]).GetString("owner") != e.bob.Id {
		t.Fatal("deal not handed over")
	}
}
