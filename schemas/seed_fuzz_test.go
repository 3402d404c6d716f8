package schemas_test

import (
	"errors"
	"os"
	"testing"
	"testing/fstest"

	"github.com/relata/relata/schemas"
)

// FuzzSeed seeds a fuzzed deals.json into one app. Promises: no panic; every refusal is a
// located [schemas.Errors] naming deals.json; a file that seeds once seeds again with
// nothing created (the ledger).
//
//	go test -run '^$' -fuzz '^FuzzSeed$' -fuzztime 1m ./schemas/
func FuzzSeed(f *testing.F) {
	data, err := os.ReadFile("testdata/seed/deals_history.json")
	if err != nil {
		f.Fatal(err)
	}
	f.Add(data)
	f.Add([]byte(`[{"id": "dea000000000003", "name": "x", "stage": "lead", "stageHistory": [{"to": "lead", "at": "now"}]}]`))
	f.Add([]byte(`[{"id": "dea000000000004", "stage": "won", "stageHistory": [{"to": "won", "at": "now-1d"}, {"to": 1}]}]`))
	f.Add([]byte(`[{"id": "dea000000000005", "created": "today+9999999999d", "stageHistory": null}]`))
	app := openApp(f, f.TempDir())
	objs := defaults(f)
	applyObjs(f, app, objs, false)
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{"deals.json": {Data: data}}
		_, err := schemas.Seed(app, objs, fsys)
		if err != nil {
			var errs schemas.Errors
			var one *schemas.Error
			switch {
			case errors.As(err, &errs):
				for _, e := range errs {
					if e.File != "deals.json" {
						t.Fatalf("refusal not located in deals.json: %v", e)
					}
				}
			case errors.As(err, &one):
				if one.File != "deals.json" {
					t.Fatalf("refusal not located in deals.json: %v", one)
				}
			default:
				t.Fatalf("unlocated refusal %T: %v", err, err)
			}
			return
		}
		res, err := schemas.Seed(app, objs, fsys)
		if err != nil {
			t.Fatalf("the second seed of an accepted file failed: %v", err)
		}
		if res.Created["deals"] != 0 {
			t.Fatalf("the second seed created %d deals", res.Created["deals"])
		}
	})
}
