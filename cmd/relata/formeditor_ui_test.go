package main_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestFormEditorPicker: a manager builds a form in the web app's form editor — a contact
// form whose company is a picker of the software companies — sees the server's located error
// for a filter naming a missing field, fixes it, publishes the form, and the published page
// offers exactly the software companies; a visitor picks one and the contact is stored
// linked to it.
func TestFormEditorPicker(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), exampleServeArgs...)
	tok, _ := s.login(t, "users", "manager@example.com", "relata-demo-1")
	var software list
	s.api(t, http.MethodGet, "/api/collections/companies/records?perPage=500&sort=name&filter="+urlEscape(`industry = "software"`), tok, nil, &software)
	if len(software.Items) == 0 {
		t.Fatal("the demo has no software company")
	}

	b := newBrowser(t)
	m := b.signIn(t, s, "manager@example.com")
	m.do(chromedp.EmulateViewport(1400, 900))
	m.open("/forms/new", "#form-slug")
	m.setInput("#form-slug", "partner-signup")
	m.setInput("#form-title", "Become a partner")
	m.setInput("#form-object", "contacts")
	m.wait("the field list", `!!document.querySelector('#form-add-field')`)
	for _, f := range []string{"full_name", "email", "company"} {
		m.setInput("#form-add-field", f)
		m.wait("the field "+f, fmt.Sprintf(`!!document.querySelector('[data-field=%q]')`, f))
	}
	m.wait("the picker's filter", `!!document.querySelector('#ff-company-filter')`)
	m.do(clickSel("#ff-company-required"), clickSel("#ff-email-required"))
	m.setInput("#ff-company-filter", `industri = 'software'`)
	m.do(clickSel("#form-save"))
	m.wait("the located error", `document.querySelector('[data-testid=form-problems]')?.textContent.toLowerCase().includes('web_forms/partner-signup.json:16 ') &&
		document.querySelector('[data-testid=form-problems]').textContent.includes('/fields/2/picker/filter')`)
	m.setInput("#ff-company-filter", `industry = 'software'`)
	m.do(clickSel("#form-save"))
	m.wait("the preview", `!!document.querySelector('#form-preview')`)
	m.wait("the preview's picker", `(() => { const d = document.querySelector('#form-preview').contentDocument; return !!d && !!d.querySelector('#f-company'); })()`)
	if embed := eval[string](m, `document.querySelector('#form-embed').value`); !strings.Contains(embed, "/forms/partner-signup/embed.js") {
		m.fail("embed code %q", embed)
	}
	m.screenshot("form-editor")

	// The published page offers the software companies only, by name.
	m.do(chromedp.Navigate(s.url + "/forms/partner-signup"))
	m.wait("the page", `!!document.querySelector('#f-company')`)
	offered := eval[[]string](m, `[...document.querySelectorAll('#f-company option')].filter(o => o.value).map(o => o.value)`)
	if len(offered) != len(software.Items) {
		m.fail("the picker offers %d companies; want the %d software companies", len(offered), len(software.Items))
	}
	want := map[string]bool{}
	for _, c := range software.Items {
		want[c["id"].(string)] = true
	}
	for _, id := range offered {
		if !want[id] {
			m.fail("the picker offers %s, which is not a software company", id)
		}
	}
	picked := offered[0]
	m.setInput("#f-full_name", "Pat Partner")
	m.setInput("#f-email", "pat@partner.example")
	m.setInput("#f-company", picked)
	time.Sleep(3100 * time.Millisecond) // the form's minimum fill time
	m.do(clickSel(".rf-submit"), chromedp.WaitVisible(chromedp.CSS("#rf-success")))
	var got list
	s.api(t, http.MethodGet, "/api/collections/contacts/records?filter="+urlEscape(`email = "pat@partner.example"`), tok, nil, &got)
	if len(got.Items) != 1 || got.Items[0]["company"] != picked {
		t.Fatalf("stored contacts %v; want one linked to %s", got.Items, picked)
	}
}
