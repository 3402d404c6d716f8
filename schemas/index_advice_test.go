package schemas_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
)

// TestAdviseSortIndexes: a sort by a column no index starts with gets a suggestion once the
// object reaches the threshold (10,000 records: none at 9,999, one at 10,000 and above),
// never for indexed columns (the object's own, unique fields, the cursor indexes), the id,
// @rowid or @random; saved views' sorts are found for `relata doctor`.
func TestAdviseSortIndexes(t *testing.T) {
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	if err := reg.Sync(); err != nil {
		t.Fatal(err)
	}
	deals, err := app.FindCollectionByNameOrId("deals")
	if err != nil {
		t.Fatal(err)
	}
	insert := func(n int) {
		t.Helper()
		err := app.RunInTransaction(func(tx core.App) error {
			for i := range n {
				if _, err := tx.DB().NewQuery(fmt.Sprintf("INSERT INTO deals (id, name, stage) VALUES ('d%014d', 'x', 'lead')", i)).Execute(); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	insert(schemas.IndexAdviceMinRows - 1)
	advise := func(sort string) []string {
		t.Helper()
		got, err := schemas.AdviseSortIndexes(app, deals, sort, schemas.IndexAdviceMinRows)
		if err != nil {
			t.Fatal(err)
		}
		var fields []string
		for _, a := range got {
			fields = append(fields, a.Field)
			if !strings.Contains(a.Suggestion, `{"fields": ["`+a.Field+`"]}`) || a.Rows < schemas.IndexAdviceMinRows {
				t.Errorf("advice %+v", a)
			}
		}
		return fields
	}
	if got := advise("-source"); got != nil {
		t.Errorf("advice below the threshold: %v", got)
	}
	if _, err := app.DB().NewQuery("INSERT INTO deals (id, name, stage) VALUES ('dlast', 'x', 'lead')").Execute(); err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		sort string
		want string
	}{
		{"-source", "source"},
		{"source,-lost_reason,source", "source lost_reason"},
		{"-@rowid", ""},
		{"@random", ""},
		{"id", ""},
		{"-updated", ""},            // the cursor index of the time triggers
		{"owner", ""},               // deals.json indexes owner, created
		{"expected_close_date", ""}, // dates have cursor indexes
		{"no_such_field", ""},
	} {
		if got := strings.Join(advise(c.sort), " "); got != c.want {
			t.Errorf("sort %q: advice for %q; want %q", c.sort, got, c.want)
		}
	}
	alice, _ := schemastest.NewUser(t, app, "alice@example.com", "sales", "north")
	schemastest.MustCreate(t, app, "saved_views", map[string]any{"name": "By source", "object": "deals", "owner": alice.Id,
		"query": map[string]any{"sort": "-source", "filters": []any{}}})
	sorts, err := schemas.SavedViewSorts(app)
	if err != nil || len(sorts["deals"]) != 1 || sorts["deals"][0] != "-source" {
		t.Errorf("saved view sorts = %v, %v", sorts, err)
	}
}
