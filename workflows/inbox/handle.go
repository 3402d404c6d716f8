package inbox

import (
	"bytes"
	"fmt"
	"strings"
	"time"

	gomail "github.com/emersion/go-message/mail"
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/workflows/outbox"
)

// Collection names of the inbox.
const (
	// Collection holds every accepted inbound message.
	Collection = "inbound_emails"
	// BouncesCollection holds one record per bounced recipient of a delivery status notification.
	BouncesCollection = "email_bounces"
)

// Kinds of inbound message.
const (
	KindLogged      = "logged"
	KindReply       = "reply"
	KindBounce      = "bounce"
	KindQuarantined = "quarantined"
	KindUnmatched   = "unmatched"
)

// Deliver handles one message received from the envelope sender from for rcpts (accepted
// addresses of the domain): it parses raw, stores it in inbound_emails and logs, marks or
// suppresses what it says, all in one transaction. It returns the stored record, or nil for
// a reply dropped beyond [Config.MaxRepliesPerDay]. A message that does not parse returns an
// error wrapping [ErrNotMail].
func (in *Inbox) Deliver(from string, rcpts []string, raw []byte) (*core.Record, error) {
	msg, err := Parse(bytes.NewReader(raw), in.cfg.BodyCap)
	if err != nil {
		return nil, err
	}
	// The From is authenticated before the transaction: a DNS lookup must not hold the
	// write lock. A delivery status report is read for what it reports, whoever sent it.
	auth := verdict{text: "not checked (a delivery status report)"}
	if msg.Report == nil {
		if auth, err = in.authenticate(raw, msg); err != nil {
			return nil, fmt.Errorf("%w: %s", err, auth.text)
		}
	}
	// The VERP key is made (once, at the first use) outside the transaction, which must not
	// roll back a key this process then keeps using.
	if _, _, err := in.verp.Get(in.app); err != nil {
		return nil, err
	}
	var rec *core.Record
	err = in.app.RunInTransaction(func(tx core.App) error {
		var err error
		rec, err = in.handle(tx, from, rcpts, msg, auth, len(raw))
		return err
	})
	return rec, err
}

func (in *Inbox) handle(tx core.App, from string, rcpts []string, msg *Message, auth verdict, size int) (*core.Record, error) {
	verpID, dropbox := "", false
	for _, r := range rcpts {
		local, _, _ := strings.Cut(strings.ToLower(r), "@")
		if local == in.cfg.Dropbox {
			dropbox = true
		}
		if strings.HasPrefix(local, VERPPrefix) {
			id, err := in.verpEmail(tx, local)
			if err != nil {
				return nil, err
			}
			if id != "" {
				verpID = id
			}
		}
	}
	// The same message twice (a BCC and a later forward, a resend): handled once.
	if msg.MessageID != "" {
		if prev, err := tx.FindAllRecords(Collection, dbx.HashExp{"message_id": msg.MessageID},
			dbx.In("kind", KindLogged, KindReply, KindBounce)); err == nil && len(prev) > 0 {
			return prev[0], nil
		}
	}
	rec, err := in.newRecord(tx, from, rcpts, msg, size)
	if err != nil {
		return nil, err
	}
	rec.Set("sender_auth", clip(auth.text, 1000))
	var user *core.Record
	if dropbox && msg.From != nil {
		user = userByEmail(tx, msg.From.Address)
	}
	var result string
	switch {
	case msg.Report == nil && user != nil && !auth.pass:
		// A user's address anyone could have written: logging it would put a stranger's
		// words on the contacts that user may view.
		rec.Set("kind", KindQuarantined)
		rec.Set("user", user.Id) // whom the From names: told once a day (package hooks)
		result = fmt.Sprintf("quarantined: the From names the user %s but is not authenticated (%s); nothing was logged. "+
			"If your mail server does not sign with DKIM, see RELATA_INBOUND_AUTH in docs/inbound-mail.md", user.GetString("email"), auth.text)
	case msg.Report != nil:
		rec.Set("kind", KindBounce)
		if err := tx.Save(rec); err != nil {
			return nil, err
		}
		result, err = in.bounce(tx, rec, msg, verpID)
	case user != nil:
		rec.Set("kind", KindLogged)
		rec.Set("user", user.Id)
		if err := tx.Save(rec); err != nil {
			return nil, err
		}
		result, err = in.logMail(tx, msg, user)
	default:
		outbound := in.outboundOf(tx, msg, verpID)
		switch {
		case outbound != nil && from == "" && len(msg.InReplyTo) == 0:
			// The null sender without a report: a bounce in no standard form, or an
			// auto-reply. Neither is a reply a person wrote.
			rec.Set("kind", KindUnmatched)
			rec.Set("email", outbound.Id)
			result = "a notice from the null sender (a bounce that is no RFC 3464 report, or an auto-reply) about email " + outbound.Id + ": not read"
		case outbound != nil:
			// One email may be answered on the timeline only so often a day, whoever replies.
			n, err := repliesSince(tx, outbound, in.cfg.Now().Add(-24*time.Hour))
			if err != nil {
				return nil, err
			}
			if n >= in.cfg.MaxRepliesPerDay {
				in.app.Logger().Warn("relata: inbound reply dropped: too many replies to one email today",
					"email", outbound.Id, "replies", n, "from", clip(rec.GetString("from"), 320), "messageId", msg.MessageID)
				return nil, nil
			}
			rec.Set("kind", KindReply)
			rec.Set("email", outbound.Id)
			if err := tx.Save(rec); err != nil {
				return nil, err
			}
			result, err = in.reply(tx, rec, msg, outbound, auth)
		case dropbox:
			rec.Set("kind", KindQuarantined)
			result = "quarantined: the sender is not a user of this CRM, nothing was logged"
		default:
			rec.Set("kind", KindUnmatched)
			result = "no outbound email, user or report matched"
		}
	}
	if err != nil {
		return nil, err
	}
	rec.Set("result", clip(result, 2000))
	if err := tx.Save(rec); err != nil {
		return nil, err
	}
	return rec, nil
}

// newRecord builds the inbound_emails record of msg (not yet saved).
func (in *Inbox) newRecord(tx core.App, from string, rcpts []string, msg *Message, size int) (*core.Record, error) {
	coll, err := tx.FindCachedCollectionByNameOrId(Collection)
	if err != nil {
		return nil, fmt.Errorf("the %s collection is missing (did the migrations run?): %w", Collection, err)
	}
	rec := core.NewRecord(coll)
	rec.Set("envelope_from", clip(from, 320))
	rec.Set("envelope_to", rcpts)
	if msg.From != nil {
		rec.Set("from", clip(msg.From.String(), 320))
	}
	rec.Set("to", addrStrings(msg.To))
	rec.Set("cc", addrStrings(msg.Cc))
	rec.Set("subject", clip(msg.Subject, 998))
	rec.Set("text", msg.Text)
	rec.Set("html", schemas.SanitizeHTML(msg.HTML))
	rec.Set("truncated", msg.Truncated)
	rec.Set("message_id", clip(msg.MessageID, 998))
	if len(msg.InReplyTo) > 0 {
		rec.Set("in_reply_to", clip(msg.InReplyTo[0], 998))
	}
	rec.Set("size", size)
	return rec, nil
}

// maxStoredAddresses bounds the To and Cc lists stored (the JSON fields hold 64 KiB).
const maxStoredAddresses = 500

func addrStrings(l []*gomail.Address) []string {
	if len(l) > maxStoredAddresses {
		l = l[:maxStoredAddresses]
	}
	out := make([]string, 0, len(l))
	for _, a := range l {
		out = append(out, strings.ToLower(a.Address))
	}
	return out
}

// outboundOf finds the outbound email msg answers: by its VERP address, else by the
// Message-IDs in In-Reply-To and References (newest first).
func (in *Inbox) outboundOf(tx core.App, msg *Message, verpID string) *core.Record {
	if verpID != "" {
		if rec, err := tx.FindRecordById(outbox.Collection, verpID); err == nil {
			return rec
		}
	}
	ids := append([]string{}, msg.InReplyTo...)
	for i := len(msg.References) - 1; i >= 0; i-- {
		ids = append(ids, msg.References[i])
	}
	for i, id := range ids {
		if i >= 20 {
			break
		}
		if rec, err := tx.FindFirstRecordByData(outbox.Collection, "message_id", "<"+id+">"); err == nil {
			return rec
		}
	}
	return nil
}

// userByEmail finds the user with the address, in any letter case.
func userByEmail(tx core.App, addr string) *core.Record {
	rec := &core.Record{}
	err := tx.RecordQuery(schemas.UsersCollection).
		AndWhere(dbx.NewExp("LOWER([[email]]) = {:addr}", dbx.Params{"addr": strings.ToLower(strings.TrimSpace(addr))})).
		Limit(1).One(rec)
	if err != nil {
		return nil
	}
	return rec
}
