package webhooks_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/webhooks"
)

// insertDeliveries stores n rows of relata_webhook_deliveries for webhook, as a delivery
// created at created would have left them: with the delivery id prefix-i, or, when prefix is
// "", without one (the signature only, signed at created).
func insertDeliveries(t *testing.T, app core.App, webhook, prefix string, n int, created time.Time) {
	t.Helper()
	at := created.UTC().Format(types.DefaultDateLayout)
	err := app.RunInTransaction(func(tx core.App) error {
		for start := 0; start < n; start += 200 {
			var rows []string
			params := dbx.Params{"webhook": webhook, "at": at}
			for i := start; i < min(start+200, n); i++ {
				id, delivery, signature := fmt.Sprintf("%s%d", prefix, i), fmt.Sprintf("{:p%d}", i), "''"
				if prefix == "" {
					id, delivery, signature = fmt.Sprintf("sig%d", i), "''", fmt.Sprintf("{:p%d}", i)
				}
				params[fmt.Sprintf("p%d", i)] = id
				rows = append(rows, fmt.Sprintf("({:p%d}, {:webhook}, %s, %s, {:at}, 'rec', 'created', {:at})", i, delivery, signature))
			}
			if _, err := tx.DB().NewQuery("INSERT INTO " + webhooks.DeliveriesCollection +
				" (id, webhook, delivery, signature, signed_at, record, action, created) VALUES " + strings.Join(rows, ", ")).
				Bind(params).Execute(); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPruneDeliveries: every delivery with an id left a row, kept forever so that a retry
// would change nothing twice — a sender holding the secret grew the table without bound
// (some 2.6 million rows a day at the /api/ rate limit). Rows older than the retention
// (DefaultRetention) go now: a delivery deletes a few within its own write, the hourly job the
// rest in batches of PruneBatch, and rows younger than the retention stay. A retry later than
// the retention is applied again.
func TestPruneDeliveries(t *testing.T) {
	t.Parallel()
	c := &clock{at: time.Now()}
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	svc, err := webhooks.Register(app, webhooks.Config{Registry: reg, Now: c.Now})
	if err != nil {
		t.Fatal(err)
	}
	srv := schemastest.Serve(t, app)
	alice, _ := schemastest.NewUser(t, app, "alice@example.com", "sales", "north")
	w := schemastest.MustCreate(t, app, webhooks.Collection, map[string]any{
		"name": "Signups", "slug": "signups", "object": "contacts", "mode": "create",
		"mapping": map[string]string{"full_name": "/name"}, "run_as": alice.Id, "enabled": true, "secret": "whsec_test",
	})
	const old = 10*webhooks.PruneBatch + 1
	insertDeliveries(t, app, w.Id, "old-", old, c.Now().Add(-webhooks.DefaultRetention-time.Hour))
	insertDeliveries(t, app, w.Id, "young-", 50, c.Now().Add(-webhooks.DefaultRetention+time.Hour))
	insertDeliveries(t, app, w.Id, "", 250, c.Now().Add(-webhooks.Window-2*webhooks.MaxSkew)) // replay rows out of the day
	count := func(filter string) int {
		t.Helper()
		n, err := app.CountRecords(webhooks.DeliveriesCollection, dbx.NewExp(filter))
		if err != nil {
			t.Fatal(err)
		}
		return int(n)
	}
	counts := func() (oldRows, young, unsigned int) {
		return count("delivery LIKE 'old-%'"), count("delivery LIKE 'young-%'"), count("delivery = ''")
	}
	body := func(name string) []byte { return []byte(`{"name": "` + name + `"}`) } // a new signature each

	if a := post(t, srv, signed("signups", "whsec_test", c.Now(), "young-3", body("Ada"))); a.Status != 200 || !a.Duplicate {
		t.Fatalf("a retry within the retention: %d duplicate=%v (%s); want a duplicate", a.Status, a.Duplicate, a.Message)
	}

	// One step deletes one batch: a short write.
	if n, err := svc.PruneOnce(app); err != nil || n != webhooks.PruneBatch {
		t.Fatalf("PruneOnce = %d, %v; want %d", n, err, webhooks.PruneBatch)
	}
	if o, y, u := counts(); o != old-webhooks.PruneBatch || y != 50 || u != 250 {
		t.Fatalf("after one batch: %d old, %d young, %d unsigned rows; want %d, 50, 250", o, y, u, old-webhooks.PruneBatch)
	}

	// A delivery prunes some within its own transaction, not all: its write stays short.
	if a := post(t, srv, signed("signups", "whsec_test", c.Now(), "new-1", body("Bob"))); a.Status != 200 || a.Duplicate || a.Action != "created" {
		t.Fatalf("a new delivery: %d %q duplicate=%v (%s)", a.Status, a.Action, a.Duplicate, a.Message)
	}
	o, y, u := counts()
	if o == 0 || o >= old-webhooks.PruneBatch || y != 50 {
		t.Errorf("after a delivery: %d old rows, %d young; want fewer than %d but not none, and 50 young", o, y, old-webhooks.PruneBatch)
	}
	if u == 0 || u >= 250 {
		t.Errorf("after a delivery: %d rows without a delivery id out of the window; want fewer than 250 but not none", u)
	}

	// The scheduled job deletes the rest, batch after batch, and keeps the young rows.
	var job func()
	for _, j := range app.Cron().Jobs() {
		if j.Id() == webhooks.PruneJob {
			if j.Expression() != webhooks.DefaultPruneSchedule {
				t.Errorf("the prune job runs at %q; want %q", j.Expression(), webhooks.DefaultPruneSchedule)
			}
			job = j.Run
		}
	}
	if job == nil {
		t.Fatalf("no cron job %q", webhooks.PruneJob)
	}
	job()
	if o, y, u := counts(); o != 0 || y != 50 || u != 0 {
		t.Errorf("after the job: %d old, %d young, %d unsigned rows out of the window; want 0, 50, 0", o, y, u)
	}
	if n := count("delivery = 'new-1'"); n != 1 {
		t.Errorf("%d rows of the new delivery; want 1", n)
	}

	// A retry later than the retention is a new delivery; one within it still a duplicate.
	if a := post(t, srv, signed("signups", "whsec_test", c.Now(), "old-7", body("Cy"))); a.Status != 200 || a.Duplicate || a.Action != "created" {
		t.Errorf("a retry after the retention: %d %q duplicate=%v (%s); want applied again", a.Status, a.Action, a.Duplicate, a.Message)
	}
	if a := post(t, srv, signed("signups", "whsec_test", c.Now(), "young-4", body("Di"))); a.Status != 200 || !a.Duplicate {
		t.Errorf("a retry within the retention after pruning: %d duplicate=%v (%s); want a duplicate", a.Status, a.Duplicate, a.Message)
	}
}

// TestPruneRetentionConfig: Config.Retention sets how long rows are kept, and one shorter
// than Window is refused (a row counts against the daily cap for Window, and a replayed
// signature's row must outlive its timestamp's window).
func TestPruneRetentionConfig(t *testing.T) {
	t.Parallel()
	c := &clock{at: time.Now()}
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	for _, bad := range []webhooks.Config{
		{Registry: reg, Now: c.Now, Retention: webhooks.MaxSkew},
		{Registry: reg, Now: c.Now, Retention: time.Minute},
		{Registry: reg, Now: c.Now, Retention: webhooks.Window - time.Second},
		{Registry: reg, Now: c.Now, PruneSchedule: "every hour"},
	} {
		if _, err := webhooks.Register(app, bad); err == nil {
			t.Errorf("Register with retention %v, schedule %q: no error", bad.Retention, bad.PruneSchedule)
		}
	}
	svc, err := webhooks.Register(app, webhooks.Config{Registry: reg, Now: c.Now, Retention: 48 * time.Hour, PruneSchedule: "5 4 * * *"})
	if err != nil {
		t.Fatal(err)
	}
	insertDeliveries(t, app, "w1", "stale-", 3, c.Now().Add(-49*time.Hour))
	insertDeliveries(t, app, "w1", "kept-", 2, c.Now().Add(-47*time.Hour))
	if n, err := svc.Prune(app); err != nil || n != 3 {
		t.Errorf("Prune = %d, %v; want 3", n, err)
	}
	if n, _ := app.CountRecords(webhooks.DeliveriesCollection); n != 2 {
		t.Errorf("%d rows left; want the 2 younger than 48 h", n)
	}
}
