package forms_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/relata/relata/schemas/forms"
)

// TestConcurrentSubmissions sends 1,000 submissions at once over loopback HTTP (the form has
// no rate limit) and checks that every one landed exactly once: one contact, one consent and
// one submission record each, and nothing else.
func TestConcurrentSubmissions(t *testing.T) {
	if testing.Short() {
		t.Skip("load test")
	}
	const n = 1000
	e := newEnv(t)
	client := &http.Client{
		Transport: &http.Transport{MaxIdleConnsPerHost: n, MaxConnsPerHost: 0},
		Timeout:   60 * time.Second,
	}
	start := time.Now()
	var wg sync.WaitGroup
	codes := make([]int, n)
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() {
			body, _ := json.Marshal(map[string]any{
				"full_name": fmt.Sprintf("Visitor %04d", i), "email": fmt.Sprintf("visitor%04d@example.com", i),
				"message": "Load test", "_consent": i%2 == 0,
			})
			res, err := client.Post(e.srv.URL+"/api/relata/forms/open", "application/json", bytes.NewReader(body))
			if err != nil {
				errs[i] = err
				return
			}
			_, _ = io.Copy(io.Discard, res.Body)
			res.Body.Close()
			codes[i] = res.StatusCode
		})
	}
	wg.Wait()
	elapsed := time.Since(start)
	ok := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("submission %d: %v", i, errs[i])
		} else if codes[i] == http.StatusOK {
			ok++
		} else {
			t.Errorf("submission %d = %d", i, codes[i])
		}
	}
	contacts := e.count(t, "contacts", "source = 'website'")
	subs := e.count(t, forms.SubmissionsCollection, "form = 'open' && action = 'created'")
	consents := e.count(t, forms.ConsentsCollection, "form = 'open'")
	t.Logf("%d concurrent submissions in %v (%.0f/s): %d accepted, %d contacts, %d form_submissions, %d consents",
		n, elapsed.Round(time.Millisecond), float64(n)/elapsed.Seconds(), ok, contacts, subs, consents)
	if ok != n || contacts != n || subs != n || consents != n/2 {
		t.Fatalf("accepted %d, contacts %d, submissions %d, consents %d; want %d, %d, %d, %d", ok, contacts, subs, consents, n, n, n, n/2)
	}
	// Exactly once: every visitor has one contact, and every contact one submission.
	var dupes []struct {
		Email string `db:"email"`
	}
	if err := e.app.DB().NewQuery("SELECT email FROM contacts GROUP BY email HAVING COUNT(*) > 1").All(&dupes); err != nil {
		t.Fatal(err)
	}
	var orphans int
	if err := e.app.DB().NewQuery("SELECT COUNT(*) FROM contacts c WHERE (SELECT COUNT(*) FROM form_submissions s WHERE s.record_id = c.id) != 1").Row(&orphans); err != nil {
		t.Fatal(err)
	}
	if len(dupes) > 0 || orphans > 0 {
		t.Errorf("duplicate emails %v; contacts without exactly one submission: %d", dupes, orphans)
	}
}
