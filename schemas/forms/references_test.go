package forms_test

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/relata/relata/hooks"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/forms"
	"github.com/relata/relata/schemas/schemastest"
)

// newEnvWith is newEnv with more form definitions (name -> JSON) beside testdata/forms.
func newEnvWith(t *testing.T, extra map[string]string) *env {
	t.Helper()
	objects, formsDir := t.TempDir(), t.TempDir()
	copyFS(t, schemas.Defaults(), objects)
	copyFS(t, os.DirFS("testdata/objects"), objects)
	for name, data := range extra {
		if err := os.WriteFile(filepath.Join(formsDir, name), []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{Dir: objects})
	c := &clock{now: time.Now().UTC().Truncate(time.Hour).Add(10 * time.Second)}
	svc := forms.MustRegister(app, nil, forms.Config{Registry: reg, Dirs: []string{"testdata/forms", formsDir}, Now: c.Now})
	hooks.MustRegister(app, hooks.Config{Registry: reg})
	srv := schemastest.Serve(t, app)
	schemastest.NewUser(t, app, "alice@example.com", "sales", "north")
	return &env{app: app, reg: reg, svc: svc, srv: srv, clock: c}
}

// TestJSONAcceptsDatetimeLocal: the JSON endpoint takes what its GET advertises for a
// datetime field (an <input type="datetime-local"> value, no zone) and reads it as UTC, as
// the HTML page does; a full RFC 3339 time keeps its zone.
func TestJSONAcceptsDatetimeLocal(t *testing.T) {
	e := newEnv(t)
	cases := []struct{ subject, in, want string }{
		{"minutes", "2026-12-10T14:30", "2026-12-10 14:30:00.000Z"},
		{"seconds", "2026-12-10T14:30:15", "2026-12-10 14:30:15.000Z"},
		{"zoned", "2026-12-10T14:30:00+02:00", "2026-12-10 12:30:00.000Z"},
		{"utc", "2026-12-10T14:30:00Z", "2026-12-10 14:30:00.000Z"},
	}
	for _, c := range cases {
		code, res, _ := e.post(t, "inquiry", map[string]any{"subject": c.subject, "budget": 10, "size": "small", "call_at": c.in})
		if code != http.StatusOK {
			t.Errorf("call_at %q = %d %v", c.in, code, res.Errors)
			continue
		}
		r, err := e.app.FindFirstRecordByData("inquiries", "subject", c.subject)
		if err != nil {
			t.Fatal(err)
		}
		if got := r.GetDateTime("call_at").String(); got != c.want {
			t.Errorf("call_at %q stored as %s; want %s", c.in, got, c.want)
		}
	}
	for _, bad := range []string{"2026-12-10 14:30", "2026-12-10T25:30", "10/12/2026 14:30", "2026-12-10T14"} {
		code, res, _ := e.post(t, "inquiry", map[string]any{"subject": "bad", "budget": 10, "size": "small", "call_at": bad})
		if code != http.StatusBadRequest || res.Errors["call_at"] == "" {
			t.Errorf("call_at %q = %d %v; want 400 for call_at", bad, code, res.Errors)
		}
	}
}

// TestReferencesCheckedBeforeAccepting: a form that would link its record to a record that
// does not exist, or assign it to a user who does not exist, is refused with a 400 naming the
// field, and nothing is stored — never "Thank you".
func TestReferencesCheckedBeforeAccepting(t *testing.T) {
	e := newEnvWith(t, map[string]string{"linked.json": `{
  "slug": "linked", "title": "Linked", "object": "inquiries",
  "fields": [{"name": "subject"}, {"name": "budget"}, {"name": "size"}],
  "hidden": {"company": "cmp000000000999"},
  "spam": {"minFillSeconds": 0, "ratePerMinute": 0, "ratePerHour": 0}
}`})
	body := map[string]any{"subject": "Linked", "budget": 10, "size": "small"}
	code, res, _ := e.post(t, "linked", body)
	if code != http.StatusBadRequest || !strings.Contains(res.Errors["company"], "does not exist") || res.OK {
		t.Errorf("missing company = %d %+v; want 400 for company", code, res)
	}
	if n := e.count(t, "inquiries", ""); n != 0 {
		t.Errorf("inquiries = %d; want none stored", n)
	}
	// Once the company exists, the same form is accepted.
	schemastest.MustCreate(t, e.app, "companies", map[string]any{"id": "cmp000000000999", "name": "Acme"})
	if code, res, _ := e.post(t, "linked", body); code != http.StatusOK {
		t.Errorf("with the company = %d %v", code, res.Errors)
	}

	// The owner of inquiry forms, alice, leaves: submissions are refused, not lost.
	alice, err := e.app.FindAuthRecordByEmail("users", "alice@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.app.Delete(alice); err != nil {
		t.Fatal(err)
	}
	code, res, _ = e.post(t, "inquiry", map[string]any{"subject": "Orphan", "budget": 10, "size": "small"})
	if code != http.StatusBadRequest || !strings.Contains(res.Errors[forms.KeyForm], "does not exist") {
		t.Errorf("form owner gone = %d %+v; want 400", code, res)
	}
	if n := e.count(t, "inquiries", "subject = 'Orphan'"); n != 0 {
		t.Errorf("orphan inquiries = %d; want none", n)
	}
}
