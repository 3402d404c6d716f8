package main_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestBuilderConditionRows: a manager builds a condition with the no-code editor — a stage
// "is any of" row AND an OR group of a close-date "is before" row and an amount row — sees the expr it writes,
// saves, reloads and finds the rows read back from the saved text, and the dry run holds the
// condition on a deal that fits and not on one in another stage.
func TestBuilderConditionRows(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), exampleServeArgs...)
	tok, _ := s.login(t, "users", "manager@example.com", "relata-demo-1")
	var deals list
	s.api(t, http.MethodGet, "/api/collections/deals/records?perPage=1&sort=name&filter="+urlEscape(`expected_close != "" && stage != ""`), tok, nil, &deals)
	if len(deals.Items) == 0 {
		t.Fatal("no deal with a close date")
	}
	fits := deals.Items[0]
	stage := fits["stage"].(string)
	closeAt, err := time.Parse("2006-01-02 15:04:05.000Z", fits["expected_close"].(string))
	if err != nil {
		t.Fatal(err)
	}
	before := closeAt.AddDate(0, 0, 1).Format("2006-01-02")
	var others list
	s.api(t, http.MethodGet, "/api/collections/deals/records?perPage=1&sort=name&filter="+urlEscape(fmt.Sprintf(`stage != %q`, stage)), tok, nil, &others)
	if len(others.Items) == 0 {
		t.Fatal("no deal in another stage")
	}
	other := others.Items[0]

	b := newBrowser(t)
	m := b.signIn(t, s, "manager@example.com")
	m.do(chromedp.EmulateViewport(1400, 900))
	m.open("/workflows/new", "#wf-name")
	m.setInput("#wf-name", "rows-condition")
	m.setInput("#wf-object", "deals")
	m.setInput("#wf-trigger", "manual")
	m.do(clickSel(`[data-testid=wf-condition-editor] [data-testid=add-row]`))
	m.wait("the first row", `!!document.querySelector('#wf-condition-0-field')`)
	m.setInput("#wf-condition-0-field", "record.stage")
	m.wait("the stage options", fmt.Sprintf(`!!document.querySelector('#wf-condition-0-value input[value=%q]')`, stage))
	m.do(clickSel(fmt.Sprintf(`#wf-condition-0-value input[value=%q]`, stage)))
	// An OR group: the close date is before the day after the deal's, or the amount is huge.
	m.do(clickSel(`[data-testid=wf-condition-editor] .condition-group.top > .condition-add [data-testid=add-group]`))
	m.wait("the group's first row", `!!document.querySelector('#wf-condition-1-0-field')`)
	m.setInput("#wf-condition-1-0-field", "record.expected_close")
	m.wait("the date operators", `!!document.querySelector('#wf-condition-1-0-op option[value=before]')`)
	m.setInput("#wf-condition-1-0-op", "before")
	m.wait("the date input", `document.querySelector('#wf-condition-1-0-value')?.type === 'date'`)
	m.setInput("#wf-condition-1-0-value", before)
	m.do(clickSel(`.condition-group[data-path=wf-condition-1] > .condition-add [data-testid=add-row]`))
	m.wait("the group's second row", `!!document.querySelector('#wf-condition-1-1-field')`)
	m.setInput("#wf-condition-1-1-field", "record.amount")
	m.wait("the number operators", `!!document.querySelector('#wf-condition-1-1-op option[value=">"]')`)
	m.setInput("#wf-condition-1-1-op", ">")
	m.wait("the number input", `document.querySelector('#wf-condition-1-1-value')?.type === 'number'`)
	m.setInput("#wf-condition-1-1-value", "1000000000000")
	m.do(clickSel(".builder-main .add-action"), clickSel(`[data-testid=palette] button[data-action=create_task]`))
	m.wait("the task card", `!!document.querySelector('#actions-0-subject')`)
	m.setInput("#actions-0-subject", "Check the close date")
	want := fmt.Sprintf(`record.stage in [%q] && (record.expected_close < date(%q) || record.amount > 1000000000000)`, stage, before)
	m.wait("the written expr", fmt.Sprintf(`document.querySelector('#wf-condition-expr')?.textContent === %q`, want))
	m.wait("the server's verdict", `document.querySelector('[data-testid=validity]').textContent === '✓ Valid'`)
	m.screenshot("condition-editor")
	m.do(clickSel("#wf-save"))
	m.wait("the saved address", `/#\/workflows\/[a-z0-9]{15}$/.test(location.href)`)

	var saved list
	s.api(t, http.MethodGet, "/api/collections/workflows/records?filter="+urlEscape(`name = "rows-condition"`), tok, nil, &saved)
	if len(saved.Items) != 1 {
		t.Fatalf("saved workflows: %v", saved.Items)
	}
	if got := saved.Items[0]["definition"].(map[string]any)["condition"]; got != want {
		t.Fatalf("saved condition %q, want %q", got, want)
	}

	// A reload reads the rows back from the saved text.
	m.do(chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS("#wf-condition-1-1-value")))
	got := eval[[]string](m, `['#wf-condition-0-field', '#wf-condition-0-op', '.condition-group[data-path=wf-condition-1] > select.join',
		'#wf-condition-1-0-field', '#wf-condition-1-0-op', '#wf-condition-1-0-value', '#wf-condition-1-1-field', '#wf-condition-1-1-op', '#wf-condition-1-1-value'].map(s => document.querySelector(s).value)
		.concat([...document.querySelectorAll('#wf-condition-0-value input:checked')].map(i => i.value))`)
	if strings.Join(got, " ") != strings.Join([]string{"record.stage", "in", "or", "record.expected_close", "before", before, "record.amount", ">", "1000000000000", stage}, " ") {
		m.fail("rows read back as %v", got)
	}

	test := func(d map[string]any, want string) {
		m.setInput("#wf-test-search", d["name"].(string))
		m.wait("the deal to test on", fmt.Sprintf(`[...document.querySelectorAll('.pick-list button')].some(b => b.dataset.id === %q)`, d["id"]))
		m.do(clickSel(fmt.Sprintf(`.pick-list button[data-id=%q]`, d["id"])), clickSel("#wf-test"))
		m.wait(fmt.Sprintf("%q on %s (%s)", want, d["name"], d["stage"]), fmt.Sprintf(`document.querySelector('[data-testid=test-report]')?.textContent.includes(%q)`, want))
	}
	test(fits, "✓ Condition holds")
	test(other, "✗ Condition does not hold")

	// Autocompletion: the script API in a script, item.* inside a for_each.
	m.do(clickSel(".builder-main > .panel .action-list > .add-action"), clickSel(`[data-testid=palette] button[data-action=script]`))
	m.wait("the script editor", `!!document.querySelector('#actions-1-source')`)
	m.do(chromedp.SendKeys(chromedp.CSS("#actions-1-source"), "fin"))
	m.wait("the script API suggested", `[...document.querySelectorAll('.suggestions li code')].some(c => c.textContent === 'find')`)
	m.do(chromedp.SendKeys(chromedp.CSS("#actions-1-source"), "\t"))
	m.wait("the completed call", `document.querySelector('#actions-1-source').value === 'find('`)
	m.do(clickSel(".builder-main > .panel .action-list > .add-action"), clickSel(`[data-testid=palette] button[data-action=for_each]`))
	m.wait("the for_each card", `!!document.querySelector('#actions-2-over')`)
	m.setInput("#actions-2-over", "contacts")
	m.do(clickSel(`.action-card[data-pointer="/actions/2"] .branch .add-action`), clickSel(`.action-card[data-pointer="/actions/2"] [data-testid=palette] button[data-action=branch]`))
	m.wait("the nested if", `!!document.querySelector('[data-testid=actions-2-actions-0-if-editor] [data-testid=add-row]')`)
	m.do(clickSel(`[data-testid=actions-2-actions-0-if-editor] [data-testid=add-row]`))
	m.wait("item fields among the row's fields", `!!document.querySelector('#actions-2-actions-0-if-0-field option[value="item.full_name"]')`)
	m.do(clickSel(`[data-testid=actions-2-actions-0-if-editor] [data-testid=condition-text]`))
	m.wait("the nested if as text", `!!document.querySelector('#actions-2-actions-0-if')`)
	m.setInput("#actions-2-actions-0-if", "")
	m.do(chromedp.SendKeys(chromedp.CSS("#actions-2-actions-0-if"), "item.ful"))
	m.wait("item fields suggested", `[...document.querySelectorAll('.suggestions li code')].some(c => c.textContent === 'item.full_name')`)

	m.setInput("#actions-2-actions-0-if", `item.full_name != ""`)
	m.setInput("#actions-1-source", `log(record.name)`)

	// The for_each over records matching a filter, with a placeholder's value, without JSON.
	m.setInput(`.action-card[data-pointer="/actions/2"] [data-testid=over-kind]`, "query")
	m.wait("the object and filter", `!!document.querySelector('#actions-2-over-filter')`)
	m.setInput("#actions-2-over-object", "contacts")
	m.setInput("#actions-2-over-filter", "company = {:company}")
	m.wait("the placeholder's input", `!!document.querySelector('#actions-2-over-param-company')`)
	m.setInput("#actions-2-over-param-company", "=record.company")
	m.wait("the server's verdict", `document.querySelector('[data-testid=validity]').textContent === '✓ Valid'`)
	m.setInput("#actions-2-over-filter", "compny = {:company}")
	m.wait("the located problem", `document.querySelector('[data-testid=problems]')?.textContent.includes('/actions/2/over/filter')`)
}
