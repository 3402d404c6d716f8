package main_test

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestMergeInBrowser: alice starts creating a contact that already exists and is warned with a
// link; on the Duplicates page she finds the pair, opens the merge screen, keeps the older
// record and its values with the newer one's phone, merges, undoes, merges again; the deal of
// the merged-away contact now names the kept one, and the old record link opens the kept one.
func TestMergeInBrowser(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServer(t, dir, exampleServeArgs...)
	aliceTok, aliceID := s.login(t, "users", "alice@example.com", "relata-demo-1")
	var keep, lose, deal map[string]any
	if code := s.api(t, http.MethodPost, "/api/collections/contacts/records", aliceTok,
		map[string]any{"full_name": "Dora Dupont", "email": "dora@dupont.example", "owner": aliceID, "tags": []string{"vip"}}, &keep); code != 200 {
		t.Fatalf("create = %d", code)
	}
	if code := s.api(t, http.MethodPost, "/api/collections/contacts/records", aliceTok,
		map[string]any{"full_name": "Dora Dupond", "email": "Dora+news@dupont.example", "phone": "+39 02 5550 1234", "owner": aliceID, "tags": []string{"newsletter"}}, &lose); code != 200 {
		t.Fatalf("create = %d", code)
	}
	if code := s.api(t, http.MethodPost, "/api/collections/deals/records", aliceTok,
		map[string]any{"name": "Dupont renewal", "contacts": []string{lose["id"].(string)}, "owner": aliceID}, &deal); code != 200 {
		t.Fatalf("create deal = %d", code)
	}
	keepID, loseID := keep["id"].(string), lose["id"].(string)

	b := newBrowser(t)
	alice := b.signIn(t, s, "alice@example.com")
	alice.do(chromedp.EmulateViewport(1400, 900))

	// Creating a third Dora warns, with links to the existing ones.
	alice.open("/list/contacts", "table.records")
	alice.do(chromedp.Click(chromedp.CSS(".page-head button.primary")))
	alice.wait("the new contact form", `!!document.querySelector('form.form-grid input[type=email]')`)
	alice.setInput("form.form-grid input[type=email]", "dora@dupont.example")
	alice.wait("the duplicate warning", `document.querySelector('[data-testid=duplicate-warning]')?.innerText.includes('Dora Dupont')`)
	links := eval[[]string](alice, `[...document.querySelectorAll('[data-testid=duplicate-warning] a')].map(a => a.getAttribute('href'))`)
	if !slices.Contains(links, "#/record/contacts/"+keepID) || !slices.Contains(links, "#/record/contacts/"+loseID) {
		t.Errorf("the warning links to %q; want both Doras", links)
	}

	// The record page of one says it may be the other, with a merge link.
	alice.open("/record/contacts/"+loseID, "[data-testid=record-title]")
	alice.wait("the record's duplicate notice", `document.querySelector('[data-testid=record-duplicates]')?.innerText.includes('Dora Dupont')`)
	if href := eval[string](alice, `document.querySelector('[data-testid=merge-with]').getAttribute('href')`); href != "#/merge/contacts/"+loseID+"/"+keepID {
		t.Errorf("merge link %q", href)
	}

	// The duplicates page lists the pair with its reasons.
	alice.open("/duplicates/contacts", "[data-testid=duplicates]")
	row := (`[...document.querySelectorAll('[data-testid=duplicates] tbody tr')].find(r => r.innerText.includes('Dora Dupont') && r.innerText.includes('Dora Dupond'))`)
	alice.wait("the pair", "!!"+row)
	if why := eval[string](alice, row+`.innerText`); !containsAll(why, "same email (dora@dupont.example)") {
		t.Errorf("reasons: %q", why)
	}
	alice.screenshot("duplicates")
	alice.do(chromedp.Evaluate[chromedp.Void](row + `.querySelector('[data-testid=merge-pair]').click()`))
	alice.wait("the merge screen", `!!document.querySelector('[data-testid=merge-table]')`)
	alice.do(chromedp.Click(chromedp.CSS(`[data-testid=keep-` + keepID + `]`)))
	// the kept record has no phone: the other's is chosen by default
	if !eval[bool](alice, `document.querySelector('[data-testid=pick-phone-`+loseID+`]').checked`) {
		t.Error("the merged record's phone is not chosen by default")
	}
	if !eval[bool](alice, `document.querySelector('[data-testid=pick-tags-both]').checked`) {
		t.Error("tags do not default to both records'")
	}
	alice.screenshot("merge")
	alice.do(chromedp.Click(chromedp.CSS(`[data-testid=confirm-merge]`)))
	alice.wait("the merge", `!!document.querySelector('[data-testid=merge-done]')`)
	if text := eval[string](alice, `document.querySelector('[data-testid=merge-done] p').innerText`); !strings.HasPrefix(text, "Dora Dupond was merged into Dora Dupont: 1 link moved, 2 values changed on the kept record.") {
		t.Errorf("merge summary: %q", text)
	}
	if code := s.api(t, http.MethodGet, "/api/collections/contacts/records/"+loseID, aliceTok, nil, nil); code != 404 {
		t.Fatalf("the merged-away contact answers %d", code)
	}
	// Undo brings it back; merge again.
	alice.do(chromedp.Click(chromedp.CSS(`[data-testid=undo-merge]`)))
	alice.wait("the merge screen again", `!!document.querySelector('[data-testid=merge-table]')`)
	if code := s.api(t, http.MethodGet, "/api/collections/contacts/records/"+loseID, aliceTok, nil, nil); code != 200 {
		t.Fatalf("after undo the contact answers %d", code)
	}
	alice.do(chromedp.Click(chromedp.CSS(`[data-testid=keep-`+keepID+`]`)), chromedp.Click(chromedp.CSS(`[data-testid=confirm-merge]`)))
	alice.wait("the merge", `!!document.querySelector('[data-testid=merge-done]')`)

	var got map[string]any
	s.api(t, http.MethodGet, "/api/collections/contacts/records/"+keepID, aliceTok, nil, &got)
	if tags, _ := got["tags"].([]any); got["phone"] != "+39 02 5550 1234" || got["email"] != "dora@dupont.example" || got["full_name"] != "Dora Dupont" ||
		!slices.Equal(tags, []any{"vip", "newsletter"}) {
		t.Errorf("kept contact: %v", got)
	}
	s.api(t, http.MethodGet, "/api/collections/deals/records/"+deal["id"].(string), aliceTok, nil, &got)
	if c, _ := got["contacts"].([]any); !slices.Equal(c, []any{keepID}) {
		t.Errorf("the deal's contacts: %v; want the kept contact", got["contacts"])
	}
	// An old link follows the merge.
	alice.open("/record/contacts/"+loseID, ".sidebar")
	alice.wait("the redirect", fmt.Sprintf(`location.hash === '#/record/contacts/%s'`, keepID))
}

func containsAll(s string, parts ...string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
