package privacy_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"

	"github.com/relata/relata/schemas/audit"
	"github.com/relata/relata/schemas/privacy"
	"github.com/relata/relata/schemas/schemastest"
)

// TestErasureLeavesNoPersonalValuesInHistory: erasure replaces the personal fields of the
// records linked to the person (an activity with her, its subject and details); the audit
// trail must not keep those values either, or the sales rep who may view the activity reads
// them on its History tab after the erasure. What erasure keeps (the deal's amount, the
// activity's type) stays in the history, and the chain still verifies.
func TestErasureLeavesNoPersonalValuesInHistory(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	privacy.MustRegister(w.app, nil, privacy.Config{Registry: w.reg})
	audit.MustRegister(w.app, nil, audit.Config{Registry: w.reg})
	srv := schemastest.Serve(t, w.app)
	rep, repTok := schemastest.NewUser(t, w.app, "rep@example.com", "sales", "north")
	_, adminTok := schemastest.NewUser(t, w.app, "boss@example.com", "admin", "")
	ada := schemastest.MustCreate(t, w.app, "contacts", map[string]any{"full_name": "Erin Example", "email": "erin@example.net", "owner": rep.Id})
	act := schemastest.MustCreate(t, w.app, "activities", map[string]any{"type": "call", "subject": "Doctor appointment",
		"body": "Diagnosed with asthma last spring", "contact": ada.Id, "owner": rep.Id})
	act.Set("body", "Diagnosed with asthma last spring; a relapse in May")
	if err := w.app.Save(act); err != nil {
		t.Fatal(err)
	}
	deal := schemastest.MustCreate(t, w.app, "deals", map[string]any{"name": "Inhaler subscription", "amount": 4321,
		"contacts": []string{ada.Id}, "owner": rep.Id})

	var cert privacy.Certificate
	if code := schemastest.Call(t, srv, http.MethodPost, "/api/relata/privacy/erase", adminTok,
		map[string]any{"email": "erin@example.net", "confirm": true}, &cert); code != 200 {
		t.Fatalf("erase = %d", code)
	}
	history := func(object, id string) string {
		t.Helper()
		var out struct {
			Items []*audit.Entry `json:"items"`
		}
		if code := schemastest.Call(t, srv, http.MethodGet, "/api/relata/audit/"+object+"/"+id, repTok, nil, &out); code != 200 {
			t.Fatalf("history of %s %s = %d", object, id, code)
		}
		b, _ := json.Marshal(out.Items)
		return string(b)
	}
	got := history("activities", act.Id)
	for _, v := range []string{"asthma", "relapse", "Doctor appointment"} {
		if strings.Contains(got, v) {
			t.Errorf("after the erasure the activity's history still shows %q: %s", v, got)
		}
	}
	if !strings.Contains(got, `"call"`) {
		t.Errorf("the activity's history lost what erasure keeps (its type): %s", got)
	}
	if got := history("deals", deal.Id); !strings.Contains(got, "4321") || !strings.Contains(got, "Inhaler subscription") {
		t.Errorf("the deal's history lost what erasure keeps (its name and amount): %s", got)
	}
	if r, err := audit.Verify(w.app); err != nil || !r.OK() {
		t.Errorf("verify after the erasure: %v %+v", err, r)
	}
}

// TestErasureReachesDeletedLinkedRecords: an activity with the person, deleted before her
// erasure, waits in the trash (restorable for 30 days) with her record's id and its details;
// erasure must not leave those details there, nor in the deleted activity's history, which
// managers read.
func TestErasureReachesDeletedLinkedRecords(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	privacy.MustRegister(w.app, nil, privacy.Config{Registry: w.reg})
	audit.MustRegister(w.app, nil, audit.Config{Registry: w.reg})
	srv := schemastest.Serve(t, w.app)
	rep, _ := schemastest.NewUser(t, w.app, "rep@example.com", "sales", "north")
	_, mgrTok := schemastest.NewUser(t, w.app, "mgr@example.com", "manager", "south")
	_, adminTok := schemastest.NewUser(t, w.app, "boss@example.com", "admin", "")
	ada := schemastest.MustCreate(t, w.app, "contacts", map[string]any{"full_name": "Erin Example", "email": "erin@example.net", "owner": rep.Id})
	act := schemastest.MustCreate(t, w.app, "activities", map[string]any{"type": "call", "subject": "Doctor appointment",
		"body": "Diagnosed with asthma last spring", "contact": ada.Id, "owner": rep.Id})
	if err := w.app.Delete(act); err != nil {
		t.Fatal(err)
	}
	if code := schemastest.Call(t, srv, http.MethodPost, "/api/relata/privacy/erase", adminTok,
		map[string]any{"email": "erin@example.net", "confirm": true}, nil); code != 200 {
		t.Fatalf("erase = %d", code)
	}
	var n int
	if err := w.app.DB().Select("count(*)").From("relata_trash").AndWhere(dbx.NewExp("instr(data, 'asthma') > 0")).Row(&n); err != nil || n != 0 {
		t.Errorf("the trash keeps %d deleted records with her details (%v)", n, err)
	}
	var out struct {
		Items []*audit.Entry `json:"items"`
	}
	if code := schemastest.Call(t, srv, http.MethodGet, "/api/relata/audit/activities/"+act.Id, mgrTok, nil, &out); code != 200 {
		t.Fatalf("history = %d", code)
	}
	if b, _ := json.Marshal(out.Items); strings.Contains(string(b), "asthma") || strings.Contains(string(b), "Doctor appointment") {
		t.Errorf("the deleted activity's history keeps her details: %s", b)
	}
	if r, err := audit.Verify(w.app); err != nil || !r.OK() {
		t.Errorf("verify after the erasure: %v %+v", err, r)
	}
}
