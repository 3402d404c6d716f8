package dedupe_test

import (
	"fmt"
	"net/http"
	"sync"
	"testing"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/dedupe"
	"github.com/relata/relata/schemas/schemastest"
)

// TestDuplicateScansPerUser: with 10,001 contacts that all share a company, a phone and most
// of their name (a scan takes seconds and hundreds of MB), a rep who sends the duplicate scan
// three times side by side runs MaxScansPerUser (2) of them; the other answers 429. Another rep is not held
// up, and once her scan ends she may scan again.
func TestDuplicateScansPerUser(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dedupe.Config{})
	acme := e.create(t, "companies", map[string]any{"name": "Acme"})
	err := e.app.RunInTransaction(func(tx core.App) error {
		for i := range 10001 {
			_, err := tx.DB().Insert("contacts", dbx.Params{"id": fmt.Sprintf("c%014d", i), "company": acme.Id,
				"full_name": fmt.Sprintf("Mario Rossi Bianchi Verdi %d", i), "phone": "+39 02 1234567", "owner": e.alice.Id,
				"created": "2026-01-01 00:00:00.000Z", "updated": "2026-01-01 00:00:00.000Z"}).Execute()
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	scan := func(tok string) int {
		return schemastest.Call(t, e.srv, http.MethodGet, "/api/relata/duplicates/contacts", tok, nil, nil)
	}
	codes := map[int]int{}
	var mu sync.Mutex
	var wg sync.WaitGroup
	start := make(chan struct{})
	for _, tok := range []string{e.aliceTok, e.aliceTok, e.aliceTok, e.carolTok} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			code := scan(tok)
			if tok == e.carolTok {
				if code != 200 {
					t.Errorf("carol's scan beside alice's = %d; want 200", code)
				}
				return
			}
			mu.Lock()
			codes[code]++
			mu.Unlock()
		}()
	}
	close(start)
	wg.Wait()
	if codes[200] < 1 || codes[200] > dedupe.MaxScansPerUser || codes[http.StatusTooManyRequests] < 1 || codes[200]+codes[http.StatusTooManyRequests] != 3 {
		t.Errorf("alice's three scans side by side answered %v; want at most MaxScansPerUser 200s and the others 429", codes)
	}
	if code := scan(e.aliceTok); code != 200 {
		t.Errorf("alice's scan once hers ended = %d; want 200", code)
	}
}
