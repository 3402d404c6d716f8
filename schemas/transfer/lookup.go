package transfer

import (
	"fmt"
	"net/url"
	"regexp"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// lookup resolves the natural keys of one object's records (or of users) to ids: users by
// email or name; companies by name or domain; contacts by email; any object by its title
// field or id. Only records the importing user may list are found.
type lookup struct {
	obj       *schemas.Object // nil for users
	coll      *core.Collection
	ids       map[string]string
	ambiguous map[string]bool
	// byEmail says whether a user's email names them (users only; nil: every email does).
	byEmail func(id string, public bool) bool
}

func normKey(s string) string { return strings.ToLower(strings.Join(strings.Fields(s), " ")) }

// normDomain reduces "https://www.Acme.example/about" to "acme.example".
func normDomain(s string) string {
	s = strings.ToLower(strings.TrimSpace(s))
	if strings.Contains(s, "://") {
		if u, err := url.Parse(s); err == nil {
			s = u.Host
		}
	}
	s = strings.TrimPrefix(s, "www.")
	return strings.TrimSuffix(strings.SplitN(s, "/", 2)[0], ".")
}

func (l *lookup) add(key, id string) {
	if key == "" {
		return
	}
	if prev, ok := l.ids[key]; ok && prev != id {
		l.ambiguous[key] = true
		return
	}
	l.ids[key] = id
}

// keyFields are the fields of o whose values name a record.
func keyFields(o *schemas.Object) []string {
	var names []string
	if o.TitleField != "" {
		names = append(names, o.TitleField)
	}
	for _, f := range o.Fields {
		if f.Type == schemas.TypeEmail || f.Name == "domain" {
			names = append(names, f.Name)
		}
	}
	return names
}

func (l *lookup) addRecord(r *core.Record) {
	l.add(strings.ToLower(r.Id), r.Id)
	if l.obj == nil {
		l.add(normKey(r.GetString("email")), r.Id)
		l.add(normKey(r.GetString("name")), r.Id)
		return
	}
	for _, name := range keyFields(l.obj) {
		v := r.GetString(name)
		if name == "domain" {
			v = normDomain(v)
		}
		l.add(normKey(v), r.Id)
	}
}

// removeRecord takes back the keys addRecord gave r (a record created by a row that then
// failed: its savepoint rolled the record back, and later rows must not name its id).
func (l *lookup) removeRecord(r *core.Record) {
	keys := []string{strings.ToLower(r.Id)}
	if l.obj == nil {
		keys = append(keys, normKey(r.GetString("email")), normKey(r.GetString("name")))
	} else {
		for _, name := range keyFields(l.obj) {
			v := r.GetString(name)
			if name == "domain" {
				v = normDomain(v)
			}
			keys = append(keys, normKey(v))
		}
	}
	for _, k := range keys {
		if l.ids[k] == r.Id {
			delete(l.ids, k)
		}
	}
}

// newLookup loads the keys of every record of target (an object name, or users) that info
// may list.
func newLookup(app core.App, reg registry, targetName string, info *core.RequestInfo) (*lookup, error) {
	coll, err := app.FindCachedCollectionByNameOrId(targetName)
	if err != nil {
		return nil, fmt.Errorf("relation target %s: %w", targetName, err)
	}
	l := &lookup{coll: coll, ids: map[string]string{}, ambiguous: map[string]bool{}}
	// Only the ids and the naming fields are read, not whole records: a lookup of 100,000
	// companies holds three short strings each, not 100,000 records.
	var q *dbx.SelectQuery
	cols := []string{"id", "email", "name"}
	if targetName == schemas.UsersCollection {
		// Owners are named by email or name; who may own what is the create and update
		// rules' business, checked on every row. Whether an email names its user depends on
		// the importer (byEmail): a sales user reads colleagues' emails nowhere else, and a
		// row naming one must fail as a made-up address does, or the import tells her whose
		// address it is.
		q = app.RecordQuery(coll)
		cols = append(cols, core.FieldNameEmailVisibility)
		l.byEmail = emailReader(info)
	} else {
		o, ok := reg.Object(targetName)
		if !ok {
			return nil, fmt.Errorf("relation target %s is not an object", targetName)
		}
		l.obj = o
		cols = append([]string{"id"}, keyFields(o)...)
		if q, err = listQuery(app, coll, info, "", ""); err != nil {
			return nil, fmt.Errorf("relation target %s: %w", targetName, err)
		}
	}
	sel := make([]string, len(cols))
	for i, c := range cols {
		sel[i] = coll.Name + "." + c + " AS " + c
	}
	var rows []dbx.NullStringMap
	if err := q.Select(sel...).All(&rows); err != nil {
		return nil, fmt.Errorf("relation target %s: %w", targetName, err)
	}
	for _, row := range rows {
		l.addKeys(row)
	}
	return l, nil
}

// emailReader returns whether the importer may name user id by email, given whether the
// user's email is public; nil when she may name every user so (superusers, the command line
// without --as, admins and managers, who hand records to people and create their accounts).
// A sales user may name herself and users whose email is public, as the REST API shows them.
func emailReader(info *core.RequestInfo) func(id string, public bool) bool {
	if isSuperuser(info) {
		return nil
	}
	if role := info.Auth.GetString("role"); role == schemas.RoleAdmin || role == schemas.RoleManager {
		return nil
	}
	me := info.Auth.Id
	return func(id string, public bool) bool { return public || id == me }
}

// addKeys adds the keys of one row (its id and naming fields) to l.
func (l *lookup) addKeys(row dbx.NullStringMap) {
	get := func(name string) string { return row[name].String }
	id := get("id")
	l.add(strings.ToLower(id), id)
	if l.obj == nil {
		if l.byEmail == nil || l.byEmail(id, row[core.FieldNameEmailVisibility].String == "1" || row[core.FieldNameEmailVisibility].String == "true") {
			l.add(normKey(get("email")), id)
		}
		l.add(normKey(get("name")), id)
		return
	}
	for _, name := range keyFields(l.obj) {
		v := get(name)
		if name == "domain" {
			v = normDomain(v)
		}
		l.add(normKey(v), id)
	}
}

// find returns the id of the record named by cell.
func (l *lookup) find(cell string) (string, error) {
	keys := []string{normKey(cell)}
	if d := normDomain(cell); d != keys[0] {
		keys = append(keys, d)
	}
	for _, k := range keys {
		if l.ambiguous[k] {
			return "", fmt.Errorf("%q names more than one %s record", cell, l.coll.Name)
		}
		if id, ok := l.ids[k]; ok {
			return id, nil
		}
	}
	if l.obj == nil {
		return "", fmt.Errorf("no user with email or name %q", cell)
	}
	return "", fmt.Errorf("no %s record named %q (by %s)", l.coll.Name, cell, strings.Join(keyFields(l.obj), ", "))
}

// looksLikeDomain reports whether cell is a bare web domain such as acme.example.
func looksLikeDomain(cell string) bool {
	c := strings.TrimSpace(cell)
	return !strings.ContainsAny(c, " @") && strings.Contains(c, ".") && domainRe.MatchString(normDomain(c))
}

var domainRe = regexp.MustCompile(`^[a-z0-9-]+(\.[a-z0-9-]+)*\.[a-z]{2,}$`)
