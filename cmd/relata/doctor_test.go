package main

import (
	"context"
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/audit"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows/outbox/outboxtest"
)

// TestDoctorChecks runs each check of `relata doctor` against a real data directory in a
// healthy and a broken state.
func TestDoctorChecks(t *testing.T) {
	t.Parallel()
	dbTime := func(d time.Duration) string { return time.Now().UTC().Add(d).Format("2006-01-02 15:04:05.000Z") }
	insertRun := func(t *testing.T, app core.App, status, leaseUntil, nextAt string) {
		t.Helper()
		_, err := app.DB().NewQuery(fmt.Sprintf(`INSERT INTO workflow_runs (id, status, lease_until, next_at)
			VALUES ('run%015d', '%s', '%s', '%s')`, time.Now().UnixNano()%1e15, status, leaseUntil, nextAt)).Execute()
		if err != nil {
			t.Fatal(err)
		}
	}
	insertEvent := func(t *testing.T, app core.App, created string) {
		t.Helper()
		_, err := app.DB().NewQuery(fmt.Sprintf(`INSERT INTO workflow_events (id, object, record_id, event, input, runs, created)
			VALUES ('evt%012d', 'contacts', 'c1', 'created', '{}', '[]', '%s')`, time.Now().UnixNano()%1e12, created)).Execute()
		if err != nil {
			t.Fatal(err)
		}
	}
	setSMTP := func(t *testing.T, app core.App, host string, port int) {
		t.Helper()
		s := app.Settings()
		s.SMTP.Enabled, s.SMTP.Host, s.SMTP.Port = true, host, port
		if err := app.Save(s); err != nil {
			t.Fatal(err)
		}
	}
	setCron := func(t *testing.T, app core.App, cron string) {
		t.Helper()
		s := app.Settings()
		s.Backups.Cron, s.Backups.CronMaxKeep = cron, 7
		if err := app.Save(s); err != nil {
			t.Fatal(err)
		}
	}
	closedPort := func(t *testing.T) int {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		port := l.Addr().(*net.TCPAddr).Port
		l.Close()
		return port
	}
	scenarios := []struct {
		name    string
		check   string
		setup   func(t *testing.T, app core.App)
		minFree uint64
		tls     bool          // an SMTPS server (implicit TLS) whose certificate the check trusts
		later   time.Duration // the check runs this much after now
		wantErr string        // "" = healthy
	}{
		{name: "migrations applied", check: "migrations"},
		{name: "a migration missing", check: "migrations", wantErr: "not applied",
			setup: func(t *testing.T, app core.App) {
				if _, err := app.DB().NewQuery("DELETE FROM _migrations WHERE file LIKE '%relata_email%'").Execute(); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "no SMTP server", check: "smtp", wantErr: "no SMTP server configured"},
		{name: "SMTP answers EHLO", check: "smtp",
			setup: func(t *testing.T, app core.App) {
				srv := outboxtest.NewServer(t, outboxtest.Options{})
				setSMTP(t, app, srv.Host, srv.Port)
			}},
		{name: "SMTP with implicit TLS answers EHLO", check: "smtp", tls: true},
		{name: "SMTP unreachable", check: "smtp", wantErr: "unreachable",
			setup: func(t *testing.T, app core.App) { setSMTP(t, app, "127.0.0.1", closedPort(t)) }},
		{name: "SMTP port that is not SMTP", check: "smtp", wantErr: "does not answer EHLO",
			setup: func(t *testing.T, app core.App) {
				l, err := net.Listen("tcp", "127.0.0.1:0")
				if err != nil {
					t.Fatal(err)
				}
				t.Cleanup(func() { l.Close() })
				go func() {
					for {
						c, err := l.Accept()
						if err != nil {
							return
						}
						c.Write([]byte("HTTP/1.1 400 Bad Request\r\n\r\n"))
						c.Close()
					}
				}()
				setSMTP(t, app, "127.0.0.1", l.Addr().(*net.TCPAddr).Port)
			}},
		{name: "no backup schedule", check: "backups", wantErr: "no backup schedule"},
		{name: "schedule but no backup", check: "backups", wantErr: "no backup yet",
			setup: func(t *testing.T, app core.App) { setCron(t, app, "0 3 * * *") }},
		{name: "fresh backup", check: "backups",
			setup: func(t *testing.T, app core.App) {
				setCron(t, app, "0 3 * * *")
				if err := app.CreateBackup(context.Background(), "b1.zip"); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "daily backup 3 days old", check: "backups", later: 72 * time.Hour, wantErr: "old, over 48h0m0s",
			setup: func(t *testing.T, app core.App) {
				setCron(t, app, "0 3 * * *")
				if err := app.CreateBackup(context.Background(), "b1.zip"); err != nil {
					t.Fatal(err)
				}
			}},
		{name: "no runs", check: "workers"},
		{name: "a run inside its lease", check: "workers",
			setup: func(t *testing.T, app core.App) {
				insertRun(t, app, "running", dbTime(time.Minute), dbTime(-time.Minute))
			}},
		{name: "a run stuck past its lease", check: "workers", wantErr: "past their lease",
			setup: func(t *testing.T, app core.App) {
				insertRun(t, app, "running", dbTime(-10*time.Minute), dbTime(-11*time.Minute))
			}},
		{name: "a run due 10 minutes ago", check: "workers", wantErr: "due for over 5 minutes",
			setup: func(t *testing.T, app core.App) { insertRun(t, app, "pending", "", dbTime(-10*time.Minute)) }},
		{name: "a change's runs just queued as an event", check: "workers",
			setup: func(t *testing.T, app core.App) { insertEvent(t, app, dbTime(-time.Second)) }},
		{name: "a change's runs unwritten for 10 minutes", check: "workers", wantErr: "waiting over 5 minutes for their runs",
			setup: func(t *testing.T, app core.App) { insertEvent(t, app, dbTime(-10*time.Minute)) }},
		{name: "audit journal empty", check: "audit"},
		{name: "an audit change just journaled", check: "audit",
			setup: func(t *testing.T, app core.App) { journalChange(t, app, time.Now()) }},
		{name: "an audit change unchained for 10 minutes", check: "audit", wantErr: "not chained into the trail for over a minute",
			setup: func(t *testing.T, app core.App) { journalChange(t, app, time.Now().Add(-10*time.Minute)) }},
		{name: "disk free", check: "disk", minFree: 1},
		{name: "disk full", check: "disk", minFree: 1 << 60, wantErr: "MiB free, under"},
		{name: "no demo password", check: "demo",
			setup: func(t *testing.T, app core.App) { newSuperuser(t, app, "admin@example.com", "not-the-demo-1") }},
		{name: "demo password in use", check: "demo", wantErr: "admin@example.com",
			setup: func(t *testing.T, app core.App) { newSuperuser(t, app, "admin@example.com", demoPassword) }},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			app := schemastest.OpenApp(t, t.TempDir())
			if sc.setup != nil {
				sc.setup(t, app)
			}
			opt := doctorOptions{minFree: sc.minFree, lease: time.Minute, smtpTimeout: 5 * time.Second, backupFactor: 2}
			if sc.tls {
				srv := outboxtest.NewServer(t, outboxtest.Options{ImplicitTLS: true})
				setSMTP(t, app, srv.Host, srv.Port)
				s := app.Settings()
				s.SMTP.TLS = true // the dashboard's TLS box: implicit TLS, as the outbox reads it
				if err := app.Save(s); err != nil {
					t.Fatal(err)
				}
				opt.rootCAs = srv.CertPool
			}
			var found bool
			for _, chk := range doctorChecks(opt) {
				if chk.name != sc.check {
					continue
				}
				found = true
				detail, err := chk.run(app, time.Now().UTC().Add(sc.later))
				switch {
				case sc.wantErr == "" && err != nil:
					t.Fatalf("%s: unexpected problem: %v", sc.check, err)
				case sc.wantErr != "" && (err == nil || !strings.Contains(err.Error(), sc.wantErr)):
					t.Fatalf("%s: got %v (detail %q), want a problem containing %q", sc.check, err, detail, sc.wantErr)
				}
			}
			if !found {
				t.Fatalf("no check %q", sc.check)
			}
		})
	}
}

func newSuperuser(t *testing.T, app core.App, email, password string) {
	t.Helper()
	coll, err := app.FindCollectionByNameOrId(core.CollectionNameSuperusers)
	if err != nil {
		t.Fatal(err)
	}
	r := core.NewRecord(coll)
	r.SetEmail(email)
	r.SetPassword(password)
	if err := app.Save(r); err != nil {
		t.Fatal(err)
	}
}

// journalChange leaves a change made at "at" in the audit journal (the test app runs no chainer).
func journalChange(t *testing.T, app core.App, at time.Time) {
	t.Helper()
	err := app.RunInTransaction(func(tx core.App) error {
		return audit.Journal(tx, at, audit.Actor{Kind: audit.KindSystem}, "companies", "cmp000000000001", audit.ActionCreate, nil)
	})
	if err != nil {
		t.Fatal(err)
	}
}
