package campaigns_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/segments"
	"github.com/relata/relata/workflows/campaigns"
)

// shop and blog are the template's links (shop HTML-escaped in the source, as editors write it).
const (
	shop = "https://shop.example.com/spring?src=mail&x=1"
	blog = "https://blog.example.com/"
)

// tracked sends a campaign of one template with two links to one contact, with extra fields
// on the campaign, and returns the env, the campaign, the recipient and the email's HTML.
func tracked(t *testing.T, extra map[string]any) (*env, *core.Record, *core.Record, string) {
	t.Helper()
	e := newEnv(t)
	e.template(t, `<html><body><p>Hi</p><a href="https://shop.example.com/spring?src=mail&amp;x=1">Shop</a>
<a href="`+blog+`">Blog</a></body></html>`)
	schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Ada", "email": "ada@example.com", "owner": e.boss.Id})
	seg := schemastest.MustCreate(t, e.app, segments.Collection, map[string]any{"name": "All", "kind": segments.Dynamic, "filter": `email != ""`, "owner": e.boss.Id})
	c := e.campaign(t, seg, extra)
	if err := e.svc.Send(c.Id); err != nil {
		t.Fatal(err)
	}
	e.run(t)
	msgs := e.smtp.Messages()
	if len(msgs) != 1 {
		t.Fatalf("%d messages, want 1", len(msgs))
	}
	r, err := e.app.FindFirstRecordByData(campaigns.RecipientsCollection, "email", "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	return e, c, r, msgs[0].Part("text/html")
}

// sign makes a tracking token as Relata signs them (the recipient and the URL, "" for the
// pixel, under HMAC-SHA-256 with the stored key), independently of the code under test.
func sign(t *testing.T, app core.App, recipient, target string) string {
	t.Helper()
	key, err := schemas.StoredSecret(app, "campaign-tracking")
	if err != nil {
		t.Fatal(err)
	}
	payload := recipient + "\n" + target
	m := hmac.New(sha256.New, key)
	m.Write([]byte("relata-campaign-tracking-v1\n" + payload))
	b64 := base64.RawURLEncoding
	return b64.EncodeToString([]byte(payload)) + "." + b64.EncodeToString(m.Sum(nil)[:16])
}

// pixelOf returns the open pixel's URL in an email's HTML ("" if there is none).
func pixelOf(html string) string {
	i := strings.Index(html, campaigns.OpenPath)
	if i < 0 {
		return ""
	}
	start := strings.LastIndex(html[:i], `"`) + 1
	return html[start : i+strings.IndexByte(html[i:], '"')]
}

// clickOf returns the tracked link of target in an email's HTML.
func clickOf(t *testing.T, e *env, r *core.Record, html, target string) string {
	t.Helper()
	u := e.srv.URL + campaigns.ClickPath + sign(t, e.app, r.Id, target)
	if !strings.Contains(html, u) {
		t.Fatalf("the email does not carry %s as %s:\n%s", target, u, html)
	}
	return u
}

// fetch GETs u without following redirects: the status, the Location and the body (status 0
// and the error as body if the request failed; Errorf, not Fatal: fetch runs in goroutines).
func fetch(t *testing.T, u string) (int, string, []byte) {
	t.Helper()
	res, err := noRedirect.Get(u)
	if err != nil {
		t.Errorf("GET %s: %v", u, err)
		return 0, "", []byte(err.Error())
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Errorf("GET %s: %v", u, err)
	}
	return res.StatusCode, res.Header.Get("Location"), body
}

// events counts the campaign events of recipient r by type and URL ("type url").
func events(t *testing.T, app core.App, r *core.Record) map[string]int {
	t.Helper()
	var rows []struct {
		Type string `db:"type"`
		URL  string `db:"url"`
		N    int    `db:"n"`
	}
	if err := app.DB().NewQuery(`SELECT type, url, count(*) AS n FROM campaign_events WHERE recipient = {:r} GROUP BY type, url`).
		Bind(dbx.Params{"r": r.Id}).All(&rows); err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, x := range rows {
		out[strings.TrimSpace(x.Type+" "+x.URL)] = x.N
	}
	return out
}

// pixelGIF is the first bytes of every GIF: what the pixel must still serve when it records nothing.
var pixelGIF = []byte("GIF89a")

// TestTrackingRepeatsRecordedOnce: one holder of an email requests the pixel 200 times and a
// link 50 times, ten at a time; each request still gets the pixel or the redirect, but one
// open and one click per link are recorded, so the report counts one of each. An hour (a minute for a click)
// after the last recorded one, the next is recorded again.
func TestTrackingRepeatsRecordedOnce(t *testing.T) {
	e, c, r, html := tracked(t, map[string]any{"track_clicks": true, "track_opens": true})
	pixel := pixelOf(html)
	if pixel == "" {
		t.Fatalf("no pixel in\n%s", html)
	}
	shopURL, blogURL := clickOf(t, e, r, html, shop), clickOf(t, e, r, html, blog)
	// Each event's transaction stays open a moment (as on a busy database), so the requests
	// racing the first one check for it before it commits.
	e.app.OnRecordCreate(campaigns.EventsCollection).BindFunc(func(ev *core.RecordEvent) error {
		time.Sleep(100 * time.Millisecond)
		return ev.Next()
	})
	scenarios := []struct {
		name     string
		url      string
		times    int
		wantCode int
		wantLoc  string
	}{
		{"the pixel", pixel, 200, http.StatusOK, ""},
		{"a link", shopURL, 50, http.StatusFound, shop},
		{"another link, once", blogURL, 1, http.StatusFound, blog},
	}
	// Ten at a time, as a script would: the first requests race for the first event.
	for _, s := range scenarios {
		var wg sync.WaitGroup
		reqs := make(chan int)
		for range 10 {
			wg.Go(func() {
				for i := range reqs {
					code, loc, body := fetch(t, s.url)
					if code != s.wantCode || loc != s.wantLoc || (s.wantCode == http.StatusOK && !bytes.HasPrefix(body, pixelGIF)) {
						t.Errorf("%s, request %d: %d → %q (%d bytes); want %d → %q", s.name, i+1, code, loc, len(body), s.wantCode, s.wantLoc)
					}
				}
			})
		}
		for i := range s.times {
			reqs <- i
		}
		close(reqs)
		wg.Wait()
	}
	want := map[string]int{"open": 1, "click " + shop: 1, "click " + blog: 1}
	if got := events(t, e.app, r); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("events = %v; want %v", got, want)
	}
	rep := e.report(t, c.Id)
	clicks := map[string]int{}
	for _, l := range rep.Links {
		clicks[l.URL] = l.Clicks
	}
	if rep.Opened != 1 || rep.Clicked != 1 || clicks[shop] != 1 || clicks[blog] != 1 ||
		len(rep.Daily) != 1 || rep.Daily[0].Opens != 1 || rep.Daily[0].Clicks != 2 {
		t.Errorf("report: opened %d, clicked %d, links %v, daily %+v; want 1, 1, one click each, 1 open and 2 clicks today",
			rep.Opened, rep.Clicked, clicks, rep.Daily)
	}

	// Age the recorded events past their windows (open: an hour, click: a minute): the next
	// request of each is recorded, and the recipient's first times stay the first.
	first, _ := e.app.FindRecordById(campaigns.RecipientsCollection, r.Id)
	for kind, age := range map[string]time.Duration{"open": time.Hour + time.Second, "click": time.Minute + time.Second} {
		if _, err := e.app.DB().NewQuery(`UPDATE campaign_events SET created = {:at} WHERE recipient = {:r} AND type = {:type}`).
			Bind(dbx.Params{"at": time.Now().Add(-age).UTC().Format("2006-01-02 15:04:05.000Z"), "r": r.Id, "type": kind}).Execute(); err != nil {
			t.Fatal(err)
		}
	}
	for _, u := range []string{pixel, pixel, shopURL, shopURL} {
		fetch(t, u)
	}
	want = map[string]int{"open": 2, "click " + shop: 2, "click " + blog: 1}
	if got := events(t, e.app, r); fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("after the windows: events = %v; want %v", got, want)
	}
	again, _ := e.app.FindRecordById(campaigns.RecipientsCollection, r.Id)
	for _, f := range []string{"opened_at", "clicked_at"} {
		if again.GetString(f) != first.GetString(f) || first.GetString(f) == "" {
			t.Errorf("%s = %q, was %q", f, again.GetString(f), first.GetString(f))
		}
	}
}

// TestOpenNeedsOpenToken: the pixel records an open only for an open token (signed for no
// URL) of a campaign that tracks opens; a click token, or any token of a campaign without
// the pixel, records nothing. The pixel is served in every case.
func TestOpenNeedsOpenToken(t *testing.T) {
	scenarios := []struct {
		name      string
		campaign  map[string]any
		target    string // the URL the token is signed for; "" is an open token
		wantOpens int
	}{
		{"an open token", map[string]any{"track_clicks": true, "track_opens": true}, "", 1},
		{"a click token on the pixel", map[string]any{"track_clicks": true, "track_opens": true}, shop, 0},
		{"a campaign that does not track opens", map[string]any{"track_clicks": true, "track_opens": false}, "", 0},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			t.Parallel()
			e, c, r, _ := tracked(t, s.campaign)
			code, _, body := fetch(t, e.srv.URL+campaigns.OpenPath+sign(t, e.app, r.Id, s.target)+".gif")
			if code != http.StatusOK || !bytes.HasPrefix(body, pixelGIF) {
				t.Errorf("pixel = %d, %q; want 200 and the GIF", code, body)
			}
			if got := events(t, e.app, r)["open"]; got != s.wantOpens {
				t.Errorf("%d opens recorded; want %d", got, s.wantOpens)
			}
			if rep := e.report(t, c.Id); rep.Opened != s.wantOpens {
				t.Errorf("report opened = %d; want %d", rep.Opened, s.wantOpens)
			}
		})
	}
}

// TestClickNeedsExactLink: a token signed with the tracking key redirects only to a link of
// the template, exactly; a prefix of one (another host, or the same host elsewhere) is an
// unknown link: 404, no redirect and no click recorded.
func TestClickNeedsExactLink(t *testing.T) {
	e, c, r, _ := tracked(t, map[string]any{"track_clicks": true})
	scenarios := []struct {
		name   string
		target string
		want   int
	}{
		{"the link", shop, http.StatusFound},
		{"the other link", blog, http.StatusFound},
		{"a prefix that is another domain", "https://shop.example.co", http.StatusNotFound},
		{"a prefix that is another host", "https://s", http.StatusNotFound},
		{"the link's host only", "https://shop.example.com", http.StatusNotFound},
		{"the link without its last parameter", "https://shop.example.com/spring?src=mail", http.StatusNotFound},
		{"the link as HTML-escaped in the source", "https://shop.example.com/spring?src=mail&amp;x", http.StatusNotFound},
	}
	for _, s := range scenarios {
		code, loc, _ := fetch(t, e.srv.URL+campaigns.ClickPath+sign(t, e.app, r.Id, s.target))
		wantLoc := ""
		if s.want == http.StatusFound {
			wantLoc = s.target
		}
		if code != s.want || loc != wantLoc {
			t.Errorf("%s (%s): %d → %q; want %d → %q", s.name, s.target, code, loc, s.want, wantLoc)
		}
	}
	if rep := e.report(t, c.Id); len(rep.Links) != 2 {
		t.Errorf("clicks recorded for %+v; want the two links only", rep.Links)
	}
}

// TestClickOfACampaignNoLongerTracked: a campaign whose click tracking was turned off after
// its emails went out still redirects their links, and records nothing.
func TestClickOfACampaignNoLongerTracked(t *testing.T) {
	e, c, r, _ := tracked(t, map[string]any{"track_clicks": true})
	c.Set("track_clicks", false)
	if err := e.app.Save(c); err != nil {
		t.Fatal(err)
	}
	if code, loc, _ := fetch(t, e.srv.URL+campaigns.ClickPath+sign(t, e.app, r.Id, shop)); code != http.StatusFound || loc != shop {
		t.Errorf("click = %d → %q; want 302 → %s", code, loc, shop)
	}
	if got := events(t, e.app, r)["click "+shop]; got != 0 {
		t.Errorf("%d clicks recorded; want none", got)
	}
}

// TestRepeatCheckUsesIndex: the check for a repeated open or click is a seek of
// idx_campaign_events_engagement on (contact, type, created), with or without statistics,
// never a scan of the campaign's events.
func TestRepeatCheckUsesIndex(t *testing.T) {
	e := newEnv(t)
	q := campaigns.RecentEventQuery(e.app, "contactaaaaaaaa", "recipientaaaaaa", campaigns.EventClick, shop, "2026-01-01 00:00:00.000Z")
	plan := schemastest.QueryPlan(t, e.app, q.SQL(), q.Params())
	if strings.Count(plan, "INDEX idx_campaign_events_engagement (contact=? AND type=? AND created>?)") != 2 {
		t.Fatalf("the repeat check misses its index:\n%s", plan)
	}
}
