package campaigns_test

import (
	"net/http"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/segments"
	"github.com/relata/relata/workflows/campaigns"
)

// consent_bases is JSON: a list of legal bases a recipient's consent must be on. A value that
// is not such a list ("consent" as a string, an object, a basis misspelt) used to be ignored
// as if empty — the loosest rule, anyone who has not withdrawn — so a campaign meant for
// consenting contacts mailed everyone. It is refused where it is written (400 on the field)
// and a stored one makes the campaign fail to send, never send more widely.
func TestConsentBasesAreChecked(t *testing.T) {
	e := newEnv(t)
	e.template(t, `<p>Hi {{.record.full_name}}</p>`)
	yes := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Yes", "email": "yes@example.com", "owner": e.boss.Id})
	schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "None", "email": "none@example.com", "owner": e.boss.Id})
	consents, _ := e.app.FindCollectionByNameOrId("consents")
	r := core.NewRecord(consents)
	for k, v := range map[string]any{"form": "newsletter", "object": "contacts", "record_id": yes.Id, "text": "Send me offers",
		"version": "1", "given_at": time.Now().UTC(), "purpose": "marketing_email", "basis": "consent"} {
		r.Set(k, v)
	}
	if err := e.app.Save(r); err != nil {
		t.Fatal(err)
	}
	seg := schemastest.MustCreate(t, e.app, segments.Collection, map[string]any{"name": "All", "kind": segments.Dynamic, "filter": `email != ""`, "owner": e.boss.Id})

	var bad struct {
		Message string         `json:"message"`
		Data    map[string]any `json:"data"`
	}
	for _, tc := range []struct {
		name  string
		bases any
	}{
		{"a string", "consent"},
		{"an object", map[string]any{"basis": "consent"}},
		{"a number in the list", []any{"consent", 3}},
		{"a misspelt basis", []string{"Consent"}},
		{"an empty basis", []string{""}},
	} {
		bad.Data = nil
		code := schemastest.Call(t, e.srv, http.MethodPost, "/api/collections/campaigns/records", e.bossTok, map[string]any{
			"name": "Bad " + tc.name, "template": "spring", "segment": seg.Id, "owner": e.boss.Id, "consent_bases": tc.bases}, &bad)
		if code != http.StatusBadRequest || bad.Data["consent_bases"] == nil {
			t.Errorf("create with consent_bases %s = %d %v, want 400 on consent_bases", tc.name, code, bad.Data)
		}
	}
	var ok map[string]any
	if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/collections/campaigns/records", e.bossTok, map[string]any{
		"name": "Good", "template": "spring", "segment": seg.Id, "owner": e.boss.Id, "consent_bases": []string{"consent", "contract"}}, &ok); code != 200 {
		t.Fatalf("create with a good list = %d %v", code, ok)
	}
	if code := schemastest.Call(t, e.srv, http.MethodPatch, "/api/collections/campaigns/records/"+ok["id"].(string), e.bossTok,
		map[string]any{"consent_bases": "consent"}, &bad); code != http.StatusBadRequest || bad.Data["consent_bases"] == nil {
		t.Errorf("update to a string = %d %v, want 400 on consent_bases", code, bad.Data)
	}

	// stored past the check (an older version, the dashboard): never sent more widely
	c := e.campaign(t, seg, map[string]any{"name": "Stored", "consent_bases": []string{"consent"}})
	if _, err := e.app.DB().Update(campaigns.Collection, dbx.Params{"consent_bases": `"consent"`}, dbx.HashExp{"id": c.Id}).Execute(); err != nil {
		t.Fatal(err)
	}
	if code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/campaigns/"+c.Id+"/send", e.bossTok, nil, &bad); code != http.StatusBadRequest {
		t.Errorf("send with stored consent_bases %q = %d %q, want 400", `"consent"`, code, bad.Message)
	}
	if _, err := e.app.DB().Update(campaigns.Collection, dbx.Params{"status": campaigns.StatusSending}, dbx.HashExp{"id": c.Id}).Execute(); err != nil {
		t.Fatal(err)
	}
	for range 10 {
		if busy, _ := e.svc.Step(); !busy {
			break
		}
	}
	if _, err := e.sender.Drain(); err != nil {
		t.Fatal(err)
	}
	for _, m := range e.smtp.Messages() {
		for _, to := range m.To {
			if to == "none@example.com" {
				t.Errorf("a campaign for consenting contacts mailed %s, who gave no consent", to)
			}
		}
	}
}
