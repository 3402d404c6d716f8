package privacy_test

import (
	"fmt"
	"net/http"
	"testing"
	"time"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/privacy"
	"github.com/relata/relata/schemas/schemastest"
)

// TestConsentCounts: GET /api/relata/privacy/consents counts the consents by form in one
// query, over more consents than a page of the REST API holds, under the consents' list rule:
// managers and admins see the counts, a sales rep none, anonymous callers are refused.
func TestConsentCounts(t *testing.T) {
	t.Parallel()
	w := seedPerson(t) // one consent through contact-us
	privacy.MustRegister(w.app, nil, privacy.Config{Registry: w.reg})
	srv := schemastest.Serve(t, w.app)
	_, salesTok := schemastest.NewUser(t, w.app, "rep@example.com", "sales", "north")
	_, mgrTok := schemastest.NewUser(t, w.app, "mgr@example.com", "manager", "")
	_, adminTok := schemastest.NewUser(t, w.app, "boss@example.com", "admin", "")
	now := time.Now().UTC().Format("2006-01-02 15:04:05.000Z")
	want := map[string]int{"contact-us": 1, "newsletter": 1500, "request-a-demo": 7}
	rows := [][]any{}
	for form, n := range want {
		if form == "contact-us" {
			continue
		}
		for i := range n {
			rows = append(rows, []any{schemas.OrderedID(), form, "contacts", fmt.Sprintf("c%d", i), "I agree", "1", now, now})
		}
	}
	if err := schemas.InsertMany(w.app, "consents", []string{"id", "form", "object", "record_id", "text", "version", "given_at", "created"}, rows); err != nil {
		t.Fatal(err)
	}
	get := func(token string) (int, map[string]int) {
		t.Helper()
		var out struct {
			Forms []privacy.ConsentCount `json:"forms"`
		}
		code := schemastest.Call(t, srv, http.MethodGet, "/api/relata/privacy/consents", token, nil, &out)
		got := map[string]int{}
		for _, f := range out.Forms {
			got[f.Form] = f.Count
		}
		return code, got
	}
	for _, c := range []struct {
		who, token string
		code       int
		want       map[string]int
	}{
		{"anonymous", "", 401, map[string]int{}},
		{"sales", salesTok, 200, map[string]int{}},
		{"manager", mgrTok, 200, want},
		{"admin", adminTok, 200, want},
	} {
		code, got := get(c.token)
		if code != c.code || fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("%s: %d %v, want %d %v", c.who, code, got, c.code, c.want)
		}
	}
}
