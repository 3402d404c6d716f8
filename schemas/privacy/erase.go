package privacy

import (
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/security"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/audit"
)

// Certificate says what an erasure found and did. It holds no personal data.
type Certificate struct {
	Request     string         `json:"request"`
	SubjectHash string         `json:"subjectHash"`
	At          string         `json:"at"`
	Deleted     map[string]int `json:"deleted"`
	Scrubbed    map[string]int `json:"scrubbed"`
	AuditErased int            `json:"auditErased"`
	LogsDeleted int64          `json:"logsDeleted"`
	Suppressed  bool           `json:"suppressed"`
	// Note states what erasure cannot reach.
	Note string `json:"note"`
}

const certificateNote = "Backups made before this erasure still hold the person's data until they expire; " +
	"copies outside Relata (exports, mailboxes, replicas) are not reached."

// idAlphabet is PocketBase's record id alphabet.
const idAlphabet = "abcdefghijklmnopqrstuvwxyz0123456789"

func dbTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000Z") }

// Erase removes the person s from every place [Find] looks, in one transaction, then rewrites
// the database files so that no freed page, WAL frame or log row keeps their email, phone or
// name. by says who asked (a user id, or "cli"). An erasure that finds nobody still suppresses
// the given address.
func Erase(app core.App, reg *schemas.Registry, s Subject, by string) (*Certificate, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	now := time.Now()
	var e *erasure
	err := app.RunInTransaction(func(tx core.App) error {
		var err error
		e, err = eraseTx(tx, reg, s, now, false)
		if err != nil {
			return err
		}
		return register(tx, "erasure", e.cert.SubjectHash, by, now, e.cert)
	})
	if err != nil {
		return nil, err
	}
	if err := e.finish(app); err != nil {
		return nil, err
	}
	return e.cert, nil
}

// erasure is an erasure done in a transaction, with what is left for after the commit: the
// person's files, the server logs, and the compaction of the database files.
type erasure struct {
	cert    *Certificate
	needles []string
	ids     []any
	files   []string
}

// finish deletes the files and logs and compacts the databases; call it after the commit.
func (e *erasure) finish(app core.App) error {
	if err := e.cleanup(app); err != nil {
		return err
	}
	return Compact(app)
}

// cleanup deletes the person's files and the server logs naming them.
func (e *erasure) cleanup(app core.App) error {
	if len(e.files) > 0 {
		fsys, err := app.NewFilesystem()
		if err != nil {
			return err
		}
		defer fsys.Close()
		for _, prefix := range e.files {
			if errs := fsys.DeletePrefix(prefix); len(errs) > 0 {
				return fmt.Errorf("privacy: delete the files under %s: %w", prefix, errors.Join(errs...))
			}
		}
	}
	n, err := purgeLogs(app, e.needles, e.ids)
	if err != nil {
		return err
	}
	e.cert.LogsDeleted += n
	return nil
}

// eraseTx erases s in tx (see [Erase]) and returns what remains to do after the commit. With
// anonymise, the person's own records stay, every personal and free-text value in them
// replaced, instead of being deleted.
func eraseTx(tx core.App, reg *schemas.Registry, s Subject, now time.Time, anonymise bool) (*erasure, error) {
	cert := &Certificate{At: dbTime(now), Deleted: map[string]int{}, Scrubbed: map[string]int{}, Note: certificateNote}
	key, err := s.key(tx)
	if err != nil {
		return nil, err
	}
	cert.SubjectHash = key
	actor := audit.Actor{Kind: audit.KindSystem, Via: "privacy erasure"}
	// Deleted and overwritten content is zeroed in the file, not left in free pages.
	if _, err := tx.DB().NewQuery("PRAGMA secure_delete = ON").Execute(); err != nil {
		return nil, fmt.Errorf("privacy: secure_delete: %w", err)
	}
	d, err := Find(tx, reg, s)
	if err != nil {
		return nil, err
	}
	e := &erasure{cert: cert, needles: d.needles, ids: d.ids()}
	persons := map[string]bool{}
	for _, p := range d.Persons {
		persons[p.Id] = true
	}
	for _, r := range d.Linked {
		if err := d.scrubLinked(tx, reg, r, persons, actor, now); err != nil {
			return nil, err
		}
		cert.Scrubbed[r.Collection().Name]++
	}
	for _, p := range d.Persons {
		if anonymise {
			if err := d.anonymise(tx, reg, p, actor, now); err != nil {
				return nil, err
			}
			cert.Scrubbed[p.Collection().Name]++
			continue
		}
		if _, err := tx.DB().Delete(p.Collection().Name, dbx.HashExp{"id": p.Id}).Execute(); err != nil {
			return nil, fmt.Errorf("privacy: delete %s %s: %w", p.Collection().Name, p.Id, err)
		}
		if _, err := audit.Append(tx, now, actor, p.Collection().Name, p.Id, audit.ActionDelete,
			map[string]audit.Change{"*": {Redacted: true}}); err != nil {
			return nil, err
		}
		e.files = append(e.files, p.Collection().Id+"/"+p.Id+"/") // the person's files, if any
		cert.Deleted[p.Collection().Name]++
	}
	if err := d.scrubSystem(tx, cert); err != nil {
		return nil, err
	}
	if err := suppress(tx, s, now); err != nil {
		return nil, err
	}
	cert.Suppressed = strings.TrimSpace(s.Email) != ""
	// Every audit entry that held the person's values when the erasure began: the set the
	// preview counts (erasureCount). The entries written above hold none of her values (only
	// record ids and redaction marks), and stay readable as the record of what it did.
	eids, fields := d.erasableAudit()
	if _, err := audit.EraseFields(tx, now, actor, "privacy", key[:15], eids, fields); err != nil {
		return nil, err
	}
	cert.AuditErased = len(eids) + len(fields)
	return e, nil
}

// textual reports whether a field type holds free text that may name the person.
func textual(t string) bool {
	switch t {
	case schemas.TypeText, schemas.TypeLongText, schemas.TypeRichText, schemas.TypeEmail, schemas.TypePhone,
		schemas.TypeURL, schemas.TypeJSON, schemas.TypeTags:
		return true
	}
	return false
}

// scrubLinked unlinks r from the person records, replaces its personal fields by the marker
// and the person's values in its other text fields, and records the change in the audit
// trail without the values.
func (d *Dossier) scrubLinked(tx core.App, reg *schemas.Registry, r *core.Record, persons map[string]bool, actor audit.Actor, now time.Time) error {
	o, ok := reg.Object(r.Collection().Name)
	if !ok {
		return nil
	}
	set := dbx.Params{}
	changes := map[string]audit.Change{}
	linked := false
	for _, f := range o.Fields {
		if f.Type == schemas.TypeRelation {
			vals := r.GetStringSlice(f.Name)
			var keep []string
			for _, v := range vals {
				if !persons[v] {
					keep = append(keep, v)
				}
			}
			if len(keep) != len(vals) {
				linked = true
				if f.Multiple {
					b, _ := json.Marshal(append([]string{}, keep...))
					set[f.Name] = string(b)
				} else {
					set[f.Name] = ""
				}
				changes[f.Name] = audit.Change{Old: vals, New: keep}
			}
		}
	}
	for _, f := range o.Fields {
		if !textual(f.Type) {
			continue
		}
		v := r.GetString(f.Name)
		if f.Type == schemas.TypeJSON || f.Type == schemas.TypeTags {
			b, _ := json.Marshal(r.Get(f.Name))
			v = string(b)
		}
		switch {
		case v == "":
		case linked && f.IsPersonal():
			// A linked record's personal fields are about the person: they go entirely.
			set[f.Name] = personalValue(f)
			changes[f.Name] = audit.Change{Redacted: true}
		case mentionsAny(v, d.needles) && f.Type != schemas.TypeJSON && f.Type != schemas.TypeTags:
			set[f.Name] = d.scrub(v)
			changes[f.Name] = audit.Change{Redacted: true}
		case mentionsAny(v, d.needles):
			set[f.Name] = "[]"
			changes[f.Name] = audit.Change{Redacted: true}
		}
	}
	if len(set) == 0 {
		return nil
	}
	if _, err := tx.DB().Update(o.Name, set, dbx.HashExp{"id": r.Id}).Execute(); err != nil {
		return fmt.Errorf("privacy: scrub %s %s: %w", o.Name, r.Id, err)
	}
	_, err := audit.Append(tx, now, actor, o.Name, r.Id, audit.ActionUpdate, changes)
	return err
}

// anonymise replaces every personal value of the person's own record p, and the person's
// values in its other text fields.
func (d *Dossier) anonymise(tx core.App, reg *schemas.Registry, p *core.Record, actor audit.Actor, now time.Time) error {
	o, ok := reg.Object(p.Collection().Name)
	if !ok {
		return nil
	}
	set := dbx.Params{}
	changes := map[string]audit.Change{}
	for _, f := range o.Fields {
		v := p.GetString(f.Name)
		switch {
		case v == "" || !textual(f.Type):
		case f.IsPersonal():
			set[f.Name] = personalValue(f)
		case f.Type == schemas.TypeJSON || f.Type == schemas.TypeTags:
			if mentionsAny(v, d.needles) {
				set[f.Name] = "[]"
			}
		case mentionsAny(v, d.needles):
			set[f.Name] = d.scrub(v)
		}
		if _, ok := set[f.Name]; ok {
			changes[f.Name] = audit.Change{Redacted: true}
		}
	}
	if len(set) == 0 {
		return nil
	}
	// Anonymised now: retention counts the record's age from here.
	set[schemas.FieldLastTouched], set[schemas.FieldUpdated] = dbTime(now), dbTime(now)
	if _, err := tx.DB().Update(o.Name, set, dbx.HashExp{"id": p.Id}).Execute(); err != nil {
		return fmt.Errorf("privacy: anonymise %s %s: %w", o.Name, p.Id, err)
	}
	_, err := audit.Append(tx, now, actor, o.Name, p.Id, audit.ActionUpdate, changes)
	return err
}

// personalValue is what an erased personal field holds: the marker for text, empty otherwise.
func personalValue(f *schemas.Field) string {
	switch f.Type {
	case schemas.TypeText, schemas.TypeLongText, schemas.TypeRichText:
		return Marker
	}
	return ""
}

// scrubSystem clears the person from the system collections.
func (d *Dossier) scrubSystem(tx core.App, cert *Certificate) error {
	update := func(coll, id string, set dbx.Params) error {
		if _, err := tx.DB().Update(coll, set, dbx.HashExp{"id": id}).Execute(); err != nil {
			return fmt.Errorf("privacy: scrub %s %s: %w", coll, id, err)
		}
		cert.Scrubbed[coll]++
		return nil
	}
	for _, r := range d.System[emailsCollection] {
		set := dbx.Params{"subject": d.scrub(r.GetString("subject")), "from": d.scrub(r.GetString("from")),
			"reply_to": d.scrub(r.GetString("reply_to")), "html": d.scrub(r.GetString("html")), "text": d.scrub(r.GetString("text"))}
		to, _ := json.Marshal(r.Get("to"))
		if mentionsAny(string(to), d.needles) || d.isPerson(r.GetString("record_id")) {
			// Mail to the person: the recipients and the whole message go.
			set["to"], set["html"], set["text"], set["subject"] = `["`+Marker+`"]`, "", "", Marker
		}
		if err := update(emailsCollection, r.Id, set); err != nil {
			return err
		}
	}
	for _, r := range d.System[consentsCollection] {
		if _, err := tx.DB().Delete(consentsCollection, dbx.HashExp{"id": r.Id}).Execute(); err != nil {
			return fmt.Errorf("privacy: delete consent %s: %w", r.Id, err)
		}
		cert.Deleted[consentsCollection]++
	}
	for _, r := range d.System[submissionsCollection] {
		if err := update(submissionsCollection, r.Id, dbx.Params{"client_ip": "", "user_agent": "", "origin": "", "consent": ""}); err != nil {
			return err
		}
	}
	erased := `{"erased":true}`
	for _, r := range d.System[runsCollection] {
		if err := update(runsCollection, r.Id, dbx.Params{"input": erased, "error": d.scrub(r.GetString("error"))}); err != nil {
			return err
		}
	}
	for _, r := range d.System[eventsCollection] { // their runs are written with the erased input
		if err := update(eventsCollection, r.Id, dbx.Params{"input": erased}); err != nil {
			return err
		}
	}
	for _, r := range d.System[stepsCollection] {
		if err := update(stepsCollection, r.Id, dbx.Params{"output": erased, "error": d.scrub(r.GetString("error"))}); err != nil {
			return err
		}
	}
	// Mail received from or about the person, and their bounces: copies, deleted whole (the
	// hashed suppression entry keeps them unmailed).
	// Notifications about the person or quoting her: copies too.
	for _, coll := range []string{inboundCollection, bouncesCollection, notificationsCollection} {
		for _, r := range d.System[coll] {
			if _, err := tx.DB().Delete(coll, dbx.HashExp{"id": r.Id}).Execute(); err != nil {
				return fmt.Errorf("privacy: delete %s %s: %w", coll, r.Id, err)
			}
			cert.Deleted[coll]++
		}
	}
	for _, r := range d.System[trashCollection] {
		if _, err := tx.DB().Delete(trashCollection, dbx.HashExp{"id": r.Id}).Execute(); err != nil {
			return fmt.Errorf("privacy: delete trash entry %s: %w", r.Id, err)
		}
		cert.Deleted[trashCollection]++
	}
	for _, r := range d.System[suppressionsCollection] {
		if _, err := tx.DB().Delete(suppressionsCollection, dbx.HashExp{"id": r.Id}).Execute(); err != nil {
			return fmt.Errorf("privacy: delete suppression %s: %w", r.Id, err)
		}
		// Counted, as the preview counts it; the hashed entry that replaces it is Suppressed.
		cert.Deleted[suppressionsCollection]++
	}
	return nil
}

func (d *Dossier) isPerson(id string) bool {
	for _, p := range d.Persons {
		if p.Id == id {
			return true
		}
	}
	return false
}

// suppress keeps the keyed hash of the erased address on the suppression list.
func suppress(tx core.App, s Subject, now time.Time) error {
	addr := strings.ToLower(strings.TrimSpace(s.Email))
	if addr == "" {
		return nil
	}
	hash, err := schemas.AddressHash(tx, addr)
	if err != nil {
		return err
	}
	var n int
	if err := tx.DB().Select("count(*)").From(suppressionsCollection).AndWhere(dbx.HashExp{"email_hash": hash}).Row(&n); err != nil {
		return err
	}
	if n > 0 {
		return nil
	}
	_, err = tx.DB().Insert(suppressionsCollection, dbx.Params{
		"id": security.RandomStringWithAlphabet(15, idAlphabet), "email": "", "email_hash": hash, "reason": "manual",
		"source": "privacy erasure", "created": dbTime(now), "updated": dbTime(now),
	}).Execute()
	return err
}

// register records a request and its certificate in [RequestsCollection].
func register(tx core.App, kind, key, by string, now time.Time, cert any) error {
	b, err := json.Marshal(cert)
	if err != nil {
		return err
	}
	id := security.RandomStringWithAlphabet(15, idAlphabet)
	if c, ok := cert.(*Certificate); ok {
		c.Request = id
		b, _ = json.Marshal(c)
	}
	_, err = tx.DB().Insert(RequestsCollection, dbx.Params{
		"id": id, "kind": kind, "status": "done", "subject_hash": key, "requested_by": by,
		"requested_at": dbTime(now), "due_at": dbTime(now.AddDate(0, 0, 30)), "completed_at": dbTime(now),
		"certificate": string(b), "created": dbTime(now), "updated": dbTime(now),
	}).Execute()
	if err != nil {
		return fmt.Errorf("privacy: register the %s request: %w", kind, err)
	}
	return nil
}

// purgeLogs deletes the server's request logs that name the person or their records. SQL
// finds the candidates by substring; only those that name the person as [mentionsAny] says
// are deleted (a log of joann@example.com is not Ann's). The candidates are streamed and only
// their ids kept, so a large log costs memory for the deleted rows' ids only.
func purgeLogs(app core.App, needles []string, ids []any) (int64, error) {
	var or []dbx.Expression
	add := func(i int, v string) {
		p := fmt.Sprintf("v%d", i)
		or = append(or, dbx.NewExp(fmt.Sprintf("instr(lower(data), {:%s}) > 0 OR instr(lower(message), {:%s}) > 0", p, p), dbx.Params{p: strings.ToLower(v)}))
	}
	all := slices.Clone(needles)
	for i, n := range needles {
		add(i, n)
	}
	for i, id := range ids {
		add(len(needles)+i, id.(string))
		all = append(all, id.(string))
	}
	if len(or) == 0 {
		return 0, nil
	}
	var deleted int64
	err := app.AuxRunInTransaction(func(tx core.App) error {
		if _, err := tx.AuxNonconcurrentDB().NewQuery("PRAGMA secure_delete = ON").Execute(); err != nil {
			return err
		}
		rows, err := tx.AuxNonconcurrentDB().Select("id", "data", "message").From("_logs").Where(anyOf(or)).Rows()
		if err != nil {
			return fmt.Errorf("privacy: search the logs: %w", err)
		}
		var hits []any
		for rows.Next() {
			var id, data, message string
			if err := rows.Scan(&id, &data, &message); err != nil {
				rows.Close()
				return fmt.Errorf("privacy: search the logs: %w", err)
			}
			if mentionsAny(data, all) || mentionsAny(message, all) {
				hits = append(hits, id)
			}
		}
		if err := rows.Close(); err != nil {
			return fmt.Errorf("privacy: search the logs: %w", err)
		}
		for chunk := range slices.Chunk(hits, 500) {
			res, err := tx.AuxNonconcurrentDB().Delete("_logs", dbx.In("id", chunk...)).Execute()
			if err != nil {
				return fmt.Errorf("privacy: purge the logs: %w", err)
			}
			n, _ := res.RowsAffected()
			deleted += n
		}
		return nil
	})
	return deleted, err
}

// Compact rewrites both database files (VACUUM) and empties their write-ahead logs, so that
// no earlier version of a page is left in the data directory.
func Compact(app core.App) error {
	for _, db := range []dbx.Builder{app.NonconcurrentDB(), app.AuxNonconcurrentDB()} {
		for _, q := range []string{"PRAGMA wal_checkpoint(TRUNCATE)", "VACUUM", "PRAGMA wal_checkpoint(TRUNCATE)"} {
			if _, err := db.NewQuery(q).Execute(); err != nil {
				return fmt.Errorf("privacy: %s: %w", q, err)
			}
		}
	}
	return nil
}
