package campaigns_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/segments"
	"github.com/relata/relata/workflows/campaigns"
	"github.com/relata/relata/workflows/outbox"
)

// TestCampaignToThousandContacts sends a campaign to a 1,000-contact segment in which some
// members are suppressed, have withdrawn their marketing consent, have do_not_email set, have
// no address or share an address; every count in the report is exact and every other member
// receives one email at the SMTP sink.
func TestCampaignToThousandContacts(t *testing.T) {
	e := newEnv(t)
	e.template(t, `<html><body><p>Hello {{.record.full_name}}</p><p><a href="https://shop.example.com/spring?src=mail&amp;x=1">Shop</a></p></body></html>`)
	consents, _ := e.app.FindCollectionByNameOrId("consents")
	want := map[string]int{}
	wantTo := map[string]bool{}
	for i := 0; i < 1000; i++ {
		addr := fmt.Sprintf("c%04d@example.com", i)
		v := map[string]any{"full_name": fmt.Sprintf("Contact %d", i), "email": addr, "source": "website", "owner": e.boss.Id}
		reason := ""
		switch {
		case i%50 == 3:
			v["email"], reason = "", campaigns.ReasonNoAddress
		case i%10 == 0:
			reason = campaigns.ReasonSuppressed
			if err := outbox.Suppress(e.app, addr, outbox.ReasonManual, "test"); err != nil {
				t.Fatal(err)
			}
		case i%10 == 1:
			reason = campaigns.ReasonNoConsent
		case i%10 == 2:
			v["do_not_email"], reason = true, campaigns.ReasonDoNotEmail
		case i%100 == 5:
			v["email"], reason = strings.ToUpper(fmt.Sprintf("c%04d@example.com", i-1)), "duplicate" // same address as i-1, other case
		}
		c := schemastest.MustCreate(t, e.app, "contacts", v)
		if reason == campaigns.ReasonNoConsent {
			r := core.NewRecord(consents)
			r.Set("form", "newsletter")
			r.Set("object", "contacts")
			r.Set("record_id", c.Id)
			r.Set("text", "Send me offers")
			r.Set("version", "1")
			r.Set("given_at", time.Now().UTC())
			r.Set("purpose", "marketing_email")
			r.Set("basis", "consent")
			r.Set("withdrawn_at", time.Now().UTC())
			if err := e.app.Save(r); err != nil {
				t.Fatal(err)
			}
		}
		want[reason]++
		if reason == "" {
			wantTo[addr] = true
		}
	}
	for i := 0; i < 5; i++ { // not in the segment
		schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Other", "email": fmt.Sprintf("o%d@example.com", i), "source": "event"})
	}
	seg := schemastest.MustCreate(t, e.app, segments.Collection, map[string]any{
		"name": "Web leads", "kind": segments.Dynamic, "filter": `source = "website"`, "owner": e.boss.Id})
	c := e.campaign(t, seg, map[string]any{"track_clicks": true})

	if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/campaigns/"+c.Id+"/send", e.aliceTok, nil, nil); code != 403 {
		t.Errorf("sales user sends = %d, want 403", code)
	}
	if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/campaigns/"+c.Id+"/send", e.bossTok, nil, nil); code != 200 {
		t.Fatalf("send = %d", code)
	}
	if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/campaigns/"+c.Id+"/send", e.bossTok, nil, nil); code != 400 {
		t.Errorf("second send = %d, want 400", code)
	}
	e.run(t)

	msgs := e.smtp.Messages()
	got := map[string]int{}
	for _, m := range msgs {
		for _, to := range m.To {
			got[strings.ToLower(to)]++
		}
	}
	if len(msgs) != len(wantTo) || len(got) != len(wantTo) {
		t.Fatalf("the sink received %d messages for %d addresses; want %d, one each", len(msgs), len(got), len(wantTo))
	}
	for a, n := range got {
		if !wantTo[a] || n != 1 {
			t.Errorf("%s received %d messages (expected: %v)", a, n, wantTo[a])
		}
	}
	r := e.report(t, c.Id)
	if r.Status != campaigns.StatusSent || r.Audience != 1000 || r.Duplicates != want["duplicate"] || r.Sent != len(wantTo) ||
		r.Delivered != len(wantTo) || r.Queued != len(wantTo) || r.Progress != 1 {
		t.Errorf("report = %+v; want 1000 members, %d duplicates, %d sent", r, want["duplicate"], len(wantTo))
	}
	for _, reason := range []string{campaigns.ReasonNoAddress, campaigns.ReasonSuppressed, campaigns.ReasonNoConsent, campaigns.ReasonDoNotEmail} {
		if r.Skipped[reason] != want[reason] || want[reason] == 0 {
			t.Errorf("skipped %s = %d, want %d", reason, r.Skipped[reason], want[reason])
		}
	}

	// Tracking: the template's link is a signed redirect to itself, and nothing else.
	var html, text string
	for _, m := range msgs {
		if m.To[0] == "c0004@example.com" {
			html, text = m.Part("text/html"), m.Part("text/plain")
		}
	}
	var click, unsub string
	for _, h := range hrefs(html) {
		switch {
		case strings.Contains(h, campaigns.ClickPath):
			click = h
		case strings.Contains(h, "/unsubscribe/"):
			unsub = h
		}
	}
	if !strings.HasPrefix(click, e.srv.URL+campaigns.ClickPath) || strings.Contains(html, "shop.example.com") {
		t.Fatalf("the link was not rewritten: %q in\n%s", click, html)
	}
	if code, loc := get(t, click); code != http.StatusFound || loc != "https://shop.example.com/spring?src=mail&x=1" {
		t.Errorf("click = %d → %q", code, loc)
	}
	// The plain-text part's link is tracked too, with the same signed token.
	if strings.Contains(text, "shop.example.com") || !strings.Contains(text, click) {
		t.Errorf("the text part's link is not the tracked one %q:\n%s", click, text)
	}
	rec, _ := e.app.FindFirstRecordByData(campaigns.RecipientsCollection, "email", "c0004@example.com")
	evil, _ := e.svc.Token(rec.Id, "https://evil.example.com/")
	tampered := click[:len(click)-4] + "AAAA"
	for name, u := range map[string]string{
		"a signed URL not in the template": e.srv.URL + campaigns.ClickPath + evil,
		"a tampered token":                 tampered,
		"garbage":                          e.srv.URL + campaigns.ClickPath + "bm9wZQ.bm9wZQ",
	} {
		if code, loc := get(t, u); code != http.StatusNotFound || loc != "" {
			t.Errorf("%s: %d → %q; want 404 and no redirect", name, code, loc)
		}
	}
	// The click is on the contact's timeline, for managers.
	var timeline struct {
		Items []struct {
			Kind  string `json:"kind"`
			Title string `json:"title"`
		} `json:"items"`
	}
	if code := schemastest.Call(t, e.srv, http.MethodGet, "/api/relata/timeline/contacts/"+rec.GetString("contact"), e.bossTok, nil, &timeline); code != 200 {
		t.Fatalf("timeline = %d", code)
	}
	found := false
	for _, en := range timeline.Items {
		found = found || (en.Kind == "campaign" && strings.Contains(en.Title, "Clicked https://shop.example.com/spring") && strings.Contains(en.Title, "Spring"))
	}
	if !found {
		t.Errorf("the click is not on the contact's timeline: %+v", timeline)
	}
	// An unsubscribe, a bounce and a reply (as the inbox records them) are attributed.
	if code := post(t, unsub, "List-Unsubscribe=One-Click"); code != 200 {
		t.Errorf("unsubscribe = %d", code)
	}
	for addr, field := range map[string]string{"c0006@example.com": "bounced_at", "c0007@example.com": "replied_at"} {
		r, _ := e.app.FindFirstRecordByData(campaigns.RecipientsCollection, "email", addr)
		em, _ := e.app.FindRecordById(outbox.Collection, r.GetString("email_id"))
		em.Set(field, time.Now().UTC())
		if err := e.app.Save(em); err != nil {
			t.Fatal(err)
		}
	}
	// A deal with a recipient among its contacts, created and won after the start.
	con, _ := e.app.FindFirstRecordByData("contacts", "email", "c0008@example.com")
	schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "Spring order", "stage": "won", "amount": 100,
		"owner": e.boss.Id, "contacts": []string{con.Id}, "closed_at": time.Now().UTC()})
	r = e.report(t, c.Id)
	if r.Clicked != 1 || r.Unsubscribed != 1 || r.Bounced != 1 || r.Replied != 1 || r.Delivered != len(wantTo)-1 ||
		r.DealsCreated != 1 || r.DealsWon != 1 || len(r.Links) != 1 || r.Links[0].Clicks != 1 {
		t.Errorf("report after engagement = %+v", r)
	}
	// alice may not list the boss's deal: her report of it counts none (and she may not read reports at all)
	if code := schemastest.Call(t, e.srv, http.MethodGet, "/api/relata/campaigns/"+c.Id+"/report", e.aliceTok, nil, nil); code != 403 {
		t.Errorf("sales report = %d, want 403", code)
	}
}

// TestThrottlePauseCancel: a throttle of 10 a minute queues 10, then waits a minute; pause
// stops queueing, resume continues, cancel skips the rest and withdraws queued emails.
func TestThrottlePauseCancel(t *testing.T) {
	e := newEnv(t)
	e.template(t, `<p>Hi {{.record.full_name}}</p>`)
	for i := 0; i < 35; i++ {
		schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": fmt.Sprintf("C%d", i), "email": fmt.Sprintf("t%d@example.com", i), "owner": e.boss.Id})
	}
	seg := schemastest.MustCreate(t, e.app, segments.Collection, map[string]any{"name": "All", "kind": segments.Dynamic, "filter": `email != ""`, "owner": e.boss.Id})
	c := e.campaign(t, seg, map[string]any{"throttle": 10})
	if err := e.svc.Send(c.Id); err != nil {
		t.Fatal(err)
	}
	step := func() campaigns.Report {
		t.Helper()
		for {
			busy, err := e.svc.Step()
			if err != nil {
				t.Fatal(err)
			}
			if !busy {
				break
			}
		}
		return e.report(t, c.Id)
	}
	if r := step(); r.Queued != 10 || r.Pending != 25 {
		t.Fatalf("after the first minute: %d queued, %d pending; want 10, 25", r.Queued, r.Pending)
	}
	e.clock.Add(61 * time.Second)
	if r := step(); r.Queued != 20 {
		t.Fatalf("after the second minute: %d queued; want 20", r.Queued)
	}
	if err := e.svc.Pause(c.Id); err != nil {
		t.Fatal(err)
	}
	e.clock.Add(61 * time.Second)
	if r := step(); r.Queued != 20 || r.Status != campaigns.StatusPaused {
		t.Fatalf("paused: %d queued, %s", r.Queued, r.Status)
	}
	if err := e.svc.Resume(c.Id); err != nil {
		t.Fatal(err)
	}
	if r := step(); r.Queued != 30 {
		t.Fatalf("resumed: %d queued; want 30", r.Queued)
	}
	if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/campaigns/"+c.Id+"/cancel", e.bossTok, nil, nil); code != 200 {
		t.Fatalf("cancel = %d", code)
	}
	r := step()
	if r.Status != campaigns.StatusCancelled || r.Skipped[campaigns.ReasonCancelled] != 5 || r.Suppressed != 30 || r.Sent != 0 {
		t.Errorf("cancelled: %+v", r)
	}
	if n, _ := e.sender.Drain(); n != 0 || len(e.smtp.Messages()) != 0 {
		t.Errorf("a cancelled campaign sent %d emails", len(e.smtp.Messages()))
	}
	if err := e.svc.Resume(c.Id); err == nil {
		t.Error("resumed a cancelled campaign")
	}
}

// TestOpenPixel: off by default; with track_opens the pixel records one open.
func TestOpenPixel(t *testing.T) {
	e := newEnv(t)
	e.template(t, `<html><body><p>Hi</p></body></html>`)
	schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Ada", "email": "ada@example.com", "owner": e.boss.Id})
	seg := schemastest.MustCreate(t, e.app, segments.Collection, map[string]any{"name": "All", "kind": segments.Dynamic, "filter": `email != ""`, "owner": e.boss.Id})
	off := e.campaign(t, seg, nil)
	on := e.campaign(t, seg, map[string]any{"name": "Tracked", "track_opens": true})
	for _, c := range []string{off.Id, on.Id} {
		if err := e.svc.Send(c); err != nil {
			t.Fatal(err)
		}
	}
	e.run(t)
	msgs := e.smtp.Messages()
	if len(msgs) != 2 {
		t.Fatalf("%d messages, want 2 (one per campaign)", len(msgs))
	}
	var pixel string
	for _, m := range msgs {
		h := m.Part("text/html")
		if i := strings.Index(h, campaigns.OpenPath); i >= 0 {
			if pixel != "" {
				t.Fatal("both campaigns carry a pixel; it is off by default")
			}
			start := strings.LastIndex(h[:i], `"`) + 1
			pixel = h[start : i+strings.IndexByte(h[i:], '"')]
		}
	}
	if pixel == "" {
		t.Fatal("no pixel in the tracked campaign")
	}
	if code, _ := get(t, pixel); code != 200 {
		t.Fatalf("pixel = %d", code)
	}
	if r := e.report(t, on.Id); r.Opened != 1 {
		t.Errorf("opened = %d, want 1", r.Opened)
	}
	if r := e.report(t, off.Id); r.Opened != 0 {
		t.Errorf("untracked opened = %d", r.Opened)
	}
}
