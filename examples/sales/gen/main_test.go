package main

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"
)

// TestCommittedHistoryIsGenerated regenerates the history and compares it byte for byte with
// examples/sales/history: the committed files are the generator's, and it is deterministic.
func TestCommittedHistoryIsGenerated(t *testing.T) {
	dir := t.TempDir()
	if err := generate(dir, "../seed/users.json"); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"users.json", "exchange_rates.csv", "companies.json", "contacts.json", "deals.json", "activities.json"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		want, err := os.ReadFile(filepath.Join("..", "history", name))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s differs from the generator's output: run go run ./examples/sales/gen -out examples/sales/history", name)
		}
	}
}
