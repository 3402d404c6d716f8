package workflows_test

import (
	"fmt"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/segments"
	"github.com/relata/relata/workflows"
)

// BenchmarkSaveContactInSegment measures what an inSegment condition adds to a save: one
// workflow listens to contact creation with a condition that is false, either on a field
// (cond=field) or on segment membership (cond=inSegment, one indexed lookup in a segment of
// `members` stored rows); bare=true is no workflow at all. Nothing is queued.
//
//	go test -run '^$' -bench SaveContactInSegment -benchmem -count 5 ./workflows/
func BenchmarkSaveContactInSegment(b *testing.B) {
	for _, tc := range []struct {
		name, cond string
	}{
		{"bare", ""},
		{"cond=field", `record.source == "partner"`},
		{"cond=inSegment", `inSegment("Big list")`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			e := newBareEnv(b, workflows.Config{})
			owner, _ := schemastest.NewUser(b, e.app, "owner@example.com", "manager", "")
			seg := schemastest.MustCreate(b, e.app, segments.Collection, map[string]any{
				"name": "Big list", "kind": segments.Static, "owner": owner.Id})
			mcoll, err := e.app.FindCollectionByNameOrId(segments.MembersCollection)
			if err != nil {
				b.Fatal(err)
			}
			err = e.app.RunInTransaction(func(tx core.App) error {
				for i := range 20000 {
					m := core.NewRecord(mcoll)
					m.Set("segment", seg.Id)
					m.Set("record_id", fmt.Sprintf("c%014d", i))
					m.Set("source", segments.SourceManual)
					if err := tx.SaveNoValidate(m); err != nil {
						return err
					}
				}
				return nil
			})
			if err != nil {
				b.Fatal(err)
			}
			if tc.cond != "" {
				e.save(b, fmt.Sprintf(`{"name": "seg", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
					"condition": %q, "actions": [{"type": "update_record", "values": {"job_title": "X"}}]}`, tc.cond))
			}
			coll, err := e.app.FindCollectionByNameOrId("contacts")
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			for b.Loop() {
				rec := core.NewRecord(coll)
				rec.Set("full_name", "Bench Contact")
				rec.Set("source", "website")
				if err := e.app.Save(rec); err != nil {
					b.Fatal(err)
				}
			}
			if runs, _ := e.app.CountRecords(workflows.RunsCollection); runs != 0 {
				b.Fatalf("%d runs queued; want none", runs)
			}
		})
	}
}
