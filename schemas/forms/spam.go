package forms

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// Reasons a submission is blocked, as counted in the relata_form_blocks collection.
const (
	BlockHoneypot    = "honeypot"
	BlockTooFast     = "too_fast"
	BlockBadToken    = "bad_token"
	BlockRateLimited = "rate_limited"
	BlockTooLarge    = "too_large"
)

// tokenMaxAge is how long a served form may be sent: a token older than this is refused and
// the page serves a fresh one.
const tokenMaxAge = 24 * time.Hour

// Token returns the signed token a form is served with: it records when the form was served,
// and only this server can make one (HMAC-SHA256 with the server's secret, bound to the
// form's slug). Sites that post their own HTML get one from GET /api/relata/forms/{slug}.
func (s *Service) Token(slug string, served time.Time) (string, error) {
	key, err := s.secretKey()
	if err != nil {
		return "", err
	}
	ts := strconv.FormatInt(served.UnixMilli(), 36)
	return ts + "." + sign(key, slug, ts), nil
}

func sign(key []byte, slug, ts string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("relata.forms.token\x00" + slug + "\x00" + ts))
	return base64.RawURLEncoding.EncodeToString(m.Sum(nil)[:18])
}

// errBadToken is returned for a token that is missing, forged, for another form or too old.
var errBadToken = errors.New("bad token")

// tokenTime verifies tok for the form slug and returns when the form was served.
func (s *Service) tokenTime(slug, tok string, now time.Time) (time.Time, error) {
	ts, mac, ok := strings.Cut(tok, ".")
	if !ok || len(tok) > 200 {
		return time.Time{}, errBadToken
	}
	key, err := s.secretKey()
	if err != nil {
		return time.Time{}, err
	}
	if !hmac.Equal([]byte(mac), []byte(sign(key, slug, ts))) {
		return time.Time{}, errBadToken
	}
	ms, err := strconv.ParseInt(ts, 36, 64)
	if err != nil {
		return time.Time{}, errBadToken
	}
	served := time.UnixMilli(ms)
	if now.Sub(served) > tokenMaxAge || served.After(now.Add(time.Minute)) {
		return time.Time{}, errBadToken
	}
	return served, nil
}

// secretKey returns the key that signs tokens: Config.Secret (or RELATA_FORMS_SECRET), else a
// random secret generated once and kept in the relata_secrets collection, else (without that
// collection) one derived from the superusers' auth token secret.
func (s *Service) secretKey() ([]byte, error) {
	s.secretMu.Lock()
	defer s.secretMu.Unlock()
	if s.secret != nil {
		return s.secret, nil
	}
	if s.cfg.Secret != "" {
		s.secret = []byte(s.cfg.Secret)
		return s.secret, nil
	}
	if _, err := s.app.FindCachedCollectionByNameOrId(schemas.SecretsCollection); err == nil {
		key, err := schemas.StoredSecret(s.app, "forms")
		if err != nil {
			return nil, err
		}
		s.secret = key
		return s.secret, nil
	}
	su, err := s.app.FindCachedCollectionByNameOrId(core.CollectionNameSuperusers)
	if err != nil || su.AuthToken.Secret == "" {
		return nil, fmt.Errorf("no secret to sign form tokens: set RELATA_FORMS_SECRET")
	}
	m := hmac.New(sha256.New, []byte(su.AuthToken.Secret))
	m.Write([]byte("relata.forms.secret"))
	s.secret = m.Sum(nil)
	return s.secret, nil
}

// limiter counts submissions per form and client address in fixed one-minute and one-hour
// windows. It lives in memory: a restart forgets the counts, and several servers count
// separately.
type limiter struct {
	mu        sync.Mutex
	windows   map[string]*window
	lastSweep time.Time
}

type window struct {
	minute, hour    int64 // the windows' indexes: unix minutes and hours
	perMin, perHour int
	last            time.Time
}

func newLimiter() *limiter { return &limiter{windows: map[string]*window{}} }

// allow counts one submission for key at now and reports whether it is within the limits
// (0: unlimited); when not, it says how long until the next is allowed.
func (l *limiter) allow(key string, now time.Time, perMinute, perHour int) (bool, time.Duration) {
	if perMinute <= 0 && perHour <= 0 {
		return true, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if now.Sub(l.lastSweep) > time.Minute {
		for k, w := range l.windows {
			if now.Sub(w.last) > time.Hour {
				delete(l.windows, k)
			}
		}
		l.lastSweep = now
	}
	m, h := now.Unix()/60, now.Unix()/3600
	w := l.windows[key]
	if w == nil {
		w = &window{}
		l.windows[key] = w
	}
	if w.minute != m {
		w.minute, w.perMin = m, 0
	}
	if w.hour != h {
		w.hour, w.perHour = h, 0
	}
	if perMinute > 0 && w.perMin >= perMinute {
		return false, time.Unix((m+1)*60, 0).Sub(now)
	}
	if perHour > 0 && w.perHour >= perHour {
		return false, time.Unix((h+1)*3600, 0).Sub(now)
	}
	w.perMin++
	w.perHour++
	w.last = now
	return true, 0
}

// countBlock adds one to the counter of blocked submissions of the form for reason today.
// Blocked submissions are never stored: only this count is.
func (s *Service) countBlock(slug, reason string) {
	now := s.cfg.Now().UTC()
	stamp := now.Format("2006-01-02 15:04:05.000Z")
	_, err := s.app.NonconcurrentDB().NewQuery(
		"INSERT INTO {{" + BlocksCollection + "}} ([[id]], [[form]], [[reason]], [[day]], [[count]], [[created]], [[updated]]) " +
			"VALUES ({:id}, {:form}, {:reason}, {:day}, 1, {:now}, {:now}) " +
			"ON CONFLICT ([[form]], [[reason]], [[day]]) DO UPDATE SET [[count]] = [[count]] + 1, [[updated]] = {:now}",
	).Bind(dbx.Params{
		"id": core.GenerateDefaultRandomId(), "form": slug, "reason": reason,
		"day": now.Format(time.DateOnly), "now": stamp,
	}).Execute()
	if err != nil {
		s.app.Logger().Warn("relata: cannot count a blocked form submission", "form", slug, "reason", reason, "error", err)
	}
}

// Blocked returns how many submissions of the form were blocked, by reason, over all days.
func (s *Service) Blocked(slug string) (map[string]int, error) {
	var rows []struct {
		Reason string `db:"reason"`
		Count  int    `db:"count"`
	}
	err := s.app.DB().Select("reason", "SUM(count) AS count").From(BlocksCollection).
		Where(dbx.HashExp{"form": slug}).GroupBy("reason").All(&rows)
	if err != nil {
		return nil, err
	}
	out := map[string]int{}
	for _, r := range rows {
		out[r.Reason] = r.Count
	}
	return out, nil
}
