package main_test

import (
	"fmt"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// TestBulkEditAndReassignPages: alice ticks two of her deals, previews a bulk change of their
// source and applies it, watching the job finish; the manager reassigns carol's records to bob
// from the Reassign page after a preview whose counts match the data; alice has no such page
// and the API refuses her.
func TestBulkEditAndReassignPages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServer(t, dir, exampleServeArgs...)
	aliceTok, aliceID := s.login(t, "users", "alice@example.com", "relata-demo-1")
	mgrTok, _ := s.login(t, "users", "manager@example.com", "relata-demo-1")
	_, carolID := s.login(t, "users", "carol@example.com", "relata-demo-1")
	_, bobID := s.login(t, "users", "bob@example.com", "relata-demo-1")

	b := newBrowser(t)
	alice := b.signIn(t, s, "alice@example.com")
	alice.do(chromedp.EmulateViewport(1400, 900))
	alice.open("/list/deals", "td.pick input")
	picked := eval[[]string](alice, `[...document.querySelectorAll('td.pick input')].slice(0, 2).map(i => i.dataset.id)`)
	for _, id := range picked {
		alice.do(clickSel(fmt.Sprintf(`td.pick input[data-id=%q]`, id)))
	}
	alice.wait("the bulk button", `document.querySelector('[data-testid=bulk-edit]')?.textContent.includes('2 selected')`)
	alice.do(clickSel(`[data-testid=bulk-edit]`))
	alice.wait("the dialog", `!!document.querySelector('[data-testid=bulk-dialog]')`)
	alice.setInput(`[data-testid=bulk-field]`, "source")
	alice.wait("the source editor", `!!document.querySelector('[data-testid=bulk-value] select option[value=partner]')`)
	alice.setInput(`[data-testid=bulk-value] select`, "partner")
	alice.do(clickSel(`[data-testid=bulk-preview]`))
	alice.wait("the preview", `document.querySelector('[data-testid=job-counts]')?.textContent.includes('Dry run')`)
	preview := eval[string](alice, `document.querySelector('[data-testid=job-counts]').textContent`)
	// Her deals may already have that source: changed + already so = 2.
	m := regexp.MustCompile(`(\d+) would change, (\d+) already so`).FindStringSubmatch(preview)
	if m == nil || atoi(m[1])+atoi(m[2]) != 2 {
		alice.fail("preview %q", preview)
	}
	alice.do(clickSel(`[data-testid=bulk-run]`))
	alice.wait("the finished job", `document.querySelector('[data-testid=job][data-dry=false]')?.dataset.status === 'done'`)
	alice.screenshot("bulk")
	for _, id := range picked {
		var d map[string]any
		if code := s.api(t, http.MethodGet, "/api/collections/deals/records/"+id, aliceTok, nil, &d); code != 200 || d["source"] != "partner" || d["owner"] != aliceID {
			t.Errorf("deal %s after the bulk change: %d %v %v", id, code, d["source"], d["owner"])
		}
	}
	if strings.Contains(eval[string](alice, `document.querySelector('.sidebar').innerText`), "Reassign") {
		alice.fail("a sales rep sees the Reassign page in the menu")
	}
	if code := s.api(t, http.MethodPost, "/api/relata/reassign", aliceTok, map[string]any{"from": "carol@example.com", "to": []string{"alice@example.com"}}, nil); code != 403 {
		t.Errorf("alice reassigns carol's records: %d", code)
	}

	// What carol owns, as the manager counts it through the REST API.
	count := func(collection, filter string) int {
		var l list
		if code := s.api(t, http.MethodGet, "/api/collections/"+collection+"/records?perPage=1&filter="+urlEscape(filter), mgrTok, nil, &l); code != 200 {
			t.Fatalf("count %s: %d", collection, code)
		}
		return l.TotalItems
	}
	own := `owner="` + carolID + `"`
	want := map[string]int{"deals": count("deals", own), "contacts": count("contacts", own), "companies": count("companies", own),
		"tasks": count("activities", own+` && type="task" && done=false`)}
	total := want["deals"] + want["contacts"] + want["companies"] + want["tasks"]
	if want["deals"] == 0 || want["tasks"] == 0 {
		t.Fatalf("the example data gives carol no deals or open tasks: %v", want)
	}
	mgr := b.signIn(t, s, "manager@example.com")
	mgr.do(chromedp.EmulateViewport(1400, 900))
	mgr.do(clickSel(`.sidebar a[href="#/reassign"]`))
	mgr.wait("the page", `!!document.querySelector('[data-testid=reassign-from]')`)
	mgr.setInput(`[data-testid=reassign-from]`, carolID)
	mgr.do(clickSel(fmt.Sprintf(`[data-testid=reassign-to][data-id=%q]`, bobID)))
	mgr.do(clickSel(`[data-testid=reassign-preview-button]`))
	mgr.wait("the preview", `!!document.querySelector('[data-testid=reassign-total]')`)
	// The example's idle-deal workflow may give carol tasks while the page is used (its first
	// tick after the start): the preview counts what she owns when it is made, between the
	// counts before and after it.
	after := map[string]int{"deals": count("deals", own), "contacts": count("contacts", own), "companies": count("companies", own),
		"tasks": count("activities", own+` && type="task" && done=false`)}
	for o, n := range want {
		got := eval[string](mgr, fmt.Sprintf(`document.querySelector('[data-testid=reassign-preview] tr[data-object=%q] td.num')?.textContent || ''`, o))
		if g, err := strconv.Atoi(got); err != nil || g < n || g > after[o] {
			mgr.fail("preview of %s: %q; want %d to %d", o, got, n, after[o])
		}
	}
	mgr.screenshot("reassign")
	mgr.do(clickSel(`[data-testid=reassign-run]`))
	mgr.wait("the finished job", `document.querySelector('[data-testid=job]')?.dataset.status === 'done'`)
	// Every record checked was changed: the job hands over what she owns when it runs, at
	// least what was counted before the preview.
	text := eval[string](mgr, `document.querySelector('[data-testid=job-counts]').textContent`)
	m = regexp.MustCompile(`^(\d+) of (\d+) checked — (\d+) changed, 0 already so, 0 refused, 0 failed`).FindStringSubmatch(strings.TrimSpace(text))
	if m == nil || m[1] != m[2] || m[2] != m[3] {
		mgr.fail("job counts %q; want every record checked changed", text)
	}
	if n, _ := strconv.Atoi(m[3]); n < total {
		mgr.fail("job counts %q; want at least the %d previewed changed", text, total)
	}
	if n := count("deals", own) + count("contacts", own) + count("companies", own) + count("activities", own+` && type="task" && done=false`); n != 0 {
		t.Errorf("carol still owns %d of the reassigned records", n)
	}
	if n := count("deals", `owner="`+bobID+`"`); n < want["deals"] {
		t.Errorf("bob owns %d deals; want at least %d", n, want["deals"])
	}
	// Undo gives carol her records back, as one more job.
	mgr.do(clickSel(`[data-testid=bulk-undo]`))
	mgr.wait("the finished undo", `document.querySelector('[data-testid=job][data-kind=undo]')?.dataset.status === 'done'`)
	if text := eval[string](mgr, `document.querySelector('[data-testid=job-counts]').textContent`); !strings.Contains(text, m[3]+" changed") {
		mgr.fail("undo counts %q; want the %s the job changed", text, m[3])
	}
	for o, n := range map[string]int{"deals": count("deals", own), "contacts": count("contacts", own), "companies": count("companies", own),
		"tasks": count("activities", own+` && type="task" && done=false`)} {
		if n < want[o] { // and any the workflow gave her meanwhile
			t.Errorf("after the undo carol owns %d %s; want %d", n, o, want[o])
		}
	}
	if eval[bool](mgr, `!!document.querySelector('[data-testid=bulk-undo]')`) {
		mgr.fail("an undo job offers to be undone")
	}
}

func atoi(s string) int {
	var n int
	fmt.Sscan(s, &n)
	return n
}

// TestReassignCommand: `relata reassign` previews with --dry-run, hands carol's records over,
// then finds nothing left; bad flags exit non-zero naming the flag.
func TestReassignCommand(t *testing.T) {
	data := t.TempDir()
	if o, err := run(t, "seed", "examples/sales", "--dir", data); err != nil {
		t.Fatalf("seed: %v\n%s", err, o)
	}
	out, err := run(t, "reassign", "--from", "carol@example.com", "--to", "bob@example.com,alice@example.com", "--objects", "deals,tasks", "--dry-run", "--dir", data)
	m := regexp.MustCompile(`carol@example.com would hand over (\d+) records to bob@example.com \((\d+)\), alice@example.com \((\d+)\)`).FindStringSubmatch(out)
	if err != nil || m == nil || atoi(m[1]) == 0 || atoi(m[2])+atoi(m[3]) != atoi(m[1]) || !strings.Contains(out, "  deals ") || !strings.Contains(out, "  tasks ") {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	out, err = run(t, "reassign", "--from", "carol@example.com", "--to", "bob@example.com,alice@example.com", "--objects", "deals,tasks", "--dir", data)
	if err != nil || !strings.Contains(out, fmt.Sprintf("%s of %s records reassigned, 0 unchanged, 0 refused, 0 failed", m[1], m[1])) {
		t.Fatalf("reassign: %v\n%s", err, out)
	}
	out, err = run(t, "reassign", "--from", "carol@example.com", "--to", "bob@example.com", "--objects", "deals,tasks", "--dry-run", "--dir", data)
	if err != nil || !strings.Contains(out, "would hand over 0 records") {
		t.Fatalf("second dry run: %v\n%s", err, out)
	}
	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"--from", "nobody@example.com", "--to", "bob@example.com"}, `--from: no CRM user "nobody@example.com"`},
		{[]string{"--from", "carol@example.com", "--to", "bob@example.com", "--objects", "deals,workflows"}, `--objects: "workflows" is not an object with an owner`},
		{[]string{"--from", "carol@example.com"}, `required flag(s) "to" not set`},
	} {
		out, err := run(t, append(append([]string{"reassign"}, c.args...), "--dir", data)...)
		if err == nil || !strings.Contains(out, c.want) {
			t.Errorf("reassign %v: %v\n%s\nwant an error with %q", c.args, err, out, c.want)
		}
	}
}
