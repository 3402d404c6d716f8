package schemas

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/security"
)

// Assignment rules: who owns a new record. Forms (a form's "assign") and workflows (the
// assign_owner action) use the same rules, as data:
//
//	{"rules": [
//	  {"when": {"country": ["FR", "ES", "IT"]}, "team": "south"},
//	  {"when": {"source": ["partner"]}, "users": ["carol@example.com"]},
//	  {"strategy": "least_loaded", "role": "sales"}
//	]}
//
// The first rule whose "when" matches the record (every listed field holds one of the listed
// values; no "when": always) picks the owner among its candidates: "users" (emails) when set,
// else the users with "role" (default sales) in "team" (when set). round_robin (the default)
// takes them in turn: the turn is a counter per rule, kept in the [AssignTurnsCollection]
// and advanced in the transaction that saves the record, so concurrent submissions are spread
// evenly and the rotation survives restarts. least_loaded takes the candidate owning the
// fewest records (open ones, for objects with a pipeline), the lowest id on ties. When no
// rule matches, the record keeps no owner.

// AssignTurnsCollection keeps the round-robin counters: key (the rule), seq (turns taken).
const AssignTurnsCollection = "relata_assignment_turns"

// Assignment strategies.
const (
	AssignRoundRobin  = "round_robin"
	AssignLeastLoaded = "least_loaded"
)

// Assignment is an ordered list of assignment rules.
type Assignment struct {
	Rules []*AssignRule `json:"rules"`
}

// AssignRule is one assignment rule.
type AssignRule struct {
	// When maps fields of the record to the values that select this rule (all must match).
	When map[string][]string `json:"when,omitempty"`
	// Strategy is round_robin (default) or least_loaded.
	Strategy string `json:"strategy,omitempty"`
	// Role of the candidates; default sales. Ignored with Users.
	Role string `json:"role,omitempty"`
	// Team, when set, limits the candidates to that team. Ignored with Users.
	Team string `json:"team,omitempty"`
	// Users are the candidates' emails, instead of Role and Team.
	Users []string `json:"users,omitempty"`
}

// Problem is one thing wrong with an assignment, at a JSON pointer relative to it.
type Problem struct {
	Pointer string
	Message string
}

// Check returns what is wrong with a against obj: fields that do not exist or cannot be
// matched, values that are not options, unknown strategies and roles. It also fills defaults.
func (a *Assignment) Check(obj *Object) []Problem {
	var out []Problem
	add := func(ptr, format string, args ...any) {
		out = append(out, Problem{Pointer: ptr, Message: fmt.Sprintf(format, args...)})
	}
	if obj.OwnerField() == nil {
		add("", "%s has no owner field to assign", obj.Name)
		return out
	}
	if len(a.Rules) == 0 {
		add("/rules", "at least one rule is needed")
	}
	for i, r := range a.Rules {
		at := fmt.Sprintf("/rules/%d", i)
		if r == nil {
			add(at, "a rule must be an object")
			continue
		}
		for _, p := range r.check(obj) {
			add(at+p.Pointer, "%s", p.Message)
		}
	}
	return out
}

func (r *AssignRule) check(obj *Object) []Problem {
	var out []Problem
	add := func(ptr, format string, args ...any) {
		out = append(out, Problem{Pointer: ptr, Message: fmt.Sprintf(format, args...)})
	}
	if r.Strategy == "" {
		r.Strategy = AssignRoundRobin
	}
	if r.Strategy != AssignRoundRobin && r.Strategy != AssignLeastLoaded {
		add("/strategy", "%q is not a strategy (round_robin, least_loaded)", r.Strategy)
	}
	if r.Role == "" {
		r.Role = RoleSales
	}
	if !slices.Contains(Roles, r.Role) {
		add("/role", "%q is not a role (%s)", r.Role, strings.Join(Roles, ", "))
	}
	for i, u := range r.Users {
		if !strings.Contains(u, "@") {
			add(fmt.Sprintf("/users/%d", i), "%q is not the email of a CRM user", u)
		}
	}
	for _, name := range slices.Sorted(func(yield func(string) bool) {
		for k := range r.When {
			if !yield(k) {
				return
			}
		}
	}) {
		ptr := "/when/" + escapePointer(name)
		f := obj.Field(name)
		switch {
		case f == nil:
			add(ptr, "%s has no field %q", obj.Name, name)
			continue
		case f.Multiple || !slices.Contains([]string{TypeText, TypeSelect, TypeStage, TypeEmail, TypePhone, TypeURL, TypeBoolean, TypeOwner, TypeRelation}, f.Type):
			add(ptr, "field %q (%s) cannot select a rule: use a single-value text, select or relation field", name, f.Type)
			continue
		case len(r.When[name]) == 0:
			add(ptr, "list at least one value of %q", name)
		}
		if f.Type == TypeSelect && len(f.Options) > 0 {
			for i, v := range r.When[name] {
				if !slices.ContainsFunc(f.Options, func(o Option) bool { return o.Value == v }) {
					add(fmt.Sprintf("%s/%d", ptr, i), "%q is not an option of %s", v, name)
				}
			}
		}
	}
	return out
}

// Matches reports whether rec selects the rule.
func (r *AssignRule) Matches(rec *core.Record) bool {
	for name, values := range r.When {
		if !slices.Contains(values, fmt.Sprint(rec.Get(name))) {
			return false
		}
	}
	return true
}

// Assigned is the outcome of an assignment.
type Assigned struct {
	// UserID is the picked user; User is that user's record, read by Pick (Assign, which
	// runs for every form submission, leaves it nil: its callers only set the owner).
	UserID   string
	User     *core.Record
	Rule     int    // index of the rule that matched
	Strategy string // its strategy
	Seq      int    // round_robin: the turn's number (1 for the first)
	Load     int    // least_loaded: records the user owned before
}

// Assign picks the owner of rec by the first matching rule, in tx (the transaction that
// saves rec), and sets obj's owner field on rec without saving it. key names the rules'
// round-robin counters ("form:contact-us"); the rule's index is added. It returns nil when
// no rule matches, and an error when the matching rule has no candidate.
func (a *Assignment) Assign(tx core.App, obj *Object, key string, rec *core.Record) (*Assigned, error) {
	owner := obj.OwnerField()
	if owner == nil {
		return nil, fmt.Errorf("%s has no owner field to assign", obj.Name)
	}
	for i, r := range a.Rules {
		if r == nil || !r.Matches(rec) {
			continue
		}
		got, err := r.pick(tx, obj, owner, fmt.Sprintf("%s#%d", key, i), rec.Id)
		if err != nil {
			return nil, fmt.Errorf("assignment rule %d: %w", i+1, err)
		}
		got.Rule = i
		rec.Set(owner.Name, got.UserID)
		return got, nil
	}
	return nil, nil
}

// Candidates returns the users the rule picks from, by id.
func (r *AssignRule) Candidates(tx core.App) ([]*core.Record, error) {
	ids, err := r.candidateIDs(tx)
	if err != nil {
		return nil, err
	}
	users := make([]*core.Record, 0, len(ids))
	for _, id := range ids {
		u, err := tx.FindRecordById(UsersCollection, id)
		if err != nil {
			return nil, fmt.Errorf("find users to assign: %w", err)
		}
		users = append(users, u)
	}
	return users, nil
}

// candidateIDs returns the ids of the users the rule picks from, sorted. Only ids: it runs
// for every assigned record (each form submission), and reading every candidate as a whole
// record cost about a tenth of a submission's CPU; Pick reads the one user it picks.
func (r *AssignRule) candidateIDs(tx core.App) ([]string, error) {
	var ids []string
	if len(r.Users) > 0 {
		for _, email := range r.Users {
			u, ferr := tx.FindAuthRecordByEmail(UsersCollection, email)
			if ferr != nil {
				return nil, fmt.Errorf("%s is not a CRM user", email)
			}
			ids = append(ids, u.Id)
		}
	} else {
		role := r.Role
		if role == "" {
			role = RoleSales
		}
		// A plain query rather than a filter: parsing a filter each time cost a tenth of a
		// submission's CPU.
		where := dbx.HashExp{"role": role}
		if r.Team != "" {
			where["team"] = r.Team
		}
		if err := tx.DB().Select("id").From(UsersCollection).Where(where).OrderBy("id").Column(&ids); err != nil {
			return nil, fmt.Errorf("find users to assign: %w", err)
		}
	}
	slices.Sort(ids)
	ids = slices.Compact(ids)
	if len(ids) == 0 {
		who := "role " + r.Role
		if r.Team != "" {
			who += " in team " + r.Team
		}
		return nil, &NoCandidateError{Who: who}
	}
	return ids, nil
}

// NoCandidateError is an assignment rule without anyone to assign.
type NoCandidateError struct{ Who string }

func (e *NoCandidateError) Error() string { return "no user to assign: nobody has " + e.Who }

// Pick chooses an owner for the record self (may be "") of obj by the rule, advancing the
// round-robin counter key in tx.
func (r *AssignRule) Pick(tx core.App, obj *Object, owner *Field, key, self string) (*Assigned, error) {
	out, err := r.pick(tx, obj, owner, key, self)
	if err != nil {
		return nil, err
	}
	if out.User, err = tx.FindRecordById(UsersCollection, out.UserID); err != nil {
		return nil, fmt.Errorf("read the assigned user %s: %w", out.UserID, err)
	}
	return out, nil
}

// pick is Pick without reading the picked user's record.
func (r *AssignRule) pick(tx core.App, obj *Object, owner *Field, key, self string) (*Assigned, error) {
	users, err := r.candidateIDs(tx)
	if err != nil {
		return nil, err
	}
	strategy := r.Strategy
	if strategy == "" {
		strategy = AssignRoundRobin
	}
	out := &Assigned{Strategy: strategy}
	if strategy == AssignLeastLoaded {
		if out.UserID, out.Load, err = leastLoaded(tx, obj, owner, users, self); err != nil {
			return nil, err
		}
		return out, nil
	}
	if out.Seq, err = NextTurn(tx, key); err != nil {
		return nil, err
	}
	out.UserID = users[(out.Seq-1)%len(users)]
	return out, nil
}

// NextTurn advances the round-robin counter key and returns its new value (1 the first
// time). One statement, so concurrent callers each get their own turn; run in the
// transaction that saves the assignment, a rolled-back save gives its turn back.
func NextTurn(tx core.App, key string) (int, error) {
	var seq int
	err := tx.DB().NewQuery("INSERT INTO {{" + AssignTurnsCollection + "}} ([[id]], [[key]], [[seq]]) VALUES ({:id}, {:key}, 1) " +
		"ON CONFLICT ([[key]]) DO UPDATE SET [[seq]] = [[seq]] + 1 RETURNING [[seq]]").
		Bind(dbx.Params{"id": security.RandomStringWithAlphabet(15, "abcdefghijklmnopqrstuvwxyz0123456789"), "key": key}).Row(&seq)
	if err != nil {
		return 0, fmt.Errorf("advance the assignment turn %q: %w", key, err)
	}
	return seq, nil
}

// leastLoaded picks the user owning the fewest (open) records of obj, the lowest id on ties.
func leastLoaded(tx core.App, obj *Object, owner *Field, users []string, self string) (string, int, error) {
	params := dbx.Params{"self": self}
	in := make([]string, len(users))
	for i, u := range users {
		k := fmt.Sprintf("u%d", i)
		in[i], params[k] = "{:"+k+"}", u
	}
	q := fmt.Sprintf("SELECT [[%s]] AS owner, COUNT(*) AS n FROM {{%s}} WHERE [[%s]] IN (%s) AND [[id]] != {:self}",
		owner.Name, obj.Name, owner.Name, strings.Join(in, ", "))
	if sf := obj.StageField(); sf != nil {
		// Closed stages of every pipeline the records may follow (names of one pipeline's
		// closed stages are not open stages of another in any sane model).
		var closed []string
		for _, pipe := range obj.StagePipelines(sf) {
			for _, s := range pipe.Stages {
				if s.IsClosed() {
					k := fmt.Sprintf("s%d", len(closed))
					closed = append(closed, "{:"+k+"}")
					params[k] = s.Name
				}
			}
		}
		if len(closed) > 0 {
			q += fmt.Sprintf(" AND [[%s]] NOT IN (%s)", sf.Name, strings.Join(closed, ", "))
		}
	}
	q += fmt.Sprintf(" GROUP BY [[%s]]", owner.Name)
	var rows []struct {
		Owner string `db:"owner"`
		N     int    `db:"n"`
	}
	if err := tx.DB().NewQuery(q).Bind(params).All(&rows); err != nil {
		return "", 0, fmt.Errorf("count the records of %s by owner: %w", obj.Name, err)
	}
	load := make(map[string]int, len(rows))
	for _, r := range rows {
		load[r.Owner] = r.N
	}
	best := users[0]
	for _, u := range users[1:] {
		if load[u] < load[best] {
			best = u
		}
	}
	return best, load[best], nil
}
