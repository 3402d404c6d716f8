package main_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBoardPipelinesInBrowser: the deals board switches between the sales and renewals
// pipelines, filters by owner, creates a deal in a column (owned by the user, in that stage and
// pipeline), and its column counts are the server's numbers; at desktop and phone sizes.
func TestBoardPipelinesInBrowser(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServer(t, dir, exampleServeArgs...)
	aliceTok, aliceID := s.login(t, "users", "alice@example.com", "relata-demo-1")
	mgrTok, _ := s.login(t, "users", "manager@example.com", "relata-demo-1")

	type numbers struct {
		Open   struct{ Count int }
		Stages []struct {
			Name  string
			Count int
		}
	}
	server := func(tok, query string) numbers {
		var n numbers
		if code := s.api(t, http.MethodGet, "/api/relata/insights/pipeline?object=deals&"+query, tok, nil, &n); code != 200 {
			t.Fatalf("insights %s = %d", query, code)
		}
		return n
	}
	// sameCounts checks each column's count against the server's report for the same view.
	sameCounts := func(ss *session, n numbers) {
		t.Helper()
		for _, st := range n.Stages {
			sel := fmt.Sprintf(`document.querySelector('[data-testid="count-%s"]')?.innerText`, st.Name)
			ss.wait("column "+st.Name+" count "+strconv.Itoa(st.Count), sel+` === '`+strconv.Itoa(st.Count)+`'`)
		}
		ss.wait("the open count", `document.querySelector('[data-testid="open-count"]')?.innerText === '`+strconv.Itoa(n.Open.Count)+`'`)
	}

	b := newBrowser(t)
	for _, size := range []struct {
		name string
		w, h int64
	}{{"desktop", 1400, 900}, {"phone", 390, 844}} {
		t.Run(size.name, func(t *testing.T) {
			alice := b.signIn(t, s, "alice@example.com")
			alice.do(chromedp.EmulateViewport(size.w, size.h))
			alice.open("/board/deals/sales", `[data-testid="open-total"]`)
			if opts := eval[string](alice, `[...document.querySelectorAll('[data-testid=pipeline-switcher] option')].map(o => o.value).join(',')`); opts != "sales,renewals" {
				t.Fatalf("pipeline switcher offers %q; want sales,renewals", opts)
			}
			sameCounts(alice, server(aliceTok, "pipeline=sales"))
			if size.name == "desktop" {
				alice.screenshot("board")
			}

			// Switch to renewals.
			alice.setInput("[data-testid=pipeline-switcher]", "renewals")
			alice.wait("the renewals board", `location.hash === '#/board/deals/renewals' && !!document.querySelector('[data-testid="column-renewal_due"]') && !document.querySelector('[data-testid="column-lead"]')`)
			sameCounts(alice, server(aliceTok, "pipeline=renewals"))

			// Quick create in "In talks" (on the phone, pick that stage first).
			if size.name == "phone" {
				alice.do(chromedp.Click(chromedp.CSS(`[data-testid=stage-switcher] [data-stage=renewal_talks]`)))
			}
			name := "Quick renewal " + size.name
			alice.do(chromedp.Click(chromedp.CSS(`[data-testid="quick-create-renewal_talks"]`)))
			alice.wait("the quick form", `!!document.querySelector('[data-testid="quick-form-renewal_talks"] input[name=title]')`)
			alice.setInput(`[data-testid="quick-form-renewal_talks"] input[name=title]`, name)
			alice.setInput(`[data-testid="quick-form-renewal_talks"] input[name=amount]`, "1234")
			alice.do(chromedp.Click(chromedp.CSS(`[data-testid="quick-form-renewal_talks"] button[type=submit]`)))
			alice.wait("the new card", `[...document.querySelectorAll('[data-testid="column-renewal_talks"] .card')].some(c => c.innerText.includes(`+strconv.Quote(name)+`))`)
			var list struct {
				Items []map[string]any
			}
			s.api(t, http.MethodGet, "/api/collections/deals/records?filter="+url.QueryEscape(`name="`+name+`"`), aliceTok, nil, &list)
			if len(list.Items) != 1 {
				t.Fatalf("%d deals named %q; want 1", len(list.Items), name)
			}
			d := list.Items[0]
			if d["owner"] != aliceID || d["stage"] != "renewal_talks" || d["pipeline"] != "renewals" || d["amount"] != 1234.0 {
				t.Errorf("quick-created deal = owner %v stage %v pipeline %v amount %v; want alice, renewal_talks, renewals, 1234", d["owner"], d["stage"], d["pipeline"], d["amount"])
			}
			sameCounts(alice, server(aliceTok, "pipeline=renewals"))
			if size.name == "desktop" {
				alice.screenshot("board-pipelines")
				// The record page's stage editor offers the renewal's own stages only.
				alice.open("/record/deals/"+d["id"].(string), `dd[data-field=stage]`)
				alice.do(chromedp.Click(chromedp.CSS(`dd[data-field=stage]`)))
				alice.wait("the stage editor", `!!document.querySelector('dd[data-field=stage] select')`)
				if opts := eval[string](alice, `[...document.querySelectorAll('dd[data-field=stage] select option')].map(o => o.value).filter(Boolean).join(',')`); strings.Contains(opts, "proposal") || !strings.Contains(opts, "renewal_talks") {
					t.Errorf("a renewal's stage editor offers %q; want the renewals pipeline's stages only", opts)
				}
			}
			if size.name == "phone" {
				if w := eval[int](alice, `document.documentElement.scrollWidth`); w > 390 {
					t.Errorf("the phone board is %d px wide; want no horizontal overflow", w)
				}
			}

			// The manager filters the sales board by owner: cards and totals are Alice's only.
			mgr := b.signIn(t, s, "manager@example.com")
			mgr.do(chromedp.EmulateViewport(size.w, size.h))
			mgr.open("/board/deals/sales", `[data-testid="open-total"]`)
			sameCounts(mgr, server(mgrTok, "pipeline=sales"))
			mgr.setInput("[data-testid=owner-filter]", aliceID)
			sameCounts(mgr, server(mgrTok, "pipeline=sales&owner="+aliceID))
			if others := eval[[]string](mgr, `[...document.querySelectorAll('.board .card .person')].map(p => p.innerText).filter(n => !n.includes('Alice'))`); len(others) > 0 {
				t.Errorf("owner filter Alice still shows cards of %v", others)
			}
			mgr.setInput("[data-testid=owner-filter]", "")
			team := eval[string](mgr, `[...document.querySelectorAll('[data-testid=team-filter] option')].map(o => o.value).filter(Boolean)[0] || ''`)
			if team == "" {
				t.Fatal("the team filter offers no team")
			}
			mgr.setInput("[data-testid=team-filter]", team)
			sameCounts(mgr, server(mgrTok, "pipeline=sales&team="+team))

			// The dashboard per pipeline: the renewals' open count is the server's.
			if size.name == "desktop" {
				mgr.open("/dashboard/deals/renewals", `[data-testid="kpi-open-total"]`)
				open := server(mgrTok, "pipeline=renewals").Open.Count
				mgr.wait("the renewals dashboard", `document.querySelector('[data-testid="kpi-open-total"]').parentElement.innerText.includes('`+strconv.Itoa(open)+` open')`)
			}
		})
	}
}
