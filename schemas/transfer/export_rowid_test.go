package transfer_test

import (
	"net/url"
	"slices"
	"testing"
)

// The web app exports its lists in their order, "newest first" being PocketBase's @rowid:
// the export sorts by it even when the caller's rules join other tables, and a query that
// fails answers 400 instead of an empty file.
func TestExportSortsByRowid(t *testing.T) {
	e := newEnv(t)
	e.seedContacts(t)
	emails := func(sort string) []string {
		status, body := e.get(t, "/api/relata/export/contacts?format=csv&fields=email&sort="+url.QueryEscape(sort)+"&filter="+url.QueryEscape(`email ~ "@"`), e.aliceTok)
		if status != 200 {
			t.Fatalf("sort %s: %d %s", sort, status, body)
		}
		var out []string
		for _, r := range readCSV(t, body)[1:] {
			out = append(out, r[0])
		}
		return out
	}
	newest, oldest := emails("-@rowid"), emails("@rowid")
	if len(newest) < 2 {
		t.Fatalf("newest first: %q; want alice's contacts", newest)
	}
	slices.Reverse(oldest)
	if !slices.Equal(newest, oldest) {
		t.Errorf("-@rowid %q is not @rowid reversed %q", newest, oldest)
	}
	if status, body := e.get(t, "/api/relata/export/contacts?format=csv&sort=-nosuchfield", e.aliceTok); status != 400 {
		t.Errorf("bad sort: %d %s", status, body)
	}
}
