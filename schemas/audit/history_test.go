package audit_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/audit"
	"github.com/relata/relata/schemas/schemastest"
)

// TestHistoryHidesWhatTheCallerMayNotRead: the audit endpoints show of a record's past only
// what the caller may read on the record now, as the REST API decides. A user's email is
// readable by a superuser, by the user themself, and by everyone when the user made it
// visible (emailVisibility) — CRM admins and managers included, who do not see hidden emails
// through the REST API either (the users collection has no manage rule). A field hidden after
// its changes were written is not shown to anyone but superusers.
func TestHistoryHidesWhatTheCallerMayNotRead(t *testing.T) {
	t.Parallel()
	app, srv := newApp(t)
	newUser := func(email, name, role string, visible bool) (*core.Record, string) {
		t.Helper()
		coll, err := app.FindCollectionByNameOrId(schemas.UsersCollection)
		if err != nil {
			t.Fatal(err)
		}
		u := core.NewRecord(coll)
		u.SetEmail(email)
		u.SetEmailVisibility(visible)
		u.SetPassword("password-123")
		u.Set("name", name)
		u.Set("role", role)
		u.Set("team", "north")
		if err := app.Save(u); err != nil {
			t.Fatal(err)
		}
		tok, err := u.NewAuthToken()
		if err != nil {
			t.Fatal(err)
		}
		return u, tok
	}
	alice, aliceTok := newUser("alice@example.com", "Alice", schemas.RoleSales, false)
	bob, _ := newUser("bob.old@example.com", "Bob", schemas.RoleSales, false)
	carol, _ := newUser("carol@example.com", "Carol", schemas.RoleSales, true)
	_, mgrTok := newUser("manager@example.com", "Manager", schemas.RoleManager, false)
	_, adminTok := newUser("admin@example.com", "Admin", schemas.RoleAdmin, false)
	suTok := schemastest.SuperuserToken(t, app)
	// Bob's address changes: the old and the new one are both in the trail.
	bob.SetEmail("bob@example.com")
	if err := app.Save(bob); err != nil {
		t.Fatal(err)
	}
	bobTok, err := bob.NewAuthToken() // a new address ends the earlier sessions
	if err != nil {
		t.Fatal(err)
	}
	// A deal field hidden after a change of it was written.
	deal := schemastest.MustCreate(t, app, "deals", map[string]any{"name": "Hidden source", "owner": alice.Id, "description": "secret-referral"})
	deals, err := app.FindCollectionByNameOrId("deals")
	if err != nil {
		t.Fatal(err)
	}
	deals.Fields.GetByName("description").SetHidden(true)
	if err := app.Save(deals); err != nil {
		t.Fatal(err)
	}

	bobsEmails := []string{"bob@example.com", "bob.old@example.com"}
	scenarios := []struct {
		name, path, token string
		shown, hidden     []string // values the answer must and must not hold
	}{
		{"sales reads a colleague with a hidden email", "/api/relata/audit/users/" + bob.Id, aliceTok, []string{"Bob"}, bobsEmails},
		{"manager reads a user with a hidden email", "/api/relata/audit/users/" + bob.Id, mgrTok, []string{"Bob"}, bobsEmails},
		{"admin reads a user with a hidden email", "/api/relata/audit/users/" + bob.Id, adminTok, []string{"Bob"}, bobsEmails},
		{"the user reads herself", "/api/relata/audit/users/" + bob.Id, bobTok, bobsEmails, nil},
		{"a superuser reads a user", "/api/relata/audit/users/" + bob.Id, suTok, bobsEmails, nil},
		{"sales reads a colleague with a visible email", "/api/relata/audit/users/" + carol.Id, aliceTok, []string{"carol@example.com"}, nil},
		{"admin reads the trail of users", "/api/relata/audit?object=users", adminTok, []string{"Bob", "carol@example.com"}, bobsEmails},
		{"admin reads the trail filtered by email", "/api/relata/audit?field=email", adminTok, []string{"carol@example.com"}, bobsEmails},
		{"a superuser reads the trail of users", "/api/relata/audit?object=users", suTok, bobsEmails, nil},
		{"the owner reads a deal with a field hidden since", "/api/relata/audit/deals/" + deal.Id, aliceTok, []string{"Hidden source"}, []string{"secret-referral"}},
		{"admin reads the trail of deals", "/api/relata/audit?object=deals", adminTok, []string{"Hidden source"}, []string{"secret-referral"}},
		{"a superuser reads a deal with a field hidden since", "/api/relata/audit/deals/" + deal.Id, suTok, []string{"secret-referral"}, nil},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			var hist struct {
				Items []*audit.Entry `json:"items"`
			}
			if code := schemastest.Call(t, srv, http.MethodGet, sc.path, sc.token, nil, &hist); code != 200 || len(hist.Items) == 0 {
				t.Fatalf("GET %s = %d with %d entries", sc.path, code, len(hist.Items))
			}
			var values strings.Builder
			for _, e := range hist.Items {
				for _, c := range e.Changes {
					fmt.Fprint(&values, " ", c.Old, " ", c.New)
				}
			}
			for _, v := range sc.shown {
				if !strings.Contains(values.String(), v) {
					t.Errorf("the answer lacks %q:%s", v, values.String())
				}
			}
			for _, v := range sc.hidden {
				if strings.Contains(values.String(), v) {
					t.Errorf("the answer shows %q:%s", v, values.String())
				}
			}
		})
	}
	// What is hidden stays listed as a change, without its values.
	var hist struct {
		Items []*audit.Entry `json:"items"`
	}
	schemastest.Call(t, srv, http.MethodGet, "/api/relata/audit/users/"+bob.Id, aliceTok, nil, &hist)
	if len(hist.Items) != 2 || !hist.Items[0].Changes["email"].Redacted {
		t.Errorf("bob's history as alice = %d entries, email change %+v; want 2 with the change redacted", len(hist.Items), hist.Items[0].Changes["email"])
	}
}
