package schemas_test

import (
	"io/fs"
	"os"
	"testing"

	"github.com/relata/relata/schemas"
)

// BenchmarkLoad measures reading and validating object definitions — the JSON Schema check
// (jsonschema/v6) and then the checks of meaning — as `relata schema validate` and every
// start of the server do.
//
//	go test -run '^$' -bench Load -benchmem ./schemas/
func BenchmarkLoad(b *testing.B) {
	cases := []struct {
		name string
		fsys fs.FS
	}{
		{"defaults", schemas.Defaults()},
		{"testdata_valid", os.DirFS("testdata/valid")}, // the defaults plus an object with every field type
	}
	for _, bc := range cases {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				if _, err := schemas.Load(bc.fsys); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

// BenchmarkPlan measures the three-way comparison of the definitions with the database and
// the last applied state that each start (and `relata schema apply|diff`) runs, on a database
// where the defaults are already applied, so the plan is empty.
func BenchmarkPlan(b *testing.B) {
	app := openApp(b, b.TempDir())
	objs := defaults(b)
	applyObjs(b, app, objs, false)
	b.ReportAllocs()
	for b.Loop() {
		p, err := schemas.NewPlan(app, objs)
		if err != nil {
			b.Fatal(err)
		}
		if p.Pending() {
			b.Fatalf("plan after apply has changes: %v", p.Changes)
		}
	}
}
