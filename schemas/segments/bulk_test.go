package segments_test

import (
	"context"
	"database/sql"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/segments"
)

// bulkContacts inserts n contacts of owner named b0000… with addresses b0000@example.com….
func bulkContacts(t *testing.T, app core.App, n int, owner *core.Record) []string {
	t.Helper()
	now := types.NowDateTime().String()
	ids := make([]string, n)
	rows := make([][]any, n)
	for i := range n {
		ids[i] = core.GenerateDefaultRandomId()
		rows[i] = []any{ids[i], fmt.Sprintf("b%05d", i), fmt.Sprintf("b%05d@example.com", i), owner.Id, now, now}
	}
	if err := schemas.InsertMany(app, "contacts", []string{"id", "full_name", "email", "owner", "created", "updated"}, rows); err != nil {
		t.Fatal(err)
	}
	return ids
}

// count returns how many of the logged statements contain every one of words.
func countStatements(log string, words ...string) int {
	n := 0
	for _, s := range strings.Split(log, "\n") {
		all := s != ""
		for _, w := range words {
			all = all && strings.Contains(s, w)
		}
		if all {
			n++
		}
	}
	return n
}

// Storing the membership of a large dynamic segment held the database's writer: one
// transaction, one statement per member that entered or left (2,000 here; for 100,000 members
// every other save waited 4.5 s, every 15 minutes). Members are written and removed a few
// hundred per statement, EvaluateBatch per transaction.
func TestEvaluateWritesInBulk(t *testing.T) {
	w := newWorld(t)
	const n = 2000
	ids := bulkContacts(t, w.app, n, w.bob)
	seg := schemastest.MustCreate(t, w.app, segments.Collection, map[string]any{
		"name": "b", "kind": segments.Dynamic, "filter": `full_name ~ "b%"`, "owner": w.boss.Id})
	var entered, left, calls, biggest int
	svc := segments.New(w.app, segments.Config{Interval: -1, OnChange: func(_ core.App, id string, changes []segments.Change) error {
		calls++
		biggest = max(biggest, len(changes))
		for _, c := range changes {
			if c.Left {
				left++
			} else {
				entered++
			}
		}
		return nil
	}})
	stop := schemastest.LogStatements(t, w.app)
	if err := svc.Evaluate(); err != nil {
		t.Fatal(err)
	}
	log := stop()
	if k := countStatements(log, "INSERT", segments.MembersCollection); k > n/50 {
		t.Errorf("%d members stored with %d INSERT statements, want at most %d", n, k, n/50)
	}
	var stored int
	if err := w.app.DB().Select("count(*)").From(segments.MembersCollection).Where(dbx.HashExp{"segment": seg.Id, "source": segments.SourceEvaluated}).Row(&stored); err != nil {
		t.Fatal(err)
	}
	seg, _ = w.app.FindRecordById(segments.Collection, seg.Id)
	if stored != n || entered != n || seg.GetInt("member_count") != n {
		t.Fatalf("stored %d, entered %d, member_count %d; want %d", stored, entered, seg.GetInt("member_count"), n)
	}
	// each write transaction (one OnChange) stores at most EvaluateBatch changes
	if calls < n/segments.EvaluateBatch || biggest > segments.EvaluateBatch {
		t.Errorf("%d changes stored in %d transactions of up to %d; want at most %d each", n, calls, biggest, segments.EvaluateBatch)
	}
	var blank int
	if err := w.app.DB().Select("count(*)").From(segments.MembersCollection).Where(dbx.NewExp("coalesce(entered_at, '') = '' OR coalesce(created, '') = ''")).Row(&blank); err != nil || blank != 0 {
		t.Errorf("%d members without entered_at or created (%v)", blank, err)
	}

	// 1,500 leave
	leave := make([]any, 1500)
	for i := range leave {
		leave[i] = ids[i]
	}
	if _, err := w.app.DB().Update("contacts", dbx.Params{"full_name": "gone"}, dbx.In("id", leave...)).Execute(); err != nil {
		t.Fatal(err)
	}
	stop = schemastest.LogStatements(t, w.app)
	if err := svc.Evaluate(); err != nil {
		t.Fatal(err)
	}
	log = stop()
	if k := countStatements(log, "DELETE", segments.MembersCollection); k > 1500/50 {
		t.Errorf("1,500 members removed with %d DELETE statements, want at most %d", k, 1500/50)
	}
	if err := w.app.DB().Select("count(*)").From(segments.MembersCollection).Where(dbx.HashExp{"segment": seg.Id}).Row(&stored); err != nil {
		t.Fatal(err)
	}
	if stored != n-1500 || left != 1500 {
		t.Errorf("after 1,500 left: %d stored, %d left; want %d, 1500", stored, left, n-1500)
	}
}

// logQueries records the statements of app's concurrent (read) connections.
func logQueries(t *testing.T, app core.App) func() string {
	t.Helper()
	var (
		mu    sync.Mutex
		stmts []string
	)
	db := app.ConcurrentDB().(*dbx.DB)
	db.QueryLogFunc = func(_ context.Context, _ time.Duration, s string, _ *sql.Rows, _ error) {
		mu.Lock()
		stmts = append(stmts, s)
		mu.Unlock()
	}
	stop := func() string {
		db.QueryLogFunc = nil
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(stmts, "\n")
	}
	t.Cleanup(func() { stop() })
	return stop
}

// Adding 2,000 contacts (of the 10,000 one request may add) to a static list read the
// contacts once per address (a scan each: lower(email) has no index) and then, in one write
// transaction, read, checked and saved each member on its own — the writer held for the
// whole list. Addresses are looked up and members checked and written a few hundred at a time.
func TestAddToListInBulk(t *testing.T) {
	w := newWorld(t)
	srv := schemastest.Serve(t, w.app)
	const n = 2000
	ids := bulkContacts(t, w.app, 2*n, w.bob)
	seg := schemastest.MustCreate(t, w.app, segments.Collection, map[string]any{"name": "List", "kind": segments.Static, "owner": w.boss.Id})
	var res struct {
		Added   int      `json:"added"`
		Unknown []string `json:"unknown"`
	}
	stopW := schemastest.LogStatements(t, w.app)
	code := schemastest.Call(t, srv, http.MethodPost, "/api/relata/segments/"+seg.Id+"/members", w.bossTok, map[string]any{"ids": ids[:n]}, &res)
	writes := stopW()
	if code != 200 || res.Added != n {
		t.Fatalf("add %d ids = %d %+v", n, code, res)
	}
	if k := strings.Count(writes, "\n") + 1; k > n/20 {
		t.Errorf("adding %d ids sent %d statements on the writer, want at most %d", n, k, n/20)
	}

	emails := make([]string, 0, n+1)
	for i := n; i < 2*n; i++ {
		emails = append(emails, fmt.Sprintf("B%05d@Example.com", i))
	}
	emails = append(emails, "nobody@example.com")
	stopR := logQueries(t, w.app)
	stopW = schemastest.LogStatements(t, w.app)
	code = schemastest.Call(t, srv, http.MethodPost, "/api/relata/segments/"+seg.Id+"/members", w.bossTok, map[string]any{"emails": emails}, &res)
	writes, reads := stopW(), stopR()
	if code != 200 || res.Added != n || len(res.Unknown) != 1 || res.Unknown[0] != "nobody@example.com" {
		t.Fatalf("add %d addresses = %d %d added, unknown %v", len(emails), code, res.Added, res.Unknown)
	}
	if k := countStatements(reads+"\n"+writes, "contacts", "lower("); k > n/20 {
		t.Errorf("%d addresses looked up with %d queries of the contacts, want at most %d", len(emails), k, n/20)
	}
	if k := strings.Count(writes, "\n") + 1; k > n/20 {
		t.Errorf("adding %d addresses sent %d statements on the writer, want at most %d", n, k, n/20)
	}
	var stored int
	if err := w.app.DB().Select("count(*)").From(segments.MembersCollection).Where(dbx.HashExp{"segment": seg.Id}).Row(&stored); err != nil || stored != 2*n {
		t.Fatalf("%d members stored (%v), want %d", stored, err, 2*n)
	}
	// again, with one more: only that one is added
	if code := schemastest.Call(t, srv, http.MethodPost, "/api/relata/segments/"+seg.Id+"/members", w.bossTok,
		map[string]any{"ids": ids[:n+1], "emails": []string{"b00000@example.com"}}, &res); code != 200 || res.Added != 0 {
		t.Errorf("adding members again = %d, added %d", code, res.Added)
	}
	// an id that is no contact refuses the whole request, naming it
	var bad apiError
	if code := schemastest.Call(t, srv, http.MethodPost, "/api/relata/segments/"+seg.Id+"/members", w.bossTok,
		map[string]any{"ids": []string{ids[0], "nosuchcontact12"}}, &bad); code != 400 || !strings.Contains(bad.Message, "nosuchcontact12") {
		t.Errorf("adding an unknown id = %d %q", code, bad.Message)
	}
}
