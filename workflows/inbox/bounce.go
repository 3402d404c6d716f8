package inbox

import (
	"fmt"
	"net/mail"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/workflows/outbox"
)

// bounce records each failed recipient of a delivery status notification: a hard bounce
// (5.x.x) suppresses the address at once, a soft one (4.x.x) counts, and the
// SoftBounceLimit-th soft bounce of distinct messages suppresses it. The bounced outbound
// email (by VERP address or the returned Message-ID) gets bounced_at. A report about no
// email sent from here, or about an address the email was not sent to, suppresses nothing.
func (in *Inbox) bounce(tx core.App, rec *core.Record, msg *Message, verpID string) (string, error) {
	rep := msg.Report
	var outbound *core.Record
	if verpID != "" {
		outbound, _ = tx.FindRecordById(outbox.Collection, verpID)
	}
	if outbound == nil && rep.OriginalMessageID != "" {
		outbound, _ = tx.FindFirstRecordByData(outbox.Collection, "message_id", "<"+rep.OriginalMessageID+">")
	}
	if outbound == nil {
		// Anyone can send a report: only one about mail Relata sent may suppress an address.
		return "a delivery report about no email sent from here: nothing suppressed", nil
	}
	original := outbound.Id
	rec.Set("email", outbound.Id)
	sentTo := recipientsOf(outbound)
	coll, err := tx.FindCachedCollectionByNameOrId(BouncesCollection)
	if err != nil {
		return "", fmt.Errorf("the %s collection is missing (did the migrations run?): %w", BouncesCollection, err)
	}
	var notes []string
	failed := false
	seen := map[string]bool{}
	for _, r := range rep.Recipients {
		// A report names each recipient once; one naming an address a thousand times
		// (anyone who received the email can send one) records it once.
		if seen[r.Address] {
			continue
		}
		seen[r.Address] = true
		class := ""
		switch {
		case r.Hard():
			class = "hard"
		case r.Soft():
			class = "soft"
		default:
			notes = append(notes, fmt.Sprintf("%s: %s %s, nothing to do", r.Address, r.Action, r.Status))
			continue
		}
		if !sentTo[r.Address] {
			notes = append(notes, fmt.Sprintf("%s: not a recipient of email %s, ignored", r.Address, outbound.Id))
			continue
		}
		failed = failed || r.Action == "failed" || class == "hard"
		// A delay warning and the final failure of the same message count once, and a
		// message bounces hard once.
		if prev, _ := tx.FindAllRecords(BouncesCollection, dbx.HashExp{"email": r.Address, "class": class, "original": clip(original, 998)}); len(prev) > 0 {
			notes = append(notes, fmt.Sprintf("%s: %s bounce %s of a message already counted", r.Address, class, r.Status))
			continue
		}
		b := core.NewRecord(coll)
		b.Set("email", r.Address)
		b.Set("class", class)
		b.Set("status", clip(r.Status, 20))
		b.Set("action", clip(r.Action, 20))
		b.Set("diagnostic", clip(r.Diagnostic, 1000))
		b.Set("original", clip(original, 998))
		b.Set("inbound", rec.Id)
		if err := tx.Save(b); err != nil {
			notes = append(notes, fmt.Sprintf("%s: not recorded: %v", r.Address, err))
			continue
		}
		if class == "hard" {
			if err := outbox.Suppress(tx, r.Address, outbox.ReasonBounce, clip("hard bounce "+r.Status+": "+r.Diagnostic, 300)); err != nil {
				notes = append(notes, fmt.Sprintf("%s: hard bounce %s, not suppressed: %v", r.Address, r.Status, err))
				continue
			}
			notes = append(notes, fmt.Sprintf("%s: hard bounce %s, suppressed", r.Address, r.Status))
			continue
		}
		n, err := tx.CountRecords(BouncesCollection, dbx.HashExp{"email": r.Address, "class": "soft"})
		if err != nil {
			return "", err
		}
		if int(n) < in.cfg.SoftBounceLimit {
			notes = append(notes, fmt.Sprintf("%s: soft bounce %s, %d of %d", r.Address, r.Status, n, in.cfg.SoftBounceLimit))
			continue
		}
		if err := outbox.Suppress(tx, r.Address, outbox.ReasonBounce, clip(fmt.Sprintf("%d soft bounces, last %s: %s", n, r.Status, r.Diagnostic), 300)); err != nil {
			notes = append(notes, fmt.Sprintf("%s: soft bounce %s, not suppressed: %v", r.Address, r.Status, err))
			continue
		}
		notes = append(notes, fmt.Sprintf("%s: soft bounce %s, %d of %d, suppressed", r.Address, r.Status, n, in.cfg.SoftBounceLimit))
	}
	if failed && outbound.GetString("bounced_at") == "" && outbound.Collection().Fields.GetByName("bounced_at") != nil {
		outbound.Set("bounced_at", in.cfg.Now().UTC())
		if err := tx.Save(outbound); err != nil {
			return "", err
		}
	}
	return strings.Join(notes, "; "), nil
}

// recipientsOf is the set of addresses (lower case) an outbound email was sent to.
func recipientsOf(email *core.Record) map[string]bool {
	var to []string
	_ = email.UnmarshalJSONField("to", &to)
	set := map[string]bool{}
	for _, v := range to {
		if a, err := mail.ParseAddress(v); err == nil {
			set[strings.ToLower(a.Address)] = true
		} else {
			set[strings.ToLower(strings.TrimSpace(v))] = true
		}
	}
	return set
}
