package schemas_test

import (
	"fmt"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
)

// CanCreateEach answers what CanCreate answers record by record, over more records than one
// of its queries holds: a sales user may create deals they own or leave unowned, linked to
// contacts they may view; not deals owned by another, nor linked to a contact of another
// team. A manager may create them all; a guest none.
func TestCanCreateEach(t *testing.T) {
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	if err := reg.Sync(); err != nil {
		t.Fatal(err)
	}
	alice, _ := schemastest.NewUser(t, app, "alice@example.com", "sales", "north")
	bob, _ := schemastest.NewUser(t, app, "bob@example.com", "sales", "north")
	carol, _ := schemastest.NewUser(t, app, "carol@example.com", "sales", "south")
	mgr, _ := schemastest.NewUser(t, app, "mgr@example.com", "manager", "")
	mine := schemastest.MustCreate(t, app, "contacts", map[string]any{"full_name": "Mine", "owner": alice.Id})
	south := schemastest.MustCreate(t, app, "contacts", map[string]any{"full_name": "South", "owner": carol.Id})
	coll, err := app.FindCollectionByNameOrId("deals")
	if err != nil {
		t.Fatal(err)
	}
	kinds := []struct {
		owner, contact string
		alice          bool // what alice may do
	}{
		{alice.Id, mine.Id, true},
		{bob.Id, "", false},         // owned by another
		{"", "", true},              // unowned
		{alice.Id, south.Id, false}, // a contact of another team, which she cannot view
		{alice.Id, "", true},
	}
	var recs []*core.Record
	var bodies []map[string]any
	for i := range 47 {
		k := kinds[i%len(kinds)]
		body := map[string]any{"name": fmt.Sprintf("D %d", i), "stage": "lead", "owner": k.owner, "contacts": []string{}}
		if k.contact != "" {
			body["contacts"] = []string{k.contact}
		}
		r := core.NewRecord(coll)
		for f, v := range body {
			r.Set(f, v)
		}
		recs, bodies = append(recs, r), append(bodies, body)
	}
	for _, who := range []struct {
		name   string
		caller schemas.Caller
	}{{"alice", schemas.User(alice)}, {"manager", schemas.User(mgr)}, {"guest", schemas.User(nil)}} {
		got, err := who.caller.CanCreateEach(app, recs, bodies)
		if err != nil {
			t.Fatalf("%s: %v", who.name, err)
		}
		for i, r := range recs {
			one, err := who.caller.CanCreate(app, r, bodies[i])
			if err != nil {
				t.Fatal(err)
			}
			want := map[string]bool{"alice": kinds[i%len(kinds)].alice, "manager": true, "guest": false}[who.name]
			if got[i] != one || got[i] != want {
				t.Errorf("%s, record %d (%v): CanCreateEach %v, CanCreate %v, want %v", who.name, i, bodies[i], got[i], one, want)
			}
		}
	}
}
