package main

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/emersion/go-smtp"
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/cron"
	"github.com/pocketbase/pocketbase/tools/types"
	"github.com/spf13/cobra"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/audit"
	"github.com/relata/relata/workflows/outbox"
)

// demoPassword is the password of the example users (examples/sales/seed/users.json).
const demoPassword = "relata-demo-1"

// doctorCheck is one check of `relata doctor`: nil, or an error saying what is wrong.
type doctorCheck struct {
	name string
	run  func(app core.App, now time.Time) (string, error)
}

// doctorOptions are the thresholds of the checks.
type doctorOptions struct {
	minFree      uint64        // bytes free in the data dir
	lease        time.Duration // grace after a run's lease before it counts as stuck
	smtpTimeout  time.Duration
	backupFactor float64        // newest backup may be this many schedule periods old
	rootCAs      *x509.CertPool // for implicit TLS; nil: the system's (RELATA_SMTP_CA_FILE in the CLI)
}

func registerDoctor(app *pocketbase.PocketBase) {
	opt := doctorOptions{lease: time.Minute, smtpTimeout: 10 * time.Second, backupFactor: 2}
	var minFreeMB uint64
	c := &cobra.Command{
		Use:          "doctor",
		SilenceUsage: true,
		Short:        "Check the deployment (SMTP, backups, workers, disk, migrations, demo passwords); exits 1 on a problem",
		Args:         cobra.NoArgs,
		RunE: func(c *cobra.Command, args []string) error {
			opt.minFree = minFreeMB << 20
			if f := os.Getenv("RELATA_SMTP_CA_FILE"); f != "" {
				pem, err := os.ReadFile(f)
				if err != nil {
					return fmt.Errorf("doctor: RELATA_SMTP_CA_FILE: %w", err)
				}
				opt.rootCAs = x509.NewCertPool()
				if !opt.rootCAs.AppendCertsFromPEM(pem) {
					return fmt.Errorf("doctor: RELATA_SMTP_CA_FILE %s holds no PEM certificate", f)
				}
			}
			failed := 0
			for _, chk := range doctorChecks(opt) {
				detail, err := chk.run(app, time.Now().UTC())
				if err != nil {
					failed++
					fmt.Fprintf(c.OutOrStdout(), "FAIL %-10s %v\n", chk.name, err)
				} else {
					fmt.Fprintf(c.OutOrStdout(), "ok   %-10s %s\n", chk.name, detail)
				}
			}
			if failed > 0 {
				return fmt.Errorf("doctor: %d problem(s)", failed)
			}
			return nil
		},
	}
	c.Flags().Uint64Var(&minFreeMB, "minFreeMB", 1024, "disk check: the least free space in the data directory, in MiB")
	c.Flags().DurationVar(&opt.smtpTimeout, "smtpTimeout", opt.smtpTimeout, "SMTP check: dial and EHLO timeout")
	app.RootCmd.AddCommand(c)
}

func doctorChecks(opt doctorOptions) []doctorCheck {
	return []doctorCheck{
		{"migrations", checkMigrations},
		{"smtp", func(app core.App, _ time.Time) (string, error) {
			return checkSMTP(app, os.Getenv, opt.smtpTimeout, opt.rootCAs)
		}},
		{"backups", func(app core.App, now time.Time) (string, error) { return checkBackups(app, now, opt.backupFactor) }},
		{"workers", func(app core.App, now time.Time) (string, error) { return checkWorkers(app, now, opt.lease) }},
		{"disk", func(app core.App, _ time.Time) (string, error) { return checkDisk(app.DataDir(), opt.minFree) }},
		{"demo", checkDemoPasswords},
		{"indexes", checkSortIndexes},
		{"audit", checkAuditJournal},
	}
}

// checkAuditJournal reports changes whose audit entries have waited in the journal for over
// a minute: a running server chains them within audit.ChainDelay, and any start or reader
// (`relata audit verify`) chains them.
func checkAuditJournal(app core.App, now time.Time) (string, error) {
	n, oldest, err := audit.Pending(app)
	if err != nil {
		return "", err
	}
	if n > 0 && now.Sub(oldest) > time.Minute {
		return "", fmt.Errorf("%d change(s) in the audit journal not chained into the trail for over a minute (oldest %s): is the server's chainer stuck? `relata audit verify` chains them", n, oldest.Format(time.RFC3339))
	}
	return fmt.Sprintf("%d change(s) waiting to be chained", n), nil
}

// checkSortIndexes reports saved views that sort a large object by a column no index starts
// with (advice, not a failure: the lists work, only slower as the object grows).
func checkSortIndexes(app core.App, _ time.Time) (string, error) {
	sorts, err := schemas.SavedViewSorts(app)
	if err != nil {
		return "", fmt.Errorf("read the saved views: %w", err)
	}
	var advice []string
	for object, list := range sorts {
		coll, err := app.FindCachedCollectionByNameOrId(object)
		if err != nil {
			continue
		}
		seen := map[string]bool{}
		for _, sort := range list {
			found, err := schemas.AdviseSortIndexes(app, coll, sort, schemas.IndexAdviceMinRows)
			if err != nil {
				return "", err
			}
			for _, a := range found {
				if !seen[a.Field] {
					seen[a.Field] = true
					advice = append(advice, fmt.Sprintf("%s by %s (%d records): %s", a.Object, a.Field, a.Rows, a.Suggestion))
				}
			}
		}
	}
	if len(advice) == 0 {
		return "every saved view sorts by an indexed column (or its object is small)", nil
	}
	slices.Sort(advice)
	return "saved views sort large objects by unindexed columns; lists get slower as they grow:\n    " + strings.Join(advice, "\n    "), nil
}

func checkMigrations(app core.App, _ time.Time) (string, error) {
	var applied []string
	if err := app.DB().Select("file").From("_migrations").Column(&applied); err != nil {
		return "", fmt.Errorf("read _migrations: %w", err)
	}
	done := map[string]bool{}
	for _, f := range applied {
		done[f] = true
	}
	var missing []string
	all := append(core.SystemMigrations.Items(), core.AppMigrations.Items()...)
	for _, m := range all {
		if !done[m.File] {
			missing = append(missing, m.File)
		}
	}
	if len(missing) > 0 {
		return "", fmt.Errorf("%d migration(s) not applied (%s): start `relata serve` once or run `relata migrate up`", len(missing), strings.Join(missing, ", "))
	}
	return fmt.Sprintf("%d applied", len(all)), nil
}

// checkSMTP dials the configured SMTP server (RELATA_SMTP_* over the dashboard's mail
// settings, as the outbox does) and says EHLO.
func checkSMTP(app core.App, getenv func(string) string, timeout time.Duration, rootCAs *x509.CertPool) (string, error) {
	s := app.Settings().SMTP
	host, port := s.Host, s.Port
	if !s.Enabled {
		host, port = "", 0
	}
	if h := strings.TrimSpace(getenv("RELATA_SMTP_HOST")); h != "" {
		host, port = h, 0
	}
	if p := getenv("RELATA_SMTP_PORT"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil {
			return "", fmt.Errorf("RELATA_SMTP_PORT %q is not a port number", p)
		}
		port = n
	}
	if host == "" {
		return "", errors.New("no SMTP server configured (RELATA_SMTP_HOST or the dashboard's mail settings): emails stay queued")
	}
	// TLS mode and default port as the outbox chooses them (workflows/outbox.Config).
	mode := strings.TrimSpace(getenv("RELATA_SMTP_TLS"))
	if mode == "" && s.Enabled && s.TLS {
		mode = outbox.TLSImplicit
	}
	if port == 0 {
		switch mode {
		case outbox.TLSImplicit:
			port = 465
		case outbox.TLSNone:
			port = 25
		default:
			port = 587
		}
	}
	addr := net.JoinHostPort(host, strconv.Itoa(port))
	conn, err := net.DialTimeout("tcp", addr, timeout)
	if err != nil {
		return "", fmt.Errorf("SMTP server %s unreachable: %v", addr, err)
	}
	_ = conn.SetDeadline(time.Now().Add(timeout))
	if mode == outbox.TLSImplicit {
		conn = tls.Client(conn, &tls.Config{ServerName: host, RootCAs: rootCAs})
	}
	c := smtp.NewClient(conn)
	defer c.Close()
	if err := c.Hello("relata-doctor"); err != nil {
		return "", fmt.Errorf("SMTP server %s does not answer EHLO: %v", addr, err)
	}
	_ = c.Quit()
	return addr + " answers EHLO", nil
}

// checkBackups: a schedule is set and the newest backup is at most factor periods old.
func checkBackups(app core.App, now time.Time, factor float64) (string, error) {
	expr := app.Settings().Backups.Cron
	if expr == "" {
		return "", errors.New("no backup schedule: set one in the dashboard (Settings > Backups) or start with --backupCron")
	}
	sched, err := cron.NewSchedule(expr)
	if err != nil {
		return "", fmt.Errorf("backup schedule %q: %v", expr, err)
	}
	period := schedulePeriod(sched, now)
	list, err := listBackups(app)
	if err != nil {
		return "", fmt.Errorf("list backups: %v", err)
	}
	if len(list) == 0 {
		return "", fmt.Errorf("no backup yet (schedule %q): run `relata backup create`", expr)
	}
	age := now.Sub(list[0].ModTime)
	if max := time.Duration(factor * float64(period)); period > 0 && age > max {
		return "", fmt.Errorf("newest backup %s is %s old, over %s for schedule %q", list[0].Key, age.Round(time.Minute), max, expr)
	}
	return fmt.Sprintf("newest %s, %s old (schedule %q)", list[0].Key, age.Round(time.Second), expr), nil
}

// schedulePeriod is the time between the two latest due minutes of s before now (0 when
// none in 62 days).
func schedulePeriod(s *cron.Schedule, now time.Time) time.Duration {
	var last time.Time
	t := now.Truncate(time.Minute)
	for i := 0; i < 62*24*60; i++ {
		if s.IsDue(cron.NewMoment(t)) {
			if !last.IsZero() {
				return last.Sub(t)
			}
			last = t
		}
		t = t.Add(-time.Minute)
	}
	return 0
}

// checkWorkers: no run is "running" past its lease, and no due run waited over 5 minutes.
func checkWorkers(app core.App, now time.Time, grace time.Duration) (string, error) {
	var stuck, overdue struct {
		N int    `db:"n"`
		T string `db:"t"`
	}
	err := app.DB().NewQuery(`SELECT COUNT(*) AS n, COALESCE(MIN(lease_until), '') AS t FROM workflow_runs
		WHERE status = 'running' AND lease_until != '' AND lease_until < {:t}`).
		Bind(dbx.Params{"t": now.Add(-grace).Format(types.DefaultDateLayout)}).One(&stuck)
	if err != nil {
		return "", fmt.Errorf("read workflow_runs: %w", err)
	}
	if stuck.N > 0 {
		return "", fmt.Errorf("%d run(s) still running past their lease (since %s): the workers died or hang", stuck.N, stuck.T)
	}
	err = app.DB().NewQuery(`SELECT COUNT(*) AS n, COALESCE(MIN(next_at), '') AS t FROM workflow_runs
		WHERE status IN ('pending', 'retry') AND next_at < {:t}`).
		Bind(dbx.Params{"t": now.Add(-5 * time.Minute).Format(types.DefaultDateLayout)}).One(&overdue)
	if err != nil {
		return "", fmt.Errorf("read workflow_runs: %w", err)
	}
	if overdue.N > 0 {
		return "", fmt.Errorf("%d run(s) due for over 5 minutes (oldest due %s): is `relata serve` running?", overdue.N, overdue.T)
	}
	// A change that queued several runs waits as one workflow_events row until the engine
	// writes its runs, within a second of the commit while it runs.
	var waiting struct {
		N int    `db:"n"`
		T string `db:"t"`
	}
	err = app.DB().NewQuery(`SELECT COUNT(*) AS n, COALESCE(MIN(created), '') AS t FROM workflow_events WHERE created < {:t}`).
		Bind(dbx.Params{"t": now.Add(-5 * time.Minute).Format(types.DefaultDateLayout)}).One(&waiting)
	if err != nil {
		return "", fmt.Errorf("read workflow_events: %w", err)
	}
	if waiting.N > 0 {
		return "", fmt.Errorf("%d change(s) waiting over 5 minutes for their runs to be written (oldest %s): is `relata serve` running?", waiting.N, waiting.T)
	}
	return "no run stuck or overdue", nil
}

func checkDisk(dir string, minFree uint64) (string, error) {
	var st syscall.Statfs_t
	if err := syscall.Statfs(dir, &st); err != nil {
		return "", fmt.Errorf("statfs %s: %v", dir, err)
	}
	free := st.Bavail * uint64(st.Bsize)
	if free < minFree {
		return "", fmt.Errorf("%s has %d MiB free, under %d MiB", dir, free>>20, minFree>>20)
	}
	return fmt.Sprintf("%d MiB free in %s", free>>20, dir), nil
}

// checkDemoPasswords: no user of the example domain still has the example password.
func checkDemoPasswords(app core.App, _ time.Time) (string, error) {
	var found []string
	for _, coll := range []string{"users", core.CollectionNameSuperusers} {
		recs, err := app.FindRecordsByFilter(coll, "email ~ '%@example.com'", "", 50, 0)
		if err != nil {
			continue // no such collection
		}
		for _, r := range recs {
			if r.ValidatePassword(demoPassword) {
				found = append(found, r.Email())
			}
		}
	}
	// Accounts created in demo mode keep the published password under another email too.
	seeded, err := demoAccounts(app)
	if err != nil {
		return "", err
	}
	for _, e := range seeded {
		if !slices.Contains(found, e) {
			found = append(found, e)
		}
	}
	if len(found) > 0 {
		return "", fmt.Errorf("demo password %q still works for %s: change or delete these accounts", demoPassword, strings.Join(found, ", "))
	}
	return "no demo password in use", nil
}
