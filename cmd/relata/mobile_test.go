package main_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestPhoneAndTablet: a sales rep on a phone (390×844) and on a tablet (768×1024) works the
// example data by touch. No page is wider than the screen; the menu button opens the sidebar
// as a drawer that navigates and closes; the board shows one stage at a time on the phone (the
// stage switcher picks it) and readable columns on the tablet; the record page is one column;
// a note and a call are logged in two taps each and appear on the timeline; tasks and search
// work. With RELATA_SCREENSHOTS=1 it writes docs/phone-*.png.
func TestPhoneAndTablet(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServer(t, dir, exampleServeArgs...)
	aliceTok, aliceID := s.login(t, "users", "alice@example.com", "relata-demo-1")
	var deals list
	if code := s.api(t, http.MethodGet, "/api/collections/deals/records?perPage=1&sort=name&filter="+urlEscape(`owner="`+aliceID+`"`), aliceTok, nil, &deals); code != 200 || len(deals.Items) == 0 {
		t.Fatalf("alice's deals = %d", code)
	}
	deal, dealName := deals.Items[0]["id"].(string), deals.Items[0]["name"].(string)
	b := newBrowser(t)

	for i, size := range []struct {
		name          string
		width, height int64
		phone         bool
	}{
		{"phone", 390, 844, true},
		{"tablet", 768, 1024, false},
	} {
		t.Run(size.name, func(t *testing.T) {
			ss := b.signIn(t, s, "alice@example.com")
			ss.do(chromedp.EmulateViewport(size.width, size.height, chromedp.EmulateMobile, chromedp.EmulateTouch,
				chromedp.EmulatePortrait, chromedp.EmulateScale(2)))
			tap := func(sel string) { ss.t.Helper(); ss.do(chromedp.Tap(chromedp.CSS(sel))) }
			noOverflow := func(where string) {
				t.Helper()
				ss.wait(where+" rendered", `!document.querySelector('.spinner')`)
				if w := eval[[]int](ss, `[document.documentElement.scrollWidth, window.innerWidth]`); w[0] > w[1] {
					ss.fail("%s at %s: the page is %d px wide on a %d px screen", where, size.name, w[0], w[1])
				}
			}

			// The board.
			ss.open("/board/deals/sales", `[data-testid="open-total"]`)
			ss.wait("cards", `document.querySelectorAll('li.card').length > 0`)
			noOverflow("the board")
			if eval[bool](ss, `document.querySelector('.sidebar').getBoundingClientRect().right > 0 && getComputedStyle(document.querySelector('.sidebar')).visibility !== 'hidden'`) {
				ss.fail("the sidebar is open on a %s before the menu button is tapped", size.name)
			}
			visible := `[...document.querySelectorAll('.board .column')].filter(c => c.getBoundingClientRect().width > 0).map(c => c.dataset.testid)`
			if size.phone {
				if got := eval[[]string](ss, visible); len(got) != 1 || got[0] != "column-lead" {
					ss.fail("the phone's board shows %v; want only the first stage", got)
				}
				tap(`[data-testid=stage-switcher] button[data-stage=won]`)
				ss.wait("the won stage", `(() => { const v = `+visible+`; return v.length === 1 && v[0] === 'column-won'; })()`)
				tap(`[data-testid=stage-switcher] button[data-stage=negotiation]`)
				ss.wait("the negotiation stage", `(() => { const v = `+visible+`; return v.length === 1 && v[0] === 'column-negotiation'; })()`)
				noOverflow("the board on one stage")
				ss.screenshot("phone-board")
			} else if eval[bool](ss, `!!document.querySelector('[data-testid=stage-switcher]').offsetParent`) {
				ss.fail("the tablet shows the stage switcher; its board has room for columns")
			}
			// Cards are readable: wide enough for a deal's name and amount.
			if w := eval[float64](ss, `Math.min(...[...document.querySelectorAll('li.card')].filter(c => c.offsetParent).map(c => c.getBoundingClientRect().width))`); w < 150 {
				ss.fail("cards are %.0f px wide on a %s", w, size.name)
			}

			// The menu opens as a drawer, navigates and closes.
			tap(`[data-testid=menu-button]`)
			ss.wait("the drawer", `document.querySelector('.sidebar').getBoundingClientRect().left >= 0 && getComputedStyle(document.querySelector('.sidebar')).visibility === 'visible' && document.querySelector('.sidebar').getAnimations().length === 0`)
			if size.phone {
				ss.screenshot("phone-menu")
			}
			tap(`.sidebar a[href="#/tasks"]`)
			ss.wait("the tasks page", `location.hash === '#/tasks' && !!document.querySelector('.tasks-page')`)
			ss.wait("the drawer to close", `getComputedStyle(document.querySelector('.sidebar')).visibility === 'hidden' && !document.querySelector('[data-testid=nav-backdrop]')`)
			noOverflow("my tasks")
			if size.phone {
				ss.screenshot("phone-tasks")
			}

			// The other screens fit too (wide tables scroll inside their frame).
			for _, r := range []struct{ route, sel string }{
				{"/list/deals", "table.records"}, {"/list/contacts", "table.records"}, {"/dashboard", ".kpis"}, {"/trash", ".trash-page"},
			} {
				ss.open(r.route, r.sel)
				noOverflow(r.route)
			}

			// Search from the top bar.
			word := strings.Fields(dealName)[0]
			ss.do(chromedp.Tap(chromedp.CSS("#global-search")), chromedp.SendKeys(chromedp.CSS("#global-search"), word+"\r"))
			ss.wait("the search results", fmt.Sprintf(`location.hash.startsWith('#/search/') && document.body.innerText.includes(%q)`, dealName))
			noOverflow("the search results")

			// The record page: one column, a quick note and a quick call in two taps each.
			ss.open("/record/deals/"+deal, `[data-testid=quick-actions]`)
			ss.wait("the timeline", `!!document.querySelector('[data-testid=timeline]')`)
			noOverflow("the record page")
			if cols := eval[int](ss, `new Set([...document.querySelectorAll('.record-grid > .panel')].map(p => Math.round(p.getBoundingClientRect().left))).size`); cols != 1 {
				ss.fail("the record page has %d columns on a %s", cols, size.name)
			}
			note := "Phone note " + size.name + " 4712"
			tap(`[data-testid=quick-actions] button[data-kind=note]`) // tap 1
			ss.wait("the note box focused", `document.activeElement === document.querySelector('[data-testid=quick-add] textarea')`)
			ss.do(chromedp.SendKeys(chromedp.CSS(`[data-testid=quick-add] textarea`), note))
			tap(`[data-testid=quick-add] button[type=submit]`) // tap 2
			ss.wait("the note on the timeline", fmt.Sprintf(`document.querySelector('[data-testid=timeline]').innerText.includes(%q)`, note))
			tap(`[data-testid=quick-actions] button[data-kind=call]`) // tap 1
			ss.wait("the call form", `document.activeElement === document.querySelector('[data-testid=quick-add] input') && !document.querySelector('[data-testid=quick-add] button[type=submit]').disabled`)
			tap(`[data-testid=quick-add] button[type=submit]`) // tap 2
			call := "Call: " + dealName
			// The subject is the same on each screen size: wait for this size's own entry (the
			// phone's is already on the tablet's timeline).
			ss.wait("the call on the timeline", fmt.Sprintf(`document.querySelector('[data-testid=timeline]').innerText.split(%q).length - 1 >= %d`, call, i+1))
			noOverflow("the record page with its new entries")
			if size.phone {
				ss.screenshot("phone-record")
			}
			// Both are stored, linked to the deal, as alice's done activities (the call's
			// subject is the same on each screen size).
			for _, c := range []struct {
				typ, subject string
				want         int
			}{{"note", note, 1}, {"call", call, i + 1}} {
				var acts list
				filter := fmt.Sprintf(`deal=%q && type=%q && owner=%q && done=true && (subject=%q || body=%q)`, deal, c.typ, aliceID, c.subject, c.subject)
				if code := s.api(t, http.MethodGet, "/api/collections/activities/records?filter="+urlEscape(filter), aliceTok, nil, &acts); code != 200 || acts.TotalItems != c.want {
					t.Errorf("the %s logged from the %s: %d stored, want %d (status %d)", c.typ, size.name, acts.TotalItems, c.want, code)
				}
			}
		})
	}
}
