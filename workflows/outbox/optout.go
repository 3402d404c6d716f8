package outbox

import (
	"fmt"
	"slices"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// Reasons [OptedOut] gives for an address. They are the skip reasons of campaign recipients
// (workflows/campaigns), so a campaign can record them as they are.
const (
	OptedOutDoNotEmail = "do_not_email"
	OptedOutNoConsent  = "no_consent"
)

// marketingPurpose is the consent purpose of marketing mail.
const marketingPurpose = "marketing_email"

// contactsObject is the object whose records' addresses are one mailbox with the recipient's:
// when any contact with an address opted out, marketing mail to it is not sent.
const contactsObject = "contacts"

// contactAddress is a contact's address as [OptedOut] compares it: [schemas.AddressExpr],
// the expression the object model indexes for every email field (idx_contacts_email_lower).
// The unique index on email is case-sensitive (Ann@x.com and ann@x.com are two contacts), so
// without that one a look-up by address would read every contact.
var contactAddress = schemas.AddressExpr("c.[[email]]")

// OptedOut returns which of addrs belong to a contact that opted out of mail of purpose,
// whichever contact the mail is about, each in lower case with the reason: an address is one
// mailbox, and contacts may share it in letters of different case (another team's record).
// Opted out is the campaigns' rule (workflows/campaigns, when it resolves an audience):
// do_not_email set ([OptedOutDoNotEmail]), or consents of the purpose that are all withdrawn
// ([OptedOutNoConsent]; a consent pending its double opt-in counts as none, as for the
// contact's own check). Addresses are compared in lower case (SQLite's lower(): ASCII letters
// only, as the campaigns compare them).
//
// Addresses are read InsertMaxParams at a time, each group in one query that seeks each
// address in the address index and each contact found in the consents' (object, record_id) index:
// the work is proportional to the contacts with those addresses, not to all contacts
// (TestOptedOutUsesIndex). Without a contacts object, nobody opted out.
func OptedOut(app core.App, purpose string, addrs []string) (map[string]string, error) {
	out := map[string]string{}
	if len(addrs) == 0 {
		return out, nil
	}
	coll, err := app.FindCachedCollectionByNameOrId(contactsObject)
	if err != nil || coll.Fields.GetByName("email") == nil {
		return out, nil
	}
	dne := "0"
	if coll.Fields.GetByName("do_not_email") != nil {
		dne = "coalesce(max(c.[[do_not_email]] = TRUE), 0)"
	}
	for part := range slices.Chunk(addrs, schemas.InsertMaxParams) {
		p := dbx.Params{"object": coll.Name, "purpose": purpose}
		marks := make([]string, len(part))
		for i, a := range part {
			marks[i] = fmt.Sprintf("{:a%d}", i)
			p[fmt.Sprintf("a%d", i)] = strings.ToLower(strings.TrimSpace(a))
		}
		var rows []struct {
			Addr      string `db:"addr"`
			DoNot     bool   `db:"dne"`
			Withdrawn bool   `db:"withdrawn"`
		}
		// The consents' subquery is the campaigns' and the sender's rule: some consents of the
		// purpose (pending ones left out), none of them in force.
		err := app.DB().NewQuery(`SELECT ` + contactAddress + ` AS addr,
			` + dne + ` AS dne,
			coalesce(max((SELECT count(*) > 0 AND coalesce(sum(coalesce(withdrawn_at, '') = ''), 0) = 0 FROM consents
				WHERE object = {:object} AND record_id = c.[[id]] AND purpose = {:purpose} AND NOT ` + pendingConsent + `)), 0) AS withdrawn
			FROM {{` + coll.Name + `}} c
			WHERE c.[[email]] != '' AND ` + contactAddress + ` IN (` + strings.Join(marks, ", ") + `)
			GROUP BY 1`).Bind(p).All(&rows)
		if err != nil {
			return nil, fmt.Errorf("read the contacts that opted out: %w", err)
		}
		for _, r := range rows {
			switch {
			case r.DoNot:
				out[r.Addr] = OptedOutDoNotEmail
			case r.Withdrawn:
				out[r.Addr] = OptedOutNoConsent
			}
		}
	}
	return out, nil
}

// optedOutReason is the suppressed email's last_error for an address OptedOut returned. It
// does not name the contact: it may be another team's record.
func optedOutReason(addr, why string) string {
	if why == OptedOutDoNotEmail {
		return fmt.Sprintf("%s: a contact with this address has do_not_email set", addr)
	}
	return fmt.Sprintf("%s: a contact with this address has no valid marketing consent (withdrawn)", addr)
}
