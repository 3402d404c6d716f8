package main_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestItalianInterface: alice (sales) works in English, switches to Italian with the top bar's
// language switch and sees the navigation, the board (its heading, stages and money in the
// Italian format) and her tasks in Italian at once; the choice is saved on her user record,
// so after a reload the app stays in Italian; switching back brings English back.
func TestItalianInterface(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServer(t, dir, exampleServeArgs...)
	aliceTok, aliceID := s.login(t, "users", "alice@example.com", "relata-demo-1")
	language := func() string {
		var u map[string]any
		if code := s.api(t, http.MethodGet, "/api/collections/users/records/"+aliceID, aliceTok, nil, &u); code != 200 {
			t.Fatalf("alice's record = %d", code)
		}
		l, _ := u["language"].(string)
		return l
	}

	b := newBrowser(t)
	alice := b.signIn(t, s, "alice@example.com")
	alice.do(chromedp.EmulateViewport(1400, 900))
	alice.open("/board/deals/sales", `[data-testid="open-total"]`)
	alice.wait("the English board", `document.querySelector('.board-page h1')?.textContent === 'Sales pipeline'`)
	englishTotal := eval[string](alice, `document.querySelector('[data-testid=open-total]').textContent`)
	if !strings.Contains(alice.pageText(), "My tasks") {
		alice.fail("English navigation expected")
	}

	alice.setInput(`[data-testid=language-switch]`, "it")
	alice.wait("the Italian board heading", `document.querySelector('.board-page h1')?.textContent === 'Pipeline Vendite'`)
	alice.wait("the Italian total", `!!document.querySelector('[data-testid=open-total]')`)
	nav := eval[string](alice, `document.querySelector('[data-testid=sidebar]').innerText`)
	for _, want := range []string{"Le mie attività", "Cruscotto", "Trattative", "Contatti", "Aziende", "Cestino"} {
		if !strings.Contains(nav, want) {
			alice.fail("the navigation lacks %q:\n%s", want, nav)
		}
	}
	board := eval[string](alice, `document.querySelector('.board-page').innerText`)
	for _, want := range []string{"Qualificata", "Proposta", "Negoziazione", "Vinta", "Persa", "Ponderato", "Vista elenco"} {
		if !strings.Contains(board, want) {
			alice.fail("the board lacks %q:\n%s", want, board)
		}
	}
	// The same total in Italian format ("12.345 €" where English has "€12,345").
	italianTotal := eval[string](alice, `document.querySelector('[data-testid=open-total]').textContent`)
	if italianTotal == englishTotal || strings.Contains(italianTotal, ",") {
		alice.fail("the total in Italian is %q (English %q)", italianTotal, englishTotal)
	}
	if digits(italianTotal) != digits(englishTotal) {
		alice.fail("the total changed from %q to %q", englishTotal, italianTotal)
	}
	if got := eval[string](alice, `document.documentElement.lang`); got != "it" {
		alice.fail("<html lang> = %q", got)
	}
	alice.wait("the search box in Italian", `document.querySelector('#global-search').placeholder === 'Cerca ovunque…'`)
	alice.screenshot("italian")

	// Saved on her record: a reload keeps Italian.
	for i := 0; language() != "it"; i++ {
		if i > 100 {
			t.Fatalf("alice's language = %q after the switch", language())
		}
		alice.do(chromedp.Sleep(100 * time.Millisecond))
	}
	alice.do(chromedp.Reload())
	alice.open("/tasks", `.tasks-page`)
	alice.wait("the Italian tasks", `document.querySelector('.tasks-page h1')?.textContent === 'Le mie attività'`)
	tasks := eval[string](alice, `document.querySelector('.tasks-page').innerText`)
	for _, want := range []string{"In ritardo", "Oggi", "Prossime"} {
		if !strings.Contains(tasks, want) {
			alice.fail("the tasks page lacks %q:\n%s", want, tasks)
		}
	}
	if !strings.Contains(tasks, "aperte") && !strings.Contains(tasks, "aperta") {
		alice.fail("no count of open tasks in Italian:\n%s", tasks)
	}

	// The other daily screens in Italian, each rendering without a script error.
	var dealID string
	{
		var l list
		if code := s.api(t, http.MethodGet, "/api/collections/deals/records?perPage=1&filter="+urlEscape(`owner = "`+aliceID+`"`), aliceTok, nil, &l); code != 200 || len(l.Items) == 0 {
			t.Fatalf("alice's deals = %d %v", code, l.Items)
		}
		dealID = l.Items[0]["id"].(string)
	}
	for _, c := range []struct{ route, sel, want string }{
		{"/list/deals", "#list-search", "Salva vista"},
		{"/record/deals/" + dealID, `[data-testid="record-title"]`, "Dettagli"},
		{"/dashboard", ".kpis", "Pipeline aperta"},
		{"/trash", ".trash-page", "Cestino"},
		{"/preferences", "#pref-language", "Fuso orario e lingua"},
		{"/tokens", ".tokens-page", "Token API"},
		{"/duplicates/contacts", "[data-testid=duplicates-object]", "Duplicati"},
		{"/search/a", ".search-page", "Ricerca"},
	} {
		alice.open(c.route, c.sel)
		alice.wait(c.want+" on "+c.route, fmt.Sprintf(`document.querySelector('.content').innerText.includes(%q)`, c.want))
	}
	alice.open("/list/deals", "#list-search")
	if ph := eval[string](alice, `document.querySelector('#list-search').placeholder`); ph != "Cerca in trattative…" {
		alice.fail("the list's search box says %q", ph)
	}
	alice.mu.Lock()
	errs := strings.Join(alice.errors, "\n")
	alice.mu.Unlock()
	if errs != "" {
		t.Fatalf("console errors in Italian:\n%s", errs)
	}

	// And back to English.
	alice.open("/tasks", `.tasks-page`)
	alice.setInput(`[data-testid=language-switch]`, "en")
	alice.wait("the English tasks", `document.querySelector('.tasks-page h1')?.textContent === 'My tasks'`)
	for i := 0; language() != "en"; i++ {
		if i > 100 {
			t.Fatalf("alice's language = %q after switching back", language())
		}
		alice.do(chromedp.Sleep(100 * time.Millisecond))
	}
}
