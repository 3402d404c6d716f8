package hooks_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
)

// TestAllMatchFilterByHiddenEmail: PocketBase checks an auth record's email visibility on the
// joined row of a filter only, not in the all-match subquery of a multi-valued path. A
// manager (who lists every deal and contact) filtering deals by contacts.owner.email !~ "c%"
// learnt, from a deal whose contacts are owned by bob (email public) and carol (hidden),
// whether carol's hidden address starts with "c" — letter by letter, all of it. All-match
// comparisons of users' emails through multi-valued paths are refused; the any-match form
// (which checks visibility on every row) is not.
func TestAllMatchFilterByHiddenEmail(t *testing.T) {
	e := newSeededEnv(t)
	const bob = "usrbob000000001"
	if _, err := e.app.DB().Update("users", dbx.Params{"emailVisibility": true}, dbx.HashExp{"id": bob}).Execute(); err != nil {
		t.Fatal(err)
	}
	owned := func(owner string) string {
		recs, err := e.app.FindRecordsByFilter("contacts", "owner = {:o}", "", 1, 0, dbx.Params{"o": owner})
		if err != nil || len(recs) == 0 {
			t.Fatalf("no contact of %s: %v", owner, err)
		}
		return recs[0].Id
	}
	deal := firstID(t, e.env, "deals")
	if _, err := e.app.DB().Update("deals", dbx.Params{"contacts": `["` + owned(bob) + `","` + owned(carol) + `"]`}, dbx.HashExp{"id": deal}).Execute(); err != nil {
		t.Fatal(err)
	}
	// carol's address starts with "carol": the answer must not tell "c%" from "x%"
	var got []listResult
	for _, guess := range []string{"c%", "x%"} {
		got = append(got, e.list(t, manager, "deals", `id = "`+deal+`" && contacts.owner.email !~ "`+guess+`"`, ""))
	}
	for i, r := range got {
		if r.Status == http.StatusOK && got[1-i].Status == http.StatusOK && r.TotalItems != got[1-i].TotalItems {
			t.Fatalf("the manager's answer depends on carol's hidden email: %d items for c%%, %d for x%%", got[0].TotalItems, got[1].TotalItems)
		}
		if r.Status != http.StatusBadRequest || !strings.Contains(r.Message, "emails of users are hidden") {
			t.Errorf("all-match by hidden email: %d %q, want 400", r.Status, r.Message)
		}
	}
	for _, f := range []string{`id = "` + deal + `" && contacts.owner.email ?!~ "c%"`, `contacts.owner.name ~ "a"`} {
		if r := e.list(t, manager, "deals", f, ""); r.Status != http.StatusOK {
			t.Errorf("%s: %d %q, want 200", f, r.Status, r.Message)
		}
	}
}
