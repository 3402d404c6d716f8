package main_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestEngagementSegmentInBrowser: a manager adds engagement conditions to a segment in the
// builder ("did not bounce from any campaign in the last 30 days", then "opened any
// campaign"); the live count follows the server's count of the same definition, the
// conditions are saved in the segment's engagement field and shown again after a reload.
func TestEngagementSegmentInBrowser(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), exampleServeArgs...)
	tok, _ := s.login(t, "users", "manager@example.com", "relata-demo-1")
	count := func(eng []map[string]any) int {
		var res struct {
			Count int `json:"count"`
		}
		if code := s.api(t, http.MethodPost, "/api/relata/segments/count", tok, map[string]any{"filter": "", "engagement": eng}, &res); code != 200 {
			t.Fatalf("count %v = %d", eng, code)
		}
		return res.Count
	}
	notBounced := count([]map[string]any{{"event": "bounce", "days": 30, "not": true}})
	both := count([]map[string]any{{"event": "bounce", "days": 30, "not": true}, {"event": "open"}})
	if notBounced == 0 {
		t.Fatal("the example data has no contacts for the manager")
	}

	b := newBrowser(t)
	mgr := b.signIn(t, s, "manager@example.com")
	mgr.do(chromedp.EmulateViewport(1400, 900))
	mgr.open("/segments/new", "#segment-name")
	mgr.setInput("#segment-name", "Reachable openers")
	mgr.setInput("#segment-group", "engagement")
	mgr.wait("the engagement builder", `!!document.querySelector('#engagement-event')`)
	mgr.setInput("#engagement-not", "true")
	mgr.setInput("#engagement-event", "bounce")
	mgr.setInput("#engagement-days", "30")
	mgr.do(chromedp.Click(chromedp.CSS("#add-engagement")))
	mgr.wait("the first condition", `document.querySelector('[data-testid=engagement-chip]')?.textContent.includes('did not bounce from any campaign in the last 30 days')`)
	mgr.wait("its live count", fmt.Sprintf(`document.querySelector('[data-testid=segment-live-count]').textContent.trim().startsWith('%d contact')`, notBounced))
	mgr.setInput("#engagement-not", "false")
	mgr.setInput("#engagement-event", "open")
	mgr.setInput("#engagement-days", "")
	mgr.do(chromedp.Click(chromedp.CSS("#add-engagement")))
	mgr.wait("both conditions", `document.querySelectorAll('[data-testid=engagement-chip]').length === 2`)
	mgr.wait("the live count of both", fmt.Sprintf(`document.querySelector('[data-testid=segment-live-count]').textContent.trim().startsWith('%d contact')`, both))
	mgr.screenshot("segment-engagement")
	mgr.do(chromedp.Click(chromedp.CSS("#save-segment")))
	mgr.wait("the saved segment", `/^#\/segments\/[a-z0-9]{15}$/.test(location.hash)`)
	id := eval[string](mgr, `location.hash.slice('#/segments/'.length)`)

	var seg struct {
		Engagement []map[string]any `json:"engagement"`
	}
	if code := s.api(t, http.MethodGet, "/api/collections/segments/records/"+id, tok, nil, &seg); code != 200 || len(seg.Engagement) != 2 ||
		seg.Engagement[0]["event"] != "bounce" || seg.Engagement[0]["not"] != true || seg.Engagement[0]["days"] != float64(30) || seg.Engagement[1]["event"] != "open" {
		t.Fatalf("stored segment = %d %v", code, seg.Engagement)
	}
	mgr.do(chromedp.Reload())
	mgr.wait("the conditions after a reload", `document.querySelectorAll('[data-testid=engagement-chip]').length === 2`)
	mgr.wait("the stored segment's count", fmt.Sprintf(`document.querySelector('[data-testid=segment-live-count]').textContent.trim().startsWith('%d contact')`, both))
}
