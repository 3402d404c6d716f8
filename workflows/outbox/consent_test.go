package outbox_test

import (
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows/outbox"
	"github.com/relata/relata/workflows/outbox/outboxtest"
)

// TestMarketingChecksTheConsent: marketing mail about a record goes out when the record has
// no consent or a valid marketing consent, and not while its only consent waits for its
// double opt-in or was withdrawn — which an unsubscribe does.
func TestMarketingChecksTheConsent(t *testing.T) {
	t.Parallel()
	e := newServed(t, outboxtest.Options{}, outbox.Config{})
	consent := func(id string, values map[string]any) *core.Record {
		base := map[string]any{"form": "newsletter", "object": "contacts", "record_id": id, "text": "yes", "version": "1",
			"given_at": "2026-12-01 10:00:00.000Z", "purpose": "marketing_email", "basis": "consent"}
		for k, v := range values {
			base[k] = v
		}
		return schemastest.MustCreate(t, e.app, "consents", base)
	}
	scenarios := []struct {
		name    string
		consent map[string]any // nil: no consent at all
		sent    bool
		why     string
	}{
		{"no consent: the organisation's declared basis", nil, true, ""},
		{"a valid consent", map[string]any{}, true, ""},
		// Pending is as if absent: else anyone posting a newsletter form with a contact's
		// address would switch her marketing mail off (TestPendingConsentStopsNoMail).
		{"waiting for the double opt-in: as if absent", map[string]any{"needs_confirmation": true}, true, ""},
		{"double opt-in confirmed", map[string]any{"needs_confirmation": true, "confirmed_at": "2026-12-01 11:00:00.000Z"}, true, ""},
		{"withdrawn", map[string]any{"withdrawn_at": "2026-12-02 09:00:00.000Z"}, false, "withdrawn"},
		{"a consent for profiling only", map[string]any{"purpose": "profiling", "withdrawn_at": "2026-12-02 09:00:00.000Z"}, true, ""},
	}
	for i, sc := range scenarios {
		addr := "person" + string(rune('a'+i)) + "@example.com"
		c := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": sc.name, "email": addr})
		if sc.consent != nil {
			consent(c.Id, sc.consent)
		}
		rec := e.enqueue(t, outbox.Message{To: []string{addr}, Category: outbox.Marketing, Subject: "News", Text: "x",
			Object: "contacts", RecordID: c.Id})
		e.drain(t)
		got := e.email(t, rec.Id)
		if sent := got.GetString("status") == outbox.StatusSent; sent != sc.sent || !strings.Contains(got.GetString("last_error"), sc.why) {
			t.Errorf("%s: status %s (%q); want sent=%v", sc.name, got.GetString("status"), got.GetString("last_error"), sc.sent)
		}
	}

	// Unsubscribing withdraws the marketing consent of every record with that address.
	c := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Una", "email": "una@example.com"})
	mk := consent(c.Id, map[string]any{})
	prof := consent(c.Id, map[string]any{"purpose": "profiling"})
	if err := outbox.Suppress(e.app, "UNA@example.com", outbox.ReasonUnsubscribe, "test"); err != nil {
		t.Fatal(err)
	}
	if r, _ := e.app.FindRecordById("consents", mk.Id); r.GetString("withdrawn_at") == "" {
		t.Error("the unsubscribe left the marketing consent in force")
	}
	if r, _ := e.app.FindRecordById("consents", prof.Id); r.GetString("withdrawn_at") != "" {
		t.Error("the unsubscribe withdrew a consent for another purpose")
	}
}
