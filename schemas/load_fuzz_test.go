package schemas_test

import (
	"bytes"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// FuzzLoadWithDefaults loads a fuzzed definition beside the default objects, so relations,
// duplicate names and stage pipelines are checked across files as in a real schemas
// directory. FuzzParse (load_test.go) covers a file alone; this adds three promises:
//
//   - every refusal is located: file, and a JSON pointer when there is one;
//
//   - a definition that loads survives export (Marshal, then Load again, gives the same JSON);
//
//   - a definition that loads yields a collection PocketBase accepts (app.Validate), so apply
//     brings no surprise.
//
//     go test -run '^$' -fuzz '^FuzzLoadWithDefaults$' -fuzztime 1m ./schemas/
func FuzzLoadWithDefaults(f *testing.F) {
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
	app := openApp(f, f.TempDir())
	applyObjs(f, app, defaults(f), false)
	files := map[string][]byte{}
	err := fs.WalkDir(schemas.Defaults(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		data, err := fs.ReadFile(schemas.Defaults(), path)
		files[path] = data
		return err
	})
	if err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		fsys := fstest.MapFS{"zz_fuzz.json": {Data: data}}
		for name, d := range files {
			fsys[name] = &fstest.MapFile{Data: d}
		}
		objs, err := schemas.Load(fsys)
		if err != nil {
			locatedProblems(t, err)
			return
		}
		var fuzzed *schemas.Object
		again := fstest.MapFS{}
		for _, o := range objs {
			b, err := schemas.Marshal(o)
			if err != nil {
				t.Fatalf("Marshal(%s): %v", o.Name, err)
			}
			again[o.Name+".json"] = &fstest.MapFile{Data: b}
			if _, isDefault := files[o.Name+".json"]; !isDefault {
				fuzzed = o
			}
		}
		objs2, err := schemas.Load(again)
		if err != nil {
			t.Fatalf("the exported definitions do not load: %v\n%s", err, again["zz_fuzz.json"])
		}
		for _, o := range objs2 {
			b, _ := schemas.Marshal(o)
			if !bytes.Equal(b, again[o.Name+".json"].Data) {
				t.Fatalf("%s changes on a second export:\nfirst:  %s\nsecond: %s", o.Name, again[o.Name+".json"].Data, b)
			}
		}
		if fuzzed == nil {
			return
		}
		ids := func(name string) (string, error) {
			if c, err := app.FindCachedCollectionByNameOrId(name); err == nil {
				return c.Id, nil
			}
			return core.NewBaseCollection(name).Id, nil
		}
		c, err := schemas.Collection(fuzzed, ids)
		if err != nil {
			t.Fatalf("valid object %s does not build a collection: %v", fuzzed.Name, err)
		}
		for _, fld := range fuzzed.Fields {
			if fld.Target == fuzzed.Name {
				return // a relation to itself: apply creates the collection first
			}
		}
		if err := app.Validate(c); err != nil {
			t.Fatalf("PocketBase refuses the collection of valid object %s: %v\n%s", fuzzed.Name, err, data)
		}
	})
}

// locatedProblems fails unless err is a non-empty schemas.Errors whose problems name a file
// and, when they have one, a JSON pointer.
func locatedProblems(t *testing.T, err error) {
	t.Helper()
	var errs schemas.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("error is %T, not schemas.Errors: %v", err, err)
	}
	if len(errs) == 0 {
		t.Fatal("empty schemas.Errors")
	}
	for _, e := range errs {
		if e.File == "" || e.Message == "" {
			t.Fatalf("problem without file or message: %#v", e)
		}
		if e.Pointer != "" && !strings.HasPrefix(e.Pointer, "/") {
			t.Fatalf("pointer %q is not a JSON pointer", e.Pointer)
		}
	}
}
