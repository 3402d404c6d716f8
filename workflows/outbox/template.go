package outbox

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	htmltemplate "html/template"
	"io"
	"net/mail"
	"regexp"
	"strconv"
	"strings"
	texttemplate "text/template"
	"text/template/parse"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas"
)

// UnsubscribePlaceholder is what {{.unsubscribe_url}} renders to: the sender replaces it with
// the recipient's signed unsubscribe link when the email goes out (the link names the email,
// which does not exist yet when the template is rendered).
const UnsubscribePlaceholder = "__relata_unsubscribe_url__"

// PublicURLPlaceholder in a message's text or HTML is replaced when sent by the public URL
// of Relata (Config.PublicURL, else the dashboard's application URL), without a trailing
// slash: features that link back to Relata (double opt-in) write it instead of an address.
const PublicURLPlaceholder = "__relata_public_url__"

// Errors of rendering.
var (
	// ErrTemplateNotFound is wrapped when no template has the requested name.
	ErrTemplateNotFound = errors.New("email template not found")
	// ErrNoAccess is wrapped when the acting user may not view the record to render.
	ErrNoAccess = errors.New("not allowed to view the record")
)

// Template is an email template: Go text/template for the subject and the text part,
// html/template (escaping every value) for the HTML part.
//
// Templates see:
//
//	.record            the record's fields: {{.record.full_name}}
//	.record.<relation> the related record's fields, one level deep, when the acting user may
//	                   view it (else empty): {{.record.company.name}}, {{.record.owner.name}};
//	                   a multiple relation is a list: {{range .record.contacts}}…{{end}}
//	.recipient         {{.recipient.email}}, {{.recipient.name}}
//	.sender            {{.sender.email}}, {{.sender.name}} (the configured From)
//	.user              the acting user ({{.user.name}}, {{.user.email}}); empty for the system
//	.app               {{.app.name}}, {{.app.url}}
//	.unsubscribe_url   the recipient's unsubscribe link (put it in marketing mail)
//
// A name that does not exist is an error, not an empty string, so typos surface.
type Template struct {
	Name     string
	Subject  string
	HTML     string
	Text     string
	Category string
	// Object, when set, is the object the template is written for: [Template.Check] then
	// verifies every placeholder against its fields.
	Object string
}

// TemplateError is a problem in one part of a template.
type TemplateError struct {
	Part    string // "subject", "html" or "text"
	Line    int    // 1-based; 0 when unknown
	Message string
}

func (e *TemplateError) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s, line %d: %s", e.Part, e.Line, e.Message)
	}
	return fmt.Sprintf("%s: %s", e.Part, e.Message)
}

// templateErrRE matches Go template errors: "template: html:3:14: executing … : message".
var templateErrRE = regexp.MustCompile(`^template: (\w+):(\d+):(?:\d+:)? ?(.*)$`)

func templateError(part string, err error) *TemplateError {
	msg := err.Error()
	var he *htmltemplate.Error
	if errors.As(err, &he) && he.Line > 0 {
		return &TemplateError{Part: part, Line: he.Line, Message: he.Description}
	}
	if m := templateErrRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[2])
		// "executing "html" at <.record.x>: map has no entry for key "x"" → keep the useful tail.
		text := m[3]
		if i := strings.Index(text, "at <"); strings.HasPrefix(text, "executing") && i >= 0 {
			text = text[i+3:]
		}
		return &TemplateError{Part: part, Line: line, Message: text}
	}
	return &TemplateError{Part: part, Message: msg}
}

// compiled is a parsed template.
type compiled struct {
	subject, text *texttemplate.Template
	html          *htmltemplate.Template
}

func (t *Template) compile() (*compiled, error) {
	var c compiled
	var err error
	if c.subject, err = texttemplate.New("subject").Option("missingkey=error").Funcs(funcs).Parse(t.Subject); err != nil {
		return nil, templateError("subject", err)
	}
	if c.text, err = texttemplate.New("text").Option("missingkey=error").Funcs(funcs).Parse(t.Text); err != nil {
		return nil, templateError("text", err)
	}
	if c.html, err = htmltemplate.New("html").Option("missingkey=error").Funcs(funcs).Parse(t.HTML); err != nil {
		return nil, templateError("html", err)
	}
	treesOf := func(ts []*texttemplate.Template) []*parse.Tree {
		var out []*parse.Tree
		for _, t := range ts {
			out = append(out, t.Tree)
		}
		return out
	}
	var htmlTrees []*parse.Tree
	for _, t := range c.html.Templates() {
		htmlTrees = append(htmlTrees, t.Tree)
	}
	for part, trees := range map[string][]*parse.Tree{"subject": treesOf(c.subject.Templates()), "text": treesOf(c.text.Templates()), "html": htmlTrees} {
		if err := checkRanges(part, trees...); err != nil {
			return nil, err
		}
	}
	return &c, nil
}

// checkRanges refuses ranges over numbers: Go templates may range over an integer, and
// {{range 1000000000000}}{{end}} would run for hours. A range may go over data (bounded by
// the record) but not over a number written in the template, directly or through a variable
// whose value comes from a number literal. Every tree is walked, {{define}}d ones included.
func checkRanges(part string, trees ...*parse.Tree) error {
	numVars := map[string]bool{}
	hasNumber := func(p *parse.PipeNode) bool {
		found := false
		for _, cmd := range p.Cmds {
			for _, arg := range cmd.Args {
				switch a := arg.(type) {
				case *parse.NumberNode:
					found = true
				case *parse.VariableNode:
					if numVars[a.Ident[0]] {
						found = true
					}
				case *parse.PipeNode:
					// nested pipelines are checked when walked
				}
			}
		}
		return found
	}
	var bad error
	var walk func(tree *parse.Tree, n parse.Node)
	walk = func(tree *parse.Tree, n parse.Node) {
		if bad != nil || n == nil {
			return
		}
		switch x := n.(type) {
		case *parse.ListNode:
			if x == nil {
				return
			}
			for _, c := range x.Nodes {
				walk(tree, c)
			}
		case *parse.ActionNode:
			if len(x.Pipe.Decl) > 0 && hasNumber(x.Pipe) {
				for _, d := range x.Pipe.Decl {
					numVars[d.Ident[0]] = true
				}
			}
		case *parse.RangeNode:
			if hasNumber(x.Pipe) {
				line, _ := tree.ErrorContext(x)
				bad = &TemplateError{Part: part, Message: fmt.Sprintf("%s: range over a number: a range may only go over data", line)}
				return
			}
			walk(tree, x.List)
			walk(tree, x.ElseList)
		case *parse.IfNode:
			walk(tree, x.List)
			walk(tree, x.ElseList)
		case *parse.WithNode:
			walk(tree, x.List)
			walk(tree, x.ElseList)
		}
	}
	for _, t := range trees {
		if t != nil && t.Root != nil {
			walk(t, t.Root)
		}
	}
	return bad
}

// Check parses the template. With an object, it also renders it with an empty record of that
// object, so that a placeholder naming no field is refused when the template is saved.
func (t *Template) Check(app core.App) error {
	if strings.TrimSpace(t.Subject) == "" {
		return &TemplateError{Part: "subject", Message: "a template needs a subject"}
	}
	if t.Category != "" && t.Category != Transactional && t.Category != Marketing {
		return &TemplateError{Part: "category", Message: fmt.Sprintf("unknown category %q", t.Category)}
	}
	c, err := t.compile()
	if err != nil {
		return err
	}
	if t.Object == "" {
		// Only the HTML escaper's checks (which run on first use) apply without a record.
		if err := c.html.Execute(io.Discard, nil); err != nil {
			var he *htmltemplate.Error
			if errors.As(err, &he) {
				return templateError("html", err)
			}
		}
		return nil
	}
	coll, err := app.FindCachedCollectionByNameOrId(t.Object)
	if err != nil {
		return fmt.Errorf("unknown object %q", t.Object)
	}
	data := templateData(app, blankRecord(app, coll, 0), mail.Address{}, mail.Address{}, nil)
	_, err = c.execute(data)
	return err
}

// Rendered is a rendered email.
type Rendered struct {
	Template string `json:"template"`
	Subject  string `json:"subject"`
	HTML     string `json:"html"`
	Text     string `json:"text"`
	Category string `json:"category"`
}

func (c *compiled) execute(data map[string]any) (*Rendered, error) {
	var r Rendered
	var buf bytes.Buffer
	if err := c.subject.Execute(&buf, data); err != nil {
		return nil, templateError("subject", err)
	}
	r.Subject = strings.TrimSpace(buf.String())
	buf.Reset()
	if err := c.html.Execute(&buf, data); err != nil {
		return nil, templateError("html", err)
	}
	r.HTML = buf.String()
	buf.Reset()
	if err := c.text.Execute(&buf, data); err != nil {
		return nil, templateError("text", err)
	}
	r.Text = buf.String()
	if strings.TrimSpace(r.Text) == "" {
		r.Text = HTMLToText(r.HTML)
	}
	return &r, nil
}

// RenderInput is what a template is rendered for.
type RenderInput struct {
	// Record is the record the email is about; nil for none.
	Record *core.Record
	// Actor is the user whose access rules apply: the record and its related records are
	// read only if they may view them. nil is the system actor ([schemas.System]): it reads
	// every CRM record, but renders users' emails only where they made them visible.
	Actor *core.Record
	// Recipient is who the email goes to.
	Recipient mail.Address
	// Sender is the From identity shown by {{.sender}}. Default: RELATA_MAIL_FROM(_NAME),
	// else the sender of PocketBase's mail settings.
	Sender mail.Address
}

// LoadTemplate reads a template by name.
func LoadTemplate(app core.App, name string) (*Template, error) {
	rec, err := app.FindFirstRecordByData(TemplatesCollection, "name", name)
	if err != nil {
		return nil, fmt.Errorf("%w: %q", ErrTemplateNotFound, name)
	}
	return templateOf(rec), nil
}

func templateOf(rec *core.Record) *Template {
	return &Template{
		Name:     rec.GetString("name"),
		Subject:  rec.GetString("subject"),
		HTML:     rec.GetString("html"),
		Text:     rec.GetString("text"),
		Category: rec.GetString("category"),
		Object:   rec.GetString("object"),
	}
}

// Render loads the template called name and renders it through app (pass the caller's
// transaction) as in.Actor. It fails with [ErrNoAccess] when the actor may not view
// in.Record; related records they may not view render as empty.
func Render(app core.App, name string, in RenderInput) (*Rendered, error) {
	t, err := LoadTemplate(app, name)
	if err != nil {
		return nil, err
	}
	return t.Render(app, in)
}

// Render renders the template (see [Render]).
func (t *Template) Render(app core.App, in RenderInput) (*Rendered, error) {
	c, err := t.compile()
	if err != nil {
		return nil, err
	}
	var record map[string]any
	if in.Record != nil {
		ok, err := canView(app, in.Actor, in.Record)
		if err != nil {
			return nil, err
		}
		if !ok {
			return nil, fmt.Errorf("%w: %s %s", ErrNoAccess, in.Record.Collection().Name, in.Record.Id)
		}
		if record, err = exportRecord(app, in.Record, in.Actor, 0, nil); err != nil {
			return nil, err
		}
	} else {
		record = map[string]any{}
	}
	if in.Sender.Address == "" {
		in.Sender = defaultSender(app)
	}
	r, err := c.execute(templateData(app, record, in.Recipient, in.Sender, in.Actor))
	if err != nil {
		return nil, err
	}
	r.Template = t.Name
	r.Category = t.Category
	if r.Category == "" {
		r.Category = Transactional
	}
	return r, nil
}

// RenderMany renders the template for many records as one actor: the same as [Template.Render]
// for each input (whose Actor it ignores), with the template compiled once and the access
// checks and related records read once for the whole batch — a query per collection instead
// of several per record. out[i] and errs[i] are the result for ins[i] (errs[i] wraps
// [ErrNoAccess] when actor may not view ins[i].Record); err is a failure of the whole batch.
func (t *Template) RenderMany(app core.App, actor *core.Record, ins []RenderInput) (out []*Rendered, errs []error, err error) {
	c, err := t.compile()
	if err != nil {
		return nil, nil, err
	}
	var records []*core.Record
	for _, in := range ins {
		if in.Record != nil {
			records = append(records, in.Record)
		}
	}
	pre, err := preload(app, callerOf(actor), records)
	if err != nil {
		return nil, nil, err
	}
	sender := defaultSender(app)
	out, errs = make([]*Rendered, len(ins)), make([]error, len(ins))
	for i, in := range ins {
		record := map[string]any{}
		if rec := in.Record; rec != nil {
			if !pre.visible[rec.Collection().Id][rec.Id] {
				errs[i] = fmt.Errorf("%w: %s %s", ErrNoAccess, rec.Collection().Name, rec.Id)
				continue
			}
			if record, err = exportRecord(app, rec, actor, 0, pre); err != nil {
				return nil, nil, err
			}
		}
		if in.Sender.Address == "" {
			in.Sender = sender
		}
		r, err := c.execute(templateData(app, record, in.Recipient, in.Sender, actor))
		if err != nil {
			errs[i] = err
			continue
		}
		r.Template = t.Name
		r.Category = t.Category
		if r.Category == "" {
			r.Category = Transactional
		}
		out[i] = r
	}
	return out, errs, nil
}

// preloaded holds, for a batch of records, which of them and of their related records (one
// level, as templates see them) the reader may view, and the related records themselves; both
// keyed by collection id, then record id.
type preloaded struct {
	visible map[string]map[string]bool
	records map[string]map[string]*core.Record
}

// preload reads what exportRecord needs for records, as caller: one view check per collection
// of the records, one read and one view check per collection their relations point to.
func preload(app core.App, caller schemas.Caller, records []*core.Record) (*preloaded, error) {
	pre := &preloaded{visible: map[string]map[string]bool{}, records: map[string]map[string]*core.Record{}}
	check := func(collID string, ids []string) error {
		if len(ids) == 0 {
			return nil
		}
		ok, err := caller.ViewableIDs(app, collID, ids)
		if err != nil {
			return err
		}
		if pre.visible[collID] == nil {
			pre.visible[collID] = map[string]bool{}
		}
		for id, v := range ok {
			if v {
				pre.visible[collID][id] = true
			}
		}
		return nil
	}
	byColl := map[string][]string{}
	colls := map[string]*core.Collection{}
	for _, r := range records {
		byColl[r.Collection().Id] = append(byColl[r.Collection().Id], r.Id)
		colls[r.Collection().Id] = r.Collection()
	}
	related := map[string]map[string]bool{} // target collection id → ids
	for collID, ids := range byColl {
		if err := check(collID, ids); err != nil {
			return nil, err
		}
		for _, f := range colls[collID].Fields {
			rf, ok := f.(*core.RelationField)
			if !ok || f.GetHidden() {
				continue
			}
			for _, r := range records {
				if r.Collection().Id != collID || !pre.visible[collID][r.Id] {
					continue
				}
				for _, id := range r.GetStringSlice(rf.Name) {
					if related[rf.CollectionId] == nil {
						related[rf.CollectionId] = map[string]bool{}
					}
					related[rf.CollectionId][id] = true
				}
			}
		}
	}
	for collID, set := range related {
		target, err := app.FindCachedCollectionByNameOrId(collID)
		if err != nil {
			continue // exportRecord then prints the ids as they are
		}
		ids := make([]string, 0, len(set))
		for id := range set {
			ids = append(ids, id)
		}
		recs, err := app.FindRecordsByIds(target, ids)
		if err != nil {
			return nil, fmt.Errorf("load related %s: %w", target.Name, err)
		}
		m := pre.records[target.Id]
		if m == nil {
			m = map[string]*core.Record{}
			pre.records[target.Id] = m
		}
		found := make([]string, 0, len(recs))
		for _, r := range recs {
			m[r.Id] = r
			found = append(found, r.Id)
		}
		if err := check(target.Id, found); err != nil {
			return nil, err
		}
	}
	return pre, nil
}

func templateData(app core.App, record map[string]any, to, from mail.Address, actor *core.Record) map[string]any {
	user := map[string]any{"id": "", "name": "", "email": ""}
	if actor != nil {
		user = map[string]any{"id": actor.Id, "name": actor.GetString("name"), "email": actor.Email()}
	}
	meta := app.Settings().Meta
	return map[string]any{
		"record":          record,
		"recipient":       map[string]any{"email": to.Address, "name": to.Name},
		"sender":          map[string]any{"email": from.Address, "name": from.Name},
		"user":            user,
		"app":             map[string]any{"name": meta.AppName, "url": meta.AppURL},
		"unsubscribe_url": UnsubscribePlaceholder,
	}
}

// callerOf is the reader of a render: the actor, or the system actor when nil.
func callerOf(actor *core.Record) schemas.Caller {
	if actor == nil {
		return schemas.System
	}
	return schemas.User(actor)
}

// canView reports whether actor may view rec ([schemas.Caller.CanView]; nil actor: the
// system, which may view every CRM record).
func canView(app core.App, actor, rec *core.Record) (bool, error) {
	return callerOf(actor).CanView(app, rec)
}

// exportRecord turns a record into template data: its visible fields, and at depth 0 its
// related records (those actor may view) in place of their ids.
//
// With pre (from [preload]) the related records and their visibility are taken from it
// instead of read per record.
func exportRecord(app core.App, rec *core.Record, actor *core.Record, depth int, pre *preloaded) (map[string]any, error) {
	out := map[string]any{"collectionName": rec.Collection().Name}
	for _, f := range rec.Collection().Fields {
		name := f.GetName()
		if f.GetHidden() {
			continue
		}
		if _, isEmail := f.(*core.EmailField); isEmail && rec.Collection().IsAuth() && name == core.FieldNameEmail &&
			!mayReadEmail(actor, rec) {
			out[name] = ""
			continue
		}
		rf, isRel := f.(*core.RelationField)
		if !isRel || depth > 0 {
			out[name] = plain(rec.Get(name))
			continue
		}
		target, err := app.FindCachedCollectionByNameOrId(rf.CollectionId)
		if err != nil {
			out[name] = plain(rec.Get(name))
			continue
		}
		var related []map[string]any
		if ids := rec.GetStringSlice(name); len(ids) > 0 {
			var byID map[string]*core.Record
			if pre != nil {
				byID = pre.records[target.Id]
			} else {
				recs, err := app.FindRecordsByIds(target, ids)
				if err != nil {
					return nil, fmt.Errorf("load %s of %s %s: %w", name, rec.Collection().Name, rec.Id, err)
				}
				byID = make(map[string]*core.Record, len(recs))
				for _, r := range recs {
					byID[r.Id] = r
				}
			}
			for _, id := range ids {
				r := byID[id]
				if r == nil {
					continue
				}
				var ok bool
				if pre != nil {
					ok = pre.visible[target.Id][id]
				} else if ok, err = canView(app, actor, r); err != nil {
					return nil, err
				}
				if !ok {
					continue
				}
				m, err := exportRecord(app, r, actor, depth+1, pre)
				if err != nil {
					return nil, err
				}
				related = append(related, m)
			}
		}
		switch {
		case rf.IsMultiple():
			if related == nil {
				related = []map[string]any{}
			}
			out[name] = related
		case len(related) > 0:
			out[name] = related[0]
		default:
			out[name] = blankRecord(app, target, 1)
		}
	}
	return out, nil
}

// mayReadEmail says whether a user's email may be rendered for actor
// ([schemas.Caller.MayReadEmail]): superusers and the user themself always, anyone else —
// the system actor of a workflow without runAs included — only when the user made it visible.
// (A hidden address may still be a message's recipient; it is never printed into its text.)
func mayReadEmail(actor, user *core.Record) bool {
	return callerOf(actor).MayReadEmail(user)
}

// blankRecord is template data with every visible field of coll at its empty value (relations
// at depth 0 are blank records of their target, or empty lists).
func blankRecord(app core.App, coll *core.Collection, depth int) map[string]any {
	rec := core.NewRecord(coll)
	out := map[string]any{"collectionName": coll.Name}
	for _, f := range coll.Fields {
		if f.GetHidden() {
			continue
		}
		name := f.GetName()
		out[name] = plain(rec.Get(name))
		rf, isRel := f.(*core.RelationField)
		if !isRel || depth > 0 {
			continue
		}
		if rf.IsMultiple() {
			out[name] = []map[string]any{}
			continue
		}
		if target, err := app.FindCachedCollectionByNameOrId(rf.CollectionId); err == nil {
			out[name] = blankRecord(app, target, depth+1)
		}
	}
	return out
}

// plain turns a field value into something templates print well.
func plain(v any) any {
	switch x := v.(type) {
	case nil:
		return ""
	case types.DateTime:
		if x.IsZero() {
			return ""
		}
		return x.String()
	case types.JSONRaw:
		var decoded any
		if len(x) > 0 && json.Unmarshal(x, &decoded) == nil {
			return decoded // lists range, objects index; empty is nil
		}
		return nil
	}
	return v
}

// funcs are the functions templates may call besides Go's built-ins.
var funcs = map[string]any{
	// join prints a list: {{join .record.tags ", "}}.
	"join": func(list any, sep string) string {
		switch l := list.(type) {
		case []string:
			return strings.Join(l, sep)
		case []any:
			parts := make([]string, len(l))
			for i, v := range l {
				parts[i] = fmt.Sprint(v)
			}
			return strings.Join(parts, sep)
		case nil:
			return ""
		}
		return fmt.Sprint(list)
	},
	// default gives a fallback for an empty value: {{default "there" .recipient.name}}.
	"default": func(fallback string, v any) any {
		if v == nil || v == "" {
			return fallback
		}
		return v
	},
}
