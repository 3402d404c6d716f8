// Package webhooks receives incoming webhooks: signed HTTP posts from other systems (a
// website's backend, a billing system, Zapier) that create or update records of one object
// through a mapping, as a chosen user and under her access rules.
//
// A webhook is a record of the incoming_webhooks collection (admins only):
//
//	{"name": "Shop signups", "slug": "shop-signups", "object": "contacts", "mode": "upsert",
//	 "key": "email", "mapping": {"email": "/customer/email", "full_name": "/customer/name"},
//	 "defaults": {"source": "shop"}, "run_as": USER_ID, "enabled": true}
//
// The sender posts a JSON object to /api/relata/hooks/{slug} with two headers:
//
//	X-Relata-Timestamp: 1764751234                      (Unix seconds; within 5 minutes)
//	X-Relata-Signature: sha256=HEX(HMAC-SHA256(secret, timestamp + "." + body))
//
// and optionally X-Relata-Delivery: an id that makes a retried delivery change nothing twice
// (for Config.Retention, 30 days by default: a retry later than that is applied again).
// A request whose signature was already applied (the same timestamp and body: a captured
// request sent again, whatever its delivery id) changes nothing either; both get the first
// answer marked duplicate. The answer is 200 {"id", "action": "created"|"updated"|"unchanged"}
// or a located error: 400 for a value a field refuses (with the field and the payload's JSON
// pointer), 401 for a bad signature or an unknown or disabled webhook (the same answer, so the
// route tells no one which slugs exist), 403 when the run-as user may not make the change, 429
// when the webhook has accepted its daily cap — the field max_per_day, DefaultMaxPerDay when 0
// or empty, at most MaxPerDayLimit — within the last 24 hours (Window, sliding), saying when the
// next is accepted; a duplicate is still answered as one. The secret is made by POST
// /api/relata/webhooks/{id}/secret (admins), which returns it once; only its holder can sign.
//
// Writes go through Relata's one access check (schemas.Caller.CanCreate/CanUpdate, the
// record found by the key only if the user may view it), are saved with the run-as user as
// the audit actor ("webhook:SLUG") and trigger workflows like any other save. The key is
// looked up among the records the user may list (others sharing its value change nothing)
// and must be one value, not a list or an object. Fields hidden in PocketBase are never
// mapped, defaulted or keyed (the REST API writes them for superusers only), a webhook
// without a secret accepts nothing, and answers name the run-as user by her address only
// when she shows it.
package webhooks

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pocketbase/dbx"
	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas"
)

// Collections of this package.
const (
	Collection           = "incoming_webhooks"
	DeliveriesCollection = "relata_webhook_deliveries"
)

// Headers of a delivery.
const (
	HeaderTimestamp = "X-Relata-Timestamp"
	HeaderSignature = "X-Relata-Signature"
	HeaderDelivery  = "X-Relata-Delivery"
)

// MaxSkew is how far a delivery's timestamp may be from the server's clock.
const MaxSkew = 5 * time.Minute

// MaxBody is the largest payload accepted.
const MaxBody = 1 << 20

// DefaultRetention is how long a delivery's row is kept to answer its retries as duplicates
// (Config.Retention). Senders retry for days, not weeks — Stripe for up to 3 days; GitHub
// does not retry a failed delivery on its own — so 30 days outlasts their retries ten times
// over. A sender holding the secret could otherwise grow relata_webhook_deliveries without
// bound: one row per delivery, some 2.6 million a day at the general rate limit of /api/ (300
// requests per 10 s per address). A retry that comes later than this is applied again, as a
// new delivery.
const DefaultRetention = 30 * 24 * time.Hour

// DefaultPruneSchedule is when rows older than the retention are deleted (Config.PruneSchedule):
// every hour, at minute 23.
const DefaultPruneSchedule = "23 * * * *"

// PruneBatch is the most rows one statement of [Service.Prune] deletes: each batch is its own
// short write, so that pruning a backlog (a million rows after an idle day) never holds the
// database writer for long, and deliveries and other saves get it between batches.
const PruneBatch = 1000

// Window is the period over which a webhook's deliveries are counted against its daily cap
// (the incoming_webhooks field max_per_day): the 24 hours before each delivery, a sliding
// window, so that no boundary (a UTC midnight) lets twice the cap through in an hour.
const Window = 24 * time.Hour

// DefaultMaxPerDay is how many deliveries a webhook accepts within Window when its max_per_day
// is 0 or empty: one every 9 seconds on average, far more than a shop's signups or a billing
// system's events, and 260 times fewer records than the /api/ rate limit lets one address
// create (some 2.6 million a day). An admin raises it for a busier sender.
const DefaultMaxPerDay = 10_000

// MaxPerDayLimit is the highest max_per_day an admin may set (migration 1764005900 holds it
// too): each delivery counts the rows of the window up to the cap within the database's one
// write, so the cap bounds that work (100,000 index entries, a few milliseconds), as well as
// the CRM records and delivery rows one secret can make in a day.
const MaxPerDayLimit = 100_000

// pruneInline is the most rows of each kind a delivery deletes within its own transaction:
// more than the one row it adds, so that steady traffic keeps the table pruned between the
// scheduled runs, and few enough that the delivery's write stays short.
const pruneInline = 100

// Config configures incoming webhooks.
type Config struct {
	// Registry is the live object model; required.
	Registry *schemas.Registry
	// Now is the clock. Default: time.Now.
	Now func() time.Time
	// Retention is how long a delivery's row is kept to answer its retries as duplicates; it
	// must be at least Window (each row counts against the webhook's daily cap for that long,
	// and a replayed signature is recognised by its row for as long as its timestamp is
	// accepted). Default: DefaultRetention.
	Retention time.Duration
	// PruneSchedule is when rows older than Retention are deleted, as a cron expression in
	// UTC. Default: DefaultPruneSchedule.
	PruneSchedule string
}

// Service receives webhooks.
type Service struct {
	reg       *schemas.Registry
	now       func() time.Time
	retention time.Duration
	// decoy is the secret an unknown or disabled slug is checked against, so that it is
	// refused by the very check, and with the very answer, of a wrong signature.
	decoy string
	// capped remembers, per webhook id, the refusal of underCap until its reset, so that a
	// sender who keeps posting over the cap costs no count (up to MaxPerDayLimit index
	// entries) within the database's one write.
	capped sync.Map // string → cappedUntil
}

// cappedUntil is a webhook's refusal by underCap: with this max_per_day, until the oldest
// counted delivery leaves the window. Until then the window keeps every row that was counted
// (it starts before the oldest of them), so the count could only say the same.
type cappedUntil struct {
	limit int
	until time.Time
}

// Register adds the routes POST /api/relata/hooks/{slug} (the senders') and
// POST /api/relata/webhooks/{id}/secret (admins'), and checks every webhook when saved.
func Register(app core.App, cfg Config) (*Service, error) {
	if cfg.Registry == nil {
		return nil, errors.New("webhooks: Config.Registry is required")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Retention == 0 {
		cfg.Retention = DefaultRetention
	}
	if cfg.Retention < Window {
		return nil, fmt.Errorf("webhooks: Config.Retention %v is shorter than Window (%v): deliveries would be forgotten before they stop counting against max_per_day, and a replayed signature could be applied again", cfg.Retention, Window)
	}
	if cfg.PruneSchedule == "" {
		cfg.PruneSchedule = DefaultPruneSchedule
	}
	decoy, err := newSecret()
	if err != nil {
		return nil, err
	}
	s := &Service{reg: cfg.Registry, now: cfg.Now, retention: cfg.Retention, decoy: decoy}
	if err := app.Cron().Add(PruneJob, cfg.PruneSchedule, func() {
		n, err := s.Prune(app)
		if err != nil {
			app.Logger().Error("relata: prune webhook deliveries", "error", err)
			return
		}
		if n > 0 {
			app.Logger().Info("relata: pruned webhook deliveries", "rows", n)
		}
	}); err != nil {
		return nil, fmt.Errorf("webhooks: prune schedule %q: %w", cfg.PruneSchedule, err)
	}
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{Id: "relata.webhooks.routes", Func: func(se *core.ServeEvent) error {
		se.Router.POST("/api/relata/hooks/{slug}", s.receive).Bind(apis.BodyLimit(MaxBody))
		se.Router.POST("/api/relata/webhooks/{id}/secret", s.apiSecret).Bind(apis.RequireAuth("users"))
		return se.Next()
	}})
	check := &hook.Handler[*core.RecordEvent]{Id: "relata.webhooks.check", Func: func(e *core.RecordEvent) error {
		if err := s.Check(e.App, e.Record); err != nil {
			return err
		}
		if e.Record.GetString("secret") == "" {
			secret, err := newSecret()
			if err != nil {
				return err
			}
			e.Record.Set("secret", secret) // unknown to anyone until an admin makes a new one
		}
		return e.Next()
	}}
	app.OnRecordCreate(Collection).Bind(check)
	app.OnRecordUpdate(Collection).Bind(check)
	return s, nil
}

// Check refuses a webhook whose object, key, mapping or defaults do not fit the model, naming
// the JSON pointer of the part at fault.
func (s *Service) Check(app core.App, w *core.Record) error {
	fail := func(field, msg string) error {
		return apis.NewBadRequestError("The webhook is refused: "+msg, map[string]any{field: map[string]string{"code": "invalid", "message": msg}})
	}
	obj, ok := s.reg.Object(w.GetString("object"))
	if !ok {
		return fail("object", fmt.Sprintf("%q is not an object", w.GetString("object")))
	}
	mode, key := w.GetString("mode"), w.GetString("key")
	if mode != "create" && key == "" {
		return fail("key", "mode "+mode+" needs a key field that finds the record")
	}
	if key != "" && obj.Field(key) == nil {
		return fail("key", fmt.Sprintf("%s has no field %q", obj.Name, key))
	}
	mapping, err := decodeMap(w.Get("mapping"))
	if err != nil {
		return fail("mapping", "not an object of field names and JSON pointers: "+err.Error())
	}
	if len(mapping) == 0 {
		return fail("mapping", "map at least one field")
	}
	coll, _ := app.FindCachedCollectionByNameOrId(obj.Name)
	for _, f := range sortedKeys(mapping) {
		if obj.Field(f) == nil {
			return fail("mapping", fmt.Sprintf("/%s: %s has no field %q", f, obj.Name, f))
		}
		if hidden(coll, f) {
			return fail("mapping", fmt.Sprintf("/%s: %s is hidden: only superusers write it", f, f))
		}
		p, ok := mapping[f].(string)
		if !ok {
			return fail("mapping", fmt.Sprintf("/%s: a JSON pointer is a string", f))
		}
		if _, err := ParsePointer(p); err != nil {
			return fail("mapping", fmt.Sprintf("/%s: %v", f, err))
		}
	}
	if key != "" && mapping[key] == nil {
		return fail("key", fmt.Sprintf("the key %q is not mapped", key))
	}
	if n := w.GetFloat("max_per_day"); n < 0 || n > MaxPerDayLimit || n != float64(int64(n)) {
		return fail("max_per_day", fmt.Sprintf("%v is not a whole number from 0 to %d: the most deliveries a day is %d (0 or empty: the default, %d)", n, MaxPerDayLimit, MaxPerDayLimit, DefaultMaxPerDay))
	}
	defaults, err := decodeMap(w.Get("defaults"))
	if err != nil {
		return fail("defaults", "not an object of field names and values: "+err.Error())
	}
	for _, f := range sortedKeys(defaults) {
		if obj.Field(f) == nil {
			return fail("defaults", fmt.Sprintf("/%s: %s has no field %q", f, obj.Name, f))
		}
		if hidden(coll, f) {
			return fail("defaults", fmt.Sprintf("/%s: %s is hidden: only superusers write it", f, f))
		}
	}
	return nil
}

// hidden reports whether coll's field f is hidden: like the REST API, which drops hidden
// fields from every write but a superuser's, a webhook (which writes as a user) never sets
// one, and its key never finds records by one.
func hidden(coll *core.Collection, f string) bool {
	if coll == nil {
		return false
	}
	cf := coll.Fields.GetByName(f)
	return cf != nil && cf.GetHidden()
}

// Sign returns the signature header value of body sent at ts with secret.
func Sign(secret string, ts time.Time, body []byte) string {
	mac := hmac.New(sha256.New, []byte(secret))
	mac.Write([]byte(strconv.FormatInt(ts.Unix(), 10) + "."))
	mac.Write(body)
	return "sha256=" + hex.EncodeToString(mac.Sum(nil))
}

// Result is the answer to a delivery.
type Result struct {
	ID        string `json:"id"`
	Action    string `json:"action"`
	Duplicate bool   `json:"duplicate,omitempty"`
}

func (s *Service) receive(e *core.RequestEvent) error {
	w, err := e.App.FindFirstRecordByData(Collection, "slug", e.Request.PathValue("slug"))
	// A webhook without a secret (stored around the save hook, which makes one) would take
	// what anyone signs with "": it is refused as an unknown one is.
	known := err == nil && w.GetBool("enabled") && w.GetString("secret") != ""
	body, err := io.ReadAll(e.Request.Body)
	if err != nil {
		return e.BadRequestError("The body could not be read (at most 1 MB).", nil)
	}
	secret := s.decoy
	if known {
		secret = w.GetString("secret")
	}
	// An unknown slug goes through the same check as a known one, with a secret nobody has:
	// a 404 beside a 401 would tell a stranger which slugs exist.
	at, sig, why := s.verify(secret, e.Request.Header, body)
	if !known && why == "" {
		why = errSignature
	}
	if why != "" {
		return e.UnauthorizedError(why, nil)
	}
	delivery := strings.TrimSpace(e.Request.Header.Get(HeaderDelivery))
	if len(delivery) > 200 {
		return e.BadRequestError(HeaderDelivery+" is longer than 200 characters.", nil)
	}
	res, err := s.Deliver(e.App, w, body, Delivery{ID: delivery, Signature: sig, SignedAt: at})
	s.count(e.App, w, err)
	if err != nil {
		var de *DeliveryError
		if errors.As(err, &de) {
			if !de.RetryAt.IsZero() {
				secs := int64(de.RetryAt.Sub(s.now()).Seconds() + 1)
				e.Response.Header().Set("Retry-After", strconv.FormatInt(max(secs, 1), 10))
			}
			return e.JSON(de.Status, map[string]any{"status": de.Status, "message": de.Error(), "data": de.data()})
		}
		return e.InternalServerError("", err)
	}
	return e.JSON(http.StatusOK, res)
}

const errSignature = HeaderSignature + " does not match: sign timestamp + \".\" + body with HMAC-SHA256 and the webhook's secret."

// verify checks a delivery's timestamp and signature against secret and returns them, or
// says why they are refused.
func (s *Service) verify(secret string, h http.Header, body []byte) (at time.Time, signature, why string) {
	ts, err := strconv.ParseInt(h.Get(HeaderTimestamp), 10, 64)
	if err != nil {
		return at, "", HeaderTimestamp + " is missing or not Unix seconds."
	}
	at = time.Unix(ts, 0)
	if d := s.now().Sub(at); d > MaxSkew || d < -MaxSkew {
		return at, "", HeaderTimestamp + " is more than 5 minutes from the server's clock (a replayed or delayed delivery)."
	}
	want := Sign(secret, at, body)
	if !hmac.Equal([]byte(h.Get(HeaderSignature)), []byte(want)) {
		return at, "", errSignature
	}
	return at, want, ""
}

// Delivery is what identifies one verified request of a webhook.
type Delivery struct {
	// ID is the sender's X-Relata-Delivery, or "".
	ID string
	// Signature is the verified X-Relata-Signature and SignedAt its X-Relata-Timestamp. The
	// signature does not cover the delivery id, so a second request with the same signature
	// within MaxSkew is the first one captured and sent again.
	Signature string
	SignedAt  time.Time
}

// signatureKey is what is stored of a signature: enough to recognise it, not to send it.
func signatureKey(signature string) string {
	sum := sha256.Sum256([]byte(signature))
	return hex.EncodeToString(sum[:])
}

// DeliveryError is a refused delivery: Status is the HTTP status; Field and Pointer locate it.
type DeliveryError struct {
	Status         int
	Field, Pointer string
	Message        string
	// Code is the code of data's entry for Field; "invalid" when empty.
	Code string
	// RetryAt, when set, is when the delivery may be sent again (a 429: the cap's reset).
	RetryAt time.Time
}

func (e *DeliveryError) Error() string {
	switch {
	case e.Field != "" && e.Pointer != "":
		return fmt.Sprintf("%s (from %s): %s", e.Field, e.Pointer, e.Message)
	case e.Field != "":
		return e.Field + ": " + e.Message
	}
	return e.Message
}

func (e *DeliveryError) data() map[string]any {
	if e.Field == "" {
		return map[string]any{}
	}
	entry := map[string]string{"code": "invalid", "message": e.Message, "pointer": e.Pointer}
	if e.Code != "" {
		entry["code"] = e.Code
	}
	if !e.RetryAt.IsZero() {
		entry["resets_at"] = e.RetryAt.UTC().Format(time.RFC3339)
	}
	return map[string]any{e.Field: entry}
}

// Deliver applies one verified payload of webhook w: it maps the payload, finds the record by
// the key (if it may be seen), checks the run-as user's rights and saves, all in one
// transaction with the delivery's id and signature. A delivery whose id or signature was
// already applied changes nothing and gets the first answer, marked Duplicate. Otherwise, when
// w has accepted its max_per_day deliveries within Window, it changes nothing and is refused
// with a 429 DeliveryError saying when the oldest of them leaves the window.
func (s *Service) Deliver(app core.App, w *core.Record, body []byte, d Delivery) (*Result, error) {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	var payload any
	if err := dec.Decode(&payload); err != nil {
		return nil, &DeliveryError{Status: 400, Message: "the body is not JSON: " + err.Error()}
	}
	if _, ok := payload.(map[string]any); !ok {
		return nil, &DeliveryError{Status: 400, Message: "the body is not a JSON object"}
	}
	runAs, err := app.FindRecordById(schemas.UsersCollection, w.GetString("run_as"))
	if err != nil {
		return nil, &DeliveryError{Status: 403, Message: "the webhook's run-as user no longer exists"}
	}
	caller := schemas.User(runAs)
	// The answer goes to another system: it names the user by her address only if she shows it.
	who := "the webhook's user " + runAs.Id
	if schemas.System.MayReadEmail(runAs) {
		who = runAs.GetString("email")
	}
	coll, err := app.FindCachedCollectionByNameOrId(w.GetString("object"))
	if err != nil {
		return nil, &DeliveryError{Status: 404, Message: "the webhook's object no longer exists"}
	}
	mapping, _ := decodeMap(w.Get("mapping"))
	defaults, _ := decodeMap(w.Get("defaults"))
	// A field hidden since the webhook was saved is refused as the save would refuse it.
	for _, m := range []map[string]any{mapping, defaults} {
		for _, f := range sortedKeys(m) {
			if hidden(coll, f) {
				return nil, &DeliveryError{Status: 403, Field: f, Message: "the field is hidden: only superusers write it"}
			}
		}
	}
	values := map[string]any{}
	pointers := map[string]string{}
	for _, f := range sortedKeys(mapping) {
		ps, _ := mapping[f].(string)
		p, err := ParsePointer(ps)
		if err != nil {
			return nil, &DeliveryError{Status: 400, Field: f, Pointer: ps, Message: err.Error()}
		}
		if v, ok := p.Get(payload); ok && v != nil {
			pv, err := plain(v)
			if err != nil {
				return nil, &DeliveryError{Status: 400, Field: f, Pointer: ps, Message: err.Error()}
			}
			values[f] = pv
			pointers[f] = ps
		}
	}
	for f, v := range defaults {
		if _, ok := values[f]; !ok {
			values[f] = v
		}
	}
	owner := ""
	if obj, ok := s.reg.Object(coll.Name); ok && obj.OwnerField() != nil {
		owner = obj.OwnerField().Name
	}
	var res *Result
	ctx := schemas.WithOrigin(context.Background(), schemas.Origin{Kind: schemas.OriginUser, ID: runAs.Id, Via: "webhook:" + w.GetString("slug")})
	sig := ""
	if d.Signature != "" {
		sig = signatureKey(d.Signature)
	}
	err = app.RunInTransaction(func(tx core.App) error {
		// The conditions repeat those of the partial unique indexes, or SQLite reads neither.
		for _, same := range []dbx.Expression{
			dbx.And(dbx.HashExp{"webhook": w.Id, "delivery": d.ID}, dbx.NewExp("[[delivery]] != ''")),
			dbx.And(dbx.HashExp{"webhook": w.Id, "signature": sig}, dbx.NewExp("[[signature]] != ''")),
		} {
			var prev struct {
				Record string `db:"record"`
				Action string `db:"action"`
			}
			if err := tx.DB().Select("record", "action").From(DeliveriesCollection).Where(same).Limit(1).One(&prev); err == nil {
				res = &Result{ID: prev.Record, Action: prev.Action, Duplicate: true}
				return nil
			}
		}
		if err := s.underCap(tx, w); err != nil {
			return err
		}
		if err := s.prune(tx); err != nil {
			return err
		}
		rec, err := s.find(tx, w, coll, caller, values, pointers)
		if err != nil {
			return err
		}
		action := "updated"
		if rec == nil {
			action = "created"
			rec = core.NewRecord(coll)
			if _, given := values[owner]; owner != "" && !given {
				values[owner] = runAs.Id // like the REST API: a new record is its creator's
			}
		}
		changed := map[string]any{}
		for f, v := range values {
			before := rec.Get(f)
			rec.Set(f, v)
			if action == "created" || fmt.Sprint(before) != fmt.Sprint(rec.Get(f)) {
				changed[f] = v
			}
		}
		switch {
		case action == "updated" && len(changed) == 0:
			action = "unchanged"
		case action == "created":
			ok, err := caller.CanCreate(tx, rec, values)
			if err != nil {
				return err
			}
			if !ok {
				return &DeliveryError{Status: 403, Message: who + " may not create this " + coll.Name + " record"}
			}
		default:
			ok, err := caller.CanUpdate(tx, rec, changed)
			if err != nil {
				return err
			}
			if !ok {
				return &DeliveryError{Status: 403, Message: who + " may not make this change"}
			}
		}
		if action != "unchanged" {
			if err := tx.SaveWithContext(ctx, rec); err != nil {
				return saveError(err, pointers)
			}
		}
		res = &Result{ID: rec.Id, Action: action}
		// Every applied delivery leaves a row, the count of the daily cap; one with neither
		// a delivery id nor a signature (a caller of Deliver other than the route) is kept,
		// as a replay row is, for Window.
		dc, err := tx.FindCachedCollectionByNameOrId(DeliveriesCollection)
		if err != nil {
			return err
		}
		dr := core.NewRecord(dc)
		dr.Set("webhook", w.Id)
		dr.Set("delivery", d.ID)
		dr.Set("signature", sig)
		signedAt := d.SignedAt
		if signedAt.IsZero() {
			signedAt = s.now()
		}
		dr.Set("signed_at", signedAt.UTC())
		dr.Set("record", rec.Id)
		dr.Set("action", action)
		return tx.Save(dr)
	})
	if err != nil {
		return nil, err
	}
	return res, nil
}

// MaxPerDay is how many deliveries webhook w accepts within Window: its max_per_day, or
// DefaultMaxPerDay when that is 0 or empty, never more than MaxPerDayLimit.
func MaxPerDay(w *core.Record) int {
	n := w.GetInt("max_per_day")
	switch {
	case n <= 0:
		return DefaultMaxPerDay
	case n > MaxPerDayLimit:
		return MaxPerDayLimit
	}
	return n
}

// capQuery counts the rows of webhook w created since since, up to limit: a bounded count
// that reads idx_relata_webhook_deliveries_webhook (webhook, created) and stops at the cap.
func capQuery(app core.App, w, since string, limit int) *dbx.Query {
	return app.DB().NewQuery("SELECT count(*) FROM (SELECT 1 FROM {{" + DeliveriesCollection + "}} WHERE [[webhook]] = {:webhook} AND [[created]] >= {:since} LIMIT {:limit})").
		Bind(dbx.Params{"webhook": w, "since": since, "limit": limit})
}

// underCap refuses a delivery of w, with a 429, when w's rows created within Window — one per
// applied delivery, written in the delivery's transaction — number its MaxPerDay. It runs in
// the delivery's transaction: deliveries are written one at a time, so two cannot both take
// the last place.
func (s *Service) underCap(tx core.App, w *core.Record) error {
	limit, now := MaxPerDay(w), s.now()
	if v, ok := s.capped.Load(w.Id); ok {
		if c := v.(cappedUntil); c.limit == limit && now.Before(c.until) {
			return capError(limit, c.until)
		}
		s.capped.Delete(w.Id)
	}
	since := now.Add(-Window).UTC().Format(types.DefaultDateLayout)
	var n int
	if err := capQuery(tx, w.Id, since, limit).Row(&n); err != nil {
		return err
	}
	if n < limit {
		return nil
	}
	var oldest string
	if err := tx.DB().NewQuery("SELECT min([[created]]) FROM {{" + DeliveriesCollection + "}} WHERE [[webhook]] = {:webhook} AND [[created]] >= {:since}").
		Bind(dbx.Params{"webhook": w.Id, "since": since}).Row(&oldest); err != nil {
		return err
	}
	at, err := types.ParseDateTime(oldest)
	if err != nil {
		return err
	}
	reset := at.Time().Add(Window)
	s.capped.Store(w.Id, cappedUntil{limit: limit, until: reset})
	return capError(limit, reset)
}

// capError is underCap's refusal: 429, naming the limit and when the next delivery is accepted.
func capError(limit int, reset time.Time) *DeliveryError {
	return &DeliveryError{Status: http.StatusTooManyRequests, Field: "max_per_day", Code: "rate_limited", RetryAt: reset,
		Message: fmt.Sprintf("the webhook has accepted its limit of %d deliveries in 24 hours (max_per_day); the next is accepted from %s",
			limit, reset.UTC().Format(time.RFC3339))}
}

// PruneJob is the id of the cron job that runs [Service.Prune].
const PruneJob = "relata.webhooks.prune"

// prune is the pruning a delivery does in its own transaction: at most pruneInline rows kept
// only to recognise a replayed signature and to count against the daily cap (those without a
// delivery id) signed more than Window + MaxSkew ago — a request carrying it is refused by its
// timestamp, and it was created before Window — and at most pruneInline rows older than the
// retention. The scheduled [Service.Prune] deletes what is left.
func (s *Service) prune(tx core.App) error {
	if _, err := s.pruneSigned(tx, pruneInline); err != nil {
		return err
	}
	_, err := s.pruneOld(tx, pruneInline)
	return err
}

// Prune deletes the rows of relata_webhook_deliveries that are no longer needed — those
// older than the retention (Config.Retention), and those without a delivery id signed more
// than Window + MaxSkew ago — in statements of at most [PruneBatch] rows, each
// its own write, until none is left; and returns how many it deleted. A retry whose row it
// deleted is applied again. It runs on Config.PruneSchedule.
func (s *Service) Prune(app core.App) (int64, error) {
	var total int64
	for _, batch := range []func(core.App, int) (int64, error){s.pruneSigned, s.pruneOld} {
		for {
			n, err := batch(app, PruneBatch)
			total += n
			if err != nil {
				return total, fmt.Errorf("webhooks: prune deliveries: %w", err)
			}
			if n < PruneBatch {
				break
			}
		}
	}
	return total, nil
}

// PruneOnce deletes at most [PruneBatch] rows older than the retention, in one statement,
// and returns how many: one step of [Service.Prune].
func (s *Service) PruneOnce(app core.App) (int64, error) {
	return s.pruneOld(app, PruneBatch)
}

// pruneSigned deletes at most limit rows without a delivery id signed more than Window +
// MaxSkew ago, oldest first: such a row was created at most MaxSkew after it was signed, so
// before Window, and no longer counts against the daily cap. The condition on delivery
// repeats that of idx_relata_webhook_deliveries_signed, which the subquery reads in order.
func (s *Service) pruneSigned(app core.App, limit int) (int64, error) {
	before := s.now().Add(-Window - MaxSkew).UTC().Format(types.DefaultDateLayout)
	return deleteLimit(app, "[[delivery]] = '' AND [[signed_at]] < {:before} ORDER BY [[signed_at]]", before, limit)
}

// pruneOld deletes at most limit rows created before the retention, oldest first, with or
// without a delivery id, reading idx_relata_webhook_deliveries_created in order.
func (s *Service) pruneOld(app core.App, limit int) (int64, error) {
	before := s.now().Add(-s.retention).UTC().Format(types.DefaultDateLayout)
	return deleteLimit(app, "[[created]] < {:before} ORDER BY [[created]]", before, limit)
}

// deleteLimit deletes the first limit rows of relata_webhook_deliveries that where (with
// {:before} and its order) selects, in one statement: SQLite's DELETE has no LIMIT unless
// built with it, so the rows are chosen by a subquery.
func deleteLimit(app core.App, where, before string, limit int) (int64, error) {
	res, err := app.DB().NewQuery("DELETE FROM {{" + DeliveriesCollection + "}} WHERE [[id]] IN (SELECT [[id]] FROM {{" +
		DeliveriesCollection + "}} WHERE " + where + " LIMIT {:limit})").
		Bind(dbx.Params{"before": before, "limit": limit}).Execute()
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// find returns the record the key names, if the run-as user may see it; nil to create one.
func (s *Service) find(tx core.App, w *core.Record, coll *core.Collection, caller schemas.Caller, values map[string]any, pointers map[string]string) (*core.Record, error) {
	mode, key := w.GetString("mode"), w.GetString("key")
	if mode == "create" {
		return nil, nil
	}
	kv, ok := values[key]
	if !ok || fmt.Sprint(kv) == "" {
		return nil, &DeliveryError{Status: 400, Field: key, Message: "the payload gives no value for the key"}
	}
	switch kv.(type) {
	case string, int64, float64, bool:
	default:
		// A list would be read as "key IN (…)" and then stored in the key field; an object
		// is no value at all.
		return nil, &DeliveryError{Status: 400, Field: key, Pointer: pointers[key], Message: "the key is one value, not a list or an object"}
	}
	// The list rule applies in the query, before the limit: records the user may not see
	// must not hide hers (nor tell, by hiding it, that they exist).
	q, err := schemas.ListQuery(tx, coll, caller)
	if errors.Is(err, schemas.ErrForbidden) {
		q, err = nil, nil
	}
	if err != nil {
		return nil, err
	}
	var recs []*core.Record
	if q != nil {
		if err := q.AndWhere(dbx.HashExp{coll.Name + "." + key: kv}).Limit(2).All(&recs); err != nil {
			return nil, err
		}
	}
	var found *core.Record
	for _, r := range recs {
		if ok, err := caller.CanView(tx, r); err != nil {
			return nil, err
		} else if ok {
			if found != nil && found.Id != r.Id {
				return nil, &DeliveryError{Status: 409, Field: key, Message: fmt.Sprintf("more than one record has %v", kv)}
			}
			found = r
		}
	}
	if found == nil && mode == "update" {
		return nil, &DeliveryError{Status: 404, Field: key, Message: fmt.Sprintf("no record the webhook's user can see has %v", kv)}
	}
	return found, nil
}

// saveError turns a refused save into a located delivery error.
func saveError(err error, pointers map[string]string) error {
	var ve validation.Errors
	if errors.As(err, &ve) {
		for _, f := range sortedKeys(ve) {
			return &DeliveryError{Status: 400, Field: f, Pointer: pointers[f], Message: ve[f].Error()}
		}
	}
	return &DeliveryError{Status: 400, Message: err.Error()}
}

// count records the delivery on the webhook (a direct update: no hooks, no audit entry).
func (s *Service) count(app core.App, w *core.Record, failed error) {
	now := s.now().UTC().Format(types.DefaultDateLayout)
	set := dbx.Params{"last_received": now, "received": dbx.NewExp("[[received]] + 1")}
	if failed != nil {
		set["failed"] = dbx.NewExp("[[failed]] + 1")
		msg := failed.Error()
		if len(msg) > 1000 {
			msg = msg[:1000]
		}
		set["last_error"] = msg
	}
	if _, err := app.DB().Update(Collection, set, dbx.HashExp{"id": w.Id}).Execute(); err != nil {
		app.Logger().Warn("relata: count a webhook delivery", "webhook", w.Id, "error", err)
	}
}

// apiSecret makes a new signing secret for a webhook and returns it, once; admins only.
func (s *Service) apiSecret(e *core.RequestEvent) error {
	if e.Auth.GetString("role") != "admin" {
		return e.ForbiddenError("Only admins manage webhooks.", nil)
	}
	w, err := e.App.FindRecordById(Collection, e.Request.PathValue("id"))
	if err != nil {
		return e.NotFoundError("", nil)
	}
	secret, err := newSecret()
	if err != nil {
		return err
	}
	w.Set("secret", secret)
	if err := e.App.Save(w); err != nil {
		return e.BadRequestError("The webhook could not be saved: "+err.Error(), nil)
	}
	return e.JSON(http.StatusOK, map[string]any{"secret": secret, "url": "/api/relata/hooks/" + w.GetString("slug")})
}

func newSecret() (string, error) {
	b := make([]byte, 32)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	return "whsec_" + base64.RawURLEncoding.EncodeToString(b), nil
}

// plain turns decoded JSON numbers into float64 or int64 as PocketBase's fields expect; a
// number beyond float64 (1e400) is refused rather than stored as infinity.
func plain(v any) (any, error) {
	switch x := v.(type) {
	case json.Number:
		if i, err := x.Int64(); err == nil {
			return i, nil
		}
		f, err := x.Float64()
		if err != nil {
			return nil, fmt.Errorf("%s is beyond the range of numbers", x)
		}
		return f, nil
	case []any:
		out := make([]any, len(x))
		for i, e := range x {
			var err error
			if out[i], err = plain(e); err != nil {
				return nil, err
			}
		}
		return out, nil
	}
	return v, nil
}

func decodeMap(v any) (map[string]any, error) {
	var raw []byte
	switch x := v.(type) {
	case nil:
		return map[string]any{}, nil
	case types.JSONRaw:
		raw = x
	case []byte:
		raw = x
	case string:
		raw = []byte(x)
	default:
		b, err := json.Marshal(x)
		if err != nil {
			return nil, err
		}
		raw = b
	}
	if len(bytes.TrimSpace(raw)) == 0 || string(bytes.TrimSpace(raw)) == "null" {
		return map[string]any{}, nil
	}
	m := map[string]any{}
	if err := json.Unmarshal(raw, &m); err != nil {
		return nil, err
	}
	return m, nil
}

func sortedKeys[V any](m map[string]V) []string {
	ks := make([]string, 0, len(m))
	for k := range m {
		ks = append(ks, k)
	}
	sort.Strings(ks)
	return ks
}
