package privacy_test

import (
	"net/http"
	"testing"

	"github.com/relata/relata/schemas/privacy"
	"github.com/relata/relata/schemas/schemastest"
)

// TestEraseRefusesSubjectsThatNameNobody: an "email" without an @ ("example.com") or a phone
// of fewer than 6 digits (the least the search of phone fields takes) is no person: searched for as words in every record, email, log and audit
// entry, erasing it wiped everyone's addresses at that domain. Export and erasure refuse it,
// and other people's data stays.
func TestEraseRefusesSubjectsThatNameNobody(t *testing.T) {
	t.Parallel()
	w := newWorld(t)
	privacy.MustRegister(w.app, nil, privacy.Config{Registry: w.reg})
	srv := schemastest.Serve(t, w.app)
	_, adminTok := schemastest.NewUser(t, w.app, "boss@example.org", "admin", "")
	act := schemastest.MustCreate(t, w.app, "activities", map[string]any{"type": "note", "subject": "Write to bob@example.com",
		"body": "Room 1234, call 555-0199 first"})
	for _, subj := range []map[string]any{
		{"email": "example.com"},
		{"email": "@example.com"},
		{"email": "bob@"},
		{"phone": "1234"},
		{"phone": "12-345"},
	} {
		for _, route := range []string{"export", "erase"} {
			body := map[string]any{"confirm": true}
			for k, v := range subj {
				body[k] = v
			}
			if code := schemastest.Call(t, srv, http.MethodPost, "/api/relata/privacy/"+route, adminTok, body, nil); code != 400 {
				t.Errorf("%s %v = %d; want 400", route, subj, code)
			}
		}
	}
	got, err := w.app.FindRecordById("activities", act.Id)
	if err != nil || got.GetString("subject") != "Write to bob@example.com" || got.GetString("body") != "Room 1234, call 555-0199 first" {
		t.Errorf("another record was scrubbed: %q %q %v", got.GetString("subject"), got.GetString("body"), err)
	}
}
