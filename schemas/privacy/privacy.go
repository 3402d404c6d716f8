// Package privacy answers data subjects' requests (GDPR art. 15, 17 and 20): it finds
// everything Relata holds about a person — their records in every object (fields marked
// personal, email and phone fields), records linked to them, emails, consents, form
// submissions, workflow runs and steps, suppression entries, audit entries and server logs —
// exports it as a ZIP (JSON and CSV per collection, a readable HTML summary), and erases it so
// that the data directory's bytes hold no trace of the person's email, phone or name.
//
//	d, err := privacy.Find(app, reg, privacy.Subject{Email: "ada@example.com"})
//	err = d.WriteZip(w)
//	cert, err := privacy.Erase(app, reg, privacy.Subject{Email: "ada@example.com"}, "cli")
//
// Erasure keeps aggregates: deals and activities stay (their amounts, stages and counts),
// unlinked from the person, with their personal fields replaced by [Marker]; the person's own
// records are deleted; a keyed hash of the address stays on the suppression list.
package privacy

import (
	"cmp"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/audit"
)

// Marker replaces erased values.
const Marker = "[erased]"

// System collections the person may appear in.
const (
	emailsCollection       = "emails"
	consentsCollection     = "consents"
	submissionsCollection  = "form_submissions"
	runsCollection         = "workflow_runs"
	eventsCollection       = "workflow_events" // changes whose runs the engine has yet to write
	stepsCollection        = "workflow_steps"
	suppressionsCollection = "email_suppressions"
	trashCollection        = "relata_trash"
	inboundCollection      = "inbound_emails"
	bouncesCollection      = "email_bounces"
	// RequestsCollection registers access and erasure requests with their certificates.
	RequestsCollection = "privacy_requests"
)

// notificationsCollection (workflows/notify) holds notifications whose titles and bodies copy
// records' text.
const notificationsCollection = "notifications"

// Subject names a person by email, phone or the id of their record; at least one is needed.
type Subject struct {
	Email    string `json:"email,omitempty"`
	Phone    string `json:"phone,omitempty"`
	RecordID string `json:"recordId,omitempty"`
}

func (s Subject) validate() error {
	if strings.TrimSpace(s.Email) == "" && digits(s.Phone) == "" && strings.TrimSpace(s.RecordID) == "" {
		return errors.New("privacy: name the person by email, phone or record id")
	}
	// The values are searched for in every text: "example.com" or "1234" would name everyone
	// whose address or text holds them, and erasure would scrub them all.
	if e := strings.TrimSpace(s.Email); e != "" {
		at := strings.LastIndex(e, "@")
		if at <= 0 || at == len(e)-1 || strings.ContainsAny(e, " \t\r\n<>,;:\"()[]\\") {
			return fmt.Errorf("privacy: %q is not an email address", e)
		}
	}
	if strings.TrimSpace(s.Phone) != "" && len(digits(s.Phone)) < 6 {
		return fmt.Errorf("privacy: %q is not a phone number: it has fewer than 6 digits", s.Phone)
	}
	return nil
}

// key is what the register keeps of the subject: a keyed hash, never the value.
func (s Subject) key(app core.App) (string, error) {
	v := strings.ToLower(strings.TrimSpace(s.Email))
	if v == "" {
		v = "phone:" + digits(s.Phone)
	}
	if digits(s.Phone) == "" && v == "phone:" {
		v = "record:" + s.RecordID
	}
	return schemas.AddressHash(app, v)
}

// Dossier is everything held about one person.
type Dossier struct {
	Subject Subject
	// Persons are the person's own records (a contact, and any custom object's record that
	// carries their email or phone).
	Persons []*core.Record
	// Linked are records of other objects that point at a person record (deals, activities).
	Linked []*core.Record
	// System holds the rows of system collections about the person, by collection.
	System map[string][]*core.Record
	// Audit are the audit entries of the person's and the linked records, and any entry whose
	// values name the person.
	Audit []*audit.Entry
	// personal are, for each record linked to a person through a relation ("object/id"), its
	// personal text fields: erasure replaces them on the record ([Dossier.scrubLinked]), and
	// their values in the record's audit entries with them.
	personal map[string][]string
	// needles are the values searched for in free text: emails, phones, names.
	needles []string
	// emails are the person's addresses in lower case (the one asked for and those of their
	// records), for the columns that hold one address each.
	emails []string
}

// digits keeps the digits of a phone number.
func digits(s string) string {
	return strings.Map(func(r rune) rune {
		if unicode.IsDigit(r) {
			return r
		}
		return -1
	}, s)
}

// phoneSQL strips the usual separators from a phone column in SQL.
func phoneSQL(col string) string {
	expr := "[[" + col + "]]"
	for _, c := range []string{" ", "-", "(", ")", ".", "+", "/"} {
		expr = fmt.Sprintf("replace(%s, '%s', '')", expr, c)
	}
	return expr
}

// Find gathers the dossier of s.
func Find(app core.App, reg *schemas.Registry, s Subject) (*Dossier, error) {
	if err := s.validate(); err != nil {
		return nil, err
	}
	d := &Dossier{Subject: s, System: map[string][]*core.Record{}, personal: map[string][]string{}}
	email := strings.ToLower(strings.TrimSpace(s.Email))
	phone := digits(s.Phone)
	seen := map[string]bool{}
	add := func(list *[]*core.Record, recs ...*core.Record) {
		for _, r := range recs {
			k := r.Collection().Name + "/" + r.Id
			if !seen[k] {
				seen[k] = true
				*list = append(*list, r)
			}
		}
	}
	objects := reg.Objects()
	// The person's own records.
	for _, o := range objects {
		var conds []dbx.Expression
		for _, f := range o.Fields {
			switch {
			case f.Type == schemas.TypeEmail && email != "":
				conds = append(conds, dbx.NewExp("lower([["+f.Name+"]]) = {:email}", dbx.Params{"email": email}))
			case f.Type == schemas.TypePhone && len(phone) >= 6:
				conds = append(conds, dbx.NewExp(phoneSQL(f.Name)+" = {:phone}", dbx.Params{"phone": phone}))
			}
		}
		if s.RecordID != "" {
			conds = append(conds, dbx.HashExp{"id": s.RecordID})
		}
		if len(conds) == 0 {
			continue
		}
		var recs []*core.Record
		if err := app.RecordQuery(o.Name).AndWhere(anyOf(conds)).All(&recs); err != nil {
			return nil, fmt.Errorf("privacy: search %s: %w", o.Name, err)
		}
		add(&d.Persons, recs...)
	}
	// Needles: the given values and the persons' emails, phones and names.
	needle := map[string]bool{}
	addNeedle := func(v string) {
		v = strings.TrimSpace(v)
		if len([]rune(v)) >= 4 && !needle[strings.ToLower(v)] {
			needle[strings.ToLower(v)] = true
			d.needles = append(d.needles, v)
		}
	}
	addEmail := func(v string) {
		v = strings.ToLower(strings.TrimSpace(v))
		if v != "" && !slices.Contains(d.emails, v) {
			d.emails = append(d.emails, v)
		}
	}
	addNeedle(email)
	addEmail(email)
	addNeedle(s.Phone)
	for _, p := range d.Persons {
		o, _ := reg.Object(p.Collection().Name)
		if namesPerson(o) {
			addNeedle(p.GetString(o.TitleField))
		}
		for _, f := range o.Fields {
			if f.Type == schemas.TypeEmail || f.Type == schemas.TypePhone {
				addNeedle(p.GetString(f.Name))
			}
			if f.Type == schemas.TypeEmail {
				addEmail(p.GetString(f.Name))
			}
		}
	}
	// Deleted records in the trash: the person's own (by id or values), whose names then
	// count as needles too, and any whose values name them.
	if len(d.needles) > 0 || len(d.Persons) > 0 {
		cond := d.mentions("data", "title")
		if ids := d.ids(); len(ids) > 0 {
			// Deleted records that linked to the person (an activity with her) hold her
			// record's id in their data.
			refs := []dbx.Expression{dbx.In("record", ids...)}
			for i, id := range ids {
				p := fmt.Sprintf("ref%d", i)
				refs = append(refs, dbx.NewExp("instr(CAST([[data]] AS TEXT), {:"+p+"}) > 0", dbx.Params{p: id}))
			}
			cond = dbx.Or(cond, anyOf(refs))
		}
		var candidates, trashed []*core.Record
		if err := app.RecordQuery(trashCollection).AndWhere(cond).All(&candidates); err != nil {
			return nil, fmt.Errorf("privacy: search %s: %w", trashCollection, err)
		}
		for _, r := range candidates {
			switch o, _ := reg.Object(r.GetString("object")); {
			case d.isPerson(r.GetString("record")) || d.recordMentions(r, "data", "title"):
				trashed = append(trashed, r)
			case o != nil && d.linksToPerson(o, r):
				// Deleted with her details: purged from the trash, and its audit entries
				// erased in part, as a linked record's are.
				trashed = append(trashed, r)
				d.personal[o.Name+"/"+r.GetString("record")] = personalTextFields(o)
			}
		}
		for _, r := range trashed {
			if o, ok := reg.Object(r.GetString("object")); ok && slices.ContainsFunc(o.Fields, func(f *schemas.Field) bool {
				return f.Type == schemas.TypeEmail && (email == "" || mentionsAny(fieldText(r, "data"), []string{email}))
			}) {
				addNeedle(r.GetString("title")) // the deleted person record's name
			}
		}
		d.System[trashCollection] = trashed
	}
	// Records that point at a person.
	for _, p := range d.Persons {
		for _, o := range objects {
			for _, f := range o.Fields {
				if f.Type != schemas.TypeRelation || f.Target != p.Collection().Name {
					continue
				}
				var recs []*core.Record
				q := app.RecordQuery(o.Name)
				if f.Multiple {
					q.AndWhere(dbx.NewExp("EXISTS (SELECT 1 FROM json_each(CASE WHEN json_valid([["+f.Name+"]]) THEN [["+f.Name+"]] ELSE '[]' END) WHERE value = {:id})", dbx.Params{"id": p.Id}))
				} else {
					q.AndWhere(dbx.HashExp{f.Name: p.Id})
				}
				if err := q.All(&recs); err != nil {
					return nil, fmt.Errorf("privacy: records of %s linked to %s: %w", o.Name, p.Id, err)
				}
				add(&d.Linked, recs...)
				for _, r := range recs {
					d.personal[o.Name+"/"+r.Id] = personalTextFields(o)
				}
			}
		}
	}
	// Records of any object whose text names the person (a task "Call Ada Lovelace").
	for _, o := range objects {
		var cols []string
		for _, f := range o.Fields {
			if f.Type == schemas.TypeText || f.Type == schemas.TypeLongText || f.Type == schemas.TypeRichText ||
				f.Type == schemas.TypeEmail || f.Type == schemas.TypePhone || f.Type == schemas.TypeJSON || f.Type == schemas.TypeTags {
				cols = append(cols, f.Name)
			}
		}
		if len(cols) == 0 || len(d.needles) == 0 {
			continue
		}
		var recs []*core.Record
		if err := app.RecordQuery(o.Name).AndWhere(d.mentions(cols...)).All(&recs); err != nil {
			return nil, fmt.Errorf("privacy: search %s: %w", o.Name, err)
		}
		for _, r := range recs {
			if !seen[o.Name+"/"+r.Id] && d.recordMentions(r, cols...) {
				add(&d.Linked, r)
			}
		}
	}
	// System collections: by the person's record ids, by an address column that holds one
	// address (matched exactly), and by free text (SQL finds candidates, recordMentions keeps
	// those that name the person; see match.go).
	ids := d.ids()
	queries := []struct {
		coll     string
		byRecord bool     // record_id may be one of the person's records
		address  string   // a column holding one address
		text     []string // columns of text or JSON that may name the person among other things
	}{
		{emailsCollection, true, "", []string{"to", "from", "reply_to", "subject", "html", "text"}},
		{consentsCollection, true, "", nil},
		{submissionsCollection, true, "", nil},
		{runsCollection, true, "", []string{"input", "error"}},
		{eventsCollection, true, "", []string{"input"}},
		{suppressionsCollection, false, "email", nil},
		{inboundCollection, false, "envelope_from", []string{"envelope_to", "from", "to", "cc", "subject", "text", "html"}},
		{bouncesCollection, false, "email", []string{"diagnostic"}},
		{notificationsCollection, true, "", []string{"title", "body"}},
	}
	for _, q := range queries {
		if _, err := app.FindCachedCollectionByNameOrId(q.coll); err != nil {
			continue // a feature that is not installed
		}
		var conds []dbx.Expression
		if q.byRecord && len(ids) > 0 {
			conds = append(conds, dbx.In("record_id", ids...))
		}
		if q.address != "" {
			conds = append(conds, d.hasAddress(q.address))
		}
		if len(q.text) > 0 {
			conds = append(conds, d.mentions(q.text...))
		}
		if len(conds) == 0 {
			continue // nothing to look for (dbx.Or of nothing would read every row)
		}
		var candidates []*core.Record
		if err := app.RecordQuery(q.coll).AndWhere(anyOf(conds)).All(&candidates); err != nil {
			return nil, fmt.Errorf("privacy: search %s: %w", q.coll, err)
		}
		var recs []*core.Record
		for _, r := range candidates {
			if q.byRecord && d.isPerson(r.GetString("record_id")) ||
				q.address != "" && slices.Contains(d.emails, strings.ToLower(strings.TrimSpace(r.GetString(q.address)))) ||
				d.recordMentions(r, q.text...) {
				recs = append(recs, r)
			}
		}
		d.System[q.coll] = recs
	}
	// Steps of the person's runs, and any step whose output names them.
	runIDs := make([]any, 0, len(d.System[runsCollection]))
	runs := map[string]bool{}
	for _, r := range d.System[runsCollection] {
		runIDs = append(runIDs, r.Id)
		runs[r.Id] = true
	}
	stepCond := d.mentions("output", "error")
	if len(runIDs) > 0 {
		stepCond = dbx.Or(dbx.In("run", runIDs...), stepCond)
	}
	var candidates []*core.Record
	if err := app.RecordQuery(stepsCollection).AndWhere(stepCond).All(&candidates); err != nil {
		return nil, fmt.Errorf("privacy: search %s: %w", stepsCollection, err)
	}
	var steps []*core.Record
	for _, r := range candidates {
		if runs[r.GetString("run")] || d.recordMentions(r, "output", "error") {
			steps = append(steps, r)
		}
	}
	d.System[stepsCollection] = steps
	// Audit entries.
	entries, err := d.auditEntries(app)
	if err != nil {
		return nil, err
	}
	d.Audit = entries
	return d, nil
}

// ids are the ids of the person's records, for the system collections' record_id columns.
func (d *Dossier) ids() []any {
	out := make([]any, 0, len(d.Persons))
	for _, p := range d.Persons {
		out = append(out, p.Id)
	}
	return out
}

// hasAddress is the condition "col holds one of the person's addresses" (case-insensitive).
func (d *Dossier) hasAddress(col string) dbx.Expression {
	if len(d.emails) == 0 {
		return dbx.NewExp("0")
	}
	params := dbx.Params{}
	var in []string
	for i, e := range d.emails {
		p := fmt.Sprintf("email%d", i)
		params[p] = e
		in = append(in, "{:"+p+"}")
	}
	return dbx.NewExp("lower(trim([["+col+"]])) IN ("+strings.Join(in, ", ")+")", params)
}

// mentions is the condition "one of cols contains a needle" (case-insensitive): the
// candidates, of which [Dossier.recordMentions] keeps those that name the person.
func (d *Dossier) mentions(cols ...string) dbx.Expression {
	var or []dbx.Expression
	for i, n := range d.needles {
		p := fmt.Sprintf("needle%d", i)
		for _, c := range cols {
			or = append(or, dbx.NewExp(fmt.Sprintf("instr(lower(CAST([[%s]] AS TEXT)), {:%s}) > 0", c, p), dbx.Params{p: strings.ToLower(n)}))
		}
	}
	return anyOf(or)
}

// anyOf is the disjunction of exprs ("0" when there are none), nested as a balanced tree:
// SQLite parses "a OR b OR c …" as a chain whose depth is the number of terms and refuses a
// chain over 1,000 ("Expression tree is too large"), which a person with many records, names
// or linked records reaches.
func anyOf(exprs []dbx.Expression) dbx.Expression {
	switch len(exprs) {
	case 0:
		return dbx.NewExp("0")
	case 1:
		return exprs[0]
	case 2:
		return dbx.Or(exprs[0], exprs[1])
	}
	mid := len(exprs) / 2
	return dbx.Or(anyOf(exprs[:mid]), anyOf(exprs[mid:]))
}

// inChunk bounds the values of one IN list, well under SQLite's limit of bound parameters.
const inChunk = 500

// auditEntries are the entries of the person's and linked records, and those naming them.
// The records' entries are read by object, their ids in chunks (an index lookup each), so
// that a person with thousands of linked records makes neither too deep an expression nor
// too many parameters for one statement.
func (d *Dossier) auditEntries(app core.App) ([]*audit.Entry, error) {
	own := map[string]bool{}
	byObject := map[string][]any{}
	var objects []string
	var keys []string
	for _, r := range append(slices.Clone(d.Persons), d.Linked...) {
		keys = append(keys, r.Collection().Name+"/"+r.Id)
	}
	for k := range d.personal { // linked records, deleted ones in the trash too
		keys = append(keys, k)
	}
	slices.Sort(keys[len(d.Persons)+len(d.Linked):])
	for _, k := range keys {
		if own[k] {
			continue
		}
		own[k] = true
		object, id, _ := strings.Cut(k, "/")
		if _, ok := byObject[object]; !ok {
			objects = append(objects, object)
		}
		byObject[object] = append(byObject[object], id)
	}
	conds := []dbx.Expression{d.mentions("changes")}
	for _, o := range objects {
		for chunk := range slices.Chunk(byObject[o], inChunk) {
			conds = append(conds, dbx.And(dbx.HashExp{"object": o}, dbx.In("record", chunk...)))
		}
	}
	if err := audit.Flush(app); err != nil { // entries still in the journal
		return nil, err
	}
	seen := map[string]bool{}
	var entries []*audit.Entry
	for _, cond := range conds {
		var candidates []*audit.Entry
		// Entries erased whole hold nothing more; entries erased in part (another person's
		// linked record) may hold this person's values in their other fields.
		err := app.DB().Select("id", "seq", "at", "actor_kind", "actor_id", "via", "object", "record", "action",
			"changes", "changes_hash", "erased", "prev_hash", "hash").From(audit.Collection).
			AndWhere(cond).AndWhere(dbx.NewExp("changes != {:whole}", dbx.Params{"whole": audit.WholeErasedJSON})).
			OrderBy("seq").All(&candidates)
		if err != nil {
			return nil, fmt.Errorf("privacy: search the audit trail: %w", err)
		}
		for _, en := range candidates {
			if !seen[en.ID] && (own[en.Object+"/"+en.Record] || mentionsAny(en.ChangesJSON, d.needles)) {
				seen[en.ID] = true
				entries = append(entries, en)
			}
		}
	}
	slices.SortFunc(entries, func(a, b *audit.Entry) int { return cmp.Compare(a.Seq, b.Seq) })
	return entries, nil
}

// scrub replaces every needle in s (case-insensitive) by [Marker] where it names the person
// (spansOf): "joann@example.com" keeps its "ann@example.com", "Mario Rossini" his
// "Mario Rossi".
func (d *Dossier) scrub(s string) string {
	for _, n := range d.needles {
		s = replaceSpans(s, spansOf(s, n), Marker)
	}
	return s
}

// Count is the number of records found, by collection.
func (d *Dossier) Count() map[string]int {
	out := map[string]int{}
	for _, r := range append(slices.Clone(d.Persons), d.Linked...) {
		out[r.Collection().Name]++
	}
	for c, recs := range d.System {
		if len(recs) > 0 {
			out[c] += len(recs)
		}
	}
	if len(d.Audit) > 0 {
		out[audit.Collection] = len(d.Audit)
	}
	return out
}

// erasureCount is what [Erase] would change, by collection: [Dossier.Count], except that the
// audit trail counts the entries whose values erasure erases (the certificate's AuditErased),
// not every entry an export shows — entries of linked records that hold only record ids
// keep their values.
func (d *Dossier) erasureCount() map[string]int {
	out := d.Count()
	delete(out, audit.Collection)
	whole, fields := d.erasableAudit()
	if n := len(whole) + len(fields); n > 0 {
		out[audit.Collection] = n
	}
	return out
}

// erasableAudit are the audit entries erasure erases: whole, every entry of the person's own
// records and any other entry whose values name the person (an erasure's own entry lists
// entry ids only and is left alone); in part (entry id → fields), the entries of records
// linked to the person that hold values of the personal fields erasure replaces on them — an
// activity's subject and details go, its type and dates stay, as on the record.
func (d *Dossier) erasableAudit() (whole []string, fields map[string][]string) {
	persons := map[string]bool{}
	for _, p := range d.Persons {
		persons[p.Id] = true
	}
	fields = map[string][]string{}
	for _, en := range d.Audit {
		if en.Action != audit.ActionErase && mentionsAny(en.ChangesJSON, d.needles) || persons[en.Record] {
			whole = append(whole, en.ID)
			continue
		}
		names := d.personal[en.Object+"/"+en.Record]
		if len(names) == 0 || en.Action == audit.ActionErase {
			continue
		}
		var changes map[string]audit.Change
		_ = json.Unmarshal([]byte(en.ChangesJSON), &changes)
		var held []string
		for _, n := range names {
			if c, ok := changes[n]; ok && !c.Redacted && (c.Old != nil && c.Old != Marker || c.New != nil && c.New != Marker) {
				held = append(held, n)
			}
		}
		if len(held) > 0 {
			fields[en.ID] = held
		}
	}
	return whole, fields
}

// linksToPerson reports whether the deleted record kept in trash entry r links to one of the
// person's records through a relation field of its object o.
func (d *Dossier) linksToPerson(o *schemas.Object, r *core.Record) bool {
	var data map[string]any
	if json.Unmarshal([]byte(r.GetString("data")), &data) != nil {
		return false
	}
	for _, f := range o.Fields {
		if f.Type != schemas.TypeRelation {
			continue
		}
		switch v := data[f.Name].(type) {
		case string:
			if d.isPerson(v) {
				return true
			}
		case []any:
			for _, x := range v {
				if id, ok := x.(string); ok && d.isPerson(id) {
					return true
				}
			}
		}
	}
	return false
}

// namesPerson reports whether the title of o's records is a person's name, to look for in
// free text: the title of an object with an email or phone field (contacts' full name), or a
// personal title of an object that is no activity. A record named by its id need not be a
// person (retention deletes old deals and activities through erasure): a deal's name or an
// activity's subject ("Quarterly review") in every other record, email, log and audit entry
// is not about anyone, and erasing it there destroyed other people's data.
func namesPerson(o *schemas.Object) bool {
	for _, f := range o.Fields {
		if f.Type == schemas.TypeEmail || f.Type == schemas.TypePhone {
			return true
		}
	}
	t := o.Field(o.TitleField)
	return !o.Activity && t != nil && t.IsPersonal()
}

// personalTextFields are the fields of o that erasure replaces on a record linked to the
// person ([Dossier.scrubLinked]): its personal fields of text.
func personalTextFields(o *schemas.Object) []string {
	var out []string
	for _, f := range o.Fields {
		if f.IsPersonal() && textual(f.Type) {
			out = append(out, f.Name)
		}
	}
	return out
}
