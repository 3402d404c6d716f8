package main_test

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/relata/relata/workflows/outbox/outboxtest"
)

// TestCampaignAcrossCrash: a campaign to 10,000 contacts is killed with SIGKILL while its
// recipients are being queued (no SMTP server yet, so the emails wait in the outbox); after a
// restart with a real SMTP server, the campaign finishes and every recipient has received
// exactly one message.
func TestCampaignAcrossCrash(t *testing.T) {
	t.Parallel()
	const n = 10000
	data := t.TempDir()
	if o, err := run(t, "superuser", "upsert", "root@example.com", "root-password-1", "--dir", data); err != nil {
		t.Fatalf("superuser: %v\n%s", err, o)
	}
	s := startServer(t, data) // applies the object model
	s.stop(t)
	var csv strings.Builder
	csv.WriteString("full_name,email\n")
	for i := 0; i < n; i++ {
		fmt.Fprintf(&csv, "Contact %d,r%05d@example.com\n", i, i)
	}
	file := filepath.Join(t.TempDir(), "contacts.csv")
	if err := os.WriteFile(file, []byte(csv.String()), 0o644); err != nil {
		t.Fatal(err)
	}
	if o, err := run(t, "import", "contacts", file, "--dir", data); err != nil {
		t.Fatalf("import: %v\n%s", err, o)
	}

	s = startServer(t, data)
	tok, _ := s.login(t, "_superusers", "root@example.com", "root-password-1")
	var rec struct {
		ID string `json:"id"`
	}
	create := func(collection string, body map[string]any) string {
		t.Helper()
		if code := s.api(t, http.MethodPost, "/api/collections/"+collection+"/records", tok, body, &rec); code != 200 {
			t.Fatalf("create %s = %d", collection, code)
		}
		return rec.ID
	}
	mgr := create("users", map[string]any{"email": "mgr@example.com", "password": "manager-pass-1", "passwordConfirm": "manager-pass-1",
		"role": "manager", "name": "Marketing"})
	create("email_templates", map[string]any{"name": "news", "category": "marketing", "object": "contacts",
		"subject": "News for {{.record.full_name}}", "html": "<p>Hello {{.record.full_name}}</p>"})
	seg := create("segments", map[string]any{"name": "Everyone", "kind": "dynamic", "filter": `email != ""`, "owner": mgr})
	camp := create("campaigns", map[string]any{"name": "Big send", "template": "news", "segment": seg, "owner": mgr, "status": "draft"})
	if code := s.api(t, http.MethodPost, "/api/relata/campaigns/"+camp+"/send", tok, nil, nil); code != 200 {
		t.Fatalf("send = %d", code)
	}
	// Kill it in the middle: some recipients queued, not all.
	queued := 0
	deadline := time.Now().Add(2 * time.Minute)
	for queued == 0 {
		var l list
		s.api(t, http.MethodGet, "/api/collections/campaign_recipients/records?perPage=1&filter="+urlEscape("status = 'queued'"), tok, nil, &l)
		queued = l.TotalItems
		if time.Now().After(deadline) {
			t.Fatalf("no recipient queued within 2 minutes:\n%s", s.logs)
		}
		time.Sleep(20 * time.Millisecond)
	}
	_ = s.cmd.Process.Kill() // SIGKILL
	_ = s.cmd.Wait()
	if queued >= n {
		t.Fatalf("the whole campaign was queued (%d) before the kill: not a crash in the middle", queued)
	}
	t.Logf("killed with %d of %d recipients queued", queued, n)

	smtpd := outboxtest.NewServer(t, outboxtest.Options{NoTLS: true})
	env := []string{"RELATA_SMTP_HOST=" + smtpd.Host, "RELATA_SMTP_PORT=" + strconv.Itoa(smtpd.Port),
		"RELATA_SMTP_TLS=none", "RELATA_MAIL_FROM=news@example.com"}
	s = startServerEnv(t, data, env)
	tok, _ = s.login(t, "_superusers", "root@example.com", "root-password-1")
	smtpd.Wait(n, 3*time.Minute)
	waitCount(t, s, tok, "emails", "status = 'sent'", n)
	time.Sleep(500 * time.Millisecond) // a duplicate would arrive now
	msgs := smtpd.Messages()
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
			t.Errorf("%s received %d messages", to, c)
		}
	}
	var c struct {
		Status string `json:"status"`
	}
	s.api(t, http.MethodGet, "/api/collections/campaigns/records/"+camp, tok, nil, &c)
	if c.Status != "sent" {
		t.Errorf("campaign status = %q, want sent", c.Status)
	}
}
