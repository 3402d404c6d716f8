package main_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBuilderNewSequence: a manager starts a sequence from the workflow list's template — email,
// wait, email, wait, task, with exit criteria — the server finds it valid, an exit criterion is
// added with a chip, and the saved workflow carries the steps and its stopIf.
func TestBuilderNewSequence(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), exampleServeArgs...)
	tok, _ := s.login(t, "users", "manager@example.com", "relata-demo-1")

	b := newBrowser(t)
	m := b.signIn(t, s, "manager@example.com")
	m.do(chromedp.EmulateViewport(1400, 900))
	m.open("/workflows", "#new-sequence")
	m.do(clickSel("#new-sequence"))
	m.wait("the sequence template", `document.querySelector('#wf-stopif')?.value.includes('replied()')`)
	m.setInput("#wf-name", "welcome-sequence")
	m.wait("the server's verdict", `document.querySelector('[data-testid=validity]').textContent === '✓ Valid'`)
	m.screenshot("sequence")

	// A misspelt exit criterion is located under "Stop when".
	m.setInput("#wf-stopif", `replied() || record.lifecycle_stag == "customer"`)
	m.wait("the stopIf problem", `document.querySelector('[data-testid=stop-if] .field-errors')?.textContent.includes('lifecycle_stag')`)
	m.setInput("#wf-stopif", `replied() || unsubscribed()`)
	m.do(clickSel(`[data-testid=stop-if] .chips button:nth-child(3)`)) // + Stage reached
	m.wait("the chip's criterion", `document.querySelector('#wf-stopif').value === 'replied() || unsubscribed() || record.lifecycle_stage == "customer"'`)
	m.wait("valid again", `document.querySelector('[data-testid=validity]').textContent === '✓ Valid'`)
	m.do(clickSel("#wf-save"))
	m.wait("saved", `location.hash.startsWith('#/workflows/') && !location.hash.endsWith('new-sequence')`)

	var out list
	s.api(t, http.MethodGet, "/api/collections/workflows/records?filter="+urlEscape(`name = "welcome-sequence"`), tok, nil, &out)
	if len(out.Items) != 1 {
		t.Fatalf("saved workflows: %v", out.Items)
	}
	def, _ := out.Items[0]["definition"].(map[string]any)
	actions, _ := def["actions"].([]any)
	var kinds []string
	for _, a := range actions {
		kinds = append(kinds, a.(map[string]any)["type"].(string))
	}
	if got := strings.Join(kinds, ","); got != "send_email,wait,send_email,wait,create_task" {
		t.Errorf("actions %s; want email, wait, email, wait, task", got)
	}
	if def["stopIf"] != `replied() || unsubscribed() || record.lifecycle_stage == "customer"` {
		t.Errorf("stopIf %v", def["stopIf"])
	}
}
