package main_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestWebAppWebhookSecret: a manager stores a webhook's signing secret from the workflow
// builder and saves the workflow; the definition holds the secret's name only, the secret's
// value is never sent back to the browser, and a secret typed into the definition is refused
// (issue 10, finding 8).
func TestWebAppWebhookSecret(t *testing.T) {
	t.Parallel()
	const value = "builder-secret-5e2a77"
	b := newBrowser(t)
	s := startServer(t, t.TempDir(), exampleServeArgs...)
	mgrTok, _ := s.login(t, "users", "manager@example.com", "relata-demo-1")
	manager := b.signIn(t, s, "manager@example.com")
	manager.t = t

	manager.open("/workflows/new", "#wf-name")
	manager.setInput("#wf-name", "notify-crm")
	manager.setInput("#wf-object", "deals")
	manager.setInput("#wf-trigger", "record_created")
	manager.do(chromedp.Click(chromedp.CSS(".add-action")), chromedp.Click(chromedp.CSS(`[data-action="webhook"]`)))
	manager.wait("the webhook form", `!!document.querySelector('#actions-0-url')`)
	manager.setInput("#actions-0-url", "https://hooks.example.com/relata")
	clickText := func(text string) {
		t.Helper()
		if !eval[bool](manager, `(() => { const b = [...document.querySelectorAll('.secret-picker button')].find(b => b.textContent.includes(`+jsString(text)+`)); if (!b) return false; b.click(); return true; })()`) {
			manager.fail("no button %q", text)
		}
	}
	clickText("Store a new secret")
	manager.wait("the secret form", `!!document.querySelector('input[aria-label="Secret value"]')`)
	manager.setInput(`input[aria-label="Secret name"]`, "crm-hook")
	manager.setInput(`input[aria-label="Secret value"]`, value)
	clickText("Store")
	manager.wait("the stored secret chosen", `document.querySelector('#actions-0-secret').value === 'crm-hook'`)
	manager.wait("a valid workflow", `document.querySelector('[data-testid="validity"]').textContent.includes('Valid')`)
	manager.do(chromedp.Click(chromedp.CSS("#wf-save")))
	manager.wait("saved", `document.body.innerText.includes('Saved')`)
	if eval[bool](manager, `document.documentElement.outerHTML.includes(`+jsString(value)+`)`) {
		t.Error("the page still holds the secret's value after storing it")
	}

	var wfs struct {
		Items []struct {
			Definition json.RawMessage `json:"definition"`
		} `json:"items"`
	}
	s.api(t, http.MethodGet, "/api/collections/workflows/records?filter="+urlEscape(`name = "notify-crm"`), mgrTok, nil, &wfs)
	if len(wfs.Items) != 1 || strings.Contains(string(wfs.Items[0].Definition), value) ||
		!strings.Contains(strings.ReplaceAll(string(wfs.Items[0].Definition), " ", ""), `"secret":{"ref":"crm-hook"}`) {
		t.Fatalf("stored workflow = %s; want the secret by name only", wfs.Items)
	}
	var list []map[string]any
	if code := s.api(t, http.MethodGet, "/api/relata/secrets", mgrTok, nil, &list); code != http.StatusOK || len(list) != 1 || strings.Contains(jsonText(list), value) {
		t.Errorf("GET /api/relata/secrets = %d %s", code, jsonText(list))
	}
	// A secret typed into the definition is refused with the way to store it.
	var out map[string]any
	code := s.api(t, http.MethodPost, "/api/relata/workflows/validate", mgrTok, map[string]any{"definition": map[string]any{
		"name": "inline", "object": "deals", "trigger": map[string]any{"type": "record_created"},
		"actions": []any{map[string]any{"type": "webhook", "url": "https://hooks.example.com/x", "secret": value}},
	}}, &out)
	if code != http.StatusBadRequest || !strings.Contains(jsonText(out), "/actions/0/secret") || !strings.Contains(jsonText(out), "relata secret set") || strings.Contains(jsonText(out), value) {
		t.Errorf("validate with an inline secret = %d %s", code, jsonText(out))
	}
}

func jsString(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}
