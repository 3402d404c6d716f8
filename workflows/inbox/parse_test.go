package inbox_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/relata/relata/workflows/inbox"
)

func readFixture(t testing.TB, name string, repl ...string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return strings.NewReplacer(repl...).Replace(string(b))
}

func TestParse(t *testing.T) {
	t.Parallel()
	scenarios := []struct {
		name        string
		file        string
		from        string
		subject     string
		text        string // a substring of Text
		fwdFrom     string
		fwdTo       string
		inReplyTo   string
		reportRcpt  string
		status      string
		hard, soft  bool
		originalID  string
		noHTMLParts bool
	}{
		{name: "bcc", file: "bcc.eml", from: "rep@acme.test", subject: "Proposta per il rinnovo – Q1", text: "proposta di rinnovo – a presto"},
		{name: "inline forward", file: "forward_inline.eml", from: "REP@acme.test", subject: "Fwd: Domanda sul contratto", text: "la clausola 4", fwdFrom: "ada@client.test", fwdTo: "rep@acme.test"},
		{name: "attached forward", file: "forward_attached.eml", from: "rep@acme.test", subject: "Fwd: Order confirmation", text: "Forwarding Ada's order", fwdFrom: "ada@client.test", fwdTo: "rep@acme.test"},
		{name: "reply", file: "reply.eml", from: "ada@client.test", subject: "Re: Your quote", text: "go ahead", inReplyTo: "q-1@relata.test"},
		{name: "postfix hard bounce", file: "postfix_hard.eml", from: "MAILER-DAEMON@mx.relata.test", subject: "Undelivered Mail Returned to Sender",
			reportRcpt: "gone@client.test", status: "5.1.1", hard: true, originalID: "q-1@relata.test"},
		{name: "gmail delay", file: "gmail_soft.eml", from: "mailer-daemon@googlemail.com", subject: "Delivery Status Notification (Delay)", text: "temporary problem",
			reportRcpt: "full@client.test", status: "4.2.2", soft: true, originalID: "q-1@relata.test"},
	}
	for _, sc := range scenarios {
		t.Run(sc.name, func(t *testing.T) {
			t.Parallel()
			raw := readFixture(t, sc.file, "{{IN_REPLY_TO}}", "<q-1@relata.test>", "{{ORIGINAL_ID}}", "<q-1@relata.test>", "{{RCPT}}", "bounce+abc@crm.example.com")
			m, err := inbox.Parse(strings.NewReader(raw), 1<<20)
			if err != nil {
				t.Fatal(err)
			}
			if m.From == nil || m.From.Address != sc.from {
				t.Errorf("From = %v; want %s", m.From, sc.from)
			}
			if m.Subject != sc.subject {
				t.Errorf("Subject = %q; want %q", m.Subject, sc.subject)
			}
			if !strings.Contains(m.Text, sc.text) {
				t.Errorf("Text = %q; want it to contain %q", m.Text, sc.text)
			}
			if sc.fwdFrom != "" {
				if m.Forwarded == nil || m.Forwarded.From == nil || m.Forwarded.From.Address != sc.fwdFrom {
					t.Fatalf("Forwarded = %+v; want From %s", m.Forwarded, sc.fwdFrom)
				}
				if len(m.Forwarded.To) != 1 || m.Forwarded.To[0].Address != sc.fwdTo {
					t.Errorf("Forwarded.To = %v; want %s", m.Forwarded.To, sc.fwdTo)
				}
			} else if m.Forwarded != nil && m.Report == nil {
				t.Errorf("Forwarded = %+v; want none", m.Forwarded)
			}
			if sc.inReplyTo != "" && (len(m.InReplyTo) != 1 || m.InReplyTo[0] != sc.inReplyTo) {
				t.Errorf("InReplyTo = %v; want [%s]", m.InReplyTo, sc.inReplyTo)
			}
			if sc.reportRcpt == "" {
				if m.Report != nil {
					t.Errorf("Report = %+v; want none", m.Report)
				}
				return
			}
			if m.Report == nil || len(m.Report.Recipients) != 1 {
				t.Fatalf("Report = %+v; want one recipient", m.Report)
			}
			r := m.Report.Recipients[0]
			if r.Address != sc.reportRcpt || r.Status != sc.status || r.Hard() != sc.hard || r.Soft() != sc.soft {
				t.Errorf("recipient = %+v (hard %v, soft %v); want %s %s hard %v soft %v", r, r.Hard(), r.Soft(), sc.reportRcpt, sc.status, sc.hard, sc.soft)
			}
			if r.Diagnostic == "" {
				t.Errorf("no diagnostic in %+v", r)
			}
			if m.Report.OriginalMessageID != sc.originalID {
				t.Errorf("OriginalMessageID = %q; want %q", m.Report.OriginalMessageID, sc.originalID)
			}
		})
	}
}

func TestParseCapsBodies(t *testing.T) {
	t.Parallel()
	raw := "From: a@b.test\r\nSubject: big\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + strings.Repeat("é", 3000)
	m, err := inbox.Parse(strings.NewReader(raw), 1001)
	if err != nil {
		t.Fatal(err)
	}
	if !m.Truncated || len(m.Text) > 1001 || !strings.HasPrefix(m.Text, "éé") || strings.ContainsRune(m.Text, '\uFFFD') {
		t.Errorf("Truncated %v, %d bytes, %q…; want a cut at a rune boundary within 1001 bytes", m.Truncated, len(m.Text), m.Text[:10])
	}
}

func TestParseRefusesNonMail(t *testing.T) {
	t.Parallel()
	for _, raw := range []string{"", " leading space\r\n\r\n", "no colon here\r\n\r\nbody"} {
		if _, err := inbox.Parse(strings.NewReader(raw), 1000); !errors.Is(err, inbox.ErrNotMail) {
			t.Errorf("Parse(%q) = %v; want ErrNotMail", raw, err)
		}
	}
}

func FuzzParse(f *testing.F) {
	entries, _ := os.ReadDir("testdata")
	for _, e := range entries {
		if strings.HasSuffix(e.Name(), ".eml") {
			b, _ := os.ReadFile(filepath.Join("testdata", e.Name()))
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, raw []byte) {
		m, err := inbox.Parse(strings.NewReader(string(raw)), 4096)
		if err != nil {
			if !errors.Is(err, inbox.ErrNotMail) {
				t.Fatalf("error %v does not wrap ErrNotMail", err)
			}
			return
		}
		if !utf8.ValidString(m.Text) || !utf8.ValidString(m.HTML) {
			t.Fatalf("bodies not valid UTF-8: %q, %q", m.Text, m.HTML)
		}
		if len(m.Text) > 4096 || len(m.HTML) > 4096 {
			t.Fatalf("bodies over the cap: %d, %d", len(m.Text), len(m.HTML))
		}
		if m.Report != nil {
			for _, r := range m.Report.Recipients {
				if r.Hard() && r.Soft() {
					t.Fatalf("%+v is both hard and soft", r)
				}
				if r.Address == "" {
					t.Fatalf("recipient without address in %+v", m.Report)
				}
			}
		}
	})
}
