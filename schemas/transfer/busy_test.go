package transfer_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/transfer"
)

// TestBusyPerUser: a user who already runs MaxBusyPerUser imports, exports or jobs gets 429
// for the next one of each kind, over real HTTP; another user is not held up, and once her
// work ends she may start again. A bounded slot is given back by a job that ends.
func TestBusyPerUser(t *testing.T) {
	e := newEnv(t)
	e.seedContacts(t)
	csv := "Full name,Email\nBusy Person,busy@example.com\n"
	requests := []struct {
		name string
		do   func(token string) (int, []byte)
	}{
		{"export", func(tok string) (int, []byte) { return e.get(t, "/api/relata/export/contacts", tok) }},
		{"import", func(tok string) (int, []byte) {
			return e.postImport(t, "/api/relata/import/contacts", tok, "busy.csv", csv, map[string]string{"dryRun": "true"})
		}},
		{"import job", func(tok string) (int, []byte) {
			return e.postImport(t, "/api/relata/import/contacts/start", tok, "busy.csv", csv, nil)
		}},
		{"bulk job", func(tok string) (int, []byte) {
			var out map[string]any
			code := schemastest.Call(t, e.srv, http.MethodPost, "/api/relata/bulk/contacts", tok,
				map[string]any{"action": "update", "all": true, "field": "job_title", "value": "Busy"}, &out)
			return code, []byte(jsonText(out))
		}},
	}
	free, err := e.svc.Occupy(e.alice, transfer.MaxBusyPerUser)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range requests {
		if code, body := r.do(e.aliceTok); code != http.StatusTooManyRequests || !strings.Contains(string(body), "imports, exports or bulk jobs running") {
			t.Errorf("alice's %s with every slot taken = %d %s; want 429", r.name, code, body)
		}
		if code, body := r.do(e.bobTok); code >= 300 {
			t.Errorf("bob's %s = %d %s; want it served", r.name, code, body)
		}
	}
	free()
	for _, r := range requests {
		if code, body := r.do(e.aliceTok); code >= 300 {
			t.Errorf("alice's %s once her work ended = %d %s", r.name, code, body)
		}
	}
	// Every slot the requests above took is back: the jobs ended, the requests answered.
	waitFor(t, func() bool {
		free, err := e.svc.Occupy(e.alice, transfer.MaxBusyPerUser)
		if err == nil {
			free()
		}
		return err == nil
	})
}

func jsonText(v any) string {
	b, _ := json.Marshal(v)
	return string(b)
}

// waitFor polls ok for up to 10 s.
func waitFor(t *testing.T, ok func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("timed out")
		}
	}
}
