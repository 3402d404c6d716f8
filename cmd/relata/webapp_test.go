package main_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	_ "modernc.org/sqlite"

	"github.com/relata/relata/schemas"
)

// The web app's browser tests: the real `relata serve --demo` binary (examples/sales) driven by
// headless Chromium. With RELATA_SCREENSHOTS=1 they also write the screenshots of the README
// into docs/.

// chromiumPath returns the Chromium binary, or skips the test when there is none.
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome", "headless-shell"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no Chromium binary (apt-get install -y chromium)")
	return ""
}

// browser is one headless Chromium with a helper per session.
type browser struct {
	alloc context.Context
	root  context.Context
}

func newBrowser(t *testing.T) *browser {
	t.Helper()
	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(chromiumPath(t)),
		chromedp.Headless, chromedp.NoSandbox, chromedp.DisableGPU,
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.Flag("lang", "en-US"),
		chromedp.WindowSize(1920, 1080),
	)
	alloc, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	root, cancelRoot := chromedp.NewContext(alloc)
	if err := chromedp.Do(root); err != nil { // start the browser
		t.Fatalf("start chromium: %v", err)
	}
	t.Cleanup(func() { cancelRoot(); cancelAlloc() })
	return &browser{alloc: alloc, root: root}
}

// session is a signed-in user in their own browser context (own storage, own realtime).
type session struct {
	t      *testing.T
	ctx    context.Context
	base   string
	mu     sync.Mutex
	errors []string
}

func (b *browser) signIn(t *testing.T, s *server, email string) *session {
	t.Helper()
	ctx, cancel := chromedp.NewContext(b.root, chromedp.WithNewBrowserContext())
	t.Cleanup(cancel)
	ss := &session{t: t, ctx: ctx, base: s.url}
	if err := chromedp.Do(ctx, chromedp.EmulateViewport(1920, 1080)); err != nil {
		t.Fatal(err)
	}
	messages := chromedp.Console(ctx)
	go func() {
		for m, err := range messages {
			if err != nil {
				return
			}
			// Failed requests (a 404 for another user's record, a 400 for an invalid
			// draft) are answers the app shows; exceptions and other errors are bugs.
			if m.IsException() || (m.Type == chromedp.ConsoleError && !strings.Contains(m.Text, "Failed to load resource")) {
				ss.mu.Lock()
				ss.errors = append(ss.errors, m.String())
				ss.mu.Unlock()
			}
		}
	}()
	ss.do(chromedp.Navigate(s.url+"/#/"),
		chromedp.WaitVisible(chromedp.CSS("#login-email")),
		chromedp.SendKeys(chromedp.CSS("#login-email"), email),
		chromedp.SendKeys(chromedp.CSS("#login-password"), "relata-demo-1"),
		chromedp.Click(chromedp.CSS("form button[type=submit]")),
		chromedp.WaitVisible(chromedp.CSS(".sidebar")),
	)
	return ss
}

func (ss *session) do(steps ...chromedp.Action[chromedp.Void]) {
	ss.t.Helper()
	ctx, cancel := context.WithTimeout(ss.ctx, 30*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, steps...); err != nil {
		ss.fail("%v", err)
	}
}

func (ss *session) fail(format string, args ...any) {
	ss.t.Helper()
	text, _ := chromedp.Run(ss.ctx, chromedp.Evaluate[string](`location.hash + "\n" + document.body.innerText.slice(0, 3000)`))
	ss.mu.Lock()
	errs := strings.Join(ss.errors, "\n")
	ss.mu.Unlock()
	ss.t.Fatalf(format+"\npage:\n%s\nconsole errors:\n%s", append(args, text, errs)...)
}

// open goes to a route of the app ("/record/deals/ID") and waits for sel.
func (ss *session) open(route, sel string) {
	ss.t.Helper()
	ss.do(chromedp.Navigate(ss.base+"/#"+route), chromedp.WaitVisible(chromedp.CSS(sel)))
}

// eval runs JavaScript in the page and decodes its value into T.
func eval[T any](ss *session, js string) T {
	ss.t.Helper()
	v, err := chromedp.Run(ss.ctx, chromedp.Evaluate[T](js))
	if err != nil {
		ss.fail("eval %s: %v", js, err)
	}
	return v
}

// wait polls a JavaScript expression until it is truthy.
func (ss *session) wait(what, js string) {
	ss.t.Helper()
	ctx, cancel := context.WithTimeout(ss.ctx, 25*time.Second)
	defer cancel()
	if _, err := chromedp.Run(ctx, chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(100*time.Millisecond), chromedp.WithPollingTimeout(25*time.Second))); err != nil {
		ss.fail("waiting for %s: %v", what, err)
	}
}

// setInput sets the value of a form control as a person would, firing its event.
func (ss *session) setInput(sel, value string) {
	ss.t.Helper()
	js := fmt.Sprintf(`(() => { const el = document.querySelector(%q); if (!el) return false;
		el.value = %q; el.dispatchEvent(new Event(el.tagName === 'SELECT' ? 'change' : 'input', {bubbles: true})); return true; })()`, sel, value)
	if !eval[bool](ss, js) {
		ss.fail("no element %s", sel)
	}
}

func (ss *session) pageText() string {
	return eval[string](ss, `document.body.innerText`)
}

// screenshot writes docs/NAME.png when RELATA_SCREENSHOTS is set.
func (ss *session) screenshot(name string) {
	ss.t.Helper()
	if os.Getenv("RELATA_SCREENSHOTS") == "" {
		return
	}
	time.Sleep(300 * time.Millisecond) // let charts and fonts settle
	png, err := chromedp.Run(ss.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		ss.fail("screenshot: %v", err)
	}
	dir := filepath.Join(repoRoot, "docs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		ss.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), png, 0o644); err != nil {
		ss.t.Fatal(err)
	}
}

// drag drags the element from to the element to with the mouse, in small steps, as
// SortableJS's fallback (mouse events) expects.
func (ss *session) drag(from, to string) {
	ss.t.Helper()
	center := func(sel string) (float64, float64) {
		r := eval[[]float64](ss, fmt.Sprintf(`(() => { const el = document.querySelector(%q);
			const r = el.getBoundingClientRect(); return [r.x + r.width / 2, r.y + Math.min(r.height / 2, 30)]; })()`, sel))
		return r[0], r[1]
	}
	x0, y0 := center(from)
	x1, y1 := center(to)
	steps := []chromedp.Action[chromedp.Void]{chromedp.MouseEvent(chromedp.MouseMoved, x0, y0),
		chromedp.MouseEvent(chromedp.MousePressed, x0, y0, chromedp.ButtonLeft, chromedp.ClickCount(1))}
	for i := 1; i <= 20; i++ {
		f := float64(i) / 20
		steps = append(steps, chromedp.MouseEvent(chromedp.MouseMoved, x0+(x1-x0)*f, y0+(y1-y0)*f, chromedp.ButtonLeft), chromedp.Sleep(30*time.Millisecond))
	}
	// SortableJS's fallback looks for the drop target every 50ms.
	steps = append(steps, chromedp.Sleep(200*time.Millisecond))
	steps = append(steps, chromedp.MouseEvent(chromedp.MouseReleased, x1, y1, chromedp.ButtonLeft, chromedp.ClickCount(1)))
	ss.do(steps...)
}

// digits keeps the digits of a formatted amount: "€1,234" → 1234.
func digits(s string) int64 {
	n, _ := strconv.ParseInt(regexp.MustCompile(`\D`).ReplaceAllString(s, ""), 10, 64)
	return n
}

// dbQuery runs SQL directly on the server's database file (read-only, beside the server).
func dbQuery(t *testing.T, dataDir, query string, args ...any) *sql.Rows {
	t.Helper()
	db, err := sql.Open("sqlite", "file:"+filepath.Join(dataDir, "data.db")+"?mode=ro&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	rows, err := db.Query(query, args...)
	if err != nil {
		t.Fatal(err)
	}
	return rows
}

// seedRates are the latest rates to EUR of the example seed file, read by the test itself.
func seedRates(t *testing.T) map[string]float64 {
	t.Helper()
	f, err := os.Open("../../examples/sales/seed/" + schemas.RatesSeedFile)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	rates, err := schemas.ParseRatesCSV(schemas.RatesSeedFile, f, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	out, since := map[string]float64{"EUR": 1}, map[string]string{}
	for _, r := range rates {
		if r.Effective <= time.Now().UTC().Format(time.DateOnly) && r.Effective > since[r.Currency] {
			out[r.Currency], since[r.Currency] = r.Rate, r.Effective
		}
	}
	return out
}

// openTotal is the open pipeline total straight from the database, for all deals or one
// owner's: the sum of each currency's amounts times its rate to EUR from the seed file,
// rounded to whole euros as the page shows it.
func openTotal(t *testing.T, dataDir, owner string) int64 {
	t.Helper()
	q := `SELECT COALESCE(NULLIF(amount_currency, ''), 'EUR'), COALESCE(SUM(amount), 0) FROM deals WHERE stage IN ('lead', 'qualified', 'proposal', 'negotiation')`
	var args []any
	if owner != "" {
		q += ` AND owner = ?`
		args = append(args, owner)
	}
	rows := dbQuery(t, dataDir, q+` GROUP BY 1`, args...)
	defer rows.Close()
	rates := seedRates(t)
	var total float64
	for rows.Next() {
		var (
			code string
			sum  float64
		)
		if err := rows.Scan(&code, &sum); err != nil {
			t.Fatalf("query %s: %v", q, err)
		}
		rate, ok := rates[code]
		if !ok {
			t.Fatalf("open deals in %s, which has no rate in the seed file", code)
		}
		total += sum * rate
	}
	return int64(math.Round(total))
}

// rottingDeals returns the sorted ids of the owner's open deals that entered their stage more
// than the stage's rotting days ago, by the stage history in the database file.
func rottingDeals(t *testing.T, dataDir, owner string) []string {
	t.Helper()
	rot := map[string]float64{"lead": 14, "qualified": 14, "proposal": 21, "negotiation": 21}
	rows := dbQuery(t, dataDir, `SELECT d.id, d.stage, (SELECT MAX(c.at) FROM stage_changes c
		WHERE c.object = 'deals' AND c.record = d.id) FROM deals d WHERE d.owner = ?`, owner)
	defer rows.Close()
	var ids []string
	for rows.Next() {
		var id, stage, at string
		if err := rows.Scan(&id, &stage, &at); err != nil {
			t.Fatal(err)
		}
		entered, err := time.Parse("2006-01-02 15:04:05.000Z", at)
		if err != nil {
			t.Fatalf("deal %s entered %s at %q: %v", id, stage, at, err)
		}
		if days := math.Floor(time.Since(entered).Hours() / 24); rot[stage] > 0 && days > rot[stage] {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	return ids
}

type deal struct {
	ID    string  `json:"id"`
	Name  string  `json:"name"`
	Stage string  `json:"stage"`
	Owner string  `json:"owner"`
	Amt   float64 `json:"amount"`
	// Pipeline is the deal's pipeline field ("" is the stage field's own, sales).
	Pipeline string `json:"pipeline"`
}

func (s *server) deals(t *testing.T, token, filter string) []deal {
	t.Helper()
	var out struct {
		Items []deal `json:"items"`
	}
	path := "/api/collections/deals/records?perPage=500&sort=name&filter=" + urlEscape(filter)
	if code := s.api(t, http.MethodGet, path, token, nil, &out); code != 200 {
		t.Fatalf("list deals = %d", code)
	}
	return out.Items
}

func TestWebApp(t *testing.T) {
	t.Parallel()
	b := newBrowser(t)
	dataDir := t.TempDir()
	s := startServer(t, dataDir, "--demo")
	aliceTok, aliceID := s.login(t, "users", "alice@example.com", "relata-demo-1")
	mgrTok, _ := s.login(t, "users", "manager@example.com", "relata-demo-1")
	aliceDeals := s.deals(t, aliceTok, "")
	others := s.deals(t, mgrTok, fmt.Sprintf("owner != %q", aliceID))
	// Deal names repeat across owners; check for the names only others have.
	aliceNames := map[string]bool{}
	for _, d := range aliceDeals {
		aliceNames[d.Name] = true
	}
	var othersOnly []deal
	for _, d := range others {
		if !aliceNames[d.Name] {
			othersOnly = append(othersOnly, d)
		}
	}
	others = othersOnly
	if len(aliceDeals) == 0 || len(others) == 0 {
		t.Fatalf("example data: alice has %d deals, others %d", len(aliceDeals), len(others))
	}

	alice := b.signIn(t, s, "alice@example.com")

	t.Run("board shows only the sales user's deals, with the stage totals", func(t *testing.T) {
		alice.t = t
		alice.open("/board/deals/sales", `[data-testid="open-total"]`)
		alice.wait("cards", `document.querySelectorAll('li.card').length > 0`)
		ids := eval[[]string](alice, `[...document.querySelectorAll('li.card')].map(li => li.dataset.id)`)
		mine := map[string]bool{}
		for _, d := range aliceDeals {
			if d.Pipeline == "" || d.Pipeline == "sales" { // the renewals have their own board
				mine[d.ID] = true
			}
		}
		if len(ids) != len(mine) {
			t.Errorf("board shows %d cards; alice has %d deals in the sales pipeline", len(ids), len(mine))
		}
		for _, id := range ids {
			if !mine[id] {
				t.Errorf("board shows deal %s, which is not alice's", id)
			}
		}
		text := alice.pageText()
		for _, d := range others {
			if strings.Contains(text, d.Name) {
				t.Errorf("board shows another user's deal %q", d.Name)
			}
		}
		if got, want := digits(eval[string](alice, `document.querySelector('[data-testid="open-total"]').textContent`)), openTotal(t, dataDir, aliceID); got != want {
			t.Errorf("board open total = %d; the database says %d for alice", got, want)
		}
		// The example data has a stage history: the cards past their stage's rotting days
		// (lead, qualified 14; proposal, negotiation 21) are highlighted, no other.
		rotting := eval[[]string](alice, `[...document.querySelectorAll('li.card.rotting')].map(li => li.dataset.id)`)
		want := rottingDeals(t, dataDir, aliceID)
		slices.Sort(rotting)
		if len(want) == 0 || !slices.Equal(rotting, want) {
			t.Errorf("rotting cards %v; the stage history says %v", rotting, want)
		}
	})

	t.Run("drag a deal to won: the won workflow's task appears on its timeline", func(t *testing.T) {
		alice.t = t
		var target deal
		for _, d := range aliceDeals {
			if d.Stage == "negotiation" || d.Stage == "proposal" {
				target = d
				break
			}
		}
		if target.ID == "" {
			t.Fatal("alice has no deal in proposal or negotiation")
		}
		alice.open("/board/deals/sales", `li.card[data-id="`+target.ID+`"]`)
		alice.drag(`li.card[data-id="`+target.ID+`"]`, `ul.cards[data-stage="won"]`)
		alice.wait("the card in the won column", `!!document.querySelector('ul.cards[data-stage="won"] li.card[data-id="`+target.ID+`"]')`)
		deadline := time.Now().Add(10 * time.Second)
		for {
			var d deal
			s.api(t, http.MethodGet, "/api/collections/deals/records/"+target.ID, aliceTok, nil, &d)
			if d.Stage == "won" {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after the drag the deal is in %q; want won", d.Stage)
			}
			time.Sleep(100 * time.Millisecond)
		}
		alice.do(chromedp.Click(chromedp.CSS(`li.card[data-id="` + target.ID + `"] .title`)))
		alice.wait("the record page", `!!document.querySelector('[data-testid="timeline"]')`)
		task := "Schedule the kickoff for " + target.Name
		alice.wait("the kickoff task on the timeline", fmt.Sprintf(`document.querySelector('[data-testid="timeline"]').innerText.includes(%q)`, task))
		alice.wait("the stage change on the timeline", `document.querySelector('[data-testid="timeline"]').innerText.includes('Moved from')`)
		alice.wait("the workflow run on the timeline", `document.querySelector('[data-testid="timeline"]').innerText.includes('deal-won-onboarding')`)
		alice.screenshot("record")

		// Inline editing with the control of the field's type, and quick add of a note.
		alice.do(chromedp.Click(chromedp.CSS(`dd[data-field="amount"]`)))
		alice.wait("the amount editor", `!!document.querySelector('dd[data-field="amount"] input[type=number]')`)
		alice.setInput(`dd[data-field="amount"] input`, "4242")
		alice.do(chromedp.SendKeys(chromedp.CSS(`dd[data-field="amount"] input`), "\r"))
		alice.wait("the new amount shown", `document.querySelector('dd[data-field="amount"]').innerText.includes('4,242')`)
		var saved struct {
			Amount float64 `json:"amount"`
		}
		s.api(t, http.MethodGet, "/api/collections/deals/records/"+target.ID, aliceTok, nil, &saved)
		if saved.Amount != 4242 {
			t.Errorf("after the inline edit the amount is %v; want 4242", saved.Amount)
		}
		alice.setInput(".quick-add textarea", "Customer asked for the onboarding plan.")
		alice.do(chromedp.Click(chromedp.CSS(".quick-add button[type=submit]")))
		alice.wait("the note on the timeline", `document.querySelector('[data-testid="timeline"]').innerText.includes('Customer asked for the onboarding plan.')`)

		// The task is hers: it is on My tasks, and one click completes it.
		alice.open("/tasks", `[data-testid="tasks-upcoming"]`)
		alice.wait("the task in my tasks", fmt.Sprintf(`document.body.innerText.includes(%q)`, task))
		alice.screenshot("tasks")
		alice.do(chromedp.Click(chromedp.CSS(fmt.Sprintf(`input[aria-label=%q]`, "Mark done: "+task))))
		alice.wait("the task done", fmt.Sprintf(`!document.querySelector(%q)`, fmt.Sprintf(`input[aria-label=%q]`, "Mark done: "+task)))
		alice.wait("the task under done today", fmt.Sprintf(`document.querySelector('.task-group.done') && document.querySelector('.task-group.done').innerText.includes(%q)`, task))
		var acts struct {
			Items []map[string]any `json:"items"`
		}
		s.api(t, http.MethodGet, "/api/collections/activities/records?filter="+urlEscape(fmt.Sprintf("subject = %q", task)), aliceTok, nil, &acts)
		if len(acts.Items) != 1 || acts.Items[0]["done"] != true || acts.Items[0]["done_at"] == "" {
			t.Errorf("after one click the task is %v; want done with done_at", acts.Items)
		}
	})

	t.Run("a colleague's change appears on the open board in realtime", func(t *testing.T) {
		alice.t = t
		var lead deal
		for _, d := range aliceDeals {
			if d.Stage == "lead" {
				lead = d
				break
			}
		}
		if lead.ID == "" {
			t.Skip("alice has no lead")
		}
		alice.open("/board/deals/sales", `ul.cards[data-stage="lead"] li.card[data-id="`+lead.ID+`"]`)
		if code := s.api(t, http.MethodPatch, "/api/collections/deals/records/"+lead.ID, mgrTok, map[string]any{"stage": "qualified"}, nil); code != 200 {
			t.Fatalf("manager moves the deal = %d", code)
		}
		alice.wait("the deal to move to qualified", `!!document.querySelector('ul.cards[data-stage="qualified"] li.card[data-id="`+lead.ID+`"]')`)
	})

	t.Run("a sales user never sees another user's deal", func(t *testing.T) {
		alice.t = t
		other := others[0]
		// Record page by URL.
		alice.open("/record/deals/"+other.ID, `[data-testid="not-found"]`)
		if strings.Contains(alice.pageText(), other.Name) {
			t.Errorf("the record page shows %q", other.Name)
		}
		// Lists: the count and every row are hers.
		alice.open("/list/deals", `table.records`)
		alice.wait("the count", `/\d/.test(document.querySelector('[data-testid="list-total"]').textContent)`)
		if got := digits(eval[string](alice, `document.querySelector('[data-testid="list-total"]').textContent`)); got != int64(len(aliceDeals)) {
			t.Errorf("list says %d deals; alice has %d", got, len(aliceDeals))
		}
		text := alice.pageText()
		for _, d := range others {
			if strings.Contains(text, d.Name) {
				t.Errorf("the list shows another user's deal %q", d.Name)
			}
		}
		alice.screenshot("list")
		// Filter by a field, save the view, and open it again.
		won := 0
		for _, d := range s.deals(t, aliceTok, `stage = "won"`) {
			_ = d
			won++
		}
		alice.setInput(`select[aria-label="Filter field"]`, "stage")
		alice.wait("the stage choices", `!!document.querySelector('.filter-value select')`)
		alice.setInput(".filter-value select", "won")
		alice.do(chromedp.Click(chromedp.CSS("#add-filter")))
		countIs := fmt.Sprintf(`document.querySelector('[data-testid="list-total"]').textContent.startsWith('%d ')`, won)
		alice.wait("the filtered count", countIs)
		alice.do(chromedp.Click(chromedp.CSS("#save-view")))
		alice.wait("the save dialog", `!!document.querySelector('#view-name')`)
		alice.setInput("#view-name", "My won deals")
		alice.do(chromedp.Click(chromedp.CSS(".modal button[type=submit]")))
		alice.wait("the saved view in the address", `location.hash.includes('?view=')`)
		viewHash := eval[string](alice, `location.hash`)
		alice.open("/list/deals", "table.records")
		alice.do(chromedp.Navigate(s.url + "/" + viewHash))
		alice.wait("the saved view applied", countIs+` && document.body.innerText.includes('Stage is Won')`)
		alice.open("/list/deals", "table.records")

		// List search and global search.
		alice.setInput("#list-search", other.Name)
		alice.wait("an empty result", `document.body.innerText.includes('No deals match')`)
		alice.setInput("#global-search", other.Name)
		alice.do(chromedp.SendKeys(chromedp.CSS("#global-search"), "\r"))
		alice.wait("search results", `location.hash.startsWith('#/search/') && !document.querySelector('.spinner')`)
		if strings.Contains(alice.pageText(), other.Name+"\n") || eval[int](alice, fmt.Sprintf(`[...document.querySelectorAll('.search-results a')].filter(a => a.textContent === %q).length`, other.Name)) > 0 {
			t.Errorf("global search finds another user's deal %q", other.Name)
		}
		// Dashboard: her numbers only, equal to a direct query of the database.
		alice.open("/dashboard", `[data-testid="kpi-open-total"]`)
		if got, want := digits(eval[string](alice, `document.querySelector('[data-testid="kpi-open-total"]').textContent`)), openTotal(t, dataDir, aliceID); got != want {
			t.Errorf("alice's dashboard open total = %d; the database says %d for her deals", got, want)
		}
	})

	manager := b.signIn(t, s, "manager@example.com")

	t.Run("dashboard: the pipeline total is a direct query of the data", func(t *testing.T) {
		manager.t = t
		manager.open("/dashboard", `[data-testid="kpi-open-total"]`)
		manager.wait("charts", `document.querySelectorAll('canvas').length >= 3`)
		if got, want := digits(eval[string](manager, `document.querySelector('[data-testid="kpi-open-total"]').textContent`)), openTotal(t, dataDir, ""); got != want {
			t.Errorf("dashboard open total = %d; the open deals converted to EUR = %d", got, want)
		}
		// (The figure on the untouched example data, 1,077,838 = EUR 1,022,900 + GBP 30,600 ×
		// 1.17 + USD 20,800 × 0.92, is checked in schemas/insights: the tests above edit deals.)
		if got := eval[string](manager, `document.querySelector('[data-testid="currency-table"] tr[data-currency="GBP"]')?.innerText || ''`); !strings.Contains(got, "£30,600") || !strings.Contains(got, "1.17") {
			t.Errorf("the GBP row of the currency table = %q; want £30,600 at 1.17", got)
		}
		if got, today := eval[string](manager, `document.querySelector('[data-testid="rates-date"]').value`), time.Now().UTC().Format(time.DateOnly); got != today {
			t.Errorf("rates date = %q; want today, %s", got, today)
		}
		manager.screenshot("dashboard")
		manager.open("/board/deals/sales", `[data-testid="open-total"]`)
		manager.wait("cards", `document.querySelectorAll('li.card').length > 20`)
		if got, want := digits(eval[string](manager, `document.querySelector('[data-testid="open-total"]').textContent`)), openTotal(t, dataDir, ""); got != want {
			t.Errorf("board open total = %d; the database says %d", got, want)
		}
		manager.screenshot("board")
	})

	t.Run("managers see unassigned records; sales users do not", func(t *testing.T) {
		manager.t = t
		// A lead nobody owns: the manager creates it (and owns it), then gives it up.
		var lead struct {
			ID    string `json:"id"`
			Owner string `json:"owner"`
		}
		if code := s.api(t, http.MethodPost, "/api/collections/contacts/records", mgrTok, map[string]any{"full_name": "Nobody's Lead", "source": "website"}, &lead); code != 200 {
			t.Fatalf("create a contact = %d", code)
		}
		if code := s.api(t, http.MethodPatch, "/api/collections/contacts/records/"+lead.ID, mgrTok, map[string]any{"owner": ""}, &lead); code != 200 || lead.Owner != "" {
			t.Fatalf("unassign the contact = %d, owner %q", code, lead.Owner)
		}
		rows := dbQuery(t, dataDir, `SELECT COUNT(*) FROM contacts WHERE owner = ''`)
		var want int
		if !rows.Next() || rows.Scan(&want) != nil {
			t.Fatal("count unowned contacts")
		}
		rows.Close()
		manager.open("/list/contacts", `[data-testid="unassigned-view"]`)
		manager.do(chromedp.Click(chromedp.CSS(`[data-testid="unassigned-view"]`)))
		manager.wait("the unassigned count", fmt.Sprintf(`document.querySelector('[data-testid="list-total"]').textContent.startsWith('%d ')`, want))
		manager.wait("the unowned lead listed", `document.querySelector('table.records').innerText.includes("Nobody's Lead")`)
		if n := s.api(t, http.MethodGet, "/api/collections/contacts/records/"+lead.ID, aliceTok, nil, nil); n != 404 {
			t.Errorf("alice reads the unowned lead: %d; want 404", n)
		}
		alice.t = t
		alice.open("/list/contacts", `[data-testid="list-total"]`)
		if eval[bool](alice, `!!document.querySelector('[data-testid="unassigned-view"]')`) {
			t.Error("a sales user has the Unassigned view")
		}
	})

	t.Run("build a workflow, test it, enable it and see it act", func(t *testing.T) {
		manager.t = t
		manager.open("/workflows/new", "#wf-name")
		manager.setInput("#wf-name", "proposal-follow-up")
		manager.setInput("#wf-description", "When a deal reaches proposal, plan a follow-up call.")
		manager.setInput("#wf-object", "deals")
		manager.setInput("#wf-trigger", "stage_changed")
		manager.wait("the stage selects", `!!document.querySelector('#wf-trigger-to')`)
		manager.setInput("#wf-trigger-to", "proposal")

		// The server's checker locates a mistake in the condition typed as text...
		manager.do(chromedp.Click(chromedp.CSS(`[data-testid="wf-condition-editor"] [data-testid="condition-text"]`)))
		manager.wait("the text editor", `!!document.querySelector('#wf-condition')`)
		manager.do(chromedp.SendKeys(chromedp.CSS("#wf-condition"), "record.amout > 1000"))
		manager.wait("the located error", `(document.querySelector('[data-testid="problems"]') || {innerText: ''}).innerText.includes('/condition')`)
		if !strings.Contains(manager.pageText(), "amout") {
			t.Error("the problem does not name the unknown field")
		}
		// ... and autocomplete offers the field.
		manager.setInput("#wf-condition", "")
		manager.do(chromedp.SendKeys(chromedp.CSS("#wf-condition"), "record.amou"))
		manager.wait("suggestions", `!!document.querySelector('.suggestions li')`)
		manager.do(chromedp.SendKeys(chromedp.CSS("#wf-condition"), "\t"))
		manager.wait("the completed name", `document.querySelector('#wf-condition').value === 'record.amount'`)
		manager.do(chromedp.SendKeys(chromedp.CSS("#wf-condition"), " >= 0"))

		manager.do(chromedp.Click(chromedp.CSS(".add-action")), chromedp.Click(chromedp.CSS(`[data-action="create_task"]`)))
		manager.wait("the action form", `!!document.querySelector('#actions-0-subject')`)
		manager.setInput("#actions-0-subject", `="Follow up on the proposal for " + record.name`)
		manager.setInput("#actions-0-activityType", "call")
		manager.wait("a valid workflow", `document.querySelector('[data-testid="validity"]').textContent.includes('Valid')`)

		// Dry run on a deal.
		pick := aliceDeals[len(aliceDeals)-1]
		manager.setInput("#wf-test-search", pick.Name)
		manager.wait("the record to pick", `!!document.querySelector('.pick-list button[data-id="`+pick.ID+`"]')`)
		manager.do(chromedp.Click(chromedp.CSS(`.pick-list button[data-id="`+pick.ID+`"]`)), chromedp.Click(chromedp.CSS("#wf-test")))
		manager.wait("the dry-run report", `!!document.querySelector('[data-testid="test-report"]')`)
		report := eval[string](manager, `document.querySelector('[data-testid="test-report"]').innerText`)
		if !strings.Contains(report, "Condition holds") || !strings.Contains(report, "Follow up on the proposal for "+pick.Name) {
			t.Errorf("dry-run report:\n%s", report)
		}
		manager.screenshot("builder")

		// Enable and save.
		manager.do(chromedp.Click(chromedp.CSS(".switch-label .switch span")), chromedp.Click(chromedp.CSS("#wf-save")))
		manager.wait("saved", `document.body.innerText.includes('Saved and enabled')`)
		var wfs struct {
			Items []struct {
				Enabled    bool            `json:"enabled"`
				Definition json.RawMessage `json:"definition"`
			} `json:"items"`
		}
		s.api(t, http.MethodGet, "/api/collections/workflows/records?filter="+urlEscape(`name = "proposal-follow-up"`), mgrTok, nil, &wfs)
		if len(wfs.Items) != 1 || !wfs.Items[0].Enabled {
			t.Fatalf("stored workflow = %+v", wfs.Items)
		}

		// See it act: a deal moved to proposal gets the call task.
		var move deal
		for _, d := range s.deals(t, aliceTok, `stage = "lead" || stage = "qualified"`) {
			move = d
			break
		}
		alice.t = t
		alice.open("/record/deals/"+move.ID, `[data-testid="timeline"]`)
		alice.do(chromedp.Click(chromedp.CSS(`.stagebar button[data-stage="proposal"]`)))
		alice.wait("the new workflow's task on the timeline", fmt.Sprintf(`document.querySelector('[data-testid="timeline"]').innerText.includes(%q)`, "Follow up on the proposal for "+move.Name))

		manager.open("/runs?workflow=proposal-follow-up", `[data-testid="runs"]`)
		manager.wait("a succeeded run", `document.querySelector('[data-testid="runs"]').innerText.includes('succeeded')`)
		manager.screenshot("runs")
	})

	for _, ss := range []*session{alice, manager} {
		ss.mu.Lock()
		if len(ss.errors) > 0 {
			t.Errorf("console errors:\n%s", strings.Join(ss.errors, "\n"))
		}
		ss.mu.Unlock()
	}
}
