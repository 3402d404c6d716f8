package main_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// TestDedupeCommands runs `relata duplicates`, `relata merge` and `relata merge undo` on the
// example data through the binary: output, exit status, and located errors of a rules file.
func TestDedupeCommands(t *testing.T) {
	data := t.TempDir()
	if o, err := run(t, "seed", "examples/sales", "--dir", data); err != nil {
		t.Fatalf("seed: %v\n%s", err, o)
	}
	out, err := run(t, "duplicates", "contacts", "--dir", data)
	if err != nil || !regexp.MustCompile(`\d+ pairs among \d+ contacts \(`).MatchString(out) {
		t.Fatalf("duplicates: %v\n%s", err, out)
	}
	js, err := run(t, "duplicates", "contacts", "--json", "--dir", data)
	if err != nil {
		t.Fatalf("duplicates --json: %v\n%s", err, js)
	}
	var pairs []struct{ A, B string }
	if err := json.Unmarshal([]byte(js[strings.Index(js, "["):]), &pairs); err != nil || len(pairs) == 0 {
		t.Fatalf("duplicates --json: %v\n%s", err, js)
	}

	for _, c := range []struct {
		args []string
		want string
	}{
		{[]string{"duplicates", "people"}, `object "people": not found`},
		{[]string{"merge", "contacts", pairs[0].A, "nope"}, `contacts "nope": not found`},
		{[]string{"merge", "contacts", pairs[0].A, pairs[0].B, "--field", "email"}, `write it as field=loser or field=winner`},
		{[]string{"merge", "contacts", pairs[0].A, pairs[0].B, "--as", "nobody@example.com"}, `--as nobody@example.com: no CRM user with this email`},
		{[]string{"merge", "undo", "nope"}, `merge "nope": not found`},
	} {
		out, err := run(t, append(c.args, "--dir", data)...)
		if err == nil || !strings.Contains(out, c.want) {
			t.Errorf("relata %s: %v\n%s\nwant a failure saying %q", strings.Join(c.args, " "), err, out, c.want)
		}
	}

	rules := filepath.Join(t.TempDir(), "dedupe.json")
	if err := os.WriteFile(rules, []byte("{\"objects\": {\"contacts\": {\"rules\": [\n  {\"match\": \"email\", \"field\": \"e_mail\"}]}}}"), 0o644); err != nil {
		t.Fatal(err)
	}
	out, err = run(t, "duplicates", "contacts", "--dir", data, "--dedupeRules", rules)
	if err == nil || !strings.Contains(out, `dedupe.json:2 /objects/contacts/rules/0/field: contacts has no field "e_mail"`) {
		t.Errorf("a bad rules file: %v\n%s", err, out)
	}

	out, err = run(t, "merge", "contacts", pairs[0].A, pairs[0].B, "--dir", data)
	id := regexp.MustCompile(`: merge (\w+),`).FindStringSubmatch(out)
	if err != nil || id == nil {
		t.Fatalf("merge: %v\n%s", err, out)
	}
	if out, err := run(t, "merge", "undo", id[1], "--dir", data); err != nil || !strings.Contains(out, "is back") {
		t.Fatalf("undo: %v\n%s", err, out)
	}
}
