package hooks_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/hooks"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/trash"
)

type trashList struct {
	Items []trash.Item `json:"items"`
}

// TestTrash: a deleted record is copied into the trash in its delete's transaction; only
// whoever could see it lists and restores it (the deals' scope is "owner", the contacts'
// "team"); a restore brings back the record with its id and fields; entries expire after 30
// days and the purge removes them.
func TestTrash(t *testing.T) {
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	hooks.MustRegister(app, hooks.Config{Registry: reg})
	now := time.Now()
	clock := func() time.Time { return now }
	if _, err := trash.Register(app, trash.Config{Registry: reg, Now: clock}); err != nil {
		t.Fatal(err)
	}
	srv := schemastest.Serve(t, app)
	alice, aliceTok := schemastest.NewUser(t, app, "alice@example.com", "sales", "north")
	_, bobTok := schemastest.NewUser(t, app, "bob@example.com", "sales", "north")
	_, carolTok := schemastest.NewUser(t, app, "carol@example.com", "sales", "south")
	_, mgrTok := schemastest.NewUser(t, app, "mgr@example.com", "manager", "")

	deal := schemastest.MustCreate(t, app, "deals", map[string]any{"name": "Alice's deal", "stage": "proposal", "owner": alice.Id, "amount": 4200})
	call := schemastest.MustCreate(t, app, "activities", map[string]any{"type": "call", "subject": "Call about the deal", "deal": deal.Id, "owner": alice.Id})
	contact := schemastest.MustCreate(t, app, "contacts", map[string]any{"full_name": "Team Contact", "owner": alice.Id})
	if code := schemastest.Call(t, srv, http.MethodDelete, "/api/collections/deals/records/"+deal.Id, aliceTok, nil, nil); code != 204 {
		t.Fatalf("alice deletes her deal = %d", code)
	}
	if code := schemastest.Call(t, srv, http.MethodDelete, "/api/collections/contacts/records/"+contact.Id, aliceTok, nil, nil); code != 204 {
		t.Fatalf("alice deletes her contact = %d", code)
	}
	entries, err := app.FindAllRecords(hooks.TrashCollection)
	if err != nil || len(entries) != 2 {
		t.Fatalf("trash entries = %d (%v); want 2", len(entries), err)
	}
	// The trash is not readable through the collections API.
	if code := schemastest.Call(t, srv, http.MethodGet, "/api/collections/relata_trash/records", mgrTok, nil, nil); code != 403 {
		t.Errorf("a manager lists relata_trash directly = %d; want 403", code)
	}

	entryOf := func(object string) string {
		for _, e := range entries {
			if e.GetString("object") == object {
				if e.GetString("deleted_by") != alice.Id || e.GetString("owner") != alice.Id {
					t.Errorf("%s entry: deleted_by %q owner %q; want alice", object, e.GetString("deleted_by"), e.GetString("owner"))
				}
				return e.Id
			}
		}
		t.Fatalf("no %s in the trash", object)
		return ""
	}
	dealEntry, contactEntry := entryOf("deals"), entryOf("contacts")
	if c, _ := app.FindRecordById("activities", call.Id); c.GetString("deal") != "" {
		t.Errorf("the call still links to the deleted deal")
	}

	lists := []struct {
		who   string
		token string
		want  map[string]bool
	}{
		{"alice (owner)", aliceTok, map[string]bool{"deals": true, "contacts": true}},
		{"bob (same team: the team's contact, not alice's deal)", bobTok, map[string]bool{"contacts": true}},
		{"carol (other team)", carolTok, map[string]bool{}},
		{"manager", mgrTok, map[string]bool{"deals": true, "contacts": true}},
		{"anonymous", "", nil},
	}
	for _, tt := range lists {
		var out trashList
		code := schemastest.Call(t, srv, http.MethodGet, "/api/relata/trash", tt.token, nil, &out)
		if tt.want == nil {
			if code != 401 {
				t.Errorf("%s lists the trash = %d; want 401", tt.who, code)
			}
			continue
		}
		got := map[string]bool{}
		for _, it := range out.Items {
			got[it.Object] = true
		}
		if code != 200 || len(got) != len(tt.want) || len(out.Items) != len(tt.want) {
			t.Errorf("%s sees %v (status %d); want %v", tt.who, got, code, tt.want)
		}
		for o := range tt.want {
			if !got[o] {
				t.Errorf("%s does not see the deleted %s", tt.who, o)
			}
		}
	}

	restore := func(token, id string) int {
		return schemastest.Call(t, srv, http.MethodPost, "/api/relata/trash/"+id+"/restore", token, nil, nil)
	}
	if code := restore(carolTok, contactEntry); code != 404 {
		t.Errorf("carol (other team) restores the contact = %d; want 404", code)
	}
	if code := restore(bobTok, dealEntry); code != 404 {
		t.Errorf("bob restores alice's deal = %d; want 404", code)
	}
	if code := restore(aliceTok, dealEntry); code != 200 {
		t.Fatalf("alice restores her deal = %d", code)
	}
	back, err := app.FindRecordById("deals", deal.Id)
	if err != nil || back.GetString("name") != "Alice's deal" || back.GetString("stage") != "proposal" || back.GetFloat("amount") != 4200 || back.GetString("owner") != alice.Id {
		t.Fatalf("restored deal = %v, %v", back, err)
	}
	// The call that linked to the deal (unlinked by the delete) links to it again.
	if c, err := app.FindRecordById("activities", call.Id); err != nil || c.GetString("deal") != deal.Id {
		t.Errorf("the call's deal after the restore = %q (%v); want %s", c.GetString("deal"), err, deal.Id)
	}
	if _, err := app.FindRecordById(hooks.TrashCollection, dealEntry); err == nil {
		t.Error("the restored deal's entry is still in the trash")
	}
	if code := restore(aliceTok, dealEntry); code != 404 {
		t.Errorf("restoring twice = %d; want 404", code)
	}
	// Deleted again and restored while a record with its id exists: refused.
	if code := schemastest.Call(t, srv, http.MethodDelete, "/api/collections/deals/records/"+deal.Id, aliceTok, nil, nil); code != 204 {
		t.Fatalf("delete again = %d", code)
	}
	again, _ := app.FindFirstRecordByData(hooks.TrashCollection, "record", deal.Id)
	if again == nil {
		t.Fatal("the second delete left no entry")
	}
	schemastest.MustCreate(t, app, "deals", map[string]any{"id": deal.Id, "name": "Squatter", "stage": "lead", "owner": alice.Id})
	if code := restore(aliceTok, again.Id); code != 409 {
		t.Errorf("restore over an existing record = %d; want 409", code)
	}

	// After 30 days: not listed, not restorable, purged by the daily job.
	now = now.Add(trash.Retention + time.Hour)
	var out trashList
	schemastest.Call(t, srv, http.MethodGet, "/api/relata/trash", mgrTok, nil, &out)
	if len(out.Items) != 0 {
		t.Errorf("after 30 days the manager still lists %d entries", len(out.Items))
	}
	if code := restore(aliceTok, contactEntry); code != 404 {
		t.Errorf("restore after 30 days = %d; want 404", code)
	}
	n, err := trash.Purge(app, now)
	if err != nil || n != 2 {
		t.Errorf("purge = %d, %v; want 2", n, err)
	}
	if left, _ := app.FindAllRecords(hooks.TrashCollection); len(left) != 0 {
		t.Errorf("%d entries left after the purge", len(left))
	}
}

// TestTrashAtScale: 1,001 deleted deals of one rep: the list stops at 500 for a manager, and
// another rep sees none of them.
func TestTrashAtScale(t *testing.T) {
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	hooks.MustRegister(app, hooks.Config{Registry: reg})
	svc, err := trash.Register(app, trash.Config{Registry: reg})
	if err != nil {
		t.Fatal(err)
	}
	schemastest.Serve(t, app) // applies the object model
	bob, _ := schemastest.NewUser(t, app, "bob@example.com", "sales", "north")
	alice, _ := schemastest.NewUser(t, app, "alice@example.com", "sales", "north")
	mgr, _ := schemastest.NewUser(t, app, "mgr@example.com", "manager", "")
	for i := range 1001 {
		d := schemastest.MustCreate(t, app, "deals", map[string]any{"name": "Deal " + strconv.Itoa(i), "stage": "lead", "owner": bob.Id})
		if err := app.Delete(d); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := app.CountRecords(hooks.TrashCollection); n != 1001 {
		t.Fatalf("trash entries = %d; want 1001", n)
	}
	for _, c := range []struct {
		who  string
		auth *core.Record
		want int
	}{{"manager", mgr, 500}, {"bob", bob, 500}, {"alice (same team, deals are owner-scoped)", alice, 0}} {
		items, err := svc.List(c.auth)
		if err != nil || len(items) != c.want {
			t.Errorf("%s lists %d entries (%v); want %d", c.who, len(items), err, c.want)
		}
	}
}
