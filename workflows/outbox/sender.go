package outbox

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/tls"
	"errors"
	"fmt"
	"html"
	"math/rand/v2"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
	gomail "github.com/wneessen/go-mail"
	gosmtp "github.com/wneessen/go-mail/smtp"

	"github.com/relata/relata/schemas"
)

func dbTime(t time.Time) string { return t.UTC().Format(types.DefaultDateLayout) }

// SendDue claims one batch of due emails — queued and due, or still "sending" after their
// lease expired (their sender crashed) — and sends it over one SMTP connection. It reports
// how many emails it handled. Without an SMTP host configured it sends nothing: the emails
// wait in the outbox.
func (s *Sender) SendDue() (int, error) {
	eff, err := s.cfg.resolve(s.app)
	if err != nil {
		return 0, err
	}
	if eff.smtp.Host == "" {
		if !s.warned.Swap(true) {
			s.app.Logger().Warn("relata: no SMTP server configured (mail settings or RELATA_SMTP_HOST); emails stay queued")
		}
		return 0, nil
	}
	recs, err := s.claim()
	if err != nil || len(recs) == 0 {
		return 0, err
	}
	s.sendBatch(eff, recs)
	return len(recs), nil
}

// claimQuery marks up to n due emails as sending, with a lease, in one statement, so two
// workers (or two processes) never claim the same email. Emails whose lease expired (their
// sender crashed; few, found through idx_emails_due) come first, then queued ones in
// (next_at, created) order read from the partial index idx_emails_claim: no sort of the
// backlog. INDEXED BY, because without statistics (a database never ANALYZEd) SQLite picks
// idx_emails_due and sorts every due email by created for each batch (TestClaimUsesIndex
// checks the plan with and without statistics).
func claimQuery(n int) string {
	return `
		UPDATE emails
		SET status = 'sending', lease_until = {:lease}, attempts = attempts + 1, updated = {:now}
		WHERE id IN (` + claimSelect(n) + `)
		RETURNING *`
}

// claimSelect is the ids claimQuery claims. The limit is written into the text, not bound:
// SQLite re-prepares a statement at every execution once a LIMIT takes a bound parameter
// (it plans with the bound value and marks the statement stale at the next bind), so a
// bound limit made the statement cache useless for the claim. The text stays the same for
// a given batch size, so it is still prepared once per connection.
func claimSelect(n int) string {
	limit := strconv.Itoa(n)
	return `
			SELECT id FROM (SELECT id FROM emails
				WHERE status = 'sending' AND lease_until != '' AND lease_until <= {:now} LIMIT ` + limit + `)
			UNION ALL
			SELECT id FROM (SELECT id FROM emails INDEXED BY idx_emails_claim
				WHERE status = 'queued' AND next_at <= {:now} ORDER BY next_at, created LIMIT ` + limit + `)
			LIMIT ` + limit
}

// claim marks up to BatchSize due emails as sending (claimQuery) and loads them, oldest due
// first. The claim returns the claimed rows: no second statement loads them by id.
func (s *Sender) claim() ([]*core.Record, error) {
	now := s.cfg.Now()
	coll, err := s.app.FindCachedCollectionByNameOrId(Collection)
	if err != nil {
		return nil, fmt.Errorf("claim emails: %w", err)
	}
	// Look before claiming: the claim is a write, and an UPDATE that finds nothing still takes
	// SQLite's write lock (and the app's one write connection). After each batch the worker
	// looks again, and usually finds nothing.
	var due []string
	if err := s.app.ConcurrentDB().NewQuery(claimSelect(1)).Bind(dbx.Params{"now": dbTime(now)}).Column(&due); err != nil {
		return nil, fmt.Errorf("look for due emails: %w", err)
	}
	if len(due) == 0 {
		return nil, nil
	}
	// In a transaction of its own, so that the claim joins the open group commit instead of
	// committing alone on the app's one write connection (as the engine's claims do).
	var rows []dbx.NullStringMap
	err = s.app.RunInTransaction(func(tx core.App) error {
		return tx.DB().NewQuery(claimQuery(s.cfg.BatchSize)).
			Bind(dbx.Params{"now": dbTime(now), "lease": dbTime(now.Add(s.cfg.Lease))}).
			All(&rows)
	})
	if err != nil {
		return nil, fmt.Errorf("claim emails: %w", err)
	}
	if len(rows) == 0 {
		return nil, nil
	}
	recs, err := schemas.RecordsFromRows(coll, rows)
	if err != nil {
		return nil, fmt.Errorf("load claimed emails: %w", err)
	}
	slices.SortFunc(recs, func(a, b *core.Record) int {
		if c := strings.Compare(a.GetString("next_at"), b.GetString("next_at")); c != 0 {
			return c
		}
		return strings.Compare(a.GetString("created"), b.GetString("created"))
	})
	return recs, nil
}

// conn is one SMTP connection, reused for a batch.
type conn struct {
	client *gomail.Client
	smtp   *gosmtp.Client
	sent   int // messages delivered over it
}

func (c *conn) close() {
	if c != nil {
		_ = c.client.CloseWithSMTPClient(c.smtp)
	}
}

// dial connects, says EHLO, upgrades to TLS and authenticates as configured.
func dial(eff effective) (*conn, error) {
	sc := eff.smtp
	opts := []gomail.Option{
		// No NOOP before each message and no RSET after each: two of the six round trips a
		// message took on a reused connection. A transaction ends with the reply to DATA (RFC
		// 5321 §4.1.1.4), and an RSET that failed after delivery made the delivered message look
		// failed (a retry, a duplicate). A connection that died while idle now shows at MAIL
		// FROM, where nothing was delivered yet: sendBatch reconnects once, as it did after a
		// failed NOOP.
		gomail.WithoutNoop(),
		gomail.WithoutRset(),
		gomail.WithPort(sc.Port),
		gomail.WithTimeout(sc.Timeout),
		gomail.WithTLSConfig(&tls.Config{
			ServerName:         sc.Host,
			RootCAs:            sc.RootCAs,
			InsecureSkipVerify: sc.InsecureSkipVerify, //nolint:gosec // tests only, documented
			MinVersion:         tls.VersionTLS12,
		}),
	}
	switch sc.TLS {
	case TLSNone:
		opts = append(opts, gomail.WithTLSPolicy(gomail.NoTLS))
	case TLSStartTLS:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSMandatory))
	case TLSImplicit:
		opts = append(opts, gomail.WithSSL())
	default:
		opts = append(opts, gomail.WithTLSPolicy(gomail.TLSOpportunistic))
	}
	if sc.LocalName != "" {
		opts = append(opts, gomail.WithHELO(sc.LocalName))
	}
	if sc.Username != "" {
		auth := gomail.SMTPAuthPlain
		switch sc.Auth {
		case AuthLogin:
			auth = gomail.SMTPAuthLogin
		case AuthCRAMMD5:
			auth = gomail.SMTPAuthCramMD5
		}
		opts = append(opts, gomail.WithSMTPAuth(auth), gomail.WithUsername(sc.Username), gomail.WithPassword(sc.Password))
	}
	client, err := gomail.NewClient(sc.Host, opts...)
	if err != nil {
		return nil, fmt.Errorf("smtp client: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), sc.Timeout)
	defer cancel()
	smtpClient, err := client.DialToSMTPClientWithContext(ctx)
	if err != nil {
		return nil, fmt.Errorf("connect to %s:%d: %w", sc.Host, sc.Port, err)
	}
	return &conn{client: client, smtp: smtpClient}, nil
}

// sendBatch sends claimed emails over one connection, opened when the first email needs it
// and opened again after a connection error.
func (s *Sender) sendBatch(eff effective, recs []*core.Record) {
	var c *conn
	var dialErr error
	defer func() { c.close() }()
	// The suppression list, consents and do_not_email flags of the whole batch, read once; when
	// that fails each email is checked on its own as it goes.
	chk, err := s.preloadChecks(s.app, recs)
	if err != nil {
		s.app.Logger().Warn("relata: preload suppression checks", "error", err)
		chk = nil
	}
	// Delivered emails are recorded a few at a time, each group in one transaction, by a
	// recorder goroutine: the connection keeps sending while a group waits for SQLite's write
	// lock (held by a campaign queueing its next batch, or by another worker). At most
	// recordAhead groups wait, so memory stays bounded; sendBatch returns only when every group
	// is recorded. A crash before that leaves them "sending": they go again after their lease,
	// with the same Message-ID (as when one email was recorded at a time).
	groups := make(chan []sentEmail, recordAhead)
	recorded := make(chan struct{})
	go func() {
		defer close(recorded)
		for g := range groups {
			s.markSentMany(g)
		}
	}()
	sent := make([]sentEmail, 0, markSentEvery)
	flush := func() {
		if len(sent) > 0 {
			groups <- sent
			sent = make([]sentEmail, 0, markSentEvery)
		}
	}
	defer func() {
		flush()
		close(groups)
		<-recorded
	}()
	for _, rec := range recs {
		msg, id, err := s.prepare(eff, rec, chk)
		if err != nil {
			var skip *suppressedError
			switch {
			case errors.As(err, &skip):
				s.finish(rec, StatusSuppressed, skip.reason)
			case errors.Is(err, ErrInvalid):
				s.finish(rec, StatusFailed, err.Error())
			default:
				s.retry(rec, err)
			}
			continue
		}
		for try := 0; ; try++ {
			if c == nil && dialErr == nil {
				c, dialErr = dial(eff)
			}
			if dialErr != nil {
				s.retry(rec, dialErr)
				break
			}
			err = c.client.SendWithSMTPClient(c.smtp, msg)
			if err == nil {
				c.sent++
			}
			if try == 0 && idleConnDied(err, c) {
				// The reused connection died while idle: the message was not sent; reconnect once.
				c.close()
				c = nil
				continue
			}
			break
		}
		if dialErr != nil {
			continue
		}
		if err == nil {
			sent = append(sent, sentEmail{rec, id})
			if len(sent) >= markSentEvery {
				flush()
			}
			continue
		}
		switch code := replyCode(err); {
		case code >= 500:
			s.finish(rec, StatusFailed, err.Error())
		default:
			s.retry(rec, err)
			if code == 0 { // not a server reply: the connection is suspect
				c.close()
				c = nil
			}
		}
	}
}

// idleConnDied reports whether a send failed because a connection already used for earlier
// messages was gone before this one began: no live connection, or a network error (no
// server reply) at MAIL FROM — before any recipient or content, so nothing was delivered.
func idleConnDied(err error, c *conn) bool {
	var se *gomail.SendError
	if err == nil || !errors.As(err, &se) {
		return false
	}
	return se.Reason == gomail.ErrConnCheck || (se.Reason == gomail.ErrSMTPMailFrom && c.sent > 0 && se.ErrorCode() == 0)
}

// replyCode is the SMTP reply code of a send error, or 0 when the server did not answer
// (a network error).
func replyCode(err error) int {
	var se *gomail.SendError
	if errors.As(err, &se) {
		return se.ErrorCode()
	}
	return 0
}

// suppressedError stops a marketing email to a suppressed recipient.
type suppressedError struct{ reason string }

func (e *suppressedError) Error() string { return e.reason }

// prepare checks a claimed email again (it may have been written to the collection directly)
// and builds the message to send, with its Message-ID.
func (s *Sender) prepare(eff effective, rec *core.Record, chk *checks) (*gomail.Msg, string, error) {
	m := messageOf(rec)
	if err := m.Validate(); err != nil {
		return nil, "", err
	}
	if m.Category == Marketing {
		why, ok := "", false
		if chk != nil {
			why, ok = chk.reason(m)
		}
		if !ok {
			var err error
			if why, err = s.suppressedReason(s.app, m); err != nil {
				return nil, "", err
			}
		}
		if why != "" {
			return nil, "", &suppressedError{reason: why}
		}
	}
	from := eff.from
	if m.From != "" {
		a, _ := parseAddress(m.From)
		from = *a
	}
	if err := checkHeader("sender name", from.Name); err != nil {
		return nil, "", err
	}
	msg := gomail.NewMsg(gomail.WithNoDefaultUserAgent())
	msg.FromMailAddress(&from)
	if err := msg.To(m.To...); err != nil {
		return nil, "", fmt.Errorf("%w: %v", ErrInvalid, err)
	}
	if replyTo := firstOf(m.ReplyTo, eff.replyTo); replyTo != "" {
		if err := msg.ReplyTo(replyTo); err != nil {
			return nil, "", fmt.Errorf("%w: reply-to: %v", ErrInvalid, err)
		}
	}
	key, _, err := s.verp.Get(s.app)
	if err != nil {
		return nil, "", err
	}
	if s.cfg.InboundDomain != "" {
		// VERP: bounces name the email they are about, with a tag only this server can make
		// (workflows/inbox reads them; verp.go).
		if err := msg.EnvelopeFrom(VERPLocal(key, rec.Id) + "@" + s.cfg.InboundDomain); err != nil {
			return nil, "", fmt.Errorf("%w: envelope sender: %v", ErrInvalid, err)
		}
	}
	msg.Subject(m.Subject)
	id := messageID(key, rec, from.Address)
	msg.SetMessageIDWithValue(id)
	msg.SetDateWithValue(s.cfg.Now())
	msg.SetUserAgent("Relata")

	text, htmlBody := m.Text, m.HTML
	if strings.Contains(text+htmlBody, PublicURLPlaceholder) {
		base := strings.TrimRight(eff.publicURL, "/")
		text = strings.ReplaceAll(text, PublicURLPlaceholder, base)
		htmlBody = strings.ReplaceAll(htmlBody, PublicURLPlaceholder, html.EscapeString(base))
	}
	if m.Category == Marketing || strings.Contains(text+htmlBody, UnsubscribePlaceholder) {
		to, _ := parseAddress(m.To[0])
		link, err := s.unsubscribeURL(eff, to.Address, rec.Id)
		if err != nil {
			return nil, "", err
		}
		inText, inHTML := strings.Contains(text, UnsubscribePlaceholder), strings.Contains(htmlBody, UnsubscribePlaceholder)
		text = strings.ReplaceAll(text, UnsubscribePlaceholder, link)
		htmlBody = strings.ReplaceAll(htmlBody, UnsubscribePlaceholder, html.EscapeString(link))
		if m.Category == Marketing {
			// Every marketing email offers a way out, written into the template or not.
			if !inText {
				text = strings.TrimRight(text, "\n") + "\n\n--\nUnsubscribe: " + link + "\n"
			}
			if htmlBody != "" && !inHTML {
				footer := `<p style="font-size:12px;color:#666"><a href="` + html.EscapeString(link) + `">Unsubscribe</a> from these emails.</p>`
				if i := strings.LastIndex(strings.ToLower(htmlBody), "</body>"); i >= 0 {
					htmlBody = htmlBody[:i] + footer + htmlBody[i:]
				} else {
					htmlBody += footer
				}
			}
			uris := []string{link}
			if s.cfg.UnsubscribeMailto != "" {
				uris = append(uris, "mailto:"+s.cfg.UnsubscribeMailto+"?subject=unsubscribe")
			}
			msg.SetListUnsubscribe(uris...)
			msg.SetListUnsubscribePost()
		}
	}
	if htmlBody != "" && text == "" {
		text = HTMLToText(htmlBody)
	}
	msg.SetBodyString(gomail.TypeTextPlain, text)
	if htmlBody != "" {
		msg.AddAlternativeString(gomail.TypeTextHTML, htmlBody)
	}
	return msg, "<" + id + ">", nil
}

func firstOf(a, b string) string {
	if a != "" {
		return a
	}
	return b
}

// messageID derives the Message-ID from the email's idempotency key (or its id): the same
// email always carries the same Message-ID, also when a crash makes the sender send it again,
// so a receiver can recognise the duplicate. It is an HMAC under the server's key (verp.go):
// a bounce or a reply is matched to an email by the Message-ID it quotes, and a plain hash
// of a key made of ids (a campaign's and a contact's) could be computed by anyone who knows
// them, to suppress a colleague's contact with a forged bounce.
func messageID(secret []byte, rec *core.Record, from string) string {
	key := rec.GetString("idempotency_key")
	if key == "" {
		key = "email:" + rec.Id
	}
	m := hmac.New(sha256.New, secret)
	m.Write([]byte("relata-message-id-v2\n" + key))
	sum := m.Sum(nil)
	domain := "relata.invalid"
	if a, err := mail.ParseAddress(from); err == nil {
		if _, d, ok := strings.Cut(a.Address, "@"); ok && d != "" {
			domain = d
		}
	}
	return fmt.Sprintf("relata.%x@%s", sum[:12], domain)
}

// markSent records a delivered email and, in the same transaction, the activity on the
// timeline of the record it is about.
func (s *Sender) markSent(rec *core.Record, id string) {
	now := s.cfg.Now().UTC()
	rec.Set("status", StatusSent)
	rec.Set("message_id", id)
	rec.Set("sent_at", now)
	rec.Set("last_error", "")
	rec.Set("lease_until", "")
	err := s.app.RunInTransaction(func(tx core.App) error {
		if err := tx.Save(rec); err != nil {
			return err
		}
		return s.logActivity(tx, rec, now)
	})
	if err == nil {
		return
	}
	// The email went out: record that, even if its timeline entry could not be written.
	s.app.Logger().Error("relata: record sent email", "email", rec.Id, "error", err)
	rec.Set("last_error", clip("sent, but not recorded on the timeline: "+err.Error()))
	if err := s.app.Save(rec); err != nil {
		s.app.Logger().Error("relata: record sent email", "email", rec.Id, "error", err)
	}
}

// markSentEvery is how many delivered emails are recorded in one transaction.
const markSentEvery = 50

// recordAhead is how many groups of delivered emails may wait for their transaction while
// the connection goes on sending.
const recordAhead = 2

type sentEmail struct {
	rec *core.Record
	id  string
}

// markSentMany records delivered emails and their timeline activities in one transaction;
// if that fails, each on its own (markSent), so one bad activity does not lose the others.
func (s *Sender) markSentMany(sent []sentEmail) {
	if len(sent) == 0 {
		return
	}
	now := s.cfg.Now().UTC()
	// The records the emails are about, one read per object for the timeline activities, read
	// before the transaction (from the read pool) so the write lock is held for writes only.
	byObject := map[string][]string{}
	for _, e := range sent {
		if o, id := e.rec.GetString("object"), e.rec.GetString("record_id"); o != "" && id != "" {
			byObject[o] = append(byObject[o], id)
		}
	}
	related := map[string]map[string]*core.Record{}
	for o, ids := range byObject {
		m := map[string]*core.Record{}
		related[o] = m
		recs, err := s.app.FindRecordsByIds(o, ids)
		if err != nil {
			continue // an object no longer there: no activity, as logActivity does
		}
		for _, r := range recs {
			m[r.Id] = r
		}
	}
	// The timeline activities, made and validated before the transaction too: validating
	// a record reads (one count query per relation), and inside the transaction it would hold
	// the writer that every other write waits for. The transaction checks again only what
	// another writer can change meanwhile (schemas.SaveValidated). An activity that fails its
	// validation is saved with it in the transaction, which then fails as before.
	acts := make([]*core.Record, len(sent))
	valid := make([]bool, len(sent))
	for i, e := range sent {
		rec, err := s.newActivity(s.app, e.rec, now, related)
		if err != nil || rec == nil {
			continue // none (made again in the transaction for an error, which it returns)
		}
		acts[i] = rec
		valid[i] = schemas.ValidateBeforeWrite(context.Background(), s.app, rec) == nil
	}
	err := s.app.RunInTransaction(func(tx core.App) error {
		// The emails: one UPDATE … CASE for the group. Emails are the outbox's own rows, queued
		// without record hooks too (EnqueueMany): nothing reacts to one being sent, and a
		// Save each re-validated and rewrote every column, bodies included.
		var sb strings.Builder
		when := dbx.Params{}
		ids := make([]any, len(sent))
		sb.WriteString("CASE [[id]]")
		for i, e := range sent {
			fmt.Fprintf(&sb, " WHEN {:w%d} THEN {:m%d}", i, i)
			when[fmt.Sprintf("w%d", i)], when[fmt.Sprintf("m%d", i)] = e.rec.Id, e.id
			ids[i] = e.rec.Id
		}
		sb.WriteString(" END")
		at := dbTime(now)
		if _, err := tx.DB().Update(Collection, dbx.Params{"status": StatusSent, "message_id": dbx.NewExp(sb.String(), when),
			"sent_at": at, "last_error": "", "lease_until": "", "updated": at}, dbx.In("id", ids...)).Execute(); err != nil {
			return err
		}
		var validated []*core.Record
		for i, e := range sent {
			e.rec.Set("status", StatusSent)
			e.rec.Set("message_id", e.id)
			e.rec.Set("sent_at", now)
			e.rec.Set("last_error", "")
			e.rec.Set("lease_until", "")
			if valid[i] {
				validated = append(validated, acts[i])
				continue
			}
			// The activity keeps its Save: timelines, workflows and notifications react to it.
			if err := s.logActivity(tx, e.rec, now, related); err != nil {
				return err
			}
		}
		return schemas.SaveValidated(tx, validated...)
	})
	if err == nil {
		return
	}
	for _, e := range sent {
		s.markSent(e.rec, e.id)
	}
}

// retry puts an email back in the queue after a failed attempt, with exponential backoff, or
// fails it after MaxAttempts.
func (s *Sender) retry(rec *core.Record, cause error) {
	n := rec.GetInt("attempts")
	if n >= s.cfg.MaxAttempts {
		s.finish(rec, StatusFailed, fmt.Sprintf("gave up after %d attempts: %v", n, cause))
		return
	}
	rec.Set("status", StatusQueued)
	rec.Set("next_at", s.cfg.Now().Add(s.backoff(n)).UTC())
	rec.Set("lease_until", "")
	rec.Set("last_error", clip(cause.Error()))
	if err := s.app.Save(rec); err != nil {
		s.app.Logger().Error("relata: record email retry", "email", rec.Id, "error", err)
	}
}

// finish records a final status.
func (s *Sender) finish(rec *core.Record, status, msg string) {
	rec.Set("status", status)
	rec.Set("lease_until", "")
	rec.Set("last_error", clip(msg))
	if err := s.app.Save(rec); err != nil {
		s.app.Logger().Error("relata: record email outcome", "email", rec.Id, "status", status, "error", err)
	}
}

// backoff is the delay before retry n (1-based): RetryBase·2^(n-1), ±25% jitter, at most a day.
func (s *Sender) backoff(n int) time.Duration {
	d := s.cfg.RetryBase << min(max(n-1, 0), 20)
	if d > 24*time.Hour || d <= 0 {
		d = 24 * time.Hour
	}
	jitter := time.Duration(rand.Int64N(int64(d)/2+1)) - d/4
	return d + jitter
}

func clip(s string) string {
	const max = 4000
	if len(s) > max {
		return s[:max] + "…"
	}
	return s
}
