package main_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestHistoryAndPrivacyPages: a rep edits her deal and sees who changed what in its History
// tab; the admin finds the change in the audit trail, and erases a contact from the privacy
// page after confirming; the rep has no privacy page.
func TestHistoryAndPrivacyPages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServer(t, dir, exampleServeArgs...)
	aliceTok, aliceID := s.login(t, "users", "alice@example.com", "relata-demo-1")
	var deals list
	if code := s.api(t, http.MethodGet, "/api/collections/deals/records?perPage=1&sort=name&filter="+urlEscape(`owner="`+aliceID+`"`), aliceTok, nil, &deals); code != 200 || len(deals.Items) == 0 {
		t.Fatalf("alice's deals = %d", code)
	}
	deal := deals.Items[0]["id"].(string)
	if code := s.api(t, http.MethodPatch, "/api/collections/deals/records/"+deal, aliceTok, map[string]any{"description": "History probe 4711"}, nil); code != 200 {
		t.Fatalf("patch = %d", code)
	}

	b := newBrowser(t)
	alice := b.signIn(t, s, "alice@example.com")
	alice.open("/record/deals/"+deal, "[data-testid=tab-history]")
	alice.do(clickSel("[data-testid=tab-history]"))
	alice.wait("the history", `document.querySelectorAll('.history-entry').length >= 2`)
	text := alice.pageText()
	if !strings.Contains(text, "History probe 4711") || !strings.Contains(text, "Alice Lindqvist changed") {
		alice.fail("the history does not show alice's change")
	}
	if strings.Contains(eval[string](alice, `document.querySelector('.sidebar').innerText`), "Privacy") {
		alice.fail("a sales rep sees the privacy page in the menu")
	}

	admin := b.signIn(t, s, "admin@example.com")
	admin.open("/audit", "[data-testid=audit-filters]")
	admin.setInput("[data-testid=audit-filters] input", "description")
	admin.do(clickSel("[data-testid=audit-filters] button[type=submit]"))
	admin.wait("the filtered trail", `document.body.innerText.includes('History probe 4711')`)
	admin.screenshot("audit")

	var contacts list
	adminTok, _ := s.login(t, "users", "admin@example.com", "relata-demo-1")
	s.api(t, http.MethodGet, "/api/collections/contacts/records?perPage=1&sort=full_name", adminTok, nil, &contacts)
	email, name := contacts.Items[0]["email"].(string), contacts.Items[0]["full_name"].(string)
	admin.open("/privacy", "[data-testid=privacy-request]")
	admin.setInput("[data-testid=privacy-request] input", email)
	admin.do(clickSel("[data-testid=privacy-request] button.danger"))
	admin.wait("the confirmation", `!!document.querySelector('[data-testid=confirm-erase]')`)
	admin.do(clickSel("[data-testid=confirm-erase]"))
	admin.wait("the certificate", `!!document.querySelector('[data-testid=erasure-certificate]')`)
	admin.wait("the register", `document.querySelector('[data-testid=privacy-requests]').innerText.includes('erasure')`)
	admin.screenshot("privacy")
	var left list
	s.api(t, http.MethodGet, "/api/collections/contacts/records?filter="+urlEscape(`email="`+email+`" || full_name="`+name+`"`), adminTok, nil, &left)
	if left.TotalItems != 0 {
		t.Errorf("%s is still there after the erasure from the privacy page", name)
	}
}

// clickSel clicks the element sel.
func clickSel(sel string) chromedp.Action[chromedp.Void] { return chromedp.Click(chromedp.CSS(sel)) }
