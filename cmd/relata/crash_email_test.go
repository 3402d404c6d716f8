package main_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/relata/relata/workflows/outbox/outboxtest"
)

const welcomeWorkflow = `{
  "name": "welcome",
  "enabled": true,
  "object": "contacts",
  "trigger": {"type": "record_created"},
  "actions": [{"type": "send_email", "to": "email", "subject": "=\"Welcome \" + record.full_name", "text": "Hello"}]
}`

// TestWelcomeEmailAcrossCrash: new contacts queue welcome emails while no SMTP server is
// configured; the server is killed with SIGKILL before sending; after a restart with a real
// SMTP server every contact receives exactly one welcome email.
func TestWelcomeEmailAcrossCrash(t *testing.T) {
	t.Parallel()
	data, wfDir := t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(wfDir, "welcome.json"), []byte(welcomeWorkflow), 0o644); err != nil {
		t.Fatal(err)
	}
	if o, err := run(t, "superuser", "upsert", "root@example.com", "root-password-1", "--dir", data); err != nil {
		t.Fatalf("superuser: %v\n%s", err, o)
	}
	s := startServer(t, data, "--workflowsDir", wfDir)
	tok, _ := s.login(t, "_superusers", "root@example.com", "root-password-1")
	const n = 30
	for i := 0; i < n; i++ {
		if code := s.api(t, http.MethodPost, "/api/collections/contacts/records", tok,
			map[string]any{"full_name": fmt.Sprintf("Contact %d", i), "email": fmt.Sprintf("c%d@example.com", i)}, nil); code != 200 {
			t.Fatalf("create contact %d = %d", i, code)
		}
	}
	waitCount(t, s, tok, "emails", "status = 'queued'", n)
	_ = s.cmd.Process.Kill() // SIGKILL: queued, not sent
	_ = s.cmd.Wait()

	smtpd := outboxtest.NewServer(t, outboxtest.Options{NoTLS: true})
	env := []string{"RELATA_SMTP_HOST=" + smtpd.Host, "RELATA_SMTP_PORT=" + strconv.Itoa(smtpd.Port),
		"RELATA_SMTP_TLS=none", "RELATA_MAIL_FROM=crm@example.com"}
	s = startServerEnv(t, data, env, "--workflowsDir", wfDir)
	tok, _ = s.login(t, "_superusers", "root@example.com", "root-password-1")
	waitCount(t, s, tok, "emails", "status = 'sent'", n)

	msgs := smtpd.Wait(n, 10*time.Second)
	time.Sleep(500 * time.Millisecond) // a duplicate would arrive now
	msgs = smtpd.Messages()
	seen := map[string]int{}
	for _, m := range msgs {
		for _, to := range m.To {
			seen[to]++
		}
	}
	if len(msgs) != n || len(seen) != n {
		t.Fatalf("the SMTP server received %d messages for %d recipients; want %d, one each", len(msgs), len(seen), n)
	}
	for to, c := range seen {
		if c != 1 {
			t.Errorf("%s received %d welcome emails", to, c)
		}
	}
}

// waitCount polls a collection until filter matches want records (a minute at most).
func waitCount(t *testing.T, s *server, tok, collection, filter string, want int) {
	t.Helper()
	deadline := time.Now().Add(time.Minute)
	for {
		var l list
		s.api(t, http.MethodGet, "/api/collections/"+collection+"/records?perPage=1&filter="+urlEscape(filter), tok, nil, &l)
		if l.TotalItems == want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s matching %q: %d, want %d", collection, filter, l.TotalItems, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
