package outbox_test

import (
	"context"
	"database/sql"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/dbx"

	"github.com/relata/relata/workflows/outbox"
	"github.com/relata/relata/workflows/outbox/outboxtest"
)

// TestIdempotencyLookupUsesIndex captures the statements Enqueue and EnqueueMany run to find
// an email by idempotency key and asks SQLite how it executes them: through the partial
// unique index, not by scanning the whole outbox (which made every queued email cost time
// in proportion to all the emails ever queued).
func TestIdempotencyLookupUsesIndex(t *testing.T) {
	t.Parallel()
	e := newSender(t, outboxtest.Options{}, outbox.Config{})
	var mu sync.Mutex
	var selects []string
	capture := func(_ context.Context, _ time.Duration, q string, _ *sql.Rows, _ error) {
		if strings.Contains(q, "idempotency_key") && strings.HasPrefix(strings.TrimSpace(q), "SELECT") {
			mu.Lock()
			selects = append(selects, q)
			mu.Unlock()
		}
	}
	for _, b := range []dbx.Builder{e.app.ConcurrentDB(), e.app.NonconcurrentDB()} {
		b.(*dbx.DB).QueryLogFunc = capture
	}
	if _, err := outbox.Enqueue(e.app, outbox.Message{To: []string{"ada@example.com"}, Subject: "s", Text: "t", IdempotencyKey: "k1"}); err != nil {
		t.Fatal(err)
	}
	if _, err := outbox.EnqueueMany(e.app, []outbox.Message{{To: []string{"bob@example.com"}, Subject: "s", Text: "t", IdempotencyKey: "k2"}}); err != nil {
		t.Fatal(err)
	}
	for _, b := range []dbx.Builder{e.app.ConcurrentDB(), e.app.NonconcurrentDB()} {
		b.(*dbx.DB).QueryLogFunc = nil
	}
	if len(selects) != 2 {
		t.Fatalf("captured %d lookups, want 2 (one each): %q", len(selects), selects)
	}
	for _, q := range selects {
		// The logged statement has its parameters inlined: it can be explained as it is.
		var plan []struct {
			Detail string `db:"detail"`
		}
		if err := e.app.DB().NewQuery("EXPLAIN QUERY PLAN " + q).All(&plan); err != nil {
			t.Fatalf("explain %s: %v", q, err)
		}
		var details []string
		for _, p := range plan {
			details = append(details, p.Detail)
		}
		if got := strings.Join(details, "; "); !strings.Contains(got, "USING INDEX idx_emails_idempotency") {
			t.Errorf("%s\nruns as %q; want a search of idx_emails_idempotency", q, got)
		}
	}
}
