package schemas

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"
)

// Names of the collections where Relata records what it applied. They are created by the
// migrations package.
const (
	StateCollection   = "relata_objects"
	HistoryCollection = "relata_schema_changes"
)

// ApplyOptions tunes [Apply].
type ApplyOptions struct {
	// Force applies destructive and conflicting changes too. Default: false (they are refused).
	Force bool
	// MigrationsDir, when set, receives a Go migration file that replays the applied change,
	// so that a database can be rebuilt from history. Default: "" (no file; the change is
	// still recorded in the relata_schema_changes collection).
	MigrationsDir string
	// Source describes where the definitions came from, for the history ("embedded defaults",
	// a directory). Default: "".
	Source string
}

// Applied describes a finished [Apply].
type Applied struct {
	Changes []*Change
	// MigrationFile is the path of the written migration file, if any.
	MigrationFile string
}

// Apply makes the database match the plan's definitions, in one transaction: either every
// change is applied or none is. It refuses a plan with blocking changes unless opts.Force is
// set, returning a [*RefusedError]. Applying a plan without pending changes only records
// the definitions as applied.
func Apply(app core.App, p *Plan, opts ApplyOptions) (*Applied, error) {
	if blocking := p.Blocking(); len(blocking) > 0 && !opts.Force {
		return nil, &RefusedError{Changes: blocking}
	}
	var snapshots []json.RawMessage
	var dropped []string
	err := app.RunInTransaction(func(tx core.App) error {
		// New collections first, without relations to collections that do not exist yet.
		for _, c := range p.saves {
			if !p.creates[c.Name] {
				continue
			}
			first := core.NewBaseCollection(c.Name, c.Id)
			for _, f := range c.Fields {
				if r, ok := f.(*core.RelationField); ok {
					if _, err := tx.FindCollectionByNameOrId(r.CollectionId); err != nil {
						continue
					}
				}
				first.Fields.Add(f)
			}
			if err := tx.Save(first); err != nil {
				return fmt.Errorf("create collection %s: %w", c.Name, err)
			}
		}
		for _, c := range p.saves {
			if p.creates[c.Name] {
				saved, err := tx.FindCollectionByNameOrId(c.Name)
				if err != nil {
					return err
				}
				saved.Fields = c.Fields
				saved.Indexes = c.Indexes
				saved.ListRule, saved.ViewRule, saved.CreateRule = c.ListRule, c.ViewRule, c.CreateRule
				saved.UpdateRule, saved.DeleteRule = c.UpdateRule, c.DeleteRule
				c = saved
			}
			if err := tx.Save(c); err != nil {
				return fmt.Errorf("save collection %s: %w", c.Name, err)
			}
		}
		for _, c := range p.drops {
			if err := tx.Delete(c); err != nil {
				return fmt.Errorf("drop collection %s: %w", c.Name, err)
			}
			if err := deleteState(tx, c.Name); err != nil {
				return err
			}
			dropped = append(dropped, c.Id)
		}
		for _, def := range p.defs {
			current, err := tx.FindCollectionByNameOrId(def.Name)
			if err != nil {
				return fmt.Errorf("read back collection %s: %w", def.Name, err)
			}
			if err := recordState(tx, def, current); err != nil {
				return err
			}
			if p.changed(def.Name) {
				raw, err := json.Marshal(current)
				if err != nil {
					return err
				}
				snapshots = append(snapshots, raw)
			}
		}
		if !p.Pending() {
			return nil
		}
		return recordHistory(tx, p, opts, snapshots, dropped)
	})
	if err != nil {
		return nil, err
	}
	out := &Applied{Changes: p.Changes}
	if opts.MigrationsDir != "" && p.Pending() {
		path, err := writeMigration(opts.MigrationsDir, snapshots, dropped)
		if err != nil {
			return out, fmt.Errorf("schema applied, but the migration file was not written: %w", err)
		}
		out.MigrationFile = path
	}
	return out, nil
}

// recordState stores def as the object's last applied definition, together with the
// collection it yields, with the ids the database gave its fields. That snapshot is the
// common ancestor [NewPlan] compares files and dashboard edits against.
func recordState(tx core.App, def *Object, current *core.Collection) error {
	base, err := Collection(def, collectionIDs(tx))
	if err != nil {
		return err
	}
	base.Id = current.Id
	for _, f := range base.Fields {
		if cur := current.Fields.GetByName(f.GetName()); cur != nil {
			f.SetId(cur.GetId())
		}
	}
	coll, err := tx.FindCollectionByNameOrId(StateCollection)
	if err != nil {
		return fmt.Errorf("the %s collection is missing (did the migrations run?): %w", StateCollection, err)
	}
	rec, err := tx.FindFirstRecordByData(coll, "name", def.Name)
	if err != nil {
		rec = core.NewRecord(coll)
		rec.Set("name", def.Name)
	}
	rec.Set("definition", def)
	rec.Set("snapshot", base)
	if err := tx.Save(rec); err != nil {
		return fmt.Errorf("record applied state of %s: %w", def.Name, err)
	}
	return nil
}

func deleteState(tx core.App, name string) error {
	rec, err := tx.FindFirstRecordByData(StateCollection, "name", name)
	if err != nil {
		return nil
	}
	return tx.Delete(rec)
}

func recordHistory(tx core.App, p *Plan, opts ApplyOptions, snapshots []json.RawMessage, dropped []string) error {
	coll, err := tx.FindCollectionByNameOrId(HistoryCollection)
	if err != nil {
		return fmt.Errorf("the %s collection is missing (did the migrations run?): %w", HistoryCollection, err)
	}
	var summary []string
	for _, c := range p.Changes {
		if c.Kind != DashboardEdit {
			summary = append(summary, c.String())
		}
	}
	rec := core.NewRecord(coll)
	rec.Set("summary", strings.Join(summary, "\n"))
	rec.Set("changes", p.Changes)
	rec.Set("snapshots", snapshots)
	rec.Set("dropped", dropped)
	rec.Set("forced", opts.Force)
	rec.Set("source", opts.Source)
	if err := tx.Save(rec); err != nil {
		return fmt.Errorf("record schema change: %w", err)
	}
	return nil
}

// appliedSnapshots returns, by object name, the collection each object's last applied
// definition produced.
func appliedSnapshots(app core.App) (map[string]*core.Collection, error) {
	recs, err := app.FindAllRecords(StateCollection)
	if err != nil {
		return nil, fmt.Errorf("read %s (did the migrations run?): %w", StateCollection, err)
	}
	out := make(map[string]*core.Collection, len(recs))
	for _, r := range recs {
		var c core.Collection
		if err := json.Unmarshal([]byte(r.GetString("snapshot")), &c); err != nil {
			return nil, fmt.Errorf("%s record %s: bad snapshot: %w", StateCollection, r.GetString("name"), err)
		}
		out[r.GetString("name")] = &c
	}
	return out, nil
}

// appliedDefinitions returns the object definitions last applied, by name.
func appliedDefinitions(app core.App) (map[string]*Object, error) {
	recs, err := app.FindAllRecords(StateCollection)
	if err != nil {
		return nil, err
	}
	out := make(map[string]*Object, len(recs))
	for _, r := range recs {
		var o Object
		if err := json.Unmarshal([]byte(r.GetString("definition")), &o); err != nil {
			return nil, fmt.Errorf("%s record %s: bad definition: %w", StateCollection, r.GetString("name"), err)
		}
		out[o.Name] = &o
	}
	return out, nil
}

// writeMigration writes a Go migration that replays an applied change: a JSON file with the
// collection snapshots (frozen data, as PocketBase's own generated migrations hold) and a Go
// file that embeds and imports it and deletes dropped collections. Both compile into the
// migrations package of the binary. It returns the Go file's path.
func writeMigration(dir string, snapshots []json.RawMessage, dropped []string) (string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	all, err := json.MarshalIndent(snapshots, "", "  ")
	if err != nil {
		return "", err
	}
	slices.Sort(dropped)
	var drops strings.Builder
	for _, id := range dropped {
		fmt.Fprintf(&drops, "\t\tif c, err := app.FindCollectionByNameOrId(%q); err == nil {\n\t\t\tif err := app.Delete(c); err != nil {\n\t\t\t\treturn err\n\t\t\t}\n\t\t}\n", id)
	}
	ts := time.Now().Unix()
	base := fmt.Sprintf("%d_relata_schema_apply", ts)
	for i := 2; fileExists(filepath.Join(dir, base+".go")); i++ {
		base = fmt.Sprintf("%d_relata_schema_apply_%d", ts, i)
	}
	varName := "snapshot" + strings.ReplaceAll(strings.TrimSuffix(base, "_relata_schema_apply"), "_relata_schema_apply_", "_")
	src := fmt.Sprintf(`package migrations

// Code generated by "relata schema apply"; DO NOT EDIT.

import (
	_ "embed"

	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

//go:embed %s.json
var %s []byte

func init() {
	m.Register(func(app core.App) error {
		if err := app.ImportCollectionsByMarshaledJSON(%s, false); err != nil {
			return err
		}
%s		return nil
	}, nil)
}
`, base, varName, varName, drops.String())
	if err := os.WriteFile(filepath.Join(dir, base+".json"), append(all, '\n'), 0o644); err != nil {
		return "", err
	}
	path := filepath.Join(dir, base+".go")
	if err := os.WriteFile(path, []byte(src), 0o644); err != nil {
		return "", err
	}
	return path, nil
}

func fileExists(path string) bool {
	_, err := os.Stat(path)
	return err == nil
}
