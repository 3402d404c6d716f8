package inbox_test

import (
	"net/http"
	"testing"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows/inbox"
)

// TestInboundEmailsReadByManagersOnly reads the stored messages through the REST API: a
// manager sees them, a sales rep sees none, nobody can write them.
func TestInboundEmailsReadByManagersOnly(t *testing.T) {
	t.Parallel()
	e := newInbox(t, inbox.Config{})
	seed(t, e)
	if err := e.send(t, "rep@acme.test", []string{"log@" + domain}, readFixture(t, "bcc.eml")); err != nil {
		t.Fatal(err)
	}
	srv := schemastest.Serve(t, e.app)
	_, manager := schemastest.NewUser(t, e.app, "boss@acme.test", "manager", "north")
	_, rep := schemastest.NewUser(t, e.app, "rep2@acme.test", "sales", "north")
	scenarios := []struct {
		name  string
		token string
		want  int
	}{
		{"manager", manager, 1},
		{"sales rep", rep, 0},
		{"anonymous", "", 0},
	}
	for _, sc := range scenarios {
		var list struct {
			TotalItems int `json:"totalItems"`
		}
		if code := schemastest.Call(t, srv, http.MethodGet, "/api/collections/"+inbox.Collection+"/records", sc.token, nil, &list); code != http.StatusOK {
			t.Fatalf("%s: list %d", sc.name, code)
		}
		if list.TotalItems != sc.want {
			t.Errorf("%s sees %d inbound emails; want %d", sc.name, list.TotalItems, sc.want)
		}
		body := map[string]any{"kind": "logged", "subject": "forged"}
		if code := schemastest.Call(t, srv, http.MethodPost, "/api/collections/"+inbox.Collection+"/records", sc.token, body, nil); code < 400 {
			t.Errorf("%s created an inbound email: %d", sc.name, code)
		}
	}
}
