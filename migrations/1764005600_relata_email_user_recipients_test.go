package migrations

import (
	"testing"

	"github.com/pocketbase/dbx"

	"github.com/relata/relata/schemas/schemastest"
)

// Emails queued before to_users existed get it where a recipient's address is a user's
// address now — bare or after a name, in any letter case, item for item with "to" — except
// marketing mail; an email with no user among its recipients, or already filled, is left.
func TestBackfillEmailUsers(t *testing.T) {
	t.Parallel()
	app := schemastest.OpenApp(t, t.TempDir())
	ada, _ := schemastest.NewUser(t, app, "ada@example.com", "manager", "")
	bob, _ := schemastest.NewUser(t, app, "Bob@Example.com", "sales", "north")
	tests := []struct {
		id, to, category, before, want string
	}{
		{"e1", `["\"Ada\" <ADA@example.com>"]`, "transactional", "", `["` + ada.Id + `"]`},
		{"e2", `["carl@client.example","bob@example.com"]`, "transactional", "", `["","` + bob.Id + `"]`},
		{"e3", `["ada@example.com"]`, "marketing", "", ""},
		{"e4", `["carl@client.example","xada@example.com","Ada <ada@example.com.evil>"]`, "transactional", "", ""},
		{"e5", `["ada@example.com"]`, "transactional", `["other"]`, `["other"]`},
	}
	for _, tt := range tests {
		row := dbx.Params{"id": tt.id, "to": tt.to, "category": tt.category, "status": "sent", "notice": tt.id == "e1"}
		if tt.before != "" {
			row["to_users"] = tt.before
		}
		if _, err := app.DB().Insert("emails", row).Execute(); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := app.DB().NewQuery(backfillEmailUsers).Execute(); err != nil {
		t.Fatal(err)
	}
	for _, tt := range tests {
		var got *string
		if err := app.DB().NewQuery("SELECT to_users FROM emails WHERE id = {:id}").Bind(dbx.Params{"id": tt.id}).Row(&got); err != nil {
			t.Fatal(err)
		}
		if g := deref(got); g != tt.want {
			t.Errorf("%s to %s: to_users = %q, want %q", tt.id, tt.to, g, tt.want)
		}
	}
}

// deref is a nullable column's text, "" for NULL.
func deref(s *string) string {
	if s == nil {
		return ""
	}
	return *s
}
