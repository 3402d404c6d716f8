package main_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// captureDownloads makes the page keep the text of every file it downloads (the app saves
// blobs through URL.createObjectURL) in window.__downloads.
const captureDownloads = `(() => { window.__downloads = []; const orig = URL.createObjectURL;
	URL.createObjectURL = (b) => { b.text().then((t) => window.__downloads.push(t)); return orig(b); }; return true; })()`

// TestImportWizard: alice (sales) imports contacts from the list page: the preview maps the
// columns and marks the bad cells, the dry run counts without writing, the import runs as a
// job with its progress, and the failed rows download as CSV with each reason — a bad email,
// and a row owned by carol that alice's access rules refuse. The list's export holds the
// imported contact.
func TestImportWizard(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServer(t, dir, exampleServeArgs...)
	aliceTok, aliceID := s.login(t, "users", "alice@example.com", "relata-demo-1")
	file := filepath.Join(t.TempDir(), "new-leads.csv")
	csv := "Full name;E-mail;Job title;Owner;Lifecycle stage;Source\n" +
		"Wizard Ok;wizard.ok@example.com;Buyer;alice@example.com;Lead;Website\n" +
		"Wizard Bad;not-an-email;Buyer;;lead;website\n" +
		"Wizard Carol;wizard.carol@example.com;CFO;Carol Esposito;lead;website\n"
	if err := os.WriteFile(file, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	b := newBrowser(t)
	alice := b.signIn(t, s, "alice@example.com")
	alice.do(chromedp.EmulateViewport(1400, 900))
	alice.open("/list/contacts", "#import-open")
	alice.do(clickSel("#import-open"), chromedp.WaitVisible(chromedp.CSS("#import-file")),
		chromedp.SetUploadFiles(chromedp.CSS("#import-file"), []string{file}))
	alice.wait("the file chosen", `!document.querySelector('#import-preview').disabled`)
	alice.do(clickSel("#import-preview"))
	alice.wait("the preview", `document.querySelectorAll('[data-testid=import-preview] tbody tr').length === 3`)
	// "E-mail" maps to the email field by similarity; the bad cell says why.
	if got := eval[string](alice, `document.querySelector('select[data-column="E-mail"]').value`); got != "email" {
		alice.fail("E-mail maps to %q; want email", got)
	}
	bad := eval[string](alice, `[...document.querySelectorAll('[data-testid=import-preview] td.cell-error')].map((td) => td.textContent).join(' | ')`)
	if !strings.Contains(bad, "not-an-email") {
		alice.fail("the bad cells are %q; want the email of row 3", bad)
	}
	alice.screenshot("import-wizard")

	// With workflows on, the dry run and the job say how many runs the rows queue: the
	// example's two workflows on new website leads, for the one row that imports.
	alice.do(clickSel("#import-workflows"))
	alice.do(clickSel("#import-dry-run"))
	alice.wait("the dry run", `!!document.querySelector('[data-testid=import-dry-result]')`)
	if got := eval[string](alice, `document.querySelector('[data-testid=import-dry-result]').textContent`); !strings.Contains(got, "1 created, 0 updated, 0 unchanged, 2 failed") ||
		!strings.Contains(got, "It would queue 2 workflow runs.") {
		alice.fail("dry run: %q", got)
	}
	var found list
	s.api(t, http.MethodGet, "/api/collections/contacts/records?filter="+urlEscape(`full_name ~ "Wizard"`), aliceTok, nil, &found)
	if len(found.Items) != 0 {
		t.Fatalf("the dry run wrote %d contacts", len(found.Items))
	}

	alice.do(clickSel("#import-start"))
	alice.wait("the job's end", `!!document.querySelector('#import-close')`)
	if got := eval[string](alice, `document.querySelector('[data-testid=import-counts]').textContent`); !strings.Contains(got, "3 of 3 rows: 1 created, 0 updated, 0 unchanged, 2 failed") {
		alice.fail("counts: %q", got)
	}
	if got := eval[string](alice, `document.querySelector('[data-testid=import-runs]')?.textContent ?? ''`); got != "2 workflow runs queued: they run in the background." {
		alice.fail("runs: %q", got)
	}
	if v := eval[float64](alice, `document.querySelector('#import-progress').value`); v != 3 {
		alice.fail("progress %v; want 3", v)
	}
	eval[bool](alice, captureDownloads)
	alice.do(clickSel("#import-failed"))
	alice.wait("the failed rows", `window.__downloads.length === 1`)
	failed := eval[string](alice, `window.__downloads[0]`)
	lines := strings.Split(strings.TrimSpace(failed), "\n")
	if len(lines) != 3 || !strings.HasPrefix(lines[0], "Row,Full name,E-mail,") || !strings.HasPrefix(lines[1], "3,Wizard Bad,not-an-email") ||
		!strings.Contains(lines[1], "E-mail") || !strings.HasPrefix(lines[2], "4,Wizard Carol") || !strings.Contains(lines[2], "may not create") {
		alice.fail("failed rows CSV:\n%s", failed)
	}
	s.api(t, http.MethodGet, "/api/collections/contacts/records?filter="+urlEscape(`full_name ~ "Wizard"`), aliceTok, nil, &found)
	if len(found.Items) != 1 || found.Items[0]["email"] != "wizard.ok@example.com" || found.Items[0]["owner"] != aliceID {
		t.Fatalf("stored: %v", found.Items)
	}
	alice.do(clickSel("#import-close"))

	// The list as alice sees it, exported: the new contact is in it.
	alice.setInput("#list-search", "Wizard")
	alice.wait("the filtered list", `document.querySelectorAll('table.records tbody tr').length === 1`)
	alice.do(clickSel("#export-csv"))
	alice.wait("the export", `window.__downloads.length === 2`)
	exported := eval[string](alice, `window.__downloads[1]`)
	rows := strings.Split(strings.TrimSpace(exported), "\n")
	if len(rows) != 2 || !strings.Contains(rows[1], "Wizard Ok") {
		alice.fail("export of the filtered list:\n%s", exported)
	}
}
