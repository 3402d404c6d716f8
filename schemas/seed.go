package schemas

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
	"github.com/spf13/cobra"
)

// SeedResult counts what [Seed] did.
type SeedResult struct {
	Created map[string]int
	Skipped map[string]int
}

var seedID = regexp.MustCompile(`^[a-z0-9]{15}$`)

// Seed loads example records from fsys: users.json (CRM users with email, password, name,
// role, team) and one <object>.json per object, each a JSON array of records with a fixed
// 15-character "id". Records whose id already exists are skipped, so seeding twice changes
// nothing. Date values may be relative ("today+7d", "now-3h"). Every value is checked against
// the object model first; on any problem nothing is written and [Errors] names each one.
func Seed(app core.App, objs []*Object, fsys fs.FS) (*SeedResult, error) {
	byName := map[string]*Object{}
	for _, o := range objs {
		byName[o.Name] = o
	}
	names, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return nil, err
	}
	type batch struct {
		object string
		file   string
		recs   []map[string]any
	}
	var (
		batches []batch
		errs    Errors
	)
	for _, name := range names {
		object := strings.TrimSuffix(name, ".json")
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		li := indexLines(data)
		var recs []map[string]any
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.UseNumber()
		if err := dec.Decode(&recs); err != nil {
			errs = append(errs, syntaxError(name, data, err))
			continue
		}
		add := func(i int, key, msg string) {
			ptr := "/" + strconv.Itoa(i)
			if key != "" {
				ptr += "/" + escapePointer(key)
			}
			errs = append(errs, &Error{File: name, Line: li.line(ptr), Pointer: ptr, Message: msg})
		}
		o := byName[object]
		if o == nil && object != UsersCollection {
			errs = append(errs, &Error{File: name, Message: fmt.Sprintf("no object named %q (known: %s)", object, strings.Join(objectNames(objs), ", "))})
			continue
		}
		for i, rec := range recs {
			normalizeNumbers(rec)
			if object == UsersCollection {
				for _, k := range []string{"email", "password", "role"} {
					if s, _ := rec[k].(string); s == "" {
						add(i, k, k+" is required for a user")
					}
				}
				if r, _ := rec["role"].(string); r != "" && !slices.Contains(Roles, r) {
					add(i, "role", fmt.Sprintf("role %q is not one of %s", r, strings.Join(Roles, ", ")))
				}
				continue
			}
			id, _ := rec["id"].(string)
			if !seedID.MatchString(id) {
				add(i, "id", "every seed record needs an \"id\" of 15 lowercase letters and digits, so seeding is repeatable")
			}
			for key, v := range rec {
				if key == FieldID || key == FieldLastTouched {
					continue
				}
				f := o.Field(key)
				if f == nil && strings.HasSuffix(key, CurrencySuffix) {
					if cf := o.Field(strings.TrimSuffix(key, CurrencySuffix)); cf != nil && cf.Type == TypeCurrency {
						if s, _ := v.(string); !currencyRe.MatchString(s) {
							add(i, key, fmt.Sprintf("%v is not a 3-letter ISO currency code", v))
						}
						continue
					}
				}
				if f == nil {
					add(i, key, fmt.Sprintf("%s has no field %q", o.Name, key))
					continue
				}
				if err := fieldTypes[f.Type].CheckValue(o, f, v); err != nil {
					add(i, key, err.Error())
				}
			}
		}
		batches = append(batches, batch{object: object, file: name, recs: recs})
	}
	if err := errs.errOrNil(); err != nil {
		return nil, err
	}
	order := seedOrder(objs)
	slices.SortStableFunc(batches, func(a, b batch) int { return order[a.object] - order[b.object] })

	res := &SeedResult{Created: map[string]int{}, Skipped: map[string]int{}}
	now := time.Now().UTC()
	err = app.RunInTransaction(func(tx core.App) error {
		for _, b := range batches {
			coll, err := tx.FindCollectionByNameOrId(b.object)
			if err != nil {
				return fmt.Errorf("%s: collection %s does not exist (apply the schema first): %w", b.file, b.object, err)
			}
			for i, raw := range b.recs {
				rec, created, err := seedRecord(tx, coll, byName[b.object], raw, now)
				if err != nil {
					return &Error{File: b.file, Pointer: "/" + strconv.Itoa(i), Message: err.Error()}
				}
				_ = rec
				if created {
					res.Created[b.object]++
				} else {
					res.Skipped[b.object]++
				}
			}
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

func seedRecord(tx core.App, coll *core.Collection, o *Object, raw map[string]any, now time.Time) (*core.Record, bool, error) {
	if coll.IsAuth() {
		email, _ := raw["email"].(string)
		if existing, err := tx.FindAuthRecordByEmail(coll, email); err == nil {
			return existing, false, nil
		}
		rec := core.NewRecord(coll)
		for k, v := range raw {
			if k != "password" {
				rec.Set(k, v)
			}
		}
		rec.SetPassword(raw["password"].(string))
		rec.SetVerified(true)
		return rec, true, tx.Save(rec)
	}
	id := raw["id"].(string)
	if existing, err := tx.FindRecordById(coll, id); err == nil {
		return existing, false, nil
	}
	rec := core.NewRecord(coll)
	for k, v := range raw {
		if f := o.Field(k); (f != nil && (f.Type == TypeDate || f.Type == TypeDateTime)) || k == FieldLastTouched {
			s, _ := v.(string)
			d, err := ResolveDate(s, now)
			if err != nil {
				return nil, false, fmt.Errorf("%s: %w", k, err)
			}
			v = d
		}
		rec.Set(k, v)
	}
	if err := tx.Save(rec); err != nil {
		return nil, false, err
	}
	return rec, true, nil
}

// ResolveDate turns a date value as written in definitions and seed files into a date:
// "now", "today" and offsets such as "today+7d", "now-3h", "now+30m", "today+2w", or an
// absolute date. The empty string yields the zero date.
func ResolveDate(s string, now time.Time) (types.DateTime, error) {
	if s == "" {
		return types.DateTime{}, nil
	}
	m := relativeDate.FindStringSubmatch(s)
	if m == nil {
		return parseDate(s)
	}
	t := now.UTC()
	if m[1] == "today" {
		t = time.Date(t.Year(), t.Month(), t.Day(), 0, 0, 0, 0, time.UTC)
	}
	if m[2] != "" {
		n, _ := strconv.Atoi(m[2][1 : len(m[2])-1])
		if m[2][0] == '-' {
			n = -n
		}
		switch m[2][len(m[2])-1] {
		case 'm':
			t = t.Add(time.Duration(n) * time.Minute)
		case 'h':
			t = t.Add(time.Duration(n) * time.Hour)
		case 'd':
			t = t.AddDate(0, 0, n)
		case 'w':
			t = t.AddDate(0, 0, 7*n)
		}
	}
	return types.ParseDateTime(t)
}

// seedOrder ranks objects so that relation targets are seeded before the records that link
// to them; users come first.
func seedOrder(objs []*Object) map[string]int {
	rank := map[string]int{UsersCollection: 0}
	var visit func(o *Object, depth int) int
	byName := map[string]*Object{}
	for _, o := range objs {
		byName[o.Name] = o
	}
	visiting := map[string]bool{}
	visit = func(o *Object, depth int) int {
		if r, ok := rank[o.Name]; ok {
			return r
		}
		if visiting[o.Name] || depth > len(objs) {
			return 1
		}
		visiting[o.Name] = true
		r := 1
		for _, f := range o.Fields {
			if f.Type == TypeRelation && f.Target != o.Name {
				if t := byName[f.Target]; t != nil {
					r = max(r, visit(t, depth+1)+1)
				}
			}
		}
		rank[o.Name] = r
		return r
	}
	for _, o := range objs {
		visit(o, 0)
	}
	return rank
}

// normalizeNumbers turns json.Number values into float64, as the field checks expect.
func normalizeNumbers(m map[string]any) {
	for k, v := range m {
		switch x := v.(type) {
		case json.Number:
			f, _ := x.Float64()
			m[k] = f
		case []any:
			for i, e := range x {
				if n, ok := e.(json.Number); ok {
					x[i], _ = n.Float64()
				}
			}
		}
	}
}

func objectNames(objs []*Object) []string {
	out := make([]string, len(objs))
	for i, o := range objs {
		out[i] = o.Name
	}
	return out
}

// SeedDir returns the directory seed files are read from: dir/seed when it exists (an
// example directory such as examples/sales), else dir itself.
func SeedDir(dir string) string {
	if st, err := os.Stat(path.Join(dir, "seed")); err == nil && st.IsDir() {
		return path.Join(dir, "seed")
	}
	return dir
}

func (r *Registry) newSeedCommand() *cobra.Command {
	return &cobra.Command{
		Use:          "seed DIR",
		Short:        "Load example records (users and objects) from a directory",
		Example:      "  relata seed examples/sales",
		Args:         cobra.ExactArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := checkDir(args[0]); err != nil {
				return fmt.Errorf("seed: %w", err)
			}
			if err := r.ready(); err != nil {
				return err
			}
			if err := r.Sync(); err != nil {
				return err
			}
			return r.SeedFrom(cmd.OutOrStdout(), args[0])
		},
	}
}

// SeedFrom seeds the records in dir (see [SeedDir]) through the live model and reports
// the counts to w.
func (r *Registry) SeedFrom(w interface{ Write([]byte) (int, error) }, dir string) error {
	if err := checkDir(dir); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	src := SeedDir(dir)
	if !holdsDefinitions(src) {
		return fmt.Errorf("seed: %s holds no *.json seed files (users.json, <object>.json)", src)
	}
	res, err := Seed(r.app, r.Objects(), os.DirFS(src))
	if err != nil {
		return fmt.Errorf("seed %s:\n%w", src, err)
	}
	names := make([]string, 0, len(res.Created)+len(res.Skipped))
	for n := range res.Created {
		names = append(names, n)
	}
	for n := range res.Skipped {
		if _, ok := res.Created[n]; !ok {
			names = append(names, n)
		}
	}
	slices.Sort(names)
	for _, n := range names {
		fmt.Fprintf(w, "%s: %d created, %d already there\n", n, res.Created[n], res.Skipped[n])
	}
	return nil
}
