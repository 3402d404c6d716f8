package campaigns

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"html"
	"io"
	"net/url"
	"regexp"
	"strings"
	"sync"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	xhtml "golang.org/x/net/html"
	"mvdan.cc/xurls/v2"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/workflows/outbox"
)

// Tracking paths: a click redirect and an open pixel, each followed by a signed token.
const (
	ClickPath = "/t/c/"
	OpenPath  = "/t/o/"
)

// ErrBadLink is returned for a tracking token that is not signed by this Relata, or whose
// URL is not (or no longer) in the campaign's template.
var ErrBadLink = errors.New("invalid tracking link")

var b64 = base64.RawURLEncoding

// Token signs a tracking token for recipient and target (the link's URL; "" for the pixel).
func (s *Service) Token(recipient, target string) (string, error) {
	key, err := s.secretKey()
	if err != nil {
		return "", err
	}
	payload := recipient + "\n" + target
	return b64.EncodeToString([]byte(payload)) + "." + b64.EncodeToString(sign(key, payload)), nil
}

// ParseToken checks a token's signature and returns the recipient and URL it names.
func (s *Service) ParseToken(token string) (recipient, target string, err error) {
	enc, sig, ok := strings.Cut(token, ".")
	if !ok {
		return "", "", ErrBadLink
	}
	payload, err1 := b64.DecodeString(enc)
	mac, err2 := b64.DecodeString(sig)
	if err1 != nil || err2 != nil {
		return "", "", ErrBadLink
	}
	key, err := s.secretKey()
	if err != nil {
		return "", "", err
	}
	if !hmac.Equal(mac, sign(key, string(payload))) {
		return "", "", ErrBadLink
	}
	recipient, target, _ = strings.Cut(string(payload), "\n")
	return recipient, target, nil
}

func sign(key []byte, payload string) []byte {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("relata-campaign-tracking-v1\n"))
	m.Write([]byte(payload))
	return m.Sum(nil)[:16]
}

func (s *Service) secretKey() ([]byte, error) {
	s.secretMu.Lock()
	defer s.secretMu.Unlock()
	if s.secret != nil {
		return s.secret, nil
	}
	if s.cfg.TrackingSecret != "" {
		s.secret = []byte(s.cfg.TrackingSecret)
		return s.secret, nil
	}
	key, err := schemas.StoredSecret(s.app, "campaign-tracking")
	if err != nil {
		return nil, err
	}
	s.secret = key
	return s.secret, nil
}

// templateSource is what tracked links must appear in: the template's HTML and text sources.
func templateSource(t *outbox.Template) string { return t.HTML + "\n" + t.Text }

// trackable reports whether target may be tracked and redirected to: an http(s) URL that is
// one of the links of the template's source (templateLinks), exactly. Exactly, not "appears
// in": every prefix of a link appears in the source ("https://s" of "https://shop…"), which
// made the redirect an open one for anyone holding the tracking key.
func trackable(source, target string) bool {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return false
	}
	return templateLinks(source)[target]
}

// linkMemo memoizes templateLinks for the last source: the queue asks once per recipient of a
// batch and a click once per request, nearly always for the same template, so one entry is
// enough and bounds the memory (another template only costs a new parse).
var linkMemo struct {
	sync.Mutex
	source string
	set    map[string]bool
}

// templateLinks returns the links written in a template's source (templateSource), read the
// way the rewrite reads a rendered email (track, trackText), so that the redirect accepts
// exactly what the rewrite may have tracked: the href of each <a> (unescaped by the tokenizer,
// as in the rendered part), and each http(s) URL found by textURLs, as written and
// HTML-unescaped (a plain-text part derived from the HTML, outbox.HTMLToText, shows them
// unescaped). The returned map is shared: read it only.
func templateLinks(source string) map[string]bool {
	linkMemo.Lock()
	defer linkMemo.Unlock()
	if linkMemo.set != nil && linkMemo.source == source {
		return linkMemo.set
	}
	set := map[string]bool{}
	// The source is not an email to send: a tokenizer error only ends the walk early.
	_, _ = rewriteHrefs(source, func(href string) (string, bool, error) {
		set[href] = true
		return "", false, nil
	})
	for _, s := range []string{source, html.UnescapeString(source)} {
		for _, u := range textURLs.FindAllString(s, -1) {
			set[u] = true
		}
	}
	linkMemo.source, linkMemo.set = source, set
	return set
}

// textURLs finds the http(s) URLs in a plain-text part (xurls' strict matcher, limited to the
// schemes a click can be tracked for: the full list of schemes made it several times slower).
var textURLs = func() *regexp.Regexp {
	re, err := xurls.StrictMatchingScheme(`https?://`)
	if err != nil {
		panic(err) // a constant pattern
	}
	return re
}()

// trackText rewrites the plain-text part of recipient r's email: every http(s) URL of the
// template source becomes a signed redirect, as in the HTML part (the same token for the
// same URL, so the report counts the link once whichever part was clicked).
func (s *Service) trackText(c, r *core.Record, source, text string) (string, error) {
	if text == "" || !c.GetBool("track_clicks") {
		return text, nil
	}
	var err error
	out := textURLs.ReplaceAllStringFunc(text, func(u string) string {
		if err != nil || !trackable(source, u) {
			return u
		}
		t, terr := s.Token(r.Id, u)
		if terr != nil {
			err = terr
			return u
		}
		return outbox.PublicURLPlaceholder + ClickPath + t
	})
	return out, err
}

// track rewrites the rendered HTML of recipient r's email: links to URLs of the template
// source become signed redirects (track_clicks) and an open pixel is added (track_opens).
func (s *Service) track(c, r *core.Record, source, rendered string) (string, error) {
	if rendered == "" || (!c.GetBool("track_clicks") && !c.GetBool("track_opens")) {
		return rendered, nil
	}
	body := rendered
	if c.GetBool("track_clicks") {
		var err error
		body, err = rewriteHrefs(rendered, func(href string) (string, bool, error) {
			if !trackable(source, href) {
				return "", false, nil
			}
			t, err := s.Token(r.Id, href)
			if err != nil {
				return "", false, err
			}
			return outbox.PublicURLPlaceholder + ClickPath + t, true, nil
		})
		if err != nil {
			return "", err
		}
	}
	if c.GetBool("track_opens") {
		t, err := s.Token(r.Id, "")
		if err != nil {
			return "", err
		}
		pixel := `<img src="` + outbox.PublicURLPlaceholder + OpenPath + t + `.gif" width="1" height="1" alt="" style="display:block;border:0">`
		if i := strings.LastIndex(lowerASCII(body), "</body>"); i >= 0 {
			body = body[:i] + pixel + body[i:]
		} else {
			body += pixel
		}
	}
	return body, nil
}

// rewriteHrefs copies the HTML document doc, replacing the href of each <a> start tag with
// what replace returns for it (false: the tag is copied byte for byte). It is the one reading
// of links in HTML: the rewrite of a rendered email and templateLinks both use it.
func rewriteHrefs(doc string, replace func(href string) (string, bool, error)) (string, error) {
	var out bytes.Buffer
	z := xhtml.NewTokenizer(strings.NewReader(doc))
	for {
		tt := z.Next()
		if tt == xhtml.ErrorToken {
			if z.Err() != io.EOF {
				return "", z.Err()
			}
			return out.String(), nil
		}
		raw := z.Raw()
		if tt != xhtml.StartTagToken {
			out.Write(raw)
			continue
		}
		tok := z.Token()
		changed := false
		if tok.Data == "a" {
			for i, a := range tok.Attr {
				if a.Key != "href" || a.Namespace != "" {
					continue
				}
				v, ok, err := replace(a.Val)
				if err != nil {
					return "", err
				}
				if ok {
					tok.Attr[i].Val = v
					changed = true
				}
			}
		}
		if changed {
			out.WriteString(tok.String())
		} else {
			out.Write(raw)
		}
	}
}

// Windows within which a repeated open or click is not recorded again: an open per
// recipient per openWindow, a click per recipient and link per clickWindow. Each event is a
// row, a rescoring of the contact and a point of "opened/clicked" segment conditions and of
// the report, and the pixel and links are in the hands of whoever holds the email: without a
// bound one person writes as many events as requests. The first open and click are always
// recorded, so the report's unique counts (opened, clicked) and the recipient's first times
// do not change; the per-link clicks and daily figures count at most one per window.
const (
	openWindow  = time.Hour
	clickWindow = time.Minute
)

// Click records a click of the recipient named by token and returns where to redirect: the
// signed URL, only while the campaign's template still contains it. A repeated click within
// clickWindow, or any click once the campaign no longer tracks clicks, redirects without
// being recorded.
func (s *Service) Click(token string) (string, error) {
	rid, target, err := s.ParseToken(token)
	if err != nil || target == "" {
		return "", ErrBadLink
	}
	r, err := s.app.FindRecordById(RecipientsCollection, rid)
	if err != nil {
		return "", ErrBadLink
	}
	c, err := s.app.FindRecordById(Collection, r.GetString("campaign"))
	if err != nil {
		return "", ErrBadLink
	}
	tmpl, err := outbox.LoadTemplate(s.app, c.GetString("template"))
	if err != nil || !trackable(templateSource(tmpl), target) {
		return "", ErrBadLink
	}
	if !c.GetBool("track_clicks") {
		return target, nil // tracking turned off since the email was sent: the link still works
	}
	return target, s.record(r, EventClick, target, "clicked_at", clickWindow)
}

// Open records an open of the recipient named by token: an open token (signed for no URL; a
// click token names its link), of a campaign that tracks opens (a token of a campaign whose
// pixel was turned off, or never added, records nothing). A repeated open within openWindow
// is not recorded. The caller serves the pixel whatever this returns.
func (s *Service) Open(token string) error {
	rid, target, err := s.ParseToken(strings.TrimSuffix(token, ".gif"))
	if err != nil || target != "" {
		return ErrBadLink
	}
	r, err := s.app.FindRecordById(RecipientsCollection, rid)
	if err != nil {
		return ErrBadLink
	}
	c, err := s.app.FindRecordById(Collection, r.GetString("campaign"))
	if err != nil {
		return ErrBadLink
	}
	if !c.GetBool("track_opens") {
		return nil
	}
	return s.record(r, EventOpen, "", "opened_at", openWindow)
}

// record stores a tracking event and the recipient's first time of that kind, unless the
// recipient has an event of that kind and target within window. The check is one seek of
// idx_campaign_events_engagement (contact, type, created) limited to the window, whose rows
// are few precisely because of this check; it is made first outside the transaction, so a
// flood of repeats only reads and never waits for the write lock, and again inside it, where
// writes are serialized, so two first requests at once record one event. The window is read
// on the wall clock because created is stamped by PocketBase with it, not with Config.Now.
// An in-memory map would need a bound and eviction, forget everything at a restart and be one
// more copy of what the events table already says.
func (s *Service) record(r *core.Record, kind, target, field string, window time.Duration) error {
	if seen, err := recentEvent(s.app, r, kind, target, window); err != nil || seen {
		return err
	}
	now := dbTime(s.cfg.Now())
	return s.app.RunInTransaction(func(tx core.App) error {
		if seen, err := recentEvent(tx, r, kind, target, window); err != nil || seen {
			return err
		}
		if err := s.saveEvent(tx, r, kind, target, ""); err != nil {
			return err
		}
		_, err := tx.DB().Update(RecipientsCollection, dbx.Params{field: now},
			dbx.And(dbx.HashExp{"id": r.Id}, dbx.NewExp("coalesce([["+field+"]], '') = ''"))).Execute()
		return err
	})
}

// recentEvent reports whether recipient r has an event of kind for target created within
// window (see record).
func recentEvent(app core.App, r *core.Record, kind, target string, window time.Duration) (bool, error) {
	var n int
	err := recentEventQuery(app, r.GetString("contact"), r.Id, kind, target, dbTime(time.Now().Add(-window))).Row(&n)
	return n > 0, err
}

// recentEventQuery is recentEvent's read, apart for the query-plan test: equality on contact
// and type and a range on created (idx_campaign_events_engagement), then recipient and url
// checked on the rows of the window.
func recentEventQuery(app core.App, contact, recipient, kind, target, since string) *dbx.Query {
	return app.DB().NewQuery(`SELECT EXISTS (SELECT 1 FROM campaign_events WHERE contact = {:contact} AND type = {:type}
		AND created >= {:since} AND recipient = {:recipient} AND url = {:url})`).
		Bind(dbx.Params{"contact": contact, "type": kind, "since": since, "recipient": recipient, "url": target})
}

// lowerASCII lowers A–Z only, so the result has body's length and an index into it is an
// index into body (strings.ToLower turns each invalid UTF-8 byte into a 3-byte U+FFFD).
func lowerASCII(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}
