package outbox

import (
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// Suppression reasons.
const (
	ReasonUnsubscribe = "unsubscribe"
	ReasonBounce      = "bounce"
	ReasonComplaint   = "complaint"
	ReasonManual      = "manual"
)

// ErrBadToken is returned for an unsubscribe token that was not signed by this Relata.
var ErrBadToken = errors.New("invalid unsubscribe link")

// Suppress adds addr to the suppression list (once; an address already there is left as
// it is). Marketing mail to it is then recorded as suppressed instead of being sent.
func Suppress(app core.App, addr, reason, source string) error {
	addr = strings.ToLower(strings.TrimSpace(addr))
	if _, err := parseAddress(addr); err != nil {
		return err
	}
	if reason == ReasonUnsubscribe {
		if err := withdrawMarketing(app, addr); err != nil {
			return err
		}
	}
	if _, err := app.FindFirstRecordByData(SuppressionsCollection, "email", addr); err == nil {
		return nil
	}
	coll, err := app.FindCachedCollectionByNameOrId(SuppressionsCollection)
	if err != nil {
		return fmt.Errorf("the %s collection is missing (did the migrations run?): %w", SuppressionsCollection, err)
	}
	rec := core.NewRecord(coll)
	rec.Set("email", addr)
	rec.Set("reason", reason)
	rec.Set("source", source)
	if err := app.Save(rec); err != nil {
		if _, again := app.FindFirstRecordByData(SuppressionsCollection, "email", addr); again == nil {
			return nil // suppressed at the same moment by another request
		}
		return fmt.Errorf("suppress %s: %w", addr, err)
	}
	return nil
}

// withdrawMarketing withdraws the marketing consents of every record whose email is addr:
// unsubscribing is withdrawing consent (GDPR art. 7(3)).
func withdrawMarketing(app core.App, addr string) error {
	var objects []string
	err := app.DB().NewQuery("SELECT DISTINCT object FROM consents WHERE purpose = 'marketing_email' AND coalesce(withdrawn_at, '') = ''").Column(&objects)
	if err != nil {
		return fmt.Errorf("withdraw the marketing consents of %s: %w", addr, err)
	}
	now := time.Now().UTC().Format("2006-01-02 15:04:05.000Z")
	for _, o := range objects {
		coll, err := app.FindCachedCollectionByNameOrId(o)
		if err != nil {
			continue
		}
		var conds []string
		for _, f := range coll.Fields {
			if f.Type() == core.FieldTypeEmail {
				conds = append(conds, "lower([["+f.GetName()+"]]) = {:addr}")
			}
		}
		if len(conds) == 0 {
			continue
		}
		_, err = app.DB().NewQuery("UPDATE consents SET withdrawn_at = {:now} WHERE purpose = 'marketing_email' AND coalesce(withdrawn_at, '') = ''" +
			" AND object = {:o} AND record_id IN (SELECT id FROM {{" + coll.Name + "}} WHERE " + strings.Join(conds, " OR ") + ")").
			Bind(dbx.Params{"now": now, "o": o, "addr": addr}).Execute()
		if err != nil {
			return fmt.Errorf("withdraw the marketing consents of %s: %w", addr, err)
		}
	}
	return nil
}

// consentReason says why marketing mail about a record must not go out for lack of a valid
// marketing consent: the record has marketing consents, but every one is withdrawn. A record
// without any consent is mailed on the basis the organisation declares for it (see README,
// "Consent").
//
// A consent still waiting for its double opt-in confirmation counts as absent, not as a
// refusal: anyone can post a public form with someone else's address, and an unconfirmed
// consent refusing would let them turn off that person's marketing mail for good.
func consentReason(app core.App, m Message) (string, error) {
	if m.Object == "" || m.RecordID == "" {
		return "", nil
	}
	var row struct {
		Total int `db:"total"`
		Valid int `db:"valid"`
	}
	err := app.DB().NewQuery(`SELECT count(*) AS total, coalesce(sum(CASE WHEN coalesce(withdrawn_at, '') = ''
		AND (needs_confirmation = FALSE OR coalesce(confirmed_at, '') != '') THEN 1 ELSE 0 END), 0) AS valid
		FROM consents WHERE object = {:o} AND record_id = {:id} AND purpose = 'marketing_email' AND NOT ` + pendingConsent).
		Bind(dbx.Params{"o": m.Object, "id": m.RecordID}).One(&row)
	if err != nil {
		return "", fmt.Errorf("check the marketing consent: %w", err)
	}
	if row.Total > 0 && row.Valid == 0 {
		return fmt.Sprintf("%s %s has no valid marketing consent (withdrawn)", m.Object, m.RecordID), nil
	}
	return "", nil
}

// pendingConsent is the SQL condition of a consent waiting for its double opt-in
// confirmation (neither confirmed nor withdrawn), which the consent rule leaves out.
const pendingConsent = `(coalesce(withdrawn_at, '') = '' AND needs_confirmation = TRUE AND coalesce(confirmed_at, '') = '')`

// checks are the suppression list, consents and do_not_email flags of a batch of claimed
// emails, read with one query each, so suppressedReason asks no query per email.
type checks struct {
	byAddr   map[string][2]string // address → reason, created
	byHash   map[string]string    // address hash → created
	consent  map[string][2]int    // object/record → total, valid marketing consents
	noEmail  map[string]bool      // object/record with do_not_email set
	optedOut map[string]string    // address → why a contact with it opted out (OptedOut)
	hashes   map[string]string    // address → its hash
	prepared bool
}

// Suppressed returns which of addrs (lower-cased addresses) are on the suppression list: by
// address, or — for an erased person, kept only as the keyed hash of their address — by
// hash. It is the check campaigns and sequences make before they mail; the sender's own, with
// each entry's reason, is preloadChecks. Addresses are read InsertMaxParams at a time, each
// group in one query that SQLite answers with the two indexes.
func Suppressed(app core.App, addrs []string) (map[string]bool, error) {
	out := map[string]bool{}
	if len(addrs) == 0 {
		return out, nil
	}
	hash, err := schemas.AddressHasher(app)
	if err != nil {
		return nil, err
	}
	for part := range slices.Chunk(addrs, schemas.InsertMaxParams/2) {
		in, hashes := make([]any, len(part)), make([]any, len(part))
		byHash := make(map[string]string, len(part))
		for i, a := range part {
			h := hash(a)
			in[i], hashes[i], byHash[h] = a, h, a
		}
		var rows []struct {
			Email string `db:"email"`
			Hash  string `db:"email_hash"`
		}
		if err := app.DB().Select("coalesce(email, '') AS email", "coalesce(email_hash, '') AS email_hash").From(SuppressionsCollection).
			Where(dbx.Or(dbx.In("email", in...), dbx.In("email_hash", hashes...))).All(&rows); err != nil {
			return nil, fmt.Errorf("read the suppression list: %w", err)
		}
		for _, r := range rows {
			if r.Email != "" {
				out[strings.ToLower(r.Email)] = true
			}
			if a, ok := byHash[r.Hash]; ok && r.Hash != "" {
				out[a] = true
			}
		}
	}
	return out, nil
}

// preloadChecks reads the checks of the marketing emails among recs.
func (s *Sender) preloadChecks(app core.App, recs []*core.Record) (*checks, error) {
	c := &checks{byAddr: map[string][2]string{}, byHash: map[string]string{}, consent: map[string][2]int{},
		noEmail: map[string]bool{}, optedOut: map[string]string{}, hashes: map[string]string{}, prepared: true}
	var addrs, hashes []any
	records := map[string][]string{}
	hash, err := schemas.AddressHasher(app)
	if err != nil {
		return nil, err
	}
	for _, rec := range recs {
		m := messageOf(rec)
		if m.Category != Marketing || len(m.To) == 0 {
			continue
		}
		to, err := parseAddress(m.To[0])
		if err != nil {
			continue // prepare refuses it
		}
		addr := strings.ToLower(to.Address)
		if _, ok := c.hashes[addr]; !ok {
			h := hash(addr)
			c.hashes[addr] = h
			addrs, hashes = append(addrs, addr), append(hashes, h)
		}
		if m.Object != "" && m.RecordID != "" {
			records[m.Object] = append(records[m.Object], m.RecordID)
		}
	}
	if len(addrs) == 0 {
		return c, nil
	}
	var sup []struct {
		Email   string `db:"email"`
		Hash    string `db:"email_hash"`
		Reason  string `db:"reason"`
		Created string `db:"created"`
	}
	err = app.DB().Select("coalesce(email, '') AS email", "coalesce(email_hash, '') AS email_hash", "coalesce(reason, '') AS reason", "created").
		From(SuppressionsCollection).Where(dbx.Or(dbx.In("email", addrs...), dbx.In("email_hash", hashes...))).All(&sup)
	if err != nil {
		return nil, fmt.Errorf("check the suppression list: %w", err)
	}
	for _, r := range sup {
		if r.Email != "" {
			if _, ok := c.byAddr[r.Email]; !ok {
				c.byAddr[r.Email] = [2]string{r.Reason, r.Created}
			}
		}
		if r.Hash != "" {
			if _, ok := c.byHash[r.Hash]; !ok {
				c.byHash[r.Hash] = r.Created
			}
		}
	}
	// Every contact with a recipient's address, not only the one an email is about.
	lower := make([]string, len(addrs))
	for i, a := range addrs {
		lower[i] = a.(string)
	}
	if c.optedOut, err = OptedOut(app, marketingPurpose, lower); err != nil {
		return nil, err
	}
	for object, ids := range records {
		in := make([]any, len(ids))
		for i, id := range ids {
			in[i] = id
		}
		var rows []struct {
			ID    string `db:"record_id"`
			Total int    `db:"total"`
			Valid int    `db:"valid"`
		}
		// A consent pending its confirmation counts as absent, as in consentReason.
		err := app.DB().Select("record_id", "count(*) AS total", `coalesce(sum(CASE WHEN coalesce(withdrawn_at, '') = ''
			AND (needs_confirmation = FALSE OR coalesce(confirmed_at, '') != '') THEN 1 ELSE 0 END), 0) AS valid`).
			From("consents").Where(dbx.And(dbx.HashExp{"object": object, "purpose": "marketing_email"}, dbx.In("record_id", in...),
			dbx.NewExp("NOT "+pendingConsent))).
			GroupBy("record_id").All(&rows)
		if err != nil {
			return nil, fmt.Errorf("check the marketing consent: %w", err)
		}
		for _, r := range rows {
			c.consent[object+"/"+r.ID] = [2]int{r.Total, r.Valid}
		}
		coll, err := app.FindCachedCollectionByNameOrId(object)
		if err != nil || coll.Fields.GetByName("do_not_email") == nil {
			continue
		}
		var flagged []string
		if err := app.DB().Select("id").From(coll.Name).Where(dbx.And(dbx.In("id", in...), dbx.NewExp("[[do_not_email]] = TRUE"))).Column(&flagged); err != nil {
			return nil, fmt.Errorf("check do_not_email: %w", err)
		}
		for _, id := range flagged {
			c.noEmail[object+"/"+id] = true
		}
	}
	return c, nil
}

// reason is suppressedReason from the preloaded checks: the same answers, the same words.
func (c *checks) reason(m Message) (string, bool) {
	to, err := parseAddress(m.To[0])
	if err != nil {
		return "", false
	}
	addr := strings.ToLower(to.Address)
	h, ok := c.hashes[addr]
	if !ok {
		return "", false // not preloaded: ask the database
	}
	if r, ok := c.byAddr[addr]; ok {
		return fmt.Sprintf("%s is on the suppression list (%s since %s)", addr, r[0], r[1]), true
	}
	if created, ok := c.byHash[h]; ok {
		return fmt.Sprintf("%s belongs to an erased person (suppressed since %s)", addr, created), true
	}
	if m.Object == "" || m.RecordID == "" {
		return c.siblingReason(addr), true
	}
	if n := c.consent[m.Object+"/"+m.RecordID]; n[0] > 0 && n[1] == 0 {
		return fmt.Sprintf("%s %s has no valid marketing consent (withdrawn)", m.Object, m.RecordID), true
	}
	if c.noEmail[m.Object+"/"+m.RecordID] {
		return fmt.Sprintf("%s %s has do_not_email set", m.Object, m.RecordID), true
	}
	return c.siblingReason(addr), true
}

// siblingReason is why marketing mail to addr must not go out because a contact with that
// address opted out ("" when none did).
func (c *checks) siblingReason(addr string) string {
	if why := c.optedOut[addr]; why != "" {
		return optedOutReason(addr, why)
	}
	return ""
}

// suppressedReason says why a marketing email must not go out ("" when it may): its
// recipient is on the suppression list, the record it is about has do_not_email set or no
// valid marketing consent, or so has any contact with the recipient's address ([OptedOut]).
func (s *Sender) suppressedReason(app core.App, m Message) (string, error) {
	to, err := parseAddress(m.To[0])
	if err != nil {
		return "", err
	}
	addr := strings.ToLower(to.Address)
	rec, err := app.FindFirstRecordByData(SuppressionsCollection, "email", addr)
	switch {
	case err == nil:
		return fmt.Sprintf("%s is on the suppression list (%s since %s)", addr, rec.GetString("reason"), rec.GetString("created")), nil
	case !errors.Is(err, sql.ErrNoRows):
		return "", fmt.Errorf("check the suppression list: %w", err)
	}
	// An erased person stays suppressed by the keyed hash of their address (schemas/privacy).
	hash, err := schemas.AddressHash(app, addr)
	if err != nil {
		return "", err
	}
	rec, err = app.FindFirstRecordByData(SuppressionsCollection, "email_hash", hash)
	switch {
	case err == nil:
		return fmt.Sprintf("%s belongs to an erased person (suppressed since %s)", addr, rec.GetString("created")), nil
	case !errors.Is(err, sql.ErrNoRows):
		return "", fmt.Errorf("check the suppression list: %w", err)
	}
	if why, err := consentReason(app, m); why != "" || err != nil {
		return why, err
	}
	if m.Object != "" && m.RecordID != "" {
		r, err := app.FindRecordById(m.Object, m.RecordID)
		if err == nil && r.Collection().Fields.GetByName("do_not_email") != nil && r.GetBool("do_not_email") {
			return fmt.Sprintf("%s %s has do_not_email set", m.Object, m.RecordID), nil
		}
	}
	// Any contact with the address, in letters of any case: it is the same mailbox.
	out, err := OptedOut(app, marketingPurpose, []string{addr})
	if err != nil {
		return "", err
	}
	if why := out[addr]; why != "" {
		return optedOutReason(addr, why), nil
	}
	return "", nil
}

var b64 = base64.RawURLEncoding

// Token returns the signed unsubscribe token for addr; emailID names the email that carried
// it (kept as the suppression's source).
func (s *Sender) Token(addr, emailID string) (string, error) {
	key, err := s.secretKey()
	if err != nil {
		return "", err
	}
	payload := strings.ToLower(addr) + "\n" + emailID
	return b64.EncodeToString([]byte(payload)) + "." + b64.EncodeToString(sign(key, payload)), nil
}

// ParseToken checks a token's signature and returns the address and email it names.
func (s *Sender) ParseToken(token string) (addr, emailID string, err error) {
	enc, sig, ok := strings.Cut(token, ".")
	if !ok {
		return "", "", ErrBadToken
	}
	payload, err1 := b64.DecodeString(enc)
	mac, err2 := b64.DecodeString(sig)
	if err1 != nil || err2 != nil {
		return "", "", ErrBadToken
	}
	key, err := s.secretKey()
	if err != nil {
		return "", "", err
	}
	if !hmac.Equal(mac, sign(key, string(payload))) {
		return "", "", ErrBadToken
	}
	addr, emailID, _ = strings.Cut(string(payload), "\n")
	if _, err := parseAddress(addr); err != nil {
		return "", "", ErrBadToken
	}
	return addr, emailID, nil
}

func sign(key []byte, payload string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("relata-unsubscribe-v1\n"))
	m.Write([]byte(payload))
	return m.Sum(nil)[:20]
}

// unsubscribeURL is the recipient's unsubscribe link.
func (s *Sender) unsubscribeURL(eff effective, addr, emailID string) (string, error) {
	tok, err := s.Token(addr, emailID)
	if err != nil {
		return "", err
	}
	return eff.publicURL + "/unsubscribe/" + tok, nil
}

// secretKey returns the key that signs unsubscribe links: Config.UnsubscribeSecret, else a
// random secret generated once and kept in the relata_secrets collection.
func (s *Sender) secretKey() ([]byte, error) {
	s.secretMu.Lock()
	defer s.secretMu.Unlock()
	if s.secret != nil {
		return s.secret, nil
	}
	if s.cfg.UnsubscribeSecret != "" {
		s.secret = []byte(s.cfg.UnsubscribeSecret)
		return s.secret, nil
	}
	key, err := schemas.StoredSecret(s.app, "unsubscribe")
	if err != nil {
		return nil, err
	}
	s.secret = key
	return s.secret, nil
}
