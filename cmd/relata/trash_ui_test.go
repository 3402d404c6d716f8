package main_test

import (
	"fmt"
	"net/http"
	"testing"
)

// TestTrashAcrossTeams: carol (sales, team south) deletes one of her deals from its record page
// and two more from the list's selection, each after a confirmation; alice and bob (team north)
// neither see nor restore them; the manager sees them; carol restores one from the Trash page
// and finds it again with its id and name.
func TestTrashAcrossTeams(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServer(t, dir, exampleServeArgs...)
	carolTok, carolID := s.login(t, "users", "carol@example.com", "relata-demo-1")
	aliceTok, _ := s.login(t, "users", "alice@example.com", "relata-demo-1")
	bobTok, _ := s.login(t, "users", "bob@example.com", "relata-demo-1")
	mgrTok, _ := s.login(t, "users", "manager@example.com", "relata-demo-1")
	var deals list
	if code := s.api(t, http.MethodGet, "/api/collections/deals/records?perPage=3&sort=name&filter="+urlEscape(`owner="`+carolID+`"`), carolTok, nil, &deals); code != 200 || len(deals.Items) < 3 {
		t.Fatalf("carol's deals = %d (%d)", len(deals.Items), code)
	}
	first, firstName := deals.Items[0]["id"].(string), deals.Items[0]["name"].(string)
	b := newBrowser(t)
	carol := b.signIn(t, s, "carol@example.com")

	carol.open("/record/deals/"+first, `[data-testid=delete-record]`)
	carol.do(clickSel(`[data-testid=delete-record]`))
	carol.wait("the confirmation", `!!document.querySelector('[data-testid=confirm-delete]')`)
	if code := s.api(t, http.MethodGet, "/api/collections/deals/records/"+first, carolTok, nil, nil); code != 200 {
		t.Fatalf("the deal is gone before the confirmation: %d", code)
	}
	carol.do(clickSel(`[data-testid=confirm-delete]`))
	carol.wait("the list", `location.hash === '#/list/deals'`)
	if code := s.api(t, http.MethodGet, "/api/collections/deals/records/"+first, carolTok, nil, nil); code != 404 {
		t.Fatalf("the deleted deal answers %d", code)
	}

	// Two more from the list: tick them, delete, confirm.
	carol.wait("the rows", `document.querySelectorAll('td.pick input').length >= 2`)
	picked := eval[[]string](carol, `[...document.querySelectorAll('td.pick input')].slice(0, 2).map(i => i.dataset.id)`)
	for _, id := range picked {
		carol.do(clickSel(fmt.Sprintf(`td.pick input[data-id=%q]`, id)))
	}
	carol.wait("the delete button", `document.querySelector('[data-testid=delete-selected]')?.textContent.includes('2')`)
	carol.do(clickSel(`[data-testid=delete-selected]`))
	carol.do(clickSel(`[data-testid=confirm-delete]`))
	carol.wait("the rows gone", fmt.Sprintf(`!document.querySelector('td.pick input[data-id=%q]') && !document.querySelector('td.pick input[data-id=%q]')`, picked[0], picked[1]))
	deleted := append([]string{first}, picked...)

	type entry struct{ ID, Object, Record string }
	trashOf := func(token string) map[string]string {
		var out struct{ Items []entry }
		if code := s.api(t, http.MethodGet, "/api/relata/trash", token, nil, &out); code != 200 {
			t.Fatalf("list the trash = %d", code)
		}
		m := map[string]string{}
		for _, it := range out.Items {
			m[it.Record] = it.ID
		}
		return m
	}
	mine, mgr := trashOf(carolTok), trashOf(mgrTok)
	for _, id := range deleted {
		if mine[id] == "" || mgr[id] == "" {
			t.Fatalf("deal %s: in carol's trash %q, in the manager's %q", id, mine[id], mgr[id])
		}
	}
	for name, tok := range map[string]string{"alice": aliceTok, "bob": bobTok} {
		theirs := trashOf(tok)
		for _, id := range deleted {
			if theirs[id] != "" {
				t.Errorf("%s (another team) sees carol's deleted deal %s", name, id)
			}
			if code := s.api(t, http.MethodPost, "/api/relata/trash/"+mine[id]+"/restore", tok, nil, nil); code != 404 {
				t.Errorf("%s restores carol's deal %s = %d; want 404", name, id, code)
			}
		}
	}

	carol.open("/trash", `[data-testid=trash]`)
	carol.wait("the three entries", `document.querySelectorAll('[data-testid=trash] tbody tr').length === 3`)
	carol.do(clickSel(fmt.Sprintf(`[data-testid=trash] tr[data-record=%q] [data-testid=restore]`, first)))
	carol.wait("the restored deal", fmt.Sprintf(`location.hash === '#/record/deals/%s' && document.querySelector('[data-testid=record-title]')?.textContent === %q`, first, firstName))
	if code := s.api(t, http.MethodGet, "/api/collections/deals/records/"+first, carolTok, nil, nil); code != 200 {
		t.Errorf("the restored deal answers %d", code)
	}
	if left := trashOf(carolTok); len(left) != 2 || left[first] != "" {
		t.Errorf("carol's trash after the restore: %v", left)
	}
}
