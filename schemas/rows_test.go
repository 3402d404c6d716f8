package schemas_test

import (
	"reflect"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
)

// RecordsFromRows builds from whole rows the same records FindRecordsByIds loads: every
// field's value (JSON, numbers, booleans, dates, multiple selects, NULL), not new, the
// original equal to the current state, and a Save after it updates the row.
func TestRecordsFromRows(t *testing.T) {
	app := schemastest.OpenApp(t, t.TempDir())
	coll := core.NewBaseCollection("rows_demo")
	coll.Fields.Add(
		&core.TextField{Name: "title"},
		&core.NumberField{Name: "n"},
		&core.BoolField{Name: "ok"},
		&core.JSONField{Name: "data"},
		&core.DateField{Name: "at"},
		&core.SelectField{Name: "tags", Values: []string{"a", "b", "c"}, MaxSelect: 3},
		&core.AutodateField{Name: "created", OnCreate: true},
		&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
	)
	if err := app.Save(coll); err != nil {
		t.Fatal(err)
	}
	full := core.NewRecord(coll)
	full.Set("title", "it's")
	full.Set("n", 2.5)
	full.Set("ok", true)
	full.Set("data", map[string]any{"to": []string{"x@example.com"}})
	full.Set("at", "2026-12-03 10:00:00.000Z")
	full.Set("tags", []string{"a", "c"})
	empty := core.NewRecord(coll) // data stays NULL
	for _, r := range []*core.Record{full, empty} {
		if err := app.Save(r); err != nil {
			t.Fatal(err)
		}
	}
	var rows []dbx.NullStringMap
	if err := app.DB().NewQuery("UPDATE rows_demo SET n = n + 1 RETURNING *").All(&rows); err != nil {
		t.Fatal(err)
	}
	recs, err := schemas.RecordsFromRows(coll, rows)
	if err != nil || len(recs) != 2 {
		t.Fatalf("%d records, %v", len(recs), err)
	}
	for _, got := range recs {
		want, err := app.FindRecordById(coll, got.Id)
		if err != nil {
			t.Fatal(err)
		}
		if got.IsNew() {
			t.Fatalf("%s: new", got.Id)
		}
		if !reflect.DeepEqual(got.FieldsData(), want.FieldsData()) {
			t.Fatalf("fields\n got  %#v\n want %#v", got.FieldsData(), want.FieldsData())
		}
		if !reflect.DeepEqual(got.Original().FieldsData(), want.Original().FieldsData()) {
			t.Fatalf("original\n got  %#v\n want %#v", got.Original().FieldsData(), want.Original().FieldsData())
		}
		got.Set("title", "changed")
		if err := app.Save(got); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := app.CountRecords(coll); err != nil || n != 2 {
		t.Fatalf("%d records after the saves (want 2: updated, not inserted), %v", n, err)
	}
	if _, err := schemas.RecordsFromRows(coll, []dbx.NullStringMap{{}}); err == nil || !strings.Contains(err.Error(), "without an id") {
		t.Fatalf("a row without id: %v", err)
	}
}
