package segments_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/segments"
)

type apiError struct {
	Message string         `json:"message"`
	Data    map[string]any `json:"data"`
}

// Filters a signed-in user can send to the live count that cannot be run — a chain of 1,001
// conditions, a LIKE pattern longer than SQLite takes — are a 400 that names the filter and
// why, not "Something went wrong".
func TestLiveCountRefusesFiltersTheDatabaseCannotRun(t *testing.T) {
	w := newWorld(t)
	srv := schemastest.Serve(t, w.app)
	mustContact(t, w, "ada", w.alice, w.lombard, 0)
	or := make([]string, 1001)
	for i := range or {
		or[i] = fmt.Sprintf(`full_name = "n%d"`, i)
	}
	for _, tc := range []struct{ name, filter string }{
		{"1,001 conditions", strings.Join(or, " || ")},
		{"a pattern of 60,000 characters", `full_name ~ "` + strings.Repeat("x", 60000) + `"`},
	} {
		for _, tok := range []string{w.aliceTok, w.bossTok} {
			var bad apiError
			code := schemastest.Call(t, srv, http.MethodPost, "/api/relata/segments/count", tok, map[string]any{"filter": tc.filter}, &bad)
			if code != http.StatusBadRequest || !strings.Contains(bad.Message, "filter") {
				t.Errorf("%s: live count = %d %q, want 400 naming the filter", tc.name, code, clipped(bad.Message))
			}
		}
	}
}

func clipped(s string) string {
	if len(s) > 200 {
		return s[:200] + "…"
	}
	return s
}

// A filter through a back-relation over a company with many contacts compares each contact
// with every contact of its company, once per term: 30 terms over 2,000 contacts are 120
// million comparisons. (Two back-relations in one path, billions of rows, are refused by the
// filter guard: schemas.MaxBackRelations.) The live count, a segment's count and the check of
// a filter when it is saved stop at Config.Timeout with a 400 that says so, instead of holding
// a core for minutes (a sales user could send it again and again).
func TestCountsAreBoundedInTime(t *testing.T) {
	w := newWorldWith(t, segments.Config{Interval: -1, Timeout: 300 * time.Millisecond})
	srv := schemastest.Serve(t, w.app)
	rows := make([][]any, 0, 2000)
	now := types.NowDateTime().String()
	for i := range 2000 {
		owner := w.alice
		if i%2 == 1 {
			owner = w.bob
		}
		rows = append(rows, []any{core.GenerateDefaultRandomId(), fmt.Sprintf("c%04d", i), fmt.Sprintf("c%04d@example.com", i), owner.Id, w.lombard.Id, now, now})
	}
	if err := schemas.InsertMany(w.app, "contacts", []string{"id", "full_name", "email", "owner", "company", "created", "updated"}, rows); err != nil {
		t.Fatal(err)
	}
	terms := make([]string, 30)
	for i := range terms {
		terms[i] = fmt.Sprintf(`company.contacts_via_company.full_name ?~ "nobody%d"`, i)
	}
	slow := strings.Join(terms, " || ")
	seg := schemastest.MustCreate(t, w.app, segments.Collection, map[string]any{
		"name": "Italy", "kind": segments.Dynamic, "filter": `company.country = "Italy"`, "owner": w.boss.Id})
	// stored as if saved before the limit (or by the command line)
	if _, err := w.app.DB().Update(segments.Collection, dbx.Params{"filter": slow}, dbx.HashExp{"id": seg.Id}).Execute(); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, method, path, tok string
		body                    any
		field                   string
	}{
		{"live count, sales", http.MethodPost, "/api/relata/segments/count", w.aliceTok, map[string]any{"filter": slow}, ""},
		{"live count, manager", http.MethodPost, "/api/relata/segments/count", w.bossTok, map[string]any{"filter": slow}, ""},
		{"segment count, sales", http.MethodGet, "/api/relata/segments/" + seg.Id + "/count", w.aliceTok, nil, ""},
		{"save", http.MethodPost, "/api/collections/segments/records", w.bossTok,
			map[string]any{"name": "slow", "kind": "dynamic", "owner": w.boss.Id, "filter": slow}, "filter"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			start := time.Now()
			var bad apiError
			code := schemastest.Call(t, srv, tc.method, tc.path, tc.tok, tc.body, &bad)
			took := time.Since(start)
			if code != http.StatusBadRequest || !strings.Contains(bad.Message+fmt.Sprint(bad.Data), "longer than 300ms") {
				t.Errorf("= %d %q %v after %v; want 400: stopped at the limit", code, bad.Message, bad.Data, took)
			}
			if tc.field != "" && bad.Data[tc.field] == nil {
				t.Errorf("the refusal does not name %s: %v", tc.field, bad.Data)
			}
		})
	}
}
