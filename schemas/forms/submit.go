package forms

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"mime"
	"mime/multipart"
	"net/http"
	"net/netip"
	"net/url"
	"reflect"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pocketbase/dbx"
	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/filesystem"
	"github.com/pocketbase/pocketbase/tools/list"
	"github.com/pocketbase/pocketbase/tools/security"

	"github.com/relata/relata/schemas"
)

// submission is a decoded request body.
type submission struct {
	// doc holds every submitted key but the honeypot and files, normalized: strings trimmed,
	// empty values left out, form values converted to the field's JSON type.
	doc      map[string]any
	files    map[string][]*filesystem.File
	honeypot string
	// raw is what was typed, by key, to show the page again after an error.
	raw map[string][]string
	// errs are problems found while decoding (a file where text belongs, too many files).
	errs FieldErrors
}

// result is the outcome of one submission, for the page and the JSON endpoint alike.
type result struct {
	status int
	// errors, on refusal, say what is wrong per key ([KeyForm] for the whole submission).
	errors FieldErrors
	// blocked is the reason a submission was blocked as spam, if it was.
	blocked    string
	retryAfter time.Duration
	sub        *submission
	record     *core.Record
	action     string
}

// client describes who sent a submission.
type client struct {
	ip, userAgent, origin string
	// auth is the signed-in sender (a users record or a superuser); nil when signed out.
	auth *core.Record
}

func clientOf(e *core.RequestEvent) client {
	origin := e.Request.Header.Get("Origin")
	if origin == "" || origin == "null" {
		origin = e.Request.Referer()
	}
	return client{ip: e.RealIP(), userAgent: clip(e.Request.UserAgent(), 1000), origin: clip(origin, 1000), auth: e.Auth}
}

func refuse(status int, key, msg string) *result {
	return &result{status: status, errors: FieldErrors{key: msg}}
}

// submit runs one submission through the spam guard, validation and storage.
func (s *Service) submit(e *core.RequestEvent, c *compiled) *result {
	f := c.form
	now := s.cfg.Now()
	cl := clientOf(e)
	if ok, wait := s.limiter.allow(f.Slug+"\x00"+rateKey(cl.ip), now, f.Spam.PerMinute(), f.Spam.PerHour()); !ok {
		s.countBlock(f.Slug, BlockRateLimited)
		r := refuse(http.StatusTooManyRequests, KeyForm,
			fmt.Sprintf("too many submissions from your address; please try again in %s", humanDuration(wait)))
		r.blocked, r.retryAfter = BlockRateLimited, wait
		return r
	}
	sub, r := s.read(e, c)
	if r != nil {
		return r
	}
	if sub.honeypot != "" {
		s.countBlock(f.Slug, BlockHoneypot)
		r := refuse(http.StatusBadRequest, f.Spam.HoneypotName(), "must be left empty (it is a trap for robots)")
		r.blocked, r.sub = BlockHoneypot, sub
		return r
	}
	if minFill := f.Spam.MinFill(); minFill > 0 {
		tok, _ := sub.doc[KeyToken].(string)
		served, err := s.tokenTime(f.Slug, tok, now)
		switch {
		case err != nil && !errors.Is(err, errBadToken):
			s.app.Logger().Error("relata: form token", "form", f.Slug, "error", err)
			return refuse(http.StatusInternalServerError, KeyForm, "the form cannot be sent right now; please try again later")
		case err != nil:
			s.countBlock(f.Slug, BlockBadToken)
			r := refuse(http.StatusBadRequest, KeyToken, "the form has expired or was not loaded from this site; please send it again")
			r.blocked, r.sub = BlockBadToken, sub
			return r
		case now.Sub(served) < time.Duration(minFill)*time.Second:
			s.countBlock(f.Slug, BlockTooFast)
			r := refuse(http.StatusBadRequest, KeyToken,
				fmt.Sprintf("the form was sent too quickly after it was loaded; please wait %d seconds and send it again", minFill))
			r.blocked, r.sub = BlockTooFast, sub
			return r
		}
	}
	errs := c.validate(sub.doc)
	for k, msg := range sub.errs {
		if errs == nil {
			errs = FieldErrors{}
		}
		errs.add(k, msg)
	}
	for _, in := range c.inputs {
		if in.Kind == kindFile && in.Required && len(sub.files[in.Name]) == 0 {
			if errs == nil {
				errs = FieldErrors{}
			}
			errs.add(in.Name, "please choose a file to upload")
		}
	}
	if len(errs) > 0 {
		return &result{status: http.StatusBadRequest, errors: errs, sub: sub}
	}
	rec, action, err := s.store(c, sub, cl, now)
	var fe storeErrors
	switch {
	case errors.As(err, &fe):
		return &result{status: http.StatusBadRequest, errors: FieldErrors(fe), sub: sub}
	case err != nil:
		s.app.Logger().Error("relata: store form submission", "form", f.Slug, "error", err)
		return &result{status: http.StatusInternalServerError, errors: FieldErrors{KeyForm: "the submission could not be saved; please try again later"}, sub: sub}
	}
	return &result{status: http.StatusOK, sub: sub, record: rec, action: action}
}

// rateKey is the part of a client address the rate limit counts by: the whole IPv4 address,
// or the /64 network of an IPv6 address (one subscriber usually has a whole /64).
func rateKey(ip string) string {
	addr, err := netip.ParseAddr(ip)
	if err != nil || !addr.Is6() || addr.Is4In6() {
		return ip
	}
	p, err := addr.Prefix(64)
	if err != nil {
		return ip
	}
	return p.String()
}

func humanDuration(d time.Duration) string {
	secs := int(math.Ceil(d.Seconds()))
	switch {
	case secs <= 1:
		return "a second"
	case secs < 120:
		return fmt.Sprintf("%d seconds", secs)
	}
	return fmt.Sprintf("%d minutes", (secs+59)/60)
}

// read reads and decodes the request body: JSON, URL-encoded or multipart form data.
func (s *Service) read(e *core.RequestEvent, c *compiled) (*submission, *result) {
	f := c.form
	tooLarge := func() (*submission, *result) {
		s.countBlock(f.Slug, BlockTooLarge)
		r := refuse(http.StatusRequestEntityTooLarge, KeyForm, fmt.Sprintf("the submission is too large (at most %s)", humanBytes(c.maxBody)))
		r.blocked = BlockTooLarge
		return nil, r
	}
	if e.Request.ContentLength > c.maxBody {
		return tooLarge()
	}
	body, err := io.ReadAll(io.LimitReader(e.Request.Body, c.maxBody+1))
	if int64(len(body)) > c.maxBody {
		return tooLarge()
	}
	if err != nil {
		return nil, refuse(http.StatusBadRequest, KeyForm, "the submission could not be read")
	}
	ct, params, _ := mime.ParseMediaType(e.Request.Header.Get("Content-Type"))
	switch ct {
	case "application/json":
		var m map[string]any
		dec := json.NewDecoder(bytes.NewReader(body))
		if err := dec.Decode(&m); err != nil || m == nil || dec.More() {
			return nil, refuse(http.StatusBadRequest, KeyForm, "the body must be one JSON object of field names and values")
		}
		return c.fromJSON(m), nil
	case "application/x-www-form-urlencoded":
		vals, err := url.ParseQuery(string(body))
		if err != nil {
			return nil, refuse(http.StatusBadRequest, KeyForm, "the form data could not be read")
		}
		return c.fromValues(vals, nil), nil
	case "multipart/form-data":
		mf, err := multipart.NewReader(bytes.NewReader(body), params["boundary"]).ReadForm(c.maxBody)
		if err != nil {
			return nil, refuse(http.StatusBadRequest, KeyForm, "the form data could not be read")
		}
		defer mf.RemoveAll()
		return c.fromValues(mf.Value, mf.File), nil
	}
	return nil, refuse(http.StatusUnsupportedMediaType, KeyForm,
		"send application/json, application/x-www-form-urlencoded or multipart/form-data")
}

func humanBytes(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MB", n>>20)
	case n >= 1<<10:
		return fmt.Sprintf("%d KB", n>>10)
	}
	return fmt.Sprintf("%d bytes", n)
}

// fromJSON normalizes a JSON submission: strings are trimmed, and empty strings, nulls and
// empty lists are left out, as an empty input of the page is.
func (c *compiled) fromJSON(m map[string]any) *submission {
	sub := &submission{doc: map[string]any{}, raw: map[string][]string{}}
	hp := c.form.Spam.HoneypotName()
	for k, v := range m {
		if k == hp {
			if v != nil && v != "" {
				sub.honeypot = fmt.Sprint(v)
			}
			continue
		}
		if in := c.input(k); in != nil && in.Kind == kindFile {
			sub.addErr(k, "must be uploaded as a file (multipart/form-data)")
			continue
		}
		multiline := false
		if in := c.input(k); in != nil {
			multiline = in.Kind == kindTextarea
			if str, ok := v.(string); ok && in.Kind == kindDateTime {
				v = localToUTC(strings.TrimSpace(str)) // what the GET advertises: datetime-local
			}
		}
		if v = normalize(v, multiline); v != nil {
			sub.doc[k] = v
		}
	}
	return sub
}

func (sub *submission) addErr(k, msg string) {
	if sub.errs == nil {
		sub.errs = FieldErrors{}
	}
	sub.errs.add(k, msg)
}

func normalize(v any, multiline bool) any {
	switch x := v.(type) {
	case nil:
		return nil
	case string:
		x = strings.TrimSpace(x)
		if multiline {
			x = strings.ReplaceAll(x, "\r\n", "\n")
		}
		if x == "" {
			return nil
		}
		return x
	case []any:
		out := make([]any, 0, len(x))
		for _, e := range x {
			if e = normalize(e, multiline); e != nil {
				out = append(out, e)
			}
		}
		if len(out) == 0 {
			return nil
		}
		return out
	}
	return v
}

// localDateTime matches the value of a datetime-local input.
var localDateTime = regexp.MustCompile(`^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?$`)

// localToUTC reads the value of a datetime-local input ("2026-12-10T14:30", no zone) as UTC,
// the zone the form's page and the JSON API both use: "2026-12-10T14:30:00Z". Other values
// are returned as they are (a full RFC 3339 time keeps its zone).
func localToUTC(s string) string {
	if !localDateTime.MatchString(s) {
		return s
	}
	if len(s) == len("2006-01-02T15:04") {
		s += ":00"
	}
	return s + "Z"
}

// fromValues decodes a submission of form data: every value is text, so values are converted
// to the JSON type of their field (numbers, true/false, lists) before validation.
func (c *compiled) fromValues(vals url.Values, files map[string][]*multipart.FileHeader) *submission {
	sub := &submission{doc: map[string]any{}, raw: map[string][]string{}}
	hp := c.form.Spam.HoneypotName()
	for k, list := range vals {
		sub.raw[k] = list
		first := ""
		if len(list) > 0 {
			first = list[0]
		}
		switch k {
		case hp:
			sub.honeypot = strings.TrimSpace(strings.Join(list, ""))
			continue
		case KeyToken:
			if first != "" {
				sub.doc[k] = first
			}
			continue
		case KeyConsent:
			if b, ok := truthy(first); ok {
				sub.doc[k] = b
			} else if first != "" {
				sub.doc[k] = first
			}
			continue
		}
		in := c.input(k)
		if in == nil {
			if v := normalize(first, false); v != nil || c.capture(k) == nil {
				sub.doc[k] = first // a captured parameter, or not a field of the form: refused by validation
				if v != nil {
					sub.doc[k] = v
				}
			}
			continue
		}
		var v any
		switch in.Kind {
		case kindFile:
			if strings.TrimSpace(first) != "" {
				sub.addErr(k, "must be uploaded as a file")
			}
			continue
		case kindCheckbox:
			if b, ok := truthy(first); ok {
				v = b
			} else if strings.TrimSpace(first) != "" {
				v = first
			}
		case kindCheckboxes:
			v = normalize(anyList(list), false)
		case kindTags:
			var tags []string
			for _, s := range list {
				tags = append(tags, strings.Split(s, ",")...)
			}
			v = normalize(anyList(tags), false)
		case kindNumber:
			s := strings.TrimSpace(first)
			if s == "" {
				continue
			}
			if n, err := strconv.ParseFloat(s, 64); err == nil && !math.IsInf(n, 0) && !math.IsNaN(n) {
				v = n
			} else {
				v = s
			}
		case kindDateTime:
			v = normalize(localToUTC(strings.TrimSpace(first)), false)
		default:
			if len(list) > 1 {
				v = anyList(list) // several values for one: refused as "must be text, not a list"
			} else {
				v = normalize(first, in.Kind == kindTextarea)
			}
		}
		if v != nil {
			sub.doc[k] = v
		}
	}
	for k, fhs := range files {
		in := c.input(k)
		var picked []*multipart.FileHeader
		for _, fh := range fhs {
			if fh.Filename != "" || fh.Size > 0 {
				picked = append(picked, fh)
			}
		}
		if len(picked) == 0 {
			continue
		}
		switch {
		case in == nil || in.Kind != kindFile:
			if c.obj.Field(k) != nil {
				sub.addErr(k, "cannot be set through this form")
			} else {
				sub.addErr(k, "is not a field of this form")
			}
			continue
		case !in.Multiple && len(picked) > 1:
			sub.addErr(k, "takes one file")
			continue
		case len(picked) > maxFilesPerField:
			sub.addErr(k, fmt.Sprintf("takes at most %d files", maxFilesPerField))
			continue
		}
		for _, fh := range picked {
			if fh.Size > in.MaxSize {
				sub.addErr(k, fmt.Sprintf("%s is larger than %s", clip(fh.Filename, 80), humanBytes(in.MaxSize)))
				break
			}
			file, err := filesystem.NewFileFromMultipart(fh)
			if err != nil {
				sub.addErr(k, "the file could not be read")
				break
			}
			// The name the sender gave is kept with the stored file, whose storage takes
			// only UTF-8 text: a name in another encoding ("\xff.txt") would fail the save
			// after validation. Its stored name (file.Name) is already made of safe characters.
			file.OriginalName = strings.ToValidUTF8(file.OriginalName, "\uFFFD")
			if sub.files == nil {
				sub.files = map[string][]*filesystem.File{}
			}
			sub.files[k] = append(sub.files[k], file)
		}
	}
	return sub
}

func anyList(list []string) []any {
	out := make([]any, len(list))
	for i, s := range list {
		out[i] = s
	}
	return out
}

func truthy(s string) (bool, bool) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "on", "true", "1", "yes":
		return true, true
	case "off", "false", "0", "no":
		return false, true
	}
	return false, false
}

// storeErrors are per-field problems the database found (a unique value taken).
type storeErrors FieldErrors

func (se storeErrors) Error() string {
	return fmt.Sprintf("invalid submission: %v", map[string]string(se))
}

// assign sets the owner of rec by the form's assignment rules, in the transaction that saves
// it, and reports whether it did. A rule without candidates leaves the record unassigned (it
// shows in the managers' "Unassigned" view) rather than losing the submission.
func (s *Service) assign(tx core.App, c *compiled, rec *core.Record) bool {
	if c.form.Assign == nil {
		return false
	}
	got, err := c.form.Assign.Assign(tx, c.obj, "form:"+c.form.Slug, rec)
	if err != nil {
		s.app.Logger().Error("relata: form assignment", "form", c.form.Slug, "error", err)
		return false
	}
	return got != nil
}

// store saves an accepted submission in one transaction: the record (created, or found by
// the dedupe field and updated), the consent and the form_submissions record — whose creation
// queues the "form submitted" workflow trigger in this same transaction (package hooks).
func (s *Service) store(c *compiled, sub *submission, cl client, now time.Time) (*core.Record, string, error) {
	f := c.form
	var (
		rec    *core.Record
		action = ActionCreated
		stored *core.Record // the form_submissions record, once made
		given  *core.Record // the consent, once made
	)
	err := s.app.RunInTransaction(func(tx core.App) error {
		coll, err := tx.FindCachedCollectionByNameOrId(c.obj.Name)
		if err != nil {
			return err
		}
		hidden, err := c.hiddenValues(now)
		if err != nil {
			return err
		}
		// Every record the submission would point to must exist, or it is refused before
		// anything is saved, never "Thank you" with a record that points nowhere.
		if errs := c.checkReferences(tx, hidden); len(errs) > 0 {
			s.app.Logger().Error("relata: a form links to a record that does not exist", "form", f.Slug, "fields", fmt.Sprint(map[string]string(errs)))
			return errs
		}
		// A picked id must be one of the picker's choices now, as the sender would be offered
		// them (on a private form: records she may view): a forged id, a record she may not
		// view, or a record that left the filter since the page was served, is refused
		// before anything is saved.
		if errs, err := c.checkPicked(tx, c.pickerReader(cl.auth), sub.doc); err != nil || len(errs) > 0 {
			if err != nil {
				return err
			}
			return errs
		}
		for _, cp := range c.captures {
			if v, ok := sub.doc[cp.Param]; ok {
				hidden[cp.Field.Name] = v
			}
		}
		value := func(name string) (any, bool) {
			if files, ok := sub.files[name]; ok {
				return files, true
			}
			if v, ok := sub.doc[name]; ok && c.input(name) != nil {
				return v, true
			}
			v, ok := hidden[name]
			return v, ok
		}
		rec = nil
		if d := f.Dedupe; d != nil {
			email, _ := sub.doc[d.By].(string)
			if rec, err = findByEmail(tx, coll, d.By, email); err != nil {
				return err
			}
		}
		save := true
		if rec == nil {
			action = ActionCreated
			rec = core.NewRecord(coll)
			for k, v := range hidden {
				rec.Set(k, v)
			}
			for _, in := range c.inputs {
				if v, ok := value(in.Name); ok {
					rec.Set(in.Name, v)
				}
			}
			if f.Owner != "" {
				if of := c.obj.OwnerField(); of != nil {
					u, err := tx.FindAuthRecordByEmail(schemas.UsersCollection, f.Owner)
					if err != nil {
						s.app.Logger().Error("relata: the owner of a form is not a CRM user", "form", f.Slug, "owner", f.Owner)
						return storeErrors{KeyForm: "this form cannot take submissions right now: the user it assigns them to does not exist; please try again later"}
					}
					rec.Set(of.Name, u.Id)
				}
			}
			s.assign(tx, c, rec)
		} else {
			action = ActionUpdated
			save = false
			set := func(name string) {
				v, ok := value(name)
				if !ok {
					return
				}
				before := rec.Get(name)
				rec.Set(name, v)
				if !reflect.DeepEqual(before, rec.Get(name)) {
					save = true
				}
			}
			for _, name := range f.Dedupe.Update {
				set(name)
			}
			for _, name := range f.Dedupe.Fill {
				if isEmpty(rec.Get(name)) {
					set(name)
				}
			}
			if of := c.obj.OwnerField(); of != nil && rec.GetString(of.Name) == "" && s.assign(tx, c, rec) {
				save = true
			}
		}
		if save {
			if err := tx.Save(rec); err != nil {
				return fieldErrorsOf(err)
			}
		}
		if err := s.createLinked(tx, c, rec, now); err != nil {
			return err
		}
		consentID := ""
		var consent *core.Record
		if f.Consent != nil && sub.doc[KeyConsent] == true {
			cc, err := tx.FindCachedCollectionByNameOrId(ConsentsCollection)
			if err != nil {
				return err
			}
			cr := core.NewRecord(cc)
			cr.Set("form", f.Slug)
			cr.Set("object", c.obj.Name)
			cr.Set("record_id", rec.Id)
			cr.Set("text", f.Consent.Text)
			cr.Set("version", f.Consent.Version)
			cr.Set("given_at", now)
			cr.Set("purpose", f.Consent.PurposeOrDefault())
			cr.Set("basis", f.Consent.BasisOrDefault())
			// A submission that matched an existing record cannot vouch for that record's
			// address (anyone can type it): its consent counts only once the address's owner
			// confirms it, whatever the form's own setting.
			cr.Set("needs_confirmation", f.Consent.DoubleOptIn || action == ActionUpdated)
			cr.Set("client_ip", cl.ip)
			cr.Set("user_agent", cl.userAgent)
			if cc.Fields.GetByName("contact") != nil && c.obj.Name == ContactsObject {
				cr.Set("contact", rec.Id)
			}
			// The hook that emails its confirmation reads the record from here.
			given = cr
			submitted.Store(cr, rec)
			if err := saveMade(tx, cr, rec); err != nil {
				return fmt.Errorf("save consent: %w", err)
			}
			consentID = cr.Id
			consent = cr
		}
		sc, err := tx.FindCachedCollectionByNameOrId(SubmissionsCollection)
		if err != nil {
			return err
		}
		sr := core.NewRecord(sc)
		made := []*core.Record{rec}
		sr.Set("form", f.Slug)
		sr.Set("object", c.obj.Name)
		sr.Set("record_id", rec.Id)
		sr.Set("action", action)
		sr.Set("consent", consentID)
		sr.Set("client_ip", cl.ip)
		sr.Set("user_agent", cl.userAgent)
		sr.Set("origin", cl.origin)
		if consent != nil {
			made = append(made, consent)
		}
		// The hooks after the commit (duplicate flagging) read the submitted record from
		// here rather than from the database again.
		stored = sr
		submitted.Store(sr, rec)
		if err := saveMade(tx, sr, made...); err != nil {
			return fmt.Errorf("save form submission: %w", err)
		}
		return nil
	})
	if stored != nil {
		submitted.Delete(stored) // its after-commit hooks have run (or it was rolled back)
	}
	if given != nil {
		submitted.Delete(given)
	}
	if err != nil {
		return nil, "", err
	}
	return rec, action, nil
}

// submitted holds, while its transaction runs and its after-commit hooks run, the record a
// form_submissions or consents record being saved names (record_id), by that record.
var submitted sync.Map // *core.Record -> *core.Record

// SubmittedRecord returns the record (contact, …) a form_submissions or consents record
// being saved by a form names, as the submission saved it, or nil when sub was not saved by
// this package's submission path or its transaction has ended. Hooks on the submission's
// (or consent's) save, and after its commit, use it instead of reading the record again.
func SubmittedRecord(sub *core.Record) *core.Record {
	if v, ok := submitted.Load(sub); ok {
		return v.(*core.Record)
	}
	return nil
}

// saveMade saves a record the submission makes itself (its consent, its form_submissions
// record) in tx. Every field is checked as a save checks it (required, lengths, patterns,
// select values, a field an admin added), except the existence of the records a relation
// names when they are records this transaction saved (made): a save would look each of them
// up again in the write transaction, which cost a fifth of the transaction. Then the record
// is saved without PocketBase's validation pass (its only other work is the validate hooks:
// Relata's check pipelines' stages, which only objects have; the stage history saves its
// records the same way, hooks/stages.go).
// A new id with another pattern than schemas.IDPattern is also looked up (PocketBase's
// TextField.ValidateValue), so saveMade leaves those to it.
func saveMade(tx core.App, r *core.Record, made ...*core.Record) error {
	if r.IsNew() {
		// what the validation pass does first: a new record's id (and any other
		// autogenerated text) is generated before the fields are checked
		for _, f := range r.Collection().Fields {
			if tf, ok := f.(*core.TextField); ok && tf.AutogeneratePattern != "" && r.GetString(tf.Name) == "" {
				v, err := security.RandomStringByRegex(tf.AutogeneratePattern)
				if err != nil {
					return fmt.Errorf("generate %s: %w", tf.Name, err)
				}
				r.SetRaw(tf.Name, v)
			}
		}
	}
	known := func(rf *core.RelationField) bool {
		ids := list.ToUniqueStringSlice(r.GetRaw(rf.Name))
		if len(ids) == 0 || len(ids) < rf.MinSelect || len(ids) > max(rf.MaxSelect, 1) {
			return false // the field's own check answers
		}
		for _, id := range ids {
			if !slices.ContainsFunc(made, func(m *core.Record) bool {
				return m.Id == id && m.Collection().Id == rf.CollectionId && !m.IsNew()
			}) {
				return false
			}
		}
		return true
	}
	errs := validation.Errors{}
	for _, f := range r.Collection().Fields {
		if rf, ok := f.(*core.RelationField); ok && known(rf) {
			continue
		}
		if tf, ok := f.(*core.TextField); ok && tf.Pattern != "" && (!tf.PrimaryKey || tf.Pattern == schemas.IDPattern) {
			// PocketBase compiles a text field's pattern for every value it checks (the id's
			// on every save): the same check, with the pattern compiled once
			if v, ok := r.GetRaw(tf.Name).(string); ok {
				plain := *tf
				plain.Pattern = ""
				err := plain.ValidatePlainValue(v)
				if re, cerr := schemas.CompiledPattern(tf.Pattern); err == nil && v != "" && (cerr != nil || !re.MatchString(v)) {
					err = validation.NewError("validation_invalid_format", "Invalid value format.")
				}
				if err != nil {
					errs[f.GetName()] = err
				}
				continue
			}
		}
		if err := f.ValidateValue(context.Background(), tx, r); err != nil {
			errs[f.GetName()] = err
		}
	}
	if len(errs) > 0 {
		return errs
	}
	return tx.SaveNoValidate(r)
}

// hiddenValues resolves the form's hidden values: relative dates ("today+7d") become dates.
func (c *compiled) hiddenValues(now time.Time) (map[string]any, error) {
	out := make(map[string]any, len(c.form.Hidden))
	for k, v := range c.form.Hidden {
		if of := c.obj.Field(k); of != nil && (of.Type == schemas.TypeDate || of.Type == schemas.TypeDateTime) {
			if s, ok := v.(string); ok && s != "" {
				d, err := schemas.ResolveDate(s, now)
				if err != nil {
					return nil, fmt.Errorf("hidden %s: %w", k, err)
				}
				v = d
			}
		}
		out[k] = v
	}
	return out, nil
}

// checkReferences returns an error per field whose value (submitted or hidden) names a
// record that does not exist: a relation to another object, or an owner.
func (c *compiled) checkReferences(tx core.App, hidden map[string]any) storeErrors {
	return references(tx, c.obj, hidden)
}

// references returns an error per field of obj whose value in vals names a record that does
// not exist.
func references(tx core.App, obj *schemas.Object, vals map[string]any) storeErrors {
	var errs storeErrors
	hidden := vals
	for _, of := range obj.Fields {
		target := of.Target
		switch of.Type {
		case schemas.TypeOwner:
			target = schemas.UsersCollection
		case schemas.TypeRelation:
		default:
			continue
		}
		v, ok := hidden[of.Name]
		if !ok {
			continue
		}
		ids := list.ToUniqueStringSlice(v)
		if len(ids) == 0 {
			continue
		}
		coll, err := tx.FindCachedCollectionByNameOrId(target)
		if err != nil {
			continue // the save reports it
		}
		var found []string
		_ = tx.RecordQuery(coll).Select("id").AndWhere(dbx.In("id", list.ToInterfaceSlice(ids)...)).Column(&found)
		for _, id := range ids {
			if !slices.Contains(found, id) {
				if errs == nil {
					errs = storeErrors{}
				}
				// The id is the form's configuration, not the visitor's: it is logged, not shown.
				errs[of.Name] = fmt.Sprintf("refers to a %s record that does not exist; the form's configuration needs fixing", singular(target))
				break
			}
		}
	}
	return errs
}

func singular(name string) string { return strings.TrimSuffix(name, "s") }

// findByEmail returns the record of coll whose field equals email ignoring case, or nil.
func findByEmail(tx core.App, coll *core.Collection, field, email string) (*core.Record, error) {
	if email == "" {
		return nil, nil
	}
	rec := &core.Record{}
	err := emailQuery(tx, coll, field, email).One(rec)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("find %s by %s: %w", coll.Name, field, err)
	}
	return rec, nil
}

// emailQuery is the lookup of findByEmail. Its cost must not grow with the table: email
// fields are stored lower-cased (package hooks), so comparing with the lower-cased value uses
// the field's unique index; that index is partial (only non-empty values), and SQLite uses a
// partial index only when the query repeats its condition. TestDedupeLookupUsesIndex checks the
// plan (SEARCH … USING INDEX, never SCAN).
func emailQuery(tx core.App, coll *core.Collection, field, email string) *dbx.SelectQuery {
	return tx.RecordQuery(coll).
		AndWhere(dbx.HashExp{field: strings.ToLower(strings.TrimSpace(email))}).
		AndWhere(dbx.NewExp("[[" + field + "]] != ''")).
		OrderBy("created ASC").Limit(1)
}

func isEmpty(v any) bool {
	switch x := v.(type) {
	case nil:
		return true
	case string:
		return x == ""
	case []string:
		return len(x) == 0
	case []any:
		return len(x) == 0
	case float64:
		return x == 0
	case bool:
		return !x
	}
	return reflect.ValueOf(v).IsZero()
}

// fieldErrorsOf turns the validation errors of a record save into per-field errors.
func fieldErrorsOf(err error) error {
	var ve validation.Errors
	if !errors.As(err, &ve) {
		return err
	}
	out := storeErrors{}
	for k, e := range ve {
		msg := strings.TrimSuffix(e.Error(), ".")
		var ve validation.Error
		if errors.As(e, &ve) && ve.Code() == "validation_not_unique" {
			msg = "is already registered"
		}
		if msg != "" {
			msg = strings.ToLower(msg[:1]) + msg[1:]
		}
		out[k] = msg
	}
	return out
}
