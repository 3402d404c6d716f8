package workflows

import (
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"sort"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas"
)

// jsonBytes returns a stored JSON field value as bytes.
func jsonBytes(v any) ([]byte, error) {
	switch x := v.(type) {
	case types.JSONRaw:
		return x, nil
	case []byte:
		return x, nil
	case string:
		return []byte(x), nil
	case nil:
		return nil, fmt.Errorf("the definition is empty")
	}
	return json.Marshal(v)
}

// withRecordColumns puts the record's name, description and enabled columns into the
// stored definition JSON, so the file format and the collection agree.
func withRecordColumns(data []byte, rec *core.Record) ([]byte, error) {
	var m map[string]any
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("the definition is not a JSON object: %w", err)
	}
	if m == nil {
		return nil, fmt.Errorf("the definition is not a JSON object")
	}
	m["name"] = rec.GetString("name")
	m["enabled"] = rec.GetBool("enabled")
	if d := rec.GetString("description"); d != "" {
		m["description"] = d
	}
	return json.Marshal(m)
}

// LoadDir reads and checks every *.json workflow definition in fsys against the live model.
// Every problem in every file is returned, as [schemas.Errors].
func (e *Engine) LoadDir(fsys fs.FS) ([]*Definition, error) {
	names, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return nil, err
	}
	sort.Strings(names)
	var (
		defs []*Definition
		errs schemas.Errors
		seen = map[string]string{}
	)
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		d, err := Parse(name, data)
		if err == nil {
			if prev, dup := seen[d.Name]; dup {
				err = schemas.Errors{{File: name, Pointer: "/name", Message: fmt.Sprintf("workflow %q is also defined in %s", d.Name, prev)}}.Err()
			} else {
				seen[d.Name] = name
				_, err = e.Compile(name, d)
			}
		}
		if err != nil {
			var fe schemas.Errors
			if es, ok := err.(schemas.Errors); ok {
				fe = es
			} else {
				fe = schemas.Errors{{File: name, Message: err.Error()}}
			}
			schemas.Locate(fe, name, data)
			errs = append(errs, fe...)
			continue
		}
		defs = append(defs, d)
	}
	if len(names) == 0 {
		errs = append(errs, &schemas.Error{File: ".", Message: "no *.json workflow definitions found"})
	}
	if err := errs.Err(); err != nil {
		return nil, err
	}
	return defs, nil
}

// Save creates or updates the workflows record of a definition (matched by name), checking
// it as every save does.
func (e *Engine) Save(app core.App, d *Definition) (*core.Record, error) {
	coll, err := app.FindCollectionByNameOrId(Collection)
	if err != nil {
		return nil, err
	}
	rec, err := app.FindFirstRecordByData(coll, "name", d.Name)
	if err != nil {
		rec = core.NewRecord(coll)
	}
	body := *d
	body.Name, body.Description, body.Enabled = "", "", false
	data, err := json.Marshal(body)
	if err != nil {
		return nil, err
	}
	rec.Set("name", d.Name)
	rec.Set("description", d.Description)
	rec.Set("enabled", d.Enabled)
	rec.Set("definition", types.JSONRaw(data))
	if err := app.Save(rec); err != nil {
		return nil, err
	}
	return rec, nil
}

// ImportDir saves every definition of dir (all or none: a bad file stops the import) and
// returns how many it saved.
func (e *Engine) ImportDir(dir string) (int, error) {
	if err := checkDir(dir); err != nil {
		return 0, err
	}
	defs, err := e.LoadDir(os.DirFS(dir))
	if err != nil {
		return 0, err
	}
	err = e.app.RunInTransaction(func(tx core.App) error {
		for _, d := range defs {
			if _, err := e.Save(tx, d); err != nil {
				return fmt.Errorf("%s: %w", d.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		return 0, err
	}
	return len(defs), e.Load()
}

// ExportDir writes every stored workflow to dir as <name>.json and returns the paths.
func (e *Engine) ExportDir(dir string) ([]string, error) {
	recs, err := e.app.FindRecordsByFilter(Collection, "id != ''", "name", 0, 0)
	if err != nil {
		return nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, rec := range recs {
		d, err := e.definitionOf(rec)
		if err != nil {
			return paths, err
		}
		data, err := Marshal(d)
		if err != nil {
			return paths, err
		}
		path := filepath.Join(dir, d.Name+".json")
		if err := os.WriteFile(path, data, 0o644); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}

// checkDir returns an error naming path unless it is a directory.
func checkDir(path string) error {
	st, err := os.Stat(path)
	switch {
	case err != nil:
		return fmt.Errorf("%s: no such directory", path)
	case !st.IsDir():
		return fmt.Errorf("%s: not a directory", path)
	}
	return nil
}
