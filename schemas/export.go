package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"

	"github.com/pocketbase/pocketbase/core"
)

// Marshal renders an object definition as it is written to a file: indented JSON with a
// trailing newline.
func Marshal(o *Object) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetIndent("", "  ")
	enc.SetEscapeHTML(false)
	if err := enc.Encode(o); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// Export writes each object to dir as <name>.json, replacing a file of that name (see
// [WriteFiles]), and records the written definitions as applied, so that dashboard edits now
// written to the files are no longer reported as differences. Call it only for the directory
// the server reads its definitions from: a recorded state that the served files do not have
// makes the next start see the exported fields as removed from the files. It returns the
// paths written.
func Export(app core.App, dir string, objs []*Object) ([]string, error) {
	paths, err := WriteFiles(dir, objs)
	if err != nil {
		return paths, err
	}
	err = app.RunInTransaction(func(tx core.App) error {
		for _, o := range objs {
			current, err := tx.FindCollectionByNameOrId(o.Name)
			if err != nil {
				return err
			}
			if err := recordState(tx, o, current); err != nil {
				return err
			}
		}
		return nil
	})
	return paths, err
}

// WriteFiles writes each object to dir as <name>.json, replacing a file of that name, after
// checking that each file and the model as a whole read back. It returns the paths written.
func WriteFiles(dir string, objs []*Object) ([]string, error) {
	if err := Validate(objs); err != nil {
		return nil, fmt.Errorf("the model does not validate: %w", err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	var paths []string
	for _, o := range objs {
		data, err := Marshal(o)
		if err != nil {
			return paths, fmt.Errorf("marshal %s: %w", o.Name, err)
		}
		// Check that what we write reads back: never leave a file Relata itself refuses.
		if _, _, errs := Parse(fileName(o.Name), data); len(errs) > 0 {
			return paths, fmt.Errorf("export of %s would not validate: %w", o.Name, errs)
		}
		path := filepath.Join(dir, fileName(o.Name))
		tmp := path + ".tmp"
		if err := os.WriteFile(tmp, data, 0o644); err != nil {
			return paths, err
		}
		if err := os.Rename(tmp, path); err != nil {
			return paths, err
		}
		paths = append(paths, path)
	}
	return paths, nil
}
