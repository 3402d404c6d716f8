package campaigns_test

import (
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/segments"
	"github.com/relata/relata/workflows/campaigns"
)

// A person may be two contacts whose addresses differ only in case (the unique index on
// email is case-sensitive; imports and forms make such pairs). A campaign mails the address
// once, as the first contact in id order — and so mailed people who had opted out on the
// other record: do_not_email set, or every marketing consent withdrawn, there. An opt-out on
// any contact of an address holds for the address, also when that contact is outside the
// segment.
func TestOptOutOfAnyContactOfAnAddressHolds(t *testing.T) {
	e := newEnv(t)
	e.template(t, `<p>Hi {{.record.full_name}}</p>`)
	contact := func(id, name, email, source string, extra map[string]any) *core.Record {
		v := map[string]any{"id": id, "full_name": name, "email": email, "source": source, "owner": e.boss.Id}
		for k, x := range extra {
			v[k] = x
		}
		return schemastest.MustCreate(t, e.app, "contacts", v)
	}
	// the first of each pair (in id order) has no opt-out
	contact("dupa00000000001", "Ann", "Ann@example.com", "website", nil)
	contact("dupa00000000002", "Ann again", "ann@example.com", "website", map[string]any{"do_not_email": true})
	contact("dupb00000000001", "Bob", "BOB@example.com", "website", nil)
	bob2 := contact("dupb00000000002", "Bob again", "bob@example.com", "website", nil)
	contact("dupc00000000001", "Dee", "Dee@example.com", "website", nil)
	contact("dupc00000000002", "Dee (event)", "dee@example.com", "event", map[string]any{"do_not_email": true}) // not in the segment
	contact("dupd00000000001", "Cy", "cy@example.com", "website", nil)
	contact("dupd00000000002", "Cy again", "CY@example.com", "website", nil)
	consents, _ := e.app.FindCollectionByNameOrId("consents")
	r := core.NewRecord(consents)
	for k, v := range map[string]any{"form": "newsletter", "object": "contacts", "record_id": bob2.Id, "text": "Send me offers",
		"version": "1", "given_at": time.Now().UTC(), "purpose": "marketing_email", "basis": "consent", "withdrawn_at": time.Now().UTC()} {
		r.Set(k, v)
	}
	if err := e.app.Save(r); err != nil {
		t.Fatal(err)
	}
	seg := schemastest.MustCreate(t, e.app, segments.Collection, map[string]any{"name": "Web", "kind": segments.Dynamic, "filter": `source = "website"`, "owner": e.boss.Id})
	c := e.campaign(t, seg, nil)
	if err := e.svc.Send(c.Id); err != nil {
		t.Fatal(err)
	}
	e.run(t)
	var got []string
	for _, m := range e.smtp.Messages() {
		for _, to := range m.To {
			got = append(got, strings.ToLower(to))
		}
	}
	sort.Strings(got)
	if strings.Join(got, " ") != "cy@example.com" {
		t.Errorf("mailed %v; want only cy@example.com (ann, bob and dee opted out on another contact of their address)", got)
	}
	rep := e.report(t, c.Id)
	if rep.Skipped[campaigns.ReasonDoNotEmail] != 2 || rep.Skipped[campaigns.ReasonNoConsent] != 1 || rep.Duplicates != 3 {
		t.Errorf("report: skipped %v, %d duplicates; want do_not_email 2, no_consent 1, 3 duplicates", rep.Skipped, rep.Duplicates)
	}
}
