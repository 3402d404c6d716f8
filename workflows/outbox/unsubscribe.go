package outbox

import (
	"crypto/hmac"
	"crypto/sha256"
	"database/sql"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

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

// suppressedReason says why a marketing email must not go out ("" when it may): its
// recipient is on the suppression list, or the record it is about has do_not_email set.
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
	if m.Object != "" && m.RecordID != "" {
		r, err := app.FindRecordById(m.Object, m.RecordID)
		if err == nil && r.Collection().Fields.GetByName("do_not_email") != nil && r.GetBool("do_not_email") {
			return fmt.Sprintf("%s %s has do_not_email set", m.Object, m.RecordID), nil
		}
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
