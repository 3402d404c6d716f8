package scoring_test

import (
	"fmt"
	"net/http"
	"reflect"
	"sync"
	"testing"
	"time"

	"github.com/relata/relata/insights/scoring"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
)

// TestBacktestOfFewerMonths: the backtest of the last n months is the end of a longer one
// (each month's forecast is made as of its own first day), which is how the API answers any
// number of months from one computation.
func TestBacktestOfFewerMonths(t *testing.T) {
	t.Parallel()
	d := history(1200, 9)
	now := time.Date(2026, 11, 15, 0, 0, 0, 0, time.UTC)
	all, err := scoring.RunBacktest(d, scoring.MaxBacktestMonths, now, scoring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, n := range []int{1, 5, 12, 24} {
		want, err := scoring.RunBacktest(d, n, now, scoring.Options{})
		if err != nil {
			t.Fatal(err)
		}
		if got := all.Last(n); !reflect.DeepEqual(got, want) {
			t.Errorf("last %d months %+v; want %+v", n, got, want)
		}
	}
}

// TestBacktestIsBounded: a backtest trains a model per month, and used to read every record
// of the object (its stage history and activities too) for whoever asked, a sales rep with no
// deal included, once per value of ?months= (24 answers, none reused) and once per request
// running side by side: six of them held both CPUs of a demo server for 7 s. Now a set of
// records is backtested once whatever the months and however many ask at once; a user
// computes one backtest at a time (429 beyond) and the server a bounded number.
func TestBacktestIsBounded(t *testing.T) {
	t.Parallel()
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	if err := reg.Sync(); err != nil {
		t.Fatal(err)
	}
	svc := scoring.MustRegister(app, nil, scoring.Config{Registry: reg, Schedule: "-"})
	srv := schemastest.Serve(t, app)
	alice, aliceTok := schemastest.NewUser(t, app, "alice@example.com", schemas.RoleSales, "north")
	_, mgrTok := schemastest.NewUser(t, app, "manager@example.com", schemas.RoleManager, "")
	now := time.Now().UTC()
	for i := range 60 {
		stage := "lost"
		if i%3 == 0 {
			stage = "won"
		}
		schemastest.MustCreate(t, app, "deals", map[string]any{"name": fmt.Sprint("deal ", i), "owner": alice.Id,
			"stage": stage, "amount": 1000 + i, "closed_at": now.AddDate(0, 0, -3*i), "expected_close": now.AddDate(0, 0, -3*i)})
	}
	get := func(token string, months int) (int, scoring.Backtest) {
		var bt scoring.Backtest
		code := schemastest.Call(t, srv, http.MethodGet, fmt.Sprintf("/api/relata/forecast/deals/backtest?months=%d", months), token, nil, &bt)
		return code, bt
	}

	// Every number of months, one after the other: one computation.
	for m := 1; m <= scoring.MaxBacktestMonths; m++ {
		if code, bt := get(aliceTok, m); code != 200 || len(bt.Months) != m {
			t.Fatalf("months=%d: %d with %d months", m, code, len(bt.Months))
		}
	}
	if n := svc.Backtested(); n != 1 {
		t.Fatalf("%d backtests computed for 24 requests over the same deals; want 1", n)
	}

	// Side by side, over other records (the manager's): one computation, every answer 200.
	schemastest.MustCreate(t, app, "deals", map[string]any{"name": "nobody's", "stage": "lead"})
	release := svc.HoldBacktestSlots()
	var wg sync.WaitGroup
	codes := make([]int, 8)
	for i := range codes {
		wg.Go(func() { codes[i], _ = get(mgrTok, 1+i) })
	}
	waitFor(t, "the first request's computation", func() bool { return svc.Computing() == 1 })
	release() // the others may still be on their way: they wait for it, or find it cached
	wg.Wait()
	for i, code := range codes {
		if code != 200 {
			t.Errorf("manager's request %d: %d", i, code)
		}
	}
	if n := svc.Backtested(); n != 2 {
		t.Fatalf("%d backtests computed; want 2 (alice's, then one for the manager's 8 requests)", n)
	}

	// A user whose backtest waits for a slot gets 429 for another set of records (her deals
	// changed meanwhile), and her first backtest is answered once a slot frees.
	release = svc.HoldBacktestSlots()
	first := make(chan int)
	schemastest.MustCreate(t, app, "deals", map[string]any{"name": "one more", "owner": alice.Id, "stage": "lead"})
	go func() { code, _ := get(aliceTok, 12); first <- code }()
	waitFor(t, "alice's first backtest waiting for a slot", func() bool { return svc.Computing() == 1 })
	schemastest.MustCreate(t, app, "deals", map[string]any{"name": "and another", "owner": alice.Id, "stage": "lead"})
	second := make(chan int, 1)
	go func() { code, _ := get(aliceTok, 12); second <- code }()
	select {
	case code := <-second:
		if code != http.StatusTooManyRequests {
			t.Errorf("a second backtest of alice's while her first is computed: %d; want 429", code)
		}
	case <-time.After(30 * time.Second):
		t.Errorf("a second backtest of alice's while her first is computed waits; want 429 at once")
	}
	release()
	if code := <-first; code != 200 {
		t.Errorf("alice's first backtest: %d; want 200", code)
	}
	if code, _ := get(aliceTok, 12); code != 200 {
		t.Errorf("alice's backtest once the first ended: %d; want 200", code)
	}
}

// waitFor polls cond until it holds, failing the test after 30 s.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); !cond(); time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
	}
}
