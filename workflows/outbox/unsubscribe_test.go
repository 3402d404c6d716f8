package outbox_test

import (
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows/outbox"
	"github.com/relata/relata/workflows/outbox/outboxtest"
)

func TestMarketingUnsubscribeAndSuppression(t *testing.T) {
	t.Parallel()
	e := newServed(t, outboxtest.Options{}, outbox.Config{UnsubscribeMailto: "unsubscribe@relata.test"})
	rec := e.enqueue(t, outbox.Message{To: []string{"Ada <ada@example.com>"}, Category: outbox.Marketing,
		Subject: "News", HTML: `<html><body><p>Our autumn offers.</p></body></html>`})
	e.drain(t)
	msgs := e.smtp.Messages()
	if len(msgs) != 1 {
		t.Fatalf("server got %d messages; want 1", len(msgs))
	}
	m := msgs[0]
	lu := m.Header.Get("List-Unsubscribe")
	prefix := "<" + e.srv.URL + "/unsubscribe/"
	if !strings.HasPrefix(lu, prefix) || !strings.HasSuffix(lu, ">, <mailto:unsubscribe@relata.test?subject=unsubscribe>") {
		t.Fatalf("List-Unsubscribe = %q; want <%s…>, <mailto:…>", lu, prefix)
	}
	if got := m.Header.Get("List-Unsubscribe-Post"); got != "List-Unsubscribe=One-Click" {
		t.Errorf("List-Unsubscribe-Post = %q", got)
	}
	link := strings.TrimPrefix(lu[:strings.Index(lu, ">")], "<")
	if text := m.Part("text/plain"); !strings.Contains(text, "Our autumn offers.") || !strings.Contains(text, "Unsubscribe: "+link) {
		t.Errorf("text part lacks the offers or the unsubscribe link:\n%s", text)
	}
	if html := m.Part("text/html"); !strings.Contains(html, `<a href="`+link+`">Unsubscribe</a>`) || !strings.HasSuffix(strings.TrimSpace(html), "</body></html>") {
		t.Errorf("html part lacks the unsubscribe footer:\n%s", html)
	}

	// A tampered link changes nothing.
	tampered := link[:len(link)-3] + "AAA"
	if code, _ := post(t, tampered, "List-Unsubscribe=One-Click"); code != http.StatusBadRequest {
		t.Errorf("POST tampered link = %d; want 400", code)
	}
	forged := strings.Replace(link, "/unsubscribe/", "/unsubscribe/Ym9iQGV4YW1wbGUuY29tCg", 1)
	if code, _ := post(t, forged, ""); code != http.StatusBadRequest {
		t.Errorf("POST forged link = %d; want 400", code)
	}
	// GET shows a confirmation page (link scanners must not unsubscribe anyone).
	res, err := http.Get(link)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != 200 || !strings.Contains(string(body), `<form method="post">`) || !strings.Contains(string(body), "ada@example.com") {
		t.Errorf("GET link = %d %s", res.StatusCode, body)
	}
	if n := countSuppressions(t, e); n != 0 {
		t.Fatalf("%d suppressions before the POST; want 0", n)
	}
	// RFC 8058 one-click POST.
	if code, body := post(t, link, "List-Unsubscribe=One-Click"); code != 200 || !strings.Contains(body, "Unsubscribed") {
		t.Fatalf("POST link = %d %s", code, body)
	}
	sup, err := e.app.FindFirstRecordByData(outbox.SuppressionsCollection, "email", "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	if sup.GetString("reason") != outbox.ReasonUnsubscribe || !strings.Contains(sup.GetString("source"), rec.Id) {
		t.Errorf("suppression = %v", sup.FieldsData())
	}
	if code, _ := post(t, link, "List-Unsubscribe=One-Click"); code != 200 || countSuppressions(t, e) != 1 {
		t.Errorf("a second POST = %d with %d suppressions; want 200 and still 1", code, countSuppressions(t, e))
	}

	// The next marketing email to that address (in any case) is suppressed, not sent;
	// transactional mail still goes out.
	mkt := e.enqueue(t, outbox.Message{To: []string{"ADA@Example.com"}, Category: outbox.Marketing, Subject: "More news", Text: "…"})
	trx := e.enqueue(t, outbox.Message{To: []string{"ada@example.com"}, Subject: "Your invoice", Text: "Attached."})
	e.drain(t)
	if got := e.email(t, mkt.Id); got.GetString("status") != outbox.StatusSuppressed || !strings.Contains(got.GetString("last_error"), "suppression list") {
		t.Errorf("marketing email = %s %q; want suppressed", got.GetString("status"), got.GetString("last_error"))
	}
	if got := e.email(t, trx.Id); got.GetString("status") != outbox.StatusSent {
		t.Errorf("transactional email = %s; want sent", got.GetString("status"))
	}
	if msgs := e.smtp.Messages(); len(msgs) != 2 || msgs[1].Header.Get("Subject") != "Your invoice" {
		t.Errorf("server got %d messages; want the first and the invoice", len(msgs))
	}
}

func TestDoNotEmailSuppressesMarketing(t *testing.T) {
	t.Parallel()
	e := newServed(t, outboxtest.Options{}, outbox.Config{})
	c := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Bea", "email": "bea@example.com", "do_not_email": true})
	rec := e.enqueue(t, outbox.Message{To: []string{"bea@example.com"}, Category: outbox.Marketing, Subject: "News", Text: "x",
		Object: "contacts", RecordID: c.Id})
	e.drain(t)
	if got := e.email(t, rec.Id); got.GetString("status") != outbox.StatusSuppressed || !strings.Contains(got.GetString("last_error"), "do_not_email") {
		t.Errorf("email = %s %q; want suppressed by do_not_email", got.GetString("status"), got.GetString("last_error"))
	}
	if n := e.smtp.Attempts(); n != 0 {
		t.Errorf("server saw %d messages; want none", n)
	}
}

func TestSentEmailIsOnTheTimeline(t *testing.T) {
	t.Parallel()
	e := newServed(t, outboxtest.Options{}, outbox.Config{})
	owner, _ := schemastest.NewUser(t, e.app, "olga@example.com", "sales", "north")
	co := schemastest.MustCreate(t, e.app, "companies", map[string]any{"name": "Acme"})
	c := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Ada", "email": "ada@example.com",
		"company": co.Id, "owner": owner.Id})
	rec := e.enqueue(t, outbox.Message{To: []string{"ada@example.com"}, Subject: "Welcome", Text: "Hello Ada",
		Object: "contacts", RecordID: c.Id})
	e.drain(t)
	acts, err := e.app.FindAllRecords("activities")
	if err != nil {
		t.Fatal(err)
	}
	if len(acts) != 1 {
		t.Fatalf("%d activities; want 1", len(acts))
	}
	a := acts[0]
	if a.GetString("type") != "email" || a.GetString("subject") != "Welcome" || a.GetString("body") != "Hello Ada" ||
		!a.GetBool("done") || a.GetDateTime("done_at").IsZero() || a.GetString("contact") != c.Id ||
		a.GetString("company") != co.Id || a.GetString("owner") != owner.Id {
		t.Errorf("activity = %v", a.FieldsData())
	}
	if got := e.email(t, rec.Id); got.GetString("status") != outbox.StatusSent {
		t.Errorf("email = %s", got.GetString("status"))
	}
}

func post(t testing.TB, link, body string) (int, string) {
	t.Helper()
	res, err := http.Post(link, "application/x-www-form-urlencoded", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(b)
}

func countSuppressions(t testing.TB, e *env) int {
	t.Helper()
	recs, err := e.app.FindAllRecords(outbox.SuppressionsCollection)
	if err != nil {
		t.Fatal(err)
	}
	return len(recs)
}
