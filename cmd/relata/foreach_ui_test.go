package main_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBuilderForEach: a manager builds a for_each in the workflow builder — over the contacts
// of a company, mailing each one — the server finds it valid, and the builder's test lists one
// step per contact.
func TestBuilderForEach(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), exampleServeArgs...)
	tok, _ := s.login(t, "users", "manager@example.com", "relata-demo-1")
	var companies list
	s.api(t, http.MethodGet, "/api/collections/companies/records?perPage=1&sort=name&filter="+urlEscape(`contacts_via_company.id ?!= ""`), tok, nil, &companies)
	if len(companies.Items) == 0 {
		t.Fatal("no company with contacts")
	}
	company := companies.Items[0]
	var contacts list
	s.api(t, http.MethodGet, "/api/collections/contacts/records?perPage=200&filter="+urlEscape(fmt.Sprintf(`company = %q`, company["id"])), tok, nil, &contacts)

	b := newBrowser(t)
	m := b.signIn(t, s, "manager@example.com")
	m.do(chromedp.EmulateViewport(1400, 900))
	m.open("/workflows/new", "#wf-name")
	m.setInput("#wf-name", "each-contact")
	m.setInput("#wf-object", "companies")
	m.do(clickSel(".builder-main .add-action"), clickSel(`[data-testid=palette] button[data-action=for_each]`))
	m.wait("the for_each card", `!!document.querySelector('#actions-0-over')`)
	m.setInput("#actions-0-over", "contacts.company")
	m.do(clickSel(".branches .branch .add-action"), clickSel(`.branches [data-testid=palette] button[data-action=send_email]`))
	m.wait("the nested email", `!!document.querySelector('#actions-0-actions-0-to')`)
	m.setInput("#actions-0-actions-0-to", "item")
	m.setInput("#actions-0-actions-0-subject", `="News from " + record.name`)
	m.setInput("#actions-0-actions-0-text", `="Dear " + item.full_name`)
	m.wait("the server's verdict", `document.querySelector('[data-testid=validity]').textContent === '✓ Valid'`)
	m.screenshot("builder-for-each")

	// A typo in an item field is reported at the nested action.
	m.setInput("#actions-0-actions-0-text", `="Dear " + item.ful_name`)
	m.wait("the problem", `document.querySelector('[data-testid=problems]')?.textContent.includes('unknown field "ful_name" of item')`)
	m.setInput("#actions-0-actions-0-text", `="Dear " + item.full_name`)
	m.wait("valid again", `document.querySelector('[data-testid=validity]').textContent === '✓ Valid'`)

	name := company["name"].(string)
	m.setInput("#wf-test-search", name)
	m.wait("the company to test on", fmt.Sprintf(`[...document.querySelectorAll('.pick-list button')].some(b => b.dataset.id === %q)`, company["id"]))
	m.do(clickSel(fmt.Sprintf(`.pick-list button[data-id=%q]`, company["id"])), clickSel("#wf-test"))
	m.wait("the report", `!!document.querySelector('[data-testid=test-report] ol')`)
	steps := eval[[]string](m, `[...document.querySelectorAll('[data-testid=test-report] li .muted')].map(s => s.textContent)`)
	var items int
	for _, st := range steps {
		if strings.Contains(st, ".item:") {
			items++
		}
	}
	if items != len(contacts.Items) || len(contacts.Items) == 0 {
		m.fail("the test lists %d item steps of %v; want one per contact of %s (%d)", items, steps, name, len(contacts.Items))
	}
}
