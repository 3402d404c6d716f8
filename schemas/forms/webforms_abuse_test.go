package forms_test

import (
	"fmt"
	"net/http"
	"runtime"
	"strings"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/forms"
	"github.com/relata/relata/schemas/schemastest"
)

// apiError is PocketBase's answer to a refused save.
type apiError struct {
	Data map[string]struct {
		Message string `json:"message"`
	} `json:"data"`
}

// saveWebForm stores a definition in web_forms as the holder of token and returns the status
// and the message about the definition.
func (e *env) saveWebForm(t *testing.T, token, slug, definition string) (int, string) {
	t.Helper()
	var out apiError
	code := schemastest.Call(t, e.srv, http.MethodPost, "/api/collections/web_forms/records", token,
		map[string]any{"slug": slug, "definition": definition}, &out)
	return code, out.Data["definition"].Message
}

// TestPickerFilterIsNoOracle: a picker's choices are read as the system, without rules and
// with hidden fields allowed, and shown to anyone. A manager who writes a form in the editor
// could so spell out, a letter at a time, the addresses colleagues keep hidden
// ("owner.email ~ 'a%'" keeps only the companies whose owner's address starts with "a"),
// order the choices by them, or compare records outside the CRM objects that only their
// owner may list (the hints of other users' API tokens). Such filters and sorts are refused
// at save, with the pointer of the setting; a filter on users' other fields is not.
func TestPickerFilterIsNoOracle(t *testing.T) {
	e := newEnv(t)
	_, managerTok := schemastest.NewUser(t, e.app, "mia@example.com", "manager", "north")
	alice, err := e.app.FindAuthRecordByEmail("users", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if alice.GetBool("emailVisibility") {
		t.Fatal("alice's email is visible; the test needs it hidden")
	}
	schemastest.MustCreate(t, e.app, "companies", map[string]any{"name": "Alice's account", "owner": alice.Id})
	schemastest.MustCreate(t, e.app, "api_tokens", map[string]any{"user": alice.Id, "name": "zapier", "hash": strings.Repeat("a", 64), "hint": "rlt_secret", "scope": "read"})

	def := func(slug, picker string) string {
		return `{"slug": "` + slug + `", "title": "Probe", "object": "contacts", "spam": {"minFillSeconds": 0},
  "fields": [{"name": "full_name"}, {"name": "email"},
    {"name": "company", "picker": ` + picker + `}]}`
	}
	cases := []struct {
		name, picker, pointer string
	}{
		{"hidden email, like", `{"filter": "owner.email ~ 'alice%'"}`, "/fields/2/picker/filter"},
		{"hidden email, lower", `{"filter": "owner.email:lower = 'alice@example.com'"}`, "/fields/2/picker/filter"},
		{"hidden email, sort", `{"sort": "owner.email"}`, "/fields/2/picker/sort"},
		{"another user's token hints", `{"filter": "owner.api_tokens_via_user.hint ?~ 'rlt_s'"}`, "/fields/2/picker/filter"},
	}
	for i, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			slug := fmt.Sprintf("probe-%d", i)
			code, msg := e.saveWebForm(t, managerTok, slug, def(slug, c.picker))
			if code != http.StatusBadRequest || !strings.Contains(msg, c.pointer) {
				_, html, _ := e.get(t, "/forms/"+slug)
				t.Fatalf("save = %d %q; want 400 naming %s (the page offers Alice's account: %v)",
					code, msg, c.pointer, strings.Contains(html, "Alice&#39;s account"))
			}
		})
	}
	if code, msg := e.saveWebForm(t, managerTok, "names", def("names", `{"filter": "owner.name != ''", "sort": "-name"}`)); code != http.StatusOK {
		t.Fatalf("a filter on users' names = %d %q; want saved", code, msg)
	}
}

// TestPickerFilterIsBounded: REST lists refuse a path that crosses more than one
// back-relation (each a subquery per row of the one before: seconds of a core per list), but
// a picker's query ran as the system without that bound — and runs on every view of the
// page, by anyone. The same bound holds for pickers, refused at save with the pointer.
func TestPickerFilterIsBounded(t *testing.T) {
	e := newEnv(t)
	_, managerTok := schemastest.NewUser(t, e.app, "mia@example.com", "manager", "north")
	for i, c := range []struct{ picker, pointer string }{
		{`{"filter": "contacts_via_company.company.contacts_via_company.full_name ?= 'x'"}`, "/fields/1/picker/filter"},
		{`{"sort": "contacts_via_company.company.deals_via_company.name"}`, "/fields/1/picker/sort"},
	} {
		slug := fmt.Sprintf("deep-%d", i)
		def := `{"slug": "` + slug + `", "title": "Deep", "object": "contacts", "spam": {"minFillSeconds": 0},
  "fields": [{"name": "full_name"}, {"name": "company", "picker": ` + c.picker + `}]}`
		if code, msg := e.saveWebForm(t, managerTok, slug, def); code != http.StatusBadRequest || !strings.Contains(msg, c.pointer) || !strings.Contains(msg, "back-relations") {
			t.Errorf("%s: save = %d %q; want 400 naming %s and the back-relations", c.picker, code, msg, c.pointer)
		}
	}
	def := `{"slug": "one", "title": "One", "object": "contacts", "spam": {"minFillSeconds": 0},
  "fields": [{"name": "full_name"}, {"name": "company", "picker": {"filter": "deals_via_company.stage ?= 'won'"}}]}`
	if code, msg := e.saveWebForm(t, managerTok, "one", def); code != http.StatusOK {
		t.Errorf("one back-relation: save = %d %q; want saved", code, msg)
	}
}

// TestPickerReadsOnlyIdsAndTitles: every view of a form with a picker (anonymous, not rate
// limited) read up to 500 whole records of the target — their long texts too — to show
// their titles: 500 companies with long addresses cost some 45 MB per page view. A picker
// reads the ids and titles only.
func TestPickerReadsOnlyIdsAndTitles(t *testing.T) {
	e := newEnv(t)
	_, managerTok := schemastest.NewUser(t, e.app, "mia@example.com", "manager", "north")
	const n = forms.MaxPickerChoices
	long := strings.Repeat("Long Street 1, ", 6000) // 90,000 characters
	err := e.app.RunInTransaction(func(tx core.App) error {
		coll, err := tx.FindCollectionByNameOrId("companies")
		if err != nil {
			return err
		}
		for i := range n {
			r := core.NewRecord(coll)
			r.Set("name", fmt.Sprintf("Company %03d", i))
			if err := tx.Save(r); err != nil {
				return err
			}
		}
		// (one statement: saving 90 KB texts one by one through the hooks takes long)
		_, err = tx.DB().NewQuery("UPDATE companies SET address = {:long}").Bind(dbx.Params{"long": long}).Execute()
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	def := `{"slug": "partners", "title": "Partners", "object": "contacts", "spam": {"minFillSeconds": 0},
  "fields": [{"name": "full_name"}, {"name": "company", "picker": {}}]}`
	if code, msg := e.saveWebForm(t, managerTok, "partners", def); code != http.StatusOK {
		t.Fatalf("save = %d %q", code, msg)
	}
	for _, path := range []string{"/forms/partners", "/api/relata/forms/partners"} {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		code, body, _ := e.get(t, path)
		runtime.ReadMemStats(&after)
		if code != http.StatusOK || !strings.Contains(body, fmt.Sprintf("Company %03d", n-1)) {
			t.Fatalf("GET %s = %d, without the last company", path, code)
		}
		if strings.Contains(body, "Long Street") {
			t.Errorf("GET %s shows the companies' addresses", path)
		}
		// The titles are some 50 KB; the addresses 45 MB.
		if alloc := after.TotalAlloc - before.TotalAlloc; alloc > 10<<20 {
			t.Errorf("GET %s allocated %d MB for %d titles; want a picker to read ids and titles only", path, alloc>>20, n)
		}
	}
}
