package workflows_test

import (
	"fmt"
	"syscall"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/hooks"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows"
)

// sameObjectConditions are ten conditions of the kind real teams write on contacts created,
// over the same few fields. For the bench's contact (a website lead with an owner and an
// @example.com address) eight hold and two do not.
var sameObjectConditions = []string{
	`record.lifecycle_stage == "lead"`,
	`record.owner != ""`,
	`record.email endsWith "@example.com"`,
	`record.lifecycle_stage == "lead" && record.source == "website"`,
	`record.source in ["website", "referral"]`,
	`record.full_name != "" && record.owner != ""`,
	`record.lifecycle_stage == "customer"`,
	`record.email != "" && !record.do_not_email`,
	`"vip" in record.tags`,
	`record.job_title == "" || record.lifecycle_stage == "lead"`,
}

// BenchmarkSaveContactSameObject measures a contact create (app.Save, the hooks a REST create
// runs in the save) with 10 workflows enabled on contacts, against bare PocketBase (no Relata
// hooks at all) and Relata without workflows, in one run:
//
//   - bare: PocketBase with Relata's collections, no Relata hooks;
//   - none: Relata's hooks, no workflow enabled;
//   - false=10: relata-bench's ten workflows whose conditions are false for the contact (no
//     run queued), with the engine's workers running as in a server;
//   - real=10: the ten sameObjectConditions (eight runs queued per create), workers stopped
//     so that only the save and the enqueue are measured.
//
// Reproduce (the cpu-µs/op column is steadier than ns/op on a shared machine):
//
//	go test -run '^$' -bench SaveContactSameObject -benchtime 2000x -count 5 ./workflows/
func BenchmarkSaveContactSameObject(b *testing.B) {
	for _, v := range []string{"bare", "none", "false=10", "real=10"} {
		b.Run(v, func(b *testing.B) {
			app := schemastest.OpenApp(b, b.TempDir())
			reg := schemas.MustRegister(app, nil, schemas.Config{})
			if v != "bare" {
				eng := workflows.MustRegister(app, nil, workflows.Config{Registry: reg, PollInterval: time.Second})
				hooks.MustRegister(app, hooks.Config{Registry: reg, Engine: eng})
				schemastest.Serve(b, app) // starts the workers
				b.Cleanup(eng.Stop)
				for i := range 10 {
					var def string
					switch v {
					case "false=10":
						def = fmt.Sprintf(`{"name": "false-%d", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
							"condition": "record.source == \"partner\" && record.job_title == \"Never %d\"",
							"actions": [{"type": "create_task", "subject": "=\"Call \" + record.full_name", "due": "1d", "assignee": "owner"}]}`, i, i)
					case "real=10":
						def = fmt.Sprintf(`{"name": "real-%d", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
							"condition": %q,
							"actions": [{"type": "create_task", "subject": "=\"Call \" + record.full_name", "due": "1d", "assignee": "owner"}]}`, i, sameObjectConditions[i])
					default:
						continue
					}
					d, err := workflows.Parse("bench", []byte(def))
					if err != nil {
						b.Fatal(err)
					}
					if _, err := eng.Save(app, d); err != nil {
						b.Fatal(err)
					}
				}
				if v == "real=10" {
					eng.Stop()
				}
			} else {
				schemastest.Serve(b, app)
			}
			owner, _ := schemastest.NewUser(b, app, "rep@example.com", "sales", "north")
			coll, err := app.FindCollectionByNameOrId("contacts")
			if err != nil {
				b.Fatal(err)
			}
			b.ReportAllocs()
			b.ResetTimer()
			cpu := cpuTime()
			for i := 0; i < b.N; i++ {
				rec := core.NewRecord(coll)
				rec.Set("full_name", fmt.Sprintf("Contact %d", i))
				rec.Set("email", fmt.Sprintf("c%d@example.com", i))
				rec.Set("source", "website")
				rec.Set("lifecycle_stage", "lead")
				rec.Set("owner", owner.Id)
				if err := app.Save(rec); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(cpuTime()-cpu)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
			if v == "real=10" {
				// Queued as runs, or as workflow events whose runs the engine is to write.
				var runs, planned int
				if err := app.DB().NewQuery("SELECT count(*) FROM workflow_runs").Row(&runs); err != nil {
					b.Fatal(err)
				}
				_ = app.DB().NewQuery("SELECT coalesce(sum(json_array_length(runs)), 0) FROM workflow_events").Row(&planned)
				if runs+planned != 8*b.N {
					b.Fatalf("%d runs queued for %d contacts; want 8 each", runs+planned, b.N)
				}
			}
		})
	}
}

// cpuTime is the CPU time (user and system) the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// BenchmarkFanOutEvents measures the engine's side of BenchmarkSaveContactSameObject/real=10:
// turning each stored workflow event into its eight runs (one transaction per 200 events).
// Its cost per op adds to real=10's save to compare with the save that wrote eight run rows
// itself.
//
//	go test -run '^$' -bench FanOutEvents -benchtime 2000x -count 3 ./workflows/
func BenchmarkFanOutEvents(b *testing.B) {
	e := newBareEnv(b, workflows.Config{})
	for i := range 10 {
		e.save(b, fmt.Sprintf(`{"name": "real-%d", "enabled": true, "object": "contacts", "trigger": {"type": "record_created"},
			"condition": %q, "actions": [{"type": "create_task", "subject": "=\"Call \" + record.full_name", "due": "1d", "assignee": "owner"}]}`,
			i, sameObjectConditions[i]))
	}
	owner, _ := schemastest.NewUser(b, e.app, "rep@example.com", "sales", "north")
	coll, err := e.app.FindCollectionByNameOrId("contacts")
	if err != nil {
		b.Fatal(err)
	}
	for i := 0; i < b.N; i++ {
		rec := core.NewRecord(coll)
		rec.Set("full_name", fmt.Sprintf("Contact %d", i))
		rec.Set("email", fmt.Sprintf("c%d@example.com", i))
		rec.Set("source", "website")
		rec.Set("lifecycle_stage", "lead")
		rec.Set("owner", owner.Id)
		if err := e.app.Save(rec); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	cpu := cpuTime()
	n, err := e.eng.FanOut()
	if err != nil || n != b.N {
		b.Fatalf("FanOut = %d, %v; want %d events", n, err, b.N)
	}
	b.StopTimer()
	b.ReportMetric(float64(cpuTime()-cpu)/float64(time.Microsecond)/float64(b.N), "cpu-µs/op")
	if runs, _ := e.app.CountRecords(workflows.RunsCollection); runs != int64(8*b.N) {
		b.Fatalf("%d runs; want %d", runs, 8*b.N)
	}
}
