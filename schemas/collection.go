package schemas

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/dbutils"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Collection builds the PocketBase collection that stores o: its fields, Relata's system
// fields (last_touched, created, updated), indexes and API rules. Existing field ids are not
// known here; [Plan] carries them over from the database.
func Collection(o *Object, ids CollectionIDs) (*core.Collection, error) {
	c := core.NewBaseCollection(o.Name)
	for _, f := range o.Fields {
		t, ok := fieldTypes[f.Type]
		if !ok {
			return nil, fmt.Errorf("field %q has unknown type %q", f.Name, f.Type)
		}
		cols, err := t.Columns(o, f, ids)
		if err != nil {
			return nil, err
		}
		c.Fields.Add(cols...)
	}
	c.Fields.Add(
		&core.DateField{Name: FieldLastTouched, Help: "When an activity or an edit last touched this record.", System: true},
		&core.AutodateField{Name: FieldCreated, OnCreate: true, System: true},
		&core.AutodateField{Name: FieldUpdated, OnCreate: true, OnUpdate: true, System: true},
	)
	if tf := c.Fields.GetByName(o.TitleField); tf != nil {
		setPresentable(tf)
	}
	for _, f := range o.Fields {
		if !f.Unique {
			continue
		}
		where := ""
		if f.Type != TypeNumber {
			where = fmt.Sprintf("`%s` != ''", f.Name)
		}
		c.AddIndex(indexName(o.Name, []string{f.Name}, true), true, "`"+f.Name+"`", where)
	}
	// Time triggers walk records by these columns (with the id as a tie-breaker): dates
	// reached, records gone quiet.
	for _, f := range o.Fields {
		if f.Type == TypeDate || f.Type == TypeDateTime {
			addCursorIndex(c, o, f.Name)
		}
	}
	addCursorIndex(c, o, FieldUpdated)
	for _, f := range o.Fields {
		if f.Type == TypeEmail {
			addAddressIndex(c, o, f.Name)
		}
	}
	for _, idx := range o.Indexes {
		cols := make([]string, len(idx.Fields))
		for i, n := range idx.Fields {
			cols[i] = "`" + n + "`"
		}
		c.AddIndex(indexName(o.Name, idx.Fields, idx.Unique), idx.Unique, strings.Join(cols, ", "), "")
	}
	applyRules(c, o)
	return c, nil
}

// addMissingDerivedIndexes adds to c the cursor and address indexes of o (see [Collection])
// it lacks, and reports whether it added any: a date or email field added in the dashboard
// gets its index at once, as if it had come from a file, so an export and the database stay
// in step.
func addMissingDerivedIndexes(c *core.Collection, o *Object) bool {
	before := len(c.Indexes)
	have := map[string]bool{}
	for _, idx := range c.Indexes {
		if parsed := dbutils.ParseIndex(idx); parsed.IndexName != "" {
			have[parsed.IndexName] = true
		}
	}
	add := func(column string) {
		if !have[indexName(o.Name, []string{column, FieldID}, false)] && c.Fields.GetByName(column) != nil {
			addCursorIndex(c, o, column)
		}
	}
	for _, f := range o.Fields {
		if f.Type == TypeDate || f.Type == TypeDateTime {
			add(f.Name)
		}
	}
	add(FieldUpdated)
	for _, f := range o.Fields {
		if f.Type == TypeEmail && !have[addressIndexName(o.Name, f.Name)] && c.Fields.GetByName(f.Name) != nil {
			addAddressIndex(c, o, f.Name)
		}
	}
	return len(c.Indexes) > before
}

// AddressExpr is the SQL expression of an email column's address as lookups compare it,
// lower-cased ("Ann@Example.com" and "ann@example.com" are one person's): every email field
// has an index on it ([Collection]), which a query uses when it compares the same
// expression — AddressExpr("{{contacts}}.[[email]]") IN (…), the values lower-cased with
// strings.ToLower. column is written as in the query ("[[email]]", "c.[[email]]"). Stored
// addresses carry no surrounding spaces (the field's validation refuses them).
func AddressExpr(column string) string { return "lower(" + column + ")" }

// addAddressIndex indexes the lower-cased address of an email field (see [AddressExpr]),
// unless the object's own indexes already use the name. The index is not partial: a partial
// one (WHERE email != ”) is not used by a comparison that does not imply its condition.
func addAddressIndex(c *core.Collection, o *Object, field string) {
	name := addressIndexName(o.Name, field)
	for _, idx := range o.Indexes {
		if indexName(o.Name, idx.Fields, idx.Unique) == name {
			return
		}
	}
	c.AddIndex(name, false, "lower(`"+field+"`)", "")
}

func addressIndexName(object, field string) string {
	return indexName(object, []string{field, "lower"}, false)
}

// addCursorIndex indexes column and id, unless the object's own indexes already use the name.
func addCursorIndex(c *core.Collection, o *Object, column string) {
	name := indexName(o.Name, []string{column, FieldID}, false)
	for _, idx := range o.Indexes {
		if indexName(o.Name, idx.Fields, idx.Unique) == name {
			return
		}
	}
	c.AddIndex(name, false, "`"+column+"`, `"+FieldID+"`", "")
}

func indexName(object string, fields []string, unique bool) string {
	name := "idx_" + object + "_" + strings.Join(fields, "_")
	if unique {
		name += "_unique"
	}
	return name
}

func setPresentable(f core.Field) {
	switch x := f.(type) {
	case *core.TextField:
		x.Presentable = true
	case *core.EmailField:
		x.Presentable = true
	case *core.NumberField:
		x.Presentable = true
	case *core.SelectField:
		x.Presentable = true
	case *core.DateField:
		x.Presentable = true
	case *core.URLField:
		x.Presentable = true
	}
}

// Rule fragments, in PocketBase filter syntax.
const (
	ruleSignedIn   = `@request.auth.id != "" && @request.auth.collectionName = "users"`
	rulePrivileged = `(@request.auth.role = "admin" || @request.auth.role = "manager")`
)

// Rules returns the list/view, create, update and delete API rules for o, following its
// access policy. Superusers bypass rules, as everywhere in PocketBase.
func Rules(o *Object) (read, create, update, del string) {
	scope := o.Access.Scope
	owner := o.OwnerField()
	if owner == nil {
		scope = ScopeAll
	}
	mine := ""
	switch scope {
	case ScopeOwner:
		mine = fmt.Sprintf(`%s = @request.auth.id`, owner.Name)
	case ScopeTeam:
		mine = fmt.Sprintf(`(%[1]s = @request.auth.id || (@request.auth.team != "" && %[1]s.team = @request.auth.team))`, owner.Name)
	}
	if mine == "" {
		read, create, update = ruleSignedIn, ruleSignedIn, ruleSignedIn
	} else {
		read = fmt.Sprintf("%s && (%s || %s)", ruleSignedIn, rulePrivileged, mine)
		// A sales user creates records owned by themselves (an empty owner is filled in with them).
		create = fmt.Sprintf(`%s && (%s || %s = "" || %s = @request.auth.id)`, ruleSignedIn, rulePrivileged, owner.Name, owner.Name)
		// ... and cannot hand a record over to someone else.
		update = fmt.Sprintf(`%s && (%s || (%s && (@request.body.%s:isset = false || @request.body.%s = @request.auth.id)))`,
			ruleSignedIn, rulePrivileged, mine, owner.Name, owner.Name)
	}
	del = read
	if len(o.Access.DeleteRoles) > 0 {
		roles := []string{`@request.auth.role = "admin"`}
		for _, r := range o.Access.DeleteRoles {
			if r != RoleAdmin {
				roles = append(roles, fmt.Sprintf(`@request.auth.role = %q`, r))
			}
		}
		del = fmt.Sprintf("%s && (%s)", read, strings.Join(roles, " || "))
	}
	return read, create, update, del
}

func applyRules(c *core.Collection, o *Object) {
	read, create, update, del := Rules(o)
	c.ListRule = types.Pointer(read)
	c.ViewRule = types.Pointer(read)
	c.CreateRule = types.Pointer(create)
	c.UpdateRule = types.Pointer(update)
	c.DeleteRule = types.Pointer(del)
}

// Actions a [Refusal] explains.
const (
	ActionCreate = "create"
	ActionUpdate = "update"
	ActionDelete = "delete"
)

// Actor is who makes a request, as the rules of [Rules] see them.
type Actor struct {
	ID   string // the users record id; "" when not signed in as a CRM user
	Role string // admin, manager or sales
}

// Refusal explains which rule of [Rules] refuses a request and what the user can do instead.
// It names a field and a policy, never another record's data.
type Refusal struct {
	Field   string // the request field at fault; "" for the request as a whole
	Message string // in English
	// Code names the refusal and Params its parts (object, field, role, roles), so that a
	// client words it in its reader's language (the web app's catalogues have a message per
	// code under "apiError.CODE").
	Code   string
	Params map[string]any
}

// The codes of a [Refusal].
const (
	RefusalSignIn      = "relata_sign_in"      // anonymous: sign in as a CRM user
	RefusalCreateOwned = "relata_create_owned" // a scoped role creating a record for someone else
	RefusalHandOver    = "relata_hand_over"    // a scoped role handing a record over
	RefusalDeleteRoles = "relata_delete_roles" // a role that may not delete the object's records
)

// ExplainRefusal returns why the rules of [Rules] for o refuse action by actor with the
// request body (field values as sent), or nil when these grounds do not explain it (the
// record is out of the actor's reach, which is not to be revealed). It mirrors Rules: change
// both together.
func ExplainRefusal(o *Object, action string, actor Actor, body map[string]any) *Refusal {
	if actor.ID == "" {
		return &Refusal{Message: fmt.Sprintf("sign in as a CRM user to %s %s", action, strings.ToLower(o.Label.Plural)),
			Code: RefusalSignIn, Params: map[string]any{"action": action, "object": o.Name}}
	}
	privileged := actor.Role == RoleAdmin || actor.Role == RoleManager
	owner := o.OwnerField()
	scoped := owner != nil && (o.Access.Scope == ScopeOwner || o.Access.Scope == ScopeTeam)
	plural := strings.ToLower(o.Label.Plural)
	role := actor.Role
	if role == "" {
		role = "users without a role"
	} else {
		role += " users"
	}
	// otherOwner reports whether the body sets the owner to someone else; an empty owner is
	// someone else for an update (handing over to nobody) but not for a create (it becomes
	// the creator).
	otherOwner := func(emptyIsOther bool) bool {
		v, ok := body[owner.Name]
		if !ok {
			return false
		}
		s, isString := v.(string)
		if v == nil || isString && s == "" {
			return emptyIsOther
		}
		return !isString || s != actor.ID
	}
	switch action {
	case ActionCreate:
		if scoped && !privileged && otherOwner(false) {
			return &Refusal{Field: owner.Name, Message: fmt.Sprintf("%s can only create %s they own: leave %s empty or set it to yourself",
				role, plural, owner.Name), Code: RefusalCreateOwned, Params: map[string]any{"role": actor.Role, "object": o.Name, "field": owner.Name}}
		}
	case ActionUpdate:
		if scoped && !privileged && otherOwner(true) {
			return &Refusal{Field: owner.Name, Message: fmt.Sprintf("%s cannot hand %s over to someone else: leave %s out or set it to yourself; a manager or admin can reassign them",
				role, plural, owner.Name), Code: RefusalHandOver, Params: map[string]any{"role": actor.Role, "object": o.Name, "field": owner.Name}}
		}
	case ActionDelete:
		if len(o.Access.DeleteRoles) > 0 && actor.Role != RoleAdmin && !slices.Contains(o.Access.DeleteRoles, actor.Role) {
			roles, names := []string{"admins"}, []string{RoleAdmin}
			for _, r := range o.Access.DeleteRoles {
				if r != RoleAdmin {
					roles, names = append(roles, r+"s"), append(names, r)
				}
			}
			return &Refusal{Message: fmt.Sprintf("only %s can delete %s", strings.Join(roles, " and "), plural),
				Code: RefusalDeleteRoles, Params: map[string]any{"roles": strings.Join(names, ","), "object": o.Name}}
		}
	}
	return nil
}
