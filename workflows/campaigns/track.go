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

// trackable reports whether target may be tracked and redirected to: an http(s) URL written
// literally in the template's source (templateSource).
func trackable(source, target string) bool {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return false
	}
	return strings.Contains(source, target) || strings.Contains(html.UnescapeString(source), target)
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
		var out bytes.Buffer
		z := xhtml.NewTokenizer(strings.NewReader(rendered))
		for {
			tt := z.Next()
			if tt == xhtml.ErrorToken {
				if z.Err() != io.EOF {
					return "", z.Err()
				}
				break
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
					if a.Key == "href" && a.Namespace == "" && trackable(source, a.Val) {
						t, err := s.Token(r.Id, a.Val)
						if err != nil {
							return "", err
						}
						tok.Attr[i].Val = outbox.PublicURLPlaceholder + ClickPath + t
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
		body = out.String()
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

// Click records a click of the recipient named by token and returns where to redirect: the
// signed URL, only while the campaign's template still contains it.
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
	return target, s.record(r, EventClick, target, "clicked_at")
}

// Open records an open of the recipient named by token.
func (s *Service) Open(token string) error {
	rid, _, err := s.ParseToken(strings.TrimSuffix(token, ".gif"))
	if err != nil {
		return ErrBadLink
	}
	r, err := s.app.FindRecordById(RecipientsCollection, rid)
	if err != nil {
		return ErrBadLink
	}
	return s.record(r, EventOpen, "", "opened_at")
}

// record stores a tracking event and the recipient's first time of that kind.
func (s *Service) record(r *core.Record, kind, target, field string) error {
	now := dbTime(s.cfg.Now())
	return s.app.RunInTransaction(func(tx core.App) error {
		if err := s.saveEvent(tx, r, kind, target, ""); err != nil {
			return err
		}
		_, err := tx.DB().Update(RecipientsCollection, dbx.Params{field: now},
			dbx.And(dbx.HashExp{"id": r.Id}, dbx.NewExp("coalesce([["+field+"]], '') = ''"))).Execute()
		return err
	})
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
