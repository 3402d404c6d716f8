package campaigns

import (
	"errors"
	"fmt"
	"net/mail"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/segments"
	"github.com/relata/relata/workflows/outbox"
)

var errStopped = errors.New("campaigns: stopping")

func dbTime(t time.Time) string { return t.UTC().Format(types.DefaultDateLayout) }

// ErrState is returned for an action the campaign's status does not allow (sending a sent
// campaign, resuming one that is not paused).
var ErrState = errors.New("not possible in this status")

// Step does one round of work: starts due campaigns, resolves the recipients of starting
// ones, queues one batch of each sending campaign within its throttle, and finishes those
// with nothing left. It reports whether more work is waiting now.
func (s *Service) Step() (bool, error) { return s.step(nil) }

func (s *Service) step(stop <-chan struct{}) (bool, error) {
	s.stepMu.Lock()
	defer s.stepMu.Unlock()
	now := s.cfg.Now()
	_, err := s.app.DB().NewQuery(`UPDATE campaigns SET status = 'sending', started_at = {:now}, updated = {:now}
		WHERE status = 'scheduled' AND (coalesce(send_at, '') = '' OR send_at <= {:now})`).
		Bind(dbx.Params{"now": dbTime(now)}).Execute()
	if err != nil {
		return false, fmt.Errorf("start due campaigns: %w", err)
	}
	sending, err := s.app.FindRecordsByFilter(Collection, "status = 'sending'", "created", 0, 0)
	if err != nil {
		return false, err
	}
	busy := false
	var errs []error
	for _, c := range sending {
		more, err := s.advance(c, stop)
		if errors.Is(err, errStopped) {
			return false, nil
		}
		if err != nil {
			errs = append(errs, fmt.Errorf("campaign %q: %w", c.GetString("name"), err))
			s.app.DB().Update(Collection, dbx.Params{"last_error": clip(err.Error())}, dbx.HashExp{"id": c.Id}).Execute() //nolint:errcheck // best effort note
			continue
		}
		busy = busy || more
	}
	return busy, errors.Join(errs...)
}

// advance moves one sending campaign forward: while its audience is not all resolved, one
// batch of recipients is resolved and then one batch queued, so sending starts with the first
// batch instead of after the whole segment (36 s of 100,000 recipients at load 6).
func (s *Service) advance(c *core.Record, stop <-chan struct{}) (bool, error) {
	resolving := !c.GetBool("resolved")
	if resolving {
		done, err := s.resolveStep(c, stop)
		if err != nil {
			return false, err
		}
		resolving = !done
	}
	_, more, err := s.queue(c)
	if err != nil {
		return false, err
	}
	if resolving {
		return true, nil
	}
	if !more {
		var pending int
		if err := s.app.DB().Select("count(*)").From(RecipientsCollection).
			Where(dbx.HashExp{"campaign": c.Id, "status": RecipientPending}).Row(&pending); err != nil {
			return false, err
		}
		if pending == 0 {
			_, err := s.app.DB().NewQuery(`UPDATE campaigns SET status = 'sent', finished_at = {:now}, updated = {:now}
				WHERE id = {:id} AND status = 'sending'`).Bind(dbx.Params{"now": dbTime(s.cfg.Now()), "id": c.Id}).Execute()
			return false, err
		}
	}
	return more, nil
}

// resolveCursor is how far a campaign's audience was resolved in this process: the last
// contact id written and how many members were read. It is not stored: after a restart the
// audience is read again from the start, and rows already written are kept as they are (the
// unique (campaign, key) index decides).
type resolveCursor struct {
	last     string
	audience int
	// optedOut are the addresses of every contact (in the segment or not) that opted out,
	// read once when resolving starts in this process, with the reason.
	optedOut map[string]string
}

// resolveStep writes the recipient rows of the next batch of the segment's members (as the
// campaign's owner sees them) in one transaction, and reports whether the audience is now
// all resolved; then the campaign is marked resolved with its audience. The caller holds
// stepMu.
func (s *Service) resolveStep(c *core.Record, stop <-chan struct{}) (bool, error) {
	if stop != nil {
		select {
		case <-stop:
			return false, errStopped
		default:
		}
	}
	owner, err := segments.Owner(s.app, c)
	if err != nil {
		return false, err
	}
	seg, err := s.app.FindRecordById(segments.Collection, c.GetString("segment"))
	if err != nil {
		return false, fmt.Errorf("its segment no longer exists")
	}
	coll, err := s.app.FindCachedCollectionByNameOrId(RecipientsCollection)
	if err != nil {
		return false, err
	}
	purpose := c.GetString("consent_purpose")
	if purpose == "" {
		purpose = DefaultConsentPurpose
	}
	bases, err := consentBases(s.app, c)
	if err != nil {
		return false, err
	}
	if s.cursors == nil {
		s.cursors = map[string]*resolveCursor{}
	}
	cur := s.cursors[c.Id]
	if cur == nil {
		cur = &resolveCursor{}
		s.cursors[c.Id] = cur
	}
	if cur.optedOut == nil {
		if cur.optedOut, err = optedOut(s.app, purpose); err != nil {
			return false, err
		}
	}
	contacts, err := segments.Page(s.app, owner, seg, cur.last, s.cfg.Batch)
	if err != nil {
		return false, err
	}
	if len(contacts) > 0 {
		err = s.app.RunInTransaction(func(tx core.App) error {
			return s.resolveBatch(tx, coll, c, contacts, purpose, bases, cur.optedOut)
		})
		if err != nil {
			return false, err
		}
		cur.last = contacts[len(contacts)-1].Id
		cur.audience += len(contacts)
	}
	if len(contacts) == s.cfg.Batch {
		return false, nil
	}
	_, err = s.app.DB().Update(Collection, dbx.Params{"resolved": true, "audience": cur.audience, "updated": dbTime(s.cfg.Now())},
		dbx.HashExp{"id": c.Id}).Execute()
	if err != nil {
		return false, err
	}
	c.Set("resolved", true)
	c.Set("audience", cur.audience)
	delete(s.cursors, c.Id)
	return true, nil
}

func (s *Service) resolveBatch(tx core.App, coll *core.Collection, c *core.Record, contacts []*core.Record, purpose string, bases []string, optedOut map[string]string) error {
	type row struct {
		key, addr, contact, status, reason string
	}
	rows := make([]row, 0, len(contacts))
	var addrs []string
	var ids []any
	for _, rec := range contacts {
		addr := strings.ToLower(strings.TrimSpace(rec.GetString("email")))
		r := row{key: addr, addr: addr, contact: rec.Id, status: RecipientPending}
		switch {
		case addr == "":
			r.key, r.status, r.reason = "no-address:"+rec.Id, RecipientSkipped, ReasonNoAddress
		case rec.GetBool("do_not_email"):
			r.status, r.reason = RecipientSkipped, ReasonDoNotEmail
		}
		if addr != "" {
			addrs = append(addrs, addr)
		}
		ids = append(ids, rec.Id)
		rows = append(rows, r)
	}
	suppressed, err := outbox.Suppressed(tx, addrs)
	if err != nil {
		return err
	}
	refused, err := consentRefused(tx, ids, purpose, bases)
	if err != nil {
		return err
	}
	keys := make([]any, len(rows))
	for i, r := range rows {
		keys[i] = r.key
	}
	var have []string
	if err := tx.DB().Select("key").From(RecipientsCollection).
		Where(dbx.And(dbx.HashExp{"campaign": c.Id}, dbx.In("key", keys...))).Column(&have); err != nil {
		return err
	}
	now := dbTime(time.Now())
	insert := make([][]any, 0, len(rows))
	seen := map[string]bool{}
	for _, k := range have {
		seen[k] = true
	}
	for _, r := range rows {
		if seen[r.key] {
			continue // a duplicate address, or written before a restart
		}
		seen[r.key] = true
		if r.status == RecipientPending {
			switch {
			case suppressed[r.addr]:
				r.status, r.reason = RecipientSkipped, ReasonSuppressed
			case refused[r.contact]:
				r.status, r.reason = RecipientSkipped, ReasonNoConsent
			case optedOut[r.addr] != "":
				// another contact of the address opted out: it is the same person's mailbox
				r.status, r.reason = RecipientSkipped, optedOut[r.addr]
			}
		}
		insert = append(insert, []any{core.GenerateDefaultRandomId(), c.Id, r.key, r.addr, r.contact, r.status, r.reason, "", "", "", "", now, now})
	}
	// One multi-row insert for the batch (recipient rows have no record hooks).
	return schemas.InsertMany(tx, coll.Name, []string{"id", "campaign", "key", "email", "contact", "status", "reason",
		"email_id", "queued_at", "opened_at", "clicked_at", "created", "updated"}, insert)
}

// consentRefused returns the contacts among ids that lack the consent needed: with bases, a
// valid consent of the purpose on one of them (not withdrawn; confirmed when double opt-in);
// without, consents of the purpose that are all withdrawn (the outbox's rule). A consent
// waiting for its confirmation refuses nothing there: anyone can post a form with someone
// else's address, and that must not turn off their mail.
func consentRefused(tx core.App, ids []any, purpose string, bases []string) (map[string]bool, error) {
	var rows []struct {
		Record    string `db:"record_id"`
		Basis     string `db:"basis"`
		Withdrawn string `db:"withdrawn_at"`
		Needs     bool   `db:"needs_confirmation"`
		Confirmed string `db:"confirmed_at"`
	}
	err := tx.DB().Select("record_id", "coalesce(basis, '') AS basis", "coalesce(withdrawn_at, '') AS withdrawn_at",
		"needs_confirmation", "coalesce(confirmed_at, '') AS confirmed_at").From("consents").
		Where(dbx.And(dbx.HashExp{"object": segments.Object, "purpose": purpose}, dbx.In("record_id", ids...))).All(&rows)
	if err != nil {
		return nil, fmt.Errorf("read consents: %w", err)
	}
	has, valid := map[string]bool{}, map[string]bool{}
	for _, r := range rows {
		if r.Withdrawn == "" && r.Needs && r.Confirmed == "" {
			continue // pending: as if absent
		}
		has[r.Record] = true
		ok := r.Withdrawn == "" && (!r.Needs || r.Confirmed != "")
		if ok && (len(bases) == 0 || contains(bases, r.Basis)) {
			valid[r.Record] = true
		}
	}
	out := map[string]bool{}
	for _, id := range ids {
		id := id.(string)
		switch {
		case valid[id]:
		case len(bases) > 0:
			out[id] = true
		case has[id]:
			out[id] = true
		}
	}
	return out, nil
}

// optedOut returns the addresses (lower case) of the contacts that opted out of marketing
// mail, with the skip reason: do_not_email set, or every consent of purpose withdrawn (a
// consent pending its confirmation counts as none, as in consentRefused). A campaign mails
// an address once, as its first contact in id order; another contact of the same address
// (the unique index on email is case-sensitive) may be the one that opted out, and the
// outbox checks only the contact an email is about. The opted out are few: one scan of the
// contacts and one of the consents, when a campaign starts resolving.
func optedOut(app core.App, purpose string) (map[string]string, error) {
	out := map[string]string{}
	var rows []struct {
		Addr string `db:"addr"`
	}
	coll, err := app.FindCachedCollectionByNameOrId(segments.Object)
	if err != nil {
		return nil, err
	}
	if coll.Fields.GetByName("do_not_email") != nil {
		err := app.DB().NewQuery(`SELECT DISTINCT lower(trim(email)) AS addr FROM {{` + segments.Object + `}}
			WHERE [[do_not_email]] = TRUE AND coalesce(email, '') != ''`).All(&rows)
		if err != nil {
			return nil, fmt.Errorf("read the contacts that opted out: %w", err)
		}
		for _, r := range rows {
			out[r.Addr] = ReasonDoNotEmail
		}
	}
	rows = nil
	err = app.DB().NewQuery(`SELECT DISTINCT lower(trim(c.email)) AS addr FROM {{` + segments.Object + `}} c
		WHERE coalesce(c.email, '') != '' AND c.id IN (
			SELECT record_id FROM consents
			WHERE object = {:object} AND purpose = {:purpose}
				AND NOT (coalesce(withdrawn_at, '') = '' AND needs_confirmation = TRUE AND coalesce(confirmed_at, '') = '')
			GROUP BY record_id HAVING sum(coalesce(withdrawn_at, '') = '') = 0)`).
		Bind(dbx.Params{"object": segments.Object, "purpose": purpose}).All(&rows)
	if err != nil {
		return nil, fmt.Errorf("read the withdrawn consents: %w", err)
	}
	for _, r := range rows {
		if out[r.Addr] == "" {
			out[r.Addr] = ReasonNoConsent
		}
	}
	return out, nil
}

func contains(xs []string, x string) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// queue queues one batch of pending recipients within the throttle, each email in the same
// transaction as its row's change to "queued". It reports how many it queued and whether
// more could be queued now.
func (s *Service) queue(c *core.Record) (int, bool, error) {
	limit := s.cfg.Batch
	now := s.cfg.Now()
	if per := c.GetInt("throttle"); per > 0 {
		var recent int
		err := s.app.DB().NewQuery(`SELECT count(*) FROM campaign_recipients WHERE campaign = {:c} AND status = 'queued' AND queued_at > {:since}`).
			Bind(dbx.Params{"c": c.Id, "since": dbTime(now.Add(-time.Minute))}).Row(&recent)
		if err != nil {
			return 0, false, err
		}
		limit = min(limit, per-recent)
		if limit <= 0 {
			return 0, false, nil
		}
	}
	var recips []*core.Record
	err := pendingQuery(s.app, c.Id, limit).All(&recips)
	if err != nil || len(recips) == 0 {
		return 0, false, err
	}
	owner, err := s.app.FindRecordById(schemas.UsersCollection, c.GetString("owner"))
	if err != nil {
		return 0, false, fmt.Errorf("its owner no longer exists")
	}
	tmpl, err := outbox.LoadTemplate(s.app, c.GetString("template"))
	if err != nil {
		return 0, false, err
	}
	if _, err := s.secretKey(); err != nil { // read (or made) outside the batch's transaction
		return 0, false, err
	}
	ids := make([]string, len(recips))
	for i, r := range recips {
		ids[i] = r.GetString("contact")
	}
	contacts, err := s.app.FindRecordsByIds(segments.Object, ids)
	if err != nil {
		return 0, false, err
	}
	byID := map[string]*core.Record{}
	for _, r := range contacts {
		byID[r.Id] = r
	}
	titleField := "full_name"
	if o, ok := s.cfg.Registry.Object(segments.Object); ok && o.TitleField != "" {
		titleField = o.TitleField
	}
	// Render first, outside the transaction (reads only: the owner's access checked once per
	// batch), so the outbox keeps sending while this batch is prepared; then one short
	// transaction queues the emails (multi-row inserts) and marks their rows.
	ins := make([]outbox.RenderInput, 0, len(recips))
	rendering := make([]*core.Record, 0, len(recips))
	var skipped []any
	for _, r := range recips {
		contact := byID[r.GetString("contact")]
		if contact == nil {
			skipped = append(skipped, r.Id)
			continue
		}
		ins = append(ins, outbox.RenderInput{Record: contact, Recipient: mail.Address{Name: contact.GetString(titleField), Address: r.GetString("email")}})
		rendering = append(rendering, r)
	}
	outs, errs, err := tmpl.RenderMany(s.app, owner, ins)
	if err != nil {
		return 0, false, fmt.Errorf("render %q: %w", tmpl.Name, err)
	}
	msgs := make([]outbox.Message, 0, len(ins))
	source := templateSource(tmpl)
	var queued []any
	for i, r := range rendering {
		if errors.Is(errs[i], outbox.ErrNoAccess) {
			skipped = append(skipped, r.Id)
			continue
		}
		if errs[i] != nil {
			return 0, false, fmt.Errorf("render %q for %s: %w", tmpl.Name, r.GetString("email"), errs[i])
		}
		out := outs[i]
		body, err := s.track(c, r, source, out.HTML)
		if err != nil {
			return 0, false, err
		}
		text, err := s.trackText(c, r, source, out.Text)
		if err != nil {
			return 0, false, err
		}
		msgs = append(msgs, outbox.Message{
			To:             []string{ins[i].Recipient.String()},
			Subject:        out.Subject,
			HTML:           body,
			Text:           text,
			Category:       outbox.Marketing,
			Template:       tmpl.Name,
			Object:         segments.Object,
			RecordID:       ins[i].Record.Id,
			IdempotencyKey: idempotencyKey(c.Id, r.GetString("key")),
		})
		queued = append(queued, r.Id)
	}
	queuedAt := dbTime(now)
	err = s.app.RunInTransaction(func(tx core.App) error {
		if len(skipped) > 0 {
			_, err := tx.DB().Update(RecipientsCollection, dbx.Params{"status": RecipientSkipped, "reason": ReasonNoAccess, "updated": queuedAt},
				dbx.And(dbx.In("id", skipped...), dbx.HashExp{"status": RecipientPending})).Execute()
			if err != nil {
				return err
			}
		}
		if len(msgs) == 0 {
			return nil
		}
		emailIDs, err := outbox.EnqueueMany(tx, msgs)
		if err != nil {
			return err
		}
		// Each row gets the id of its email: one UPDATE … FROM (VALUES (row, email), …) for
		// the batch, a join on the primary key (an UPDATE … CASE id WHEN … compared every row
		// with every WHEN: 500² comparisons per batch).
		var sb strings.Builder
		p := dbx.Params{"at": queuedAt}
		sb.WriteString("UPDATE {{" + RecipientsCollection + "}} SET [[status]] = 'queued', [[queued_at]] = {:at}, [[updated]] = {:at}, " +
			"[[email_id]] = v.column2 FROM (VALUES ")
		for i, id := range queued {
			if i > 0 {
				sb.WriteString(", ")
			}
			fmt.Fprintf(&sb, "({:w%d}, {:e%d})", i, i)
			p[fmt.Sprintf("w%d", i)], p[fmt.Sprintf("e%d", i)] = id, emailIDs[i]
		}
		sb.WriteString(") AS v WHERE {{" + RecipientsCollection + "}}.[[id]] = v.column1 AND {{" + RecipientsCollection + "}}.[[status]] = 'pending'")
		_, err = tx.DB().NewQuery(sb.String()).Bind(p).Execute()
		return err
	})
	if err != nil {
		return 0, false, err
	}
	outbox.Wake(s.app)
	return len(recips), len(recips) == limit, nil
}

// pendingQuery selects the next limit pending recipients of a campaign in id order, read from
// the partial index idx_campaign_recipients_pending: no sort of the backlog per batch
// (TestQueueUsesIndex checks the plan).
func pendingQuery(app core.App, campaign string, limit int) *dbx.SelectQuery {
	return app.RecordQuery(RecipientsCollection).
		Where(dbx.HashExp{"campaign": campaign, "status": RecipientPending}).
		OrderBy("id").Limit(int64(limit))
}

// idempotencyKey is the outbox key of a recipient's email: the same recipient is never queued
// twice, also when a crash repeats a batch.
func idempotencyKey(campaign, key string) string { return "campaign:" + campaign + ":" + key }

// ReasonNoAccess: the owner may no longer view the contact (reassigned since the start).
const ReasonNoAccess = "no_access"

// Send starts a draft campaign: at once, or at send_at when that is in the future.
func (s *Service) Send(id string) error {
	c, err := s.app.FindRecordById(Collection, id)
	if err != nil {
		return err
	}
	if c.GetString("status") != StatusDraft && c.GetString("status") != "" {
		return fmt.Errorf("%w: the campaign is %s", ErrState, c.GetString("status"))
	}
	if _, err := outbox.LoadTemplate(s.app, c.GetString("template")); err != nil {
		return err
	}
	if _, err := segments.Owner(s.app, c); err != nil {
		return err
	}
	if _, err := consentBases(s.app, c); err != nil {
		return err
	}
	return s.transition(id, []string{StatusDraft, ""}, StatusScheduled)
}

// Pause stops queueing a scheduled or sending campaign.
func (s *Service) Pause(id string) error {
	return s.transition(id, []string{StatusScheduled, StatusSending}, StatusPaused)
}

// Resume continues a paused campaign.
func (s *Service) Resume(id string) error {
	c, err := s.app.FindRecordById(Collection, id)
	if err != nil {
		return err
	}
	to := StatusSending
	if c.GetString("started_at") == "" {
		to = StatusScheduled
	}
	return s.transition(id, []string{StatusPaused}, to)
}

// Cancel ends a campaign that is not finished: pending recipients are skipped (reason
// "cancelled") and its emails still queued in the outbox are withdrawn.
func (s *Service) Cancel(id string) error {
	s.stepMu.Lock() // not in the middle of a batch
	defer s.stepMu.Unlock()
	return s.app.RunInTransaction(func(tx core.App) error {
		res, err := tx.DB().NewQuery(`UPDATE campaigns SET status = 'cancelled', finished_at = {:now}, updated = {:now}
			WHERE id = {:id} AND status IN ('draft', 'scheduled', 'sending', 'paused')`).
			Bind(dbx.Params{"id": id, "now": dbTime(s.cfg.Now())}).Execute()
		if err != nil {
			return err
		}
		if n, _ := res.RowsAffected(); n == 0 {
			return fmt.Errorf("%w: the campaign is finished", ErrState)
		}
		if _, err := tx.DB().NewQuery(`UPDATE campaign_recipients SET status = 'skipped', reason = 'cancelled', updated = {:now}
			WHERE campaign = {:id} AND status = 'pending'`).Bind(dbx.Params{"id": id, "now": dbTime(s.cfg.Now())}).Execute(); err != nil {
			return err
		}
		_, err = tx.DB().NewQuery(`UPDATE emails SET status = 'suppressed', last_error = 'campaign cancelled', updated = {:now}
			WHERE status = 'queued' AND id IN (SELECT email_id FROM campaign_recipients WHERE campaign = {:id} AND email_id != '')`).
			Bind(dbx.Params{"id": id, "now": dbTime(s.cfg.Now())}).Execute()
		return err
	})
}

func (s *Service) transition(id string, from []string, to string) error {
	in := make([]any, len(from))
	for i, f := range from {
		in[i] = f
	}
	res, err := s.app.DB().Update(Collection, dbx.Params{"status": to, "updated": dbTime(s.cfg.Now())},
		dbx.And(dbx.HashExp{"id": id}, dbx.In("status", in...))).Execute()
	if err != nil {
		return err
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: the campaign is not %s", ErrState, strings.Join(from, " or "))
	}
	s.Wake()
	return nil
}

func clip(s string) string {
	if len(s) > 4000 {
		return s[:4000] + "…"
	}
	return s
}
