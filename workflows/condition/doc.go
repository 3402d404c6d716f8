// Package condition compiles and evaluates the expressions business users write in workflows:
// conditions ("run only when …") and computed values ("set field to …"). Expressions are
// written in the expr language (https://expr-lang.org/docs/language-definition), compiled once
// when a workflow is saved — type-checked against the object's fields, so an unknown field or
// a type mismatch is an error at save time with its line and column — and evaluated for each
// event in well under a microsecond for a typical condition.
//
//	p, err := condition.Compile(deals, `record.stage == "won" && record.amount > 10000`)
//	if err != nil {
//		var e *condition.Error // e.Line, e.Column, e.Message, e.Snippet
//		...
//	}
//	ok, err := p.Eval(condition.Input{
//		Record:  newValues, // map[string]any, by column name
//		Old:     oldValues, // nil on create
//		Changed: []string{"stage"},
//		User:    condition.User{ID: "u1", Role: "sales"},
//		Now:     time.Now(),
//		Event:   "update",
//	})
//
// A [Program] is safe for concurrent use; callers cache it with the workflow. [CompileValue]
// compiles a value for a field and [Program.Run] returns it converted for that field.
// [Variables] lists every name below for the workflow builder's autocomplete.
//
// Inside a for_each action, [CompileFor] and [CompileValueFor] add item: the current item, a
// record of another object, typed and checked like record (Input.Item holds its values).
//
// # Variables
//
// record — the record's values after the event, one per field, typed by field type:
//
//	text, longtext, richtext, email, phone, url  string
//	select, relation, owner, file                string; []string when the field is multiple
//	stage                                        string (the stage name: "won")
//	tags                                         []string
//	number, currency                             float64
//	boolean                                      bool
//	date, datetime                               time.Time (UTC; the zero time when empty)
//	json                                         any (decoded JSON: map, list, string, float64, bool, nil)
//
// A currency field "amount" also gives record.amount_currency, its ISO code (string). Every
// record has record.id (string) and record.created, record.updated, record.last_touched
// (time.Time). Naming a field the object does not have is a compile error; so is comparing a
// number with a string. An empty or missing value reads as the zero value: "", 0, false, the
// zero time, an empty list, nil.
//
// old — the values before the event, shaped like record; all zero on create.
//
// changed — []string, the names of the fields the event changed.
//
// user — the user who caused the event: user.id, user.email, user.name, user.role ("admin",
// "manager", "sales") and user.team, all strings; empty for system and scheduled runs.
// user.email is empty unless the user made it visible (as the REST API shows it). Fields
// hidden in PocketBase are not in record, old or item.
//
// now — time.Time (UTC), the time of the evaluation. Use it instead of expr's now(), which is
// disabled so that an evaluation can be repeated.
//
// event — string: "create", "update", "delete", "schedule", "form", "manual", …
//
// # Helpers
//
//	isChanged(field string) bool          field is in changed; a literal field name must exist
//	changedFrom(field string, v any) bool isChanged(field) && old.field == v (single-value fields)
//	changedTo(field string, v any) bool   isChanged(field) && record.field == v (single-value fields)
//	daysSince(t time.Time) float64        fractional days from t to now; negative for a future t
//	daysUntil(t time.Time) float64        fractional days from now to t; negative for a past t
//	addDays(t time.Time, n float64) time.Time   t plus n days (whole days keep the time of day)
//	addHours(t time.Time, n float64) time.Time  t plus n hours
//	startOfDay(t time.Time) time.Time     midnight (UTC) of t's day
//	isEmpty(v any) bool                   v is nil, "", 0, false, the zero time, or an empty list or map

//	inSegment(segment string) bool        the record is in the segment's stored membership (literal name or id)
//	replied() bool                        an email about the record was answered (since the run started)
//	unsubscribed() bool                   the record's address is suppressed, or do_not_email is set
//
// inSegment, replied and unsubscribed ask the database through the [Facts] of the input (one
// indexed lookup each); the workflow engine provides them for record-triggered runs, and they
// fail without. inSegment reads the membership stored by the segment refresh, so it lags the
// data by up to its interval (15 minutes).
//
// An empty date is infinitely far away: daysSince and daysUntil give +Inf for it, so
// daysSince(record.last_touched) > 30 is true for a record never touched and
// daysUntil(record.expected_close) < 7 is false for a deal without a close date. addDays,
// addHours and startOfDay keep an empty date empty. Run refuses to store +Inf in a field.
// isEmpty follows PocketBase's notion of a blank field, so 0 and false count as empty.
//
// expr's built-ins are available too, among them: len, lower, upper, trim, split, join,
// replace, hasPrefix, hasSuffix, indexOf; abs, ceil, floor, round, min, max, sum, mean;
// all, any, none, one, filter, map, count, find, first, last, sort, uniq, concat; date,
// duration, timezone; toJSON, fromJSON; the operators in, not in, contains, startsWith,
// endsWith, matches, ?:, ??, ?. and let. date("2026-03-01") is read as UTC. Dates also have
// Go's time methods: record.created.Year(), now.Weekday().String(), t.Format("2006-01-02").
//
// Examples:
//
//	record.stage == "won" && record.amount > 10000
//	changedTo("stage", "lost") && record.lost_reason == ""
//	isChanged("owner") && user.role != "admin"
//	daysUntil(record.expected_close) <= 7 && record.stage not in ["won", "lost"]
//	"vip" in record.tags || record.source in ["referral", "partner"]
//	addDays(now, 14)                       (a value for a date field)
//
// # Safety and limits
//
// Expressions see plain data only. Input values are converted to the types above (a value
// of the wrong type reads as the zero value, a json value is re-encoded as decoded JSON), so
// no host object and none of its methods reach an expression; the only methods callable are
// those of Go's time values (time.Time, time.Duration, *time.Location). Sources are limited to [MaxSourceLen] bytes and
// [MaxNodes] syntax nodes.
//
// Conditions run inside the save that triggers them (anonymous form posts save contacts), so
// every evaluation has a budget: at most [MaxSteps] list elements walked (each element a
// builtin such as filter, map, reduce, sort, join or in goes over, every time it runs, so
// nested loops count the product of their lengths; uniq counts the square of its list's
// length over 100; a call of fromJSON, toJSON, string, split, date or duration, or of a
// method of a time value, counts a few steps more) and [MaxBytes] of text processed (every
// computed string a builtin or a text operator reads; case mapping, regular expressions and
// toJSON count several times). An evaluation that goes over stops with an *[Error] that wraps
// [ErrBudget], at the place that went over. What can never fit is refused at compile time:
// a range of literal bounds longer than [MaxSteps], a pattern after matches that is not in
// quotes or compiles to more than [MaxRegexSize] instructions. repeat, replace and join check
// the size of their result before building it. The dearest accepted expressions are measured
// by BenchmarkWorstAccepted (a few milliseconds at most). Evaluation never panics: a failure
// is an error, an *[Error] when its position is known.
//
// # Input
//
// [Input] maps hold a record's values by column name as PocketBase exports them: strings,
// float64 or any Go number, bool, []string or []any for multiple values, and dates as
// time.Time, as any value with a Time() time.Time method (PocketBase's types.DateTime) or as
// strings in the layouts "2006-01-02 15:04:05.000Z" (PocketBase), RFC 3339 or "2006-01-02".
// Conversion is tolerant and lazy: a program converts only the columns it reads.
//
// # Design
//
// Each object's records get a Go struct type built with reflect.StructOf (one typed field per
// column, tagged with its name), so expr's checker knows every field's type and its compiler
// reads fields by index. The type is cached by the object's column names and kinds. At
// evaluation a pooled instance is filled from the input maps, which costs no map allocation
// and no per-field boxing until the VM reads a field. Helpers that need now or changed get
// them as hidden arguments added at compile time, so no helper holds any state.
package condition
