package schemas_test

import (
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
)

// InsertEach writes every row with its values in column order, and a row the table refuses
// stops it with an error naming that row (the transaction, not InsertEach, undoes the rest).
func TestInsertEach(t *testing.T) {
	app := schemastest.OpenApp(t, t.TempDir())
	if _, err := app.DB().NewQuery("CREATE TABLE ie (id TEXT PRIMARY KEY, n INTEGER NOT NULL, s TEXT)").Execute(); err != nil {
		t.Fatal(err)
	}
	cols := []string{"id", "n", "s"}
	rows := [][]any{{"a", 1, "x"}, {"b", 2, nil}, {"c", 3, "it's"}}
	err := app.RunInTransaction(func(tx core.App) error { return schemas.InsertEach(tx, "ie", cols, rows) })
	if err != nil {
		t.Fatal(err)
	}
	var got []struct {
		ID string  `db:"id"`
		N  int     `db:"n"`
		S  *string `db:"s"`
	}
	if err := app.DB().NewQuery("SELECT id, n, s FROM ie ORDER BY id").All(&got); err != nil {
		t.Fatal(err)
	}
	if len(got) != 3 || got[0].N != 1 || *got[0].S != "x" || got[1].S != nil || got[2].N != 3 || *got[2].S != "it's" {
		t.Fatalf("rows %+v", got)
	}
	bad := [][]any{{"d", 4, ""}, {"a", 5, ""}, {"e", 6, ""}}
	err = app.RunInTransaction(func(tx core.App) error { return schemas.InsertEach(tx, "ie", cols, bad) })
	if err == nil || !strings.Contains(err.Error(), "row 2 of 3") {
		t.Fatalf("duplicate id: %v; want an error naming row 2 of 3", err)
	}
	if err := schemas.InsertEach(app, "ie", cols, [][]any{{"f", 1}}); err == nil || !strings.Contains(err.Error(), "row 1 has 2 values for 3 columns") {
		t.Fatalf("short row: %v", err)
	}
	var n int
	if err := app.DB().NewQuery("SELECT count(*) FROM ie").Row(&n); err != nil || n != 3 {
		t.Fatalf("%d rows after the failed transaction (%v); want 3", n, err)
	}
}
