package main_test

import (
	"net/http"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestCreateAndMergeInBrowser: the new-contact form warns of an existing contact; "Create,
// then merge with this" creates the new one and opens the merge screen with both chosen.
func TestCreateAndMergeInBrowser(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), exampleServeArgs...)
	aliceTok, aliceID := s.login(t, "users", "alice@example.com", "relata-demo-1")
	var existing map[string]any
	if code := s.api(t, http.MethodPost, "/api/collections/contacts/records", aliceTok,
		map[string]any{"full_name": "Zeno Zulian", "email": "zeno@zulian.example", "owner": aliceID}, &existing); code != 200 {
		t.Fatalf("create = %d", code)
	}
	b := newBrowser(t)
	alice := b.signIn(t, s, "alice@example.com")
	alice.do(chromedp.EmulateViewport(1400, 900))
	alice.open("/list/contacts", "table.records")
	alice.do(chromedp.Click(chromedp.CSS(".page-head button.primary")))
	alice.wait("the new contact form", `!!document.querySelector('form.form-grid input[type=email]')`)
	alice.setInput("form.form-grid input", "Zeno Zulian") // the first field: full name
	alice.setInput("form.form-grid input[type=email]", "zeno+web@zulian.example")
	alice.wait("the duplicate warning", `!!document.querySelector('[data-testid=create-and-merge]')`)
	alice.do(chromedp.Click(chromedp.CSS(`[data-testid=create-and-merge]`)))
	alice.wait("the merge screen", `!!document.querySelector('[data-testid=merge-table]')`)
	var found struct {
		Items []map[string]any `json:"items"`
	}
	if code := s.api(t, http.MethodGet, "/api/collections/contacts/records?filter="+urlEscape(`email="zeno+web@zulian.example"`), aliceTok, nil, &found); code != 200 || len(found.Items) != 1 {
		t.Fatalf("the new contact: %d %v", code, found.Items)
	}
	want := "#/merge/contacts/" + existing["id"].(string) + "/" + found.Items[0]["id"].(string)
	if got := eval[string](alice, `location.hash`); got != want {
		alice.fail("the merge screen is %q; want %q", got, want)
	}
}
