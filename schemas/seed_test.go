package schemas_test

import (
	"errors"
	"os"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/relata/relata/schemas"
)

func TestSeedExample(t *testing.T) {
	app := openApp(t, t.TempDir())
	objs := defaults(t)
	applyObjs(t, app, objs, false)
	res, err := schemas.Seed(app, objs, os.DirFS(schemas.SeedDir("../examples/sales")))
	if err != nil {
		t.Fatal(err)
	}
	want := map[string]int{"users": 5, "companies": 50, "contacts": 200, "deals": 100, "activities": 300}
	for name, n := range want {
		if res.Created[name] != n {
			t.Errorf("created %d %s; want %d", res.Created[name], name, n)
		}
		total, err := app.CountRecords(name)
		if err != nil || int(total) != n {
			t.Errorf("%s holds %d records (%v); want %d", name, total, err, n)
		}
	}
	// Stages are spread over the whole pipeline.
	for _, stage := range []string{"lead", "qualified", "proposal", "negotiation", "won", "lost"} {
		recs, err := app.FindAllRecords("deals")
		if err != nil {
			t.Fatal(err)
		}
		n := 0
		for _, r := range recs {
			if r.GetString("stage") == stage {
				n++
			}
		}
		if n == 0 {
			t.Errorf("no seeded deal in stage %s", stage)
		}
	}
	// Relative dates resolve against today.
	open, err := app.FindFirstRecordByFilter("deals", `stage = "lead"`)
	if err != nil {
		t.Fatal(err)
	}
	if !open.GetDateTime("expected_close").Time().After(time.Now()) {
		t.Errorf("an open deal's expected close is not in the future: %v", open.GetDateTime("expected_close"))
	}

	again, err := schemas.Seed(app, objs, os.DirFS(schemas.SeedDir("../examples/sales")))
	if err != nil {
		t.Fatal(err)
	}
	for name, n := range again.Created {
		if n != 0 {
			t.Errorf("seeding twice created %d more %s", n, name)
		}
	}
}

func TestSeedRejectsBadRecords(t *testing.T) {
	app := openApp(t, t.TempDir())
	objs := defaults(t)
	applyObjs(t, app, objs, false)
	fsys := fstest.MapFS{
		"deals.json": {Data: []byte(`[
  {"id": "dea000000000001", "name": "Fine", "stage": "lead"},
  {"id": "short", "name": "Bad id", "stage": "won"},
  {"id": "dea000000000003", "name": "Bad stage", "stage": "closed"},
  {"id": "dea000000000004", "name": "Bad amount", "amount": "lots", "colour": "red"},
  {"id": "dea000000000005", "name": "Bad date", "expected_close": "soon"}
]`)},
		"gadgets.json": {Data: []byte(`[]`)},
	}
	_, err := schemas.Seed(app, objs, fsys)
	var errs schemas.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("err = %v; want schemas.Errors", err)
	}
	got := err.Error()
	for _, want := range []string{
		`deals.json:3 /1/id: every seed record needs an "id" of 15 lowercase letters and digits`,
		`deals.json:4 /2/stage: "closed" is not among the stages of this field (lead, qualified, proposal, negotiation, won, lost)`,
		`deals.json:5 /3/amount: must be a number, not a string`,
		`deals.json:5 /3/colour: deals has no field "colour"`,
		`deals.json:6 /4/expected_close: "soon" is not a date`,
		`gadgets.json: no object named "gadgets"`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("errors lack %q\ngot:\n%s", want, got)
		}
	}
	// Nothing was written, not even the good record.
	if n, _ := app.CountRecords("deals"); n != 0 {
		t.Errorf("a refused seed wrote %d deals", n)
	}
}
