package schemas

import (
	"bytes"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"maps"
	"os"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
	"github.com/spf13/cobra"
)

// SeededCollection is the ledger of what Relata seeded into a database (created by the
// migrations): one record per seeded record ("<object>/<id>"), user ("users/<email>"),
// workflow ("workflows/<name>") and once-only default ("settings/<name>"). Seeding consults
// it, so whatever was seeded once is never recreated or overwritten, even after users
// changed or deleted it.
const SeededCollection = "relata_seeded"

// StageHistoryKey is the seed-record key that lists the stage history of a record:
// [{"to": "lead", "at": "today-60d"}, {"to": "qualified", "at": "today-40d"}], oldest
// first, the last entry being the record's current stage. "field" names the stage field
// when an object has more than one.
const StageHistoryKey = "stageHistory"

// stageChangesCollection holds the stage history that Relata's record hooks write.
const stageChangesCollection = "stage_changes"

// SeedOptions changes what [SeedWith] does.
type SeedOptions struct {
	// Demo creates the users of users.json with the passwords written there: published
	// demo credentials, marked in the ledger so that "serve" refuses a public address while
	// they still open an account (see [DemoAccounts]). Without Demo (the default),
	// seeded users get a random password that nobody knows: set one in the dashboard or
	// with a password reset.
	Demo bool
}

// SeedResult counts what [Seed] did, per object.
type SeedResult struct {
	// Created counts records created now.
	Created map[string]int
	// Skipped counts records that were already there (seeded before, or made by users).
	Skipped map[string]int
	// Deleted counts records seeded before and deleted since: left deleted.
	Deleted map[string]int
}

var seedID = regexp.MustCompile(`^[a-z0-9]{15}$`)

// Seed is [SeedWith] without demo passwords.
func Seed(app core.App, objs []*Object, fsys fs.FS) (*SeedResult, error) {
	return SeedWith(app, objs, fsys, SeedOptions{})
}

// SeedWith loads example records from fsys: users.json (CRM users with email, password, name,
// role, team) and one <object>.json per object, each a JSON array of records with a fixed
// 15-character "id". Every record is seeded once: the ledger ([SeededCollection]) remembers
// it, so seeding again never recreates what was deleted nor overwrites what was edited.
// Date values may be relative ("today+7d", "now-3h"), and so may "created", "updated",
// "last_touched" and the entries of [StageHistoryKey], so example data can look lived-in.
// Every value is checked against the object model first; on any problem nothing is written
// and [Errors] names each one.
func SeedWith(app core.App, objs []*Object, fsys fs.FS, opts SeedOptions) (*SeedResult, error) {
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
				ptr += "/" + key
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
				switch key {
				case FieldID:
					continue
				case FieldLastTouched, FieldCreated, FieldUpdated:
					if s, ok := v.(string); !ok {
						add(i, key, fmt.Sprintf("%s must be a date (\"now-3d\", \"2026-01-31\"), not %v", key, v))
					} else if _, err := ResolveDate(s, time.Now()); err != nil {
						add(i, key, err.Error())
					}
					continue
				case StageHistoryKey:
					for _, e := range checkStageHistory(o, rec, v) {
						add(i, key+e.sub, e.msg)
					}
					continue
				}
				f := o.Field(key)
				if f == nil && strings.HasSuffix(key, CurrencySuffix) {
					if cf := o.Field(strings.TrimSuffix(key, CurrencySuffix)); cf != nil && cf.Type == TypeCurrency {
						if s, _ := v.(string); !currencyRe.MatchString(s) {
							add(i, escapePointer(key), fmt.Sprintf("%v is not a 3-letter ISO currency code", v))
						}
						continue
					}
				}
				if f == nil {
					add(i, escapePointer(key), fmt.Sprintf("%s has no field %q", o.Name, key))
					continue
				}
				if err := fieldTypes[f.Type].CheckValue(o, f, v); err != nil {
					add(i, escapePointer(key), err.Error())
				}
			}
		}
		batches = append(batches, batch{object: object, file: name, recs: recs})
	}
	rates, rateErrs := seedRates(fsys)
	errs = append(errs, rateErrs...)
	if err := errs.errOrNil(); err != nil {
		return nil, err
	}
	order := seedOrder(objs)
	slices.SortStableFunc(batches, func(a, b batch) int { return order[a.object] - order[b.object] })

	res := &SeedResult{Created: map[string]int{}, Skipped: map[string]int{}, Deleted: map[string]int{}}
	now := time.Now().UTC()
	err = app.RunInTransaction(func(tx core.App) error {
		ledger, err := tx.FindCollectionByNameOrId(SeededCollection)
		if err != nil {
			return fmt.Errorf("the seed ledger %s does not exist (run the migrations first): %w", SeededCollection, err)
		}
		seen, err := seededKeys(tx)
		if err != nil {
			return err
		}
		// Seeding an activity sets last_touched of the records it links to; the dates the
		// files give are put back once everything is in.
		var dated []datedRecord
		for _, b := range batches {
			coll, err := tx.FindCollectionByNameOrId(b.object)
			if err != nil {
				return fmt.Errorf("%s: collection %s does not exist (apply the schema first): %w", b.file, b.object, err)
			}
			for i, raw := range b.recs {
				key := seedKey(b.object, raw)
				exists, err := seedExists(tx, coll, raw)
				if err != nil {
					return &Error{File: b.file, Pointer: "/" + strconv.Itoa(i), Message: err.Error()}
				}
				switch {
				case seen[key] && exists:
					res.Skipped[b.object]++
					continue
				case seen[key]:
					res.Deleted[b.object]++
					continue
				case exists:
					// There before the ledger was (seeded by an older Relata), or made by a
					// user: never overwritten. An account that opens with the file's
					// published password is marked as a demo account all the same.
					res.Skipped[b.object]++
					if err := markSeeded(tx, ledger, key, publishedHash(tx, coll, raw)); err != nil {
						return err
					}
					continue
				}
				d, demoHash, err := seedRecord(tx, coll, byName[b.object], raw, now, opts)
				if err != nil {
					return &Error{File: b.file, Pointer: "/" + strconv.Itoa(i), Message: err.Error()}
				}
				if err := markSeeded(tx, ledger, key, demoHash); err != nil {
					return err
				}
				if d != nil {
					dated = append(dated, *d)
				}
				res.Created[b.object]++
			}
		}
		for _, d := range dated {
			if _, err := tx.DB().Update(d.table, d.values, dbx.HashExp{FieldID: d.id}).Execute(); err != nil {
				return fmt.Errorf("seed %s %s: %w", d.table, d.id, err)
			}
		}
		if len(rates) > 0 {
			added, replaced, err := ImportRates(tx, rates)
			if err != nil {
				return &Error{File: RatesSeedFile, Message: err.Error()}
			}
			res.Created[ExchangeRatesCollection] += added
			res.Skipped[ExchangeRatesCollection] += replaced
		}
		return nil
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// datedRecord holds the dates a seed file gives a record that later seeding may move.
type datedRecord struct {
	table, id string
	values    dbx.Params
}

// seedKey names a seed record in the ledger.
func seedKey(object string, raw map[string]any) string {
	if object == UsersCollection {
		email, _ := raw["email"].(string)
		return UsersCollection + "/" + strings.ToLower(email)
	}
	id, _ := raw[FieldID].(string)
	return object + "/" + id
}

// seedExists reports whether the record of raw is in coll (users by email, others by id).
func seedExists(tx core.App, coll *core.Collection, raw map[string]any) (bool, error) {
	var err error
	if coll.IsAuth() {
		email, _ := raw["email"].(string)
		_, err = tx.FindAuthRecordByEmail(coll, email)
	} else {
		id, _ := raw[FieldID].(string)
		_, err = tx.FindRecordById(coll, id)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return false, nil
	}
	return err == nil, err
}

// seededKeys returns the keys of the ledger.
func seededKeys(app core.App) (map[string]bool, error) {
	var keys []string
	if err := app.DB().Select("key").From(SeededCollection).Column(&keys); err != nil {
		return nil, fmt.Errorf("read the seed ledger: %w", err)
	}
	out := make(map[string]bool, len(keys))
	for _, k := range keys {
		out[k] = true
	}
	return out, nil
}

func markSeeded(tx core.App, ledger *core.Collection, key, demoHash string) error {
	rec := core.NewRecord(ledger)
	rec.Set("key", key)
	rec.Set("demo_hash", demoHash)
	if err := tx.Save(rec); err != nil {
		return fmt.Errorf("record %s in the seed ledger: %w", key, err)
	}
	return nil
}

// publishedHash returns the password hash of the existing user of raw when the password
// written in the seed file opens the account, else "".
func publishedHash(tx core.App, coll *core.Collection, raw map[string]any) string {
	if !coll.IsAuth() {
		return ""
	}
	email, _ := raw["email"].(string)
	password, _ := raw["password"].(string)
	u, err := tx.FindAuthRecordByEmail(coll, email)
	if err != nil || password == "" || !u.ValidatePassword(password) {
		return ""
	}
	return u.GetString(core.FieldNamePassword + ":hash")
}

// WasSeeded reports whether key ("workflows/<name>", "settings/<name>", …) is in the ledger.
func WasSeeded(app core.App, key string) (bool, error) {
	n, err := app.CountRecords(SeededCollection, dbx.HashExp{"key": key})
	if err != nil {
		return false, fmt.Errorf("read the seed ledger: %w", err)
	}
	return n > 0, nil
}

// MarkSeeded records key in the ledger, so [WasSeeded] reports it from now on.
func MarkSeeded(app core.App, key string) error {
	ledger, err := app.FindCollectionByNameOrId(SeededCollection)
	if err != nil {
		return fmt.Errorf("the seed ledger %s does not exist (run the migrations first): %w", SeededCollection, err)
	}
	return markSeeded(app, ledger, key, "")
}

// DemoAccounts returns the emails of the users seeded in demo mode whose published demo
// password still opens their account: their password hash is still the one seeding gave
// them (the ledger keeps the hash, never the password).
func DemoAccounts(app core.App) ([]string, error) {
	if _, err := app.FindCollectionByNameOrId(SeededCollection); err != nil {
		return nil, nil // no ledger yet: nothing was seeded
	}
	recs, err := app.FindAllRecords(SeededCollection, dbx.NewExp("demo_hash != ''"))
	if err != nil {
		return nil, err
	}
	var emails []string
	for _, r := range recs {
		email, ok := strings.CutPrefix(r.GetString("key"), UsersCollection+"/")
		if !ok {
			continue
		}
		u, err := app.FindAuthRecordByEmail(UsersCollection, email)
		if err != nil {
			continue // deleted since
		}
		if u.GetString(core.FieldNamePassword+":hash") == r.GetString("demo_hash") {
			emails = append(emails, email)
		}
	}
	slices.Sort(emails)
	return emails, nil
}

// seedRecord creates the record of raw. It returns the dates to put back once every file is
// seeded, if the file gives any, and for a user created with a demo password its hash.
func seedRecord(tx core.App, coll *core.Collection, o *Object, raw map[string]any, now time.Time, opts SeedOptions) (*datedRecord, string, error) {
	if coll.IsAuth() {
		rec := core.NewRecord(coll)
		for k, v := range raw {
			if k != "password" {
				rec.Set(k, v)
			}
		}
		if opts.Demo {
			rec.SetPassword(raw["password"].(string))
		} else {
			rec.SetRandomPassword()
		}
		rec.SetVerified(true)
		if err := tx.Save(rec); err != nil {
			return nil, "", err
		}
		if !opts.Demo {
			return nil, "", nil
		}
		return nil, rec.GetString(core.FieldNamePassword + ":hash"), nil
	}
	rec := core.NewRecord(coll)
	dates := dbx.Params{}
	var history []stageEntry
	for k, v := range raw {
		switch k {
		case StageHistoryKey:
			h, err := parseStageHistory(o, v, now)
			if err != nil {
				return nil, "", fmt.Errorf("%s: %w", k, err)
			}
			history = h
			continue
		case FieldCreated, FieldUpdated:
			s, _ := v.(string)
			d, err := ResolveDate(s, now)
			if err != nil {
				return nil, "", fmt.Errorf("%s: %w", k, err)
			}
			rec.SetRaw(k, d) // an autodate field keeps a value set with SetRaw
			dates[k] = d.String()
			continue
		}
		if f := o.Field(k); (f != nil && (f.Type == TypeDate || f.Type == TypeDateTime)) || k == FieldLastTouched {
			s, _ := v.(string)
			d, err := ResolveDate(s, now)
			if err != nil {
				return nil, "", fmt.Errorf("%s: %w", k, err)
			}
			v = d
			if k == FieldLastTouched {
				dates[k] = d.String()
			}
		}
		rec.Set(k, v)
	}
	if err := tx.Save(rec); err != nil {
		return nil, "", err
	}
	if len(history) > 0 {
		if err := writeStageHistory(tx, o, rec.Id, history); err != nil {
			return nil, "", fmt.Errorf("%s: %w", StageHistoryKey, err)
		}
	}
	if len(dates) == 0 {
		return nil, "", nil
	}
	return &datedRecord{table: coll.Name, id: rec.Id, values: dates}, "", nil
}

// stageEntry is one entry of a seeded stage history.
type stageEntry struct {
	field, to string
	at        types.DateTime
}

// locatedMsg is a problem found inside a value, at the JSON pointer suffix sub.
type locatedMsg struct{ sub, msg string }

// stageFieldOf returns the stage field a history entry is about: the one it names, or the
// object's only stage field; else why there is none.
func stageFieldOf(o *Object, name string) (*Field, string) {
	if name != "" {
		f := o.Field(name)
		if f == nil || f.Type != TypeStage {
			return nil, fmt.Sprintf("%s has no stage field %q", o.Name, name)
		}
		return f, ""
	}
	var found []*Field
	for _, f := range o.Fields {
		if f.Type == TypeStage {
			found = append(found, f)
		}
	}
	switch len(found) {
	case 0:
		return nil, fmt.Sprintf("%s has no stage field, so no stage history", o.Name)
	case 1:
		return found[0], ""
	}
	return nil, fmt.Sprintf("%s has %d stage fields: name one with \"field\"", o.Name, len(found))
}

// checkStageHistory checks the StageHistoryKey value v of the seed record rec: a list of
// {"to", "at"[, "field"]}, oldest first, whose last stage per field is the record's.
func checkStageHistory(o *Object, rec map[string]any, v any) []locatedMsg {
	list, ok := v.([]any)
	if !ok || len(list) == 0 {
		return []locatedMsg{{"", `must be a non-empty list of {"to": STAGE, "at": DATE}, oldest first`}}
	}
	var (
		out  []locatedMsg
		last = map[string]string{}
		prev = map[string]time.Time{}
		now  = time.Now()
	)
	for j, e := range list {
		at := "/" + strconv.Itoa(j)
		m, ok := e.(map[string]any)
		if !ok {
			out = append(out, locatedMsg{at, `must be an object {"to": STAGE, "at": DATE}`})
			continue
		}
		for k := range m {
			if k != "to" && k != "at" && k != "field" {
				out = append(out, locatedMsg{at + "/" + escapePointer(k), fmt.Sprintf("unknown key %q (known: to, at, field)", k)})
			}
		}
		name, _ := m["field"].(string)
		f, msg := stageFieldOf(o, name)
		if f == nil {
			out = append(out, locatedMsg{at + "/field", msg})
			continue
		}
		to, _ := m["to"].(string)
		if to == "" {
			out = append(out, locatedMsg{at + "/to", `"to" is required: the stage the record entered`})
		} else if err := fieldTypes[TypeStage].CheckValue(o, f, to); err != nil {
			out = append(out, locatedMsg{at + "/to", err.Error()})
		}
		s, _ := m["at"].(string)
		d, err := ResolveDate(s, now)
		switch {
		case s == "":
			out = append(out, locatedMsg{at + "/at", `"at" is required: when the record entered the stage`})
		case err != nil:
			out = append(out, locatedMsg{at + "/at", err.Error()})
		case d.Time().Before(prev[f.Name]):
			out = append(out, locatedMsg{at + "/at", fmt.Sprintf("%s is before the entry above it: list the history oldest first", s)})
		default:
			prev[f.Name] = d.Time()
		}
		last[f.Name] = to
	}
	for field, to := range last {
		if cur, _ := rec[field].(string); cur != to {
			out = append(out, locatedMsg{"", fmt.Sprintf("the history ends in %s %q but the record's %s is %q", field, to, field, cur)})
		}
	}
	return out
}

// parseStageHistory reads a checked StageHistoryKey value.
func parseStageHistory(o *Object, v any, now time.Time) ([]stageEntry, error) {
	list, _ := v.([]any)
	out := make([]stageEntry, 0, len(list))
	for _, e := range list {
		m, _ := e.(map[string]any)
		name, _ := m["field"].(string)
		f, msg := stageFieldOf(o, name)
		if f == nil {
			return nil, errors.New(msg)
		}
		s, _ := m["at"].(string)
		at, err := ResolveDate(s, now)
		if err != nil {
			return nil, err
		}
		to, _ := m["to"].(string)
		out = append(out, stageEntry{field: f.Name, to: to, at: at})
	}
	return out, nil
}

// writeStageHistory replaces the stage history the record hooks wrote for a new record
// (its stage, entered now) with the seeded one.
func writeStageHistory(tx core.App, o *Object, id string, history []stageEntry) error {
	coll, err := tx.FindCachedCollectionByNameOrId(stageChangesCollection)
	if err != nil {
		return fmt.Errorf("no %s collection to hold it (run the migrations first): %w", stageChangesCollection, err)
	}
	if _, err := tx.DB().Delete(coll.Name, dbx.HashExp{"object": o.Name, "record": id}).Execute(); err != nil {
		return err
	}
	from := map[string]string{}
	for _, h := range history {
		rec := core.NewRecord(coll)
		rec.Set("object", o.Name)
		rec.Set("record", id)
		rec.Set("field", h.field)
		rec.Set("from", from[h.field])
		rec.Set("to", h.to)
		rec.Set("at", h.at)
		if err := tx.Save(rec); err != nil {
			return err
		}
		from[h.field] = h.to
	}
	return nil
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
	var demo bool
	c := &cobra.Command{
		Use:   "seed DIR",
		Short: "Load example records (users and objects) from a directory, once",
		Long: "Load example records (users and objects) from DIR (DIR/seed when it exists). Each record is\n" +
			"seeded once: records seeded before are never recreated or overwritten, even when deleted or\n" +
			"edited since. Users get a random password unless --demo gives them the published demo\n" +
			"passwords of users.json (then \"serve\" refuses a non-loopback address).",
		Example:      "  relata seed examples/sales\n  relata seed --demo examples/sales",
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
			return r.SeedFromWith(cmd.OutOrStdout(), args[0], SeedOptions{Demo: demo})
		},
	}
	c.Flags().BoolVar(&demo, "demo", false, "create the users with the demo passwords written in users.json")
	return c
}

// SeedFrom seeds the records in dir (see [SeedDir]) through the live model, without demo
// passwords, and reports the counts to w.
func (r *Registry) SeedFrom(w io.Writer, dir string) error {
	return r.SeedFromWith(w, dir, SeedOptions{})
}

// SeedFromWith is [Registry.SeedFrom] with options.
func (r *Registry) SeedFromWith(w io.Writer, dir string, opts SeedOptions) error {
	if err := checkDir(dir); err != nil {
		return fmt.Errorf("seed: %w", err)
	}
	src := SeedDir(dir)
	if !holdsDefinitions(src) {
		return fmt.Errorf("seed: %s holds no *.json seed files (users.json, <object>.json)", src)
	}
	res, err := SeedWith(r.app, r.Objects(), os.DirFS(src), opts)
	if err != nil {
		return fmt.Errorf("seed %s:\n%w", src, err)
	}
	names := map[string]bool{}
	for _, m := range []map[string]int{res.Created, res.Skipped, res.Deleted} {
		for n := range m {
			names[n] = true
		}
	}
	for _, n := range slices.Sorted(maps.Keys(names)) {
		line := fmt.Sprintf("%s: %d created, %d already there", n, res.Created[n], res.Skipped[n])
		if d := res.Deleted[n]; d > 0 {
			line += fmt.Sprintf(", %d deleted since (left deleted)", d)
		}
		fmt.Fprintln(w, line)
	}
	if res.Created[UsersCollection] > 0 && !opts.Demo {
		fmt.Fprintf(w, "users: created with random passwords; set them in the dashboard (/_/) or by password reset\n")
	}
	return nil
}
