package main_test

import (
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestImportExportCommands runs `relata import`, `relata import undo` and `relata export` on
// the example data: the summary, the exit status, dry run, re-import, undo and access rules.
func TestImportExportCommands(t *testing.T) {
	data := t.TempDir()
	if o, err := run(t, "seed", "examples/sales", "--dir", data); err != nil {
		t.Fatalf("seed: %v\n%s", err, o)
	}
	file := filepath.Join(t.TempDir(), "leads.csv")
	csv := "\uFEFFNome completo;Email;Azienda;Proprietario;Etichette\r\n" +
		"Giulia Bianchi;giulia@example.it;Nordwind Logistik GmbH;alice@example.com;\"fiera; 2025\"\r\n" +
		"Nuria Navarro;NNAVARRO@hydrawater.com;;;\r\n" +
		"Senza Azienda;senza@example.it;Ditta Inesistente;;\r\n"
	if err := os.WriteFile(file, []byte(csv), 0o644); err != nil {
		t.Fatal(err)
	}
	args := []string{"import", "contacts", file, "--dir", data, "--key", "email",
		"--map", "Nome completo=full_name", "--map", "Azienda=company", "--map", "Proprietario=owner", "--map", "Etichette=tags"}

	out, err := run(t, append(args, "--dry-run")...)
	if err == nil || !strings.Contains(out, "leads.csv: dry run, nothing written; would import into contacts: 1 created, 0 updated, 1 unchanged, 1 failed") ||
		!strings.Contains(out, `leads.csv: row 4, column "Azienda": no companies record named "Ditta Inesistente"`) {
		t.Fatalf("dry run: %v\n%s", err, out)
	}
	out, err = run(t, append(args, "--create-missing")...)
	if err != nil || !strings.Contains(out, "2 created, 0 updated, 1 unchanged, 0 failed (1 related records created)") {
		t.Fatalf("import: %v\n%s", err, out)
	}
	batch := regexp.MustCompile(`relata import undo (\w+)`).FindStringSubmatch(out)
	if batch == nil {
		t.Fatalf("no batch id in %s", out)
	}
	if out, err := run(t, append(args, "--create-missing")...); err != nil || !strings.Contains(out, "0 created, 0 updated, 3 unchanged, 0 failed") {
		t.Fatalf("re-import: %v\n%s", err, out)
	}

	// Alice (sales, team north) exports only what she may see; the superuser sees Giulia too.
	exp := filepath.Join(t.TempDir(), "mine.csv")
	if out, err := run(t, "export", "contacts", "--dir", data, "--as", "alice@example.com", "--fields", "email,owner", "-o", exp); err != nil {
		t.Fatalf("export: %v\n%s", err, out)
	}
	b, err := os.ReadFile(exp)
	if err != nil {
		t.Fatal(err)
	}
	if strings.Contains(string(b), "carol@example.com") || !strings.Contains(string(b), "giulia@example.it,alice@example.com") {
		t.Fatalf("alice's export shows others' contacts or misses hers:\n%s", b)
	}
	out, err = run(t, "export", "contacts", "--dir", data, "--filter", `email = "giulia@example.it"`, "--fields", "full_name,company,tags")
	if err != nil || !strings.Contains(out, "Giulia Bianchi,Nordwind Logistik GmbH,fiera; 2025") {
		t.Fatalf("export filter: %v\n%s", err, out)
	}

	if out, err := run(t, "import", "undo", batch[1], "--dir", data); err != nil || !strings.Contains(out, "3 records removed, 0 restored, 0 left alone") {
		t.Fatalf("undo: %v\n%s", err, out)
	}
	if out, err := run(t, "export", "contacts", "--dir", data, "--filter", `email = "giulia@example.it"`); err != nil || strings.Contains(out, "giulia") {
		t.Fatalf("after undo: %v\n%s", err, out)
	}
}
