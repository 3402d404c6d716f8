package schemas_test

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/relata/relata/schemas"
)

var update = flag.Bool("update", false, "rewrite testdata/invalid/*.golden")

func TestLoadDefaults(t *testing.T) {
	objs, err := schemas.Load(schemas.Defaults())
	if err != nil {
		t.Fatalf("embedded defaults do not load: %v", err)
	}
	var names []string
	for _, o := range objs {
		names = append(names, o.Name)
	}
	if got, want := strings.Join(names, ","), "activities,companies,contacts,deals"; got != want {
		t.Fatalf("objects = %s; want %s", got, want)
	}
	deals := objs[3]
	p := deals.Pipeline("sales")
	if p == nil {
		t.Fatal("deals has no sales pipeline")
	}
	if got, want := strings.Join(p.StageNames(), ">"), "lead>qualified>proposal>negotiation>won>lost"; got != want {
		t.Errorf("sales stages = %s; want %s", got, want)
	}
	if deals.OwnerField() == nil || deals.StageField() == nil {
		t.Error("deals needs an owner and a stage field")
	}
}

func TestLoadValid(t *testing.T) {
	objs, err := schemas.Load(os.DirFS("testdata/valid"))
	if err != nil {
		t.Fatalf("testdata/valid: %v", err)
	}
	if len(objs) != 5 {
		t.Fatalf("got %d objects; want 5", len(objs))
	}
	// Every field type appears in the custom object, so every type is exercised.
	seen := map[string]bool{}
	for _, o := range objs {
		for _, f := range o.Fields {
			seen[f.Type] = true
		}
	}
	for _, typ := range schemas.FieldTypes() {
		if !seen[typ] {
			t.Errorf("field type %s is not used in testdata/valid", typ)
		}
	}
}

// TestLoadInvalid checks the exact messages users read for each bad file against
// testdata/invalid/*.golden (rewrite them with -update).
func TestLoadInvalid(t *testing.T) {
	paths, err := filepath.Glob("testdata/invalid/*.json")
	if err != nil || len(paths) == 0 {
		t.Fatalf("no testdata: %v", err)
	}
	for _, path := range paths {
		t.Run(filepath.Base(path), func(t *testing.T) {
			data, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			name := filepath.Base(path)
			_, err = schemas.Load(fstest.MapFS{name: {Data: data}})
			if err == nil {
				t.Fatal("loaded without error")
			}
			var errs schemas.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, not schemas.Errors: %v", err, err)
			}
			for _, e := range errs {
				if e.File != name {
					t.Errorf("error names file %q; want %q", e.File, name)
				}
			}
			got := err.Error() + "\n"
			golden := strings.TrimSuffix(path, ".json") + ".golden"
			if *update {
				if err := os.WriteFile(golden, []byte(got), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run with -update to create it)", err)
			}
			if got != string(want) {
				t.Errorf("messages differ from %s\n got:\n%s\nwant:\n%s", golden, got, want)
			}
		})
	}
}

func TestLoadAcrossFiles(t *testing.T) {
	obj := func(name, extra string) *fstest.MapFile {
		return &fstest.MapFile{Data: []byte(`{"name": "` + name + `", "label": {"singular": "A", "plural": "As"},
"titleField": "name", "fields": [{"name": "name", "type": "text"}` + extra + `]}`)}
	}
	tests := []struct {
		name string
		fsys fstest.MapFS
		want string
	}{
		{
			name: "duplicate object name",
			fsys: fstest.MapFS{"a.json": obj("things", ""), "b.json": obj("things", "")},
			want: `b.json:1 /name: object name "things" is already used by a.json`,
		},
		{
			name: "relation to an object in another file resolves",
			fsys: fstest.MapFS{"a.json": obj("things", `, {"name": "other", "type": "relation", "target": "others"}`), "b.json": obj("others", "")},
		},
		{
			name: "relation to a missing object",
			fsys: fstest.MapFS{"a.json": obj("things", `, {"name": "other", "type": "relation", "target": "nothings"}`)},
			want: `a.json:2 /fields/1/target: relation target "nothings" is not a defined object (known: things, users)`,
		},
		{
			name: "empty directory",
			fsys: fstest.MapFS{},
			want: `.: no *.json object definitions found`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := schemas.Load(tt.fsys)
			got := ""
			if err != nil {
				got = err.Error()
			}
			if got != tt.want {
				t.Errorf("got  %q\nwant %q", got, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, dir := range []string{"testdata/valid", "testdata/invalid"} {
		paths, _ := filepath.Glob(filepath.Join(dir, "*.json"))
		for _, p := range paths {
			data, err := os.ReadFile(p)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		objs, err := schemas.Load(fstest.MapFS{"x.json": {Data: data}})
		if err != nil {
			var errs schemas.Errors
			if !errors.As(err, &errs) || len(errs) == 0 {
				t.Fatalf("error is not a located schemas.Errors: %v", err)
			}
			return
		}
		// A definition that loads must build a collection.
		for _, o := range objs {
			if _, err := schemas.Collection(o, func(string) (string, error) { return "pbc_x", nil }); err != nil {
				t.Fatalf("valid object %s does not build: %v", o.Name, err)
			}
		}
	})
}
