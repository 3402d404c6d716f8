package main_test

import (
	"context"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/relata/relata/workflows/outbox/outboxtest"
)

// TestDoubleOptInInBrowser subscribes to the example newsletter form in Chromium: the contact
// is stored with a consent that does not count yet, a real SMTP server receives the
// confirmation email, and the link opens a page whose button confirms the consent (opening it
// alone confirms nothing). Withdrawal by unsubscribe is tested in workflows/outbox.
func TestDoubleOptInInBrowser(t *testing.T) {
	t.Parallel()
	smtpd := outboxtest.NewServer(t, outboxtest.Options{NoTLS: true})
	env := []string{"RELATA_SMTP_HOST=" + smtpd.Host, "RELATA_SMTP_PORT=" + strconv.Itoa(smtpd.Port),
		"RELATA_SMTP_TLS=none", "RELATA_MAIL_FROM=crm@example.com"}
	dir := t.TempDir()
	s := startServerEnv(t, dir, env, exampleServeArgs...)
	b := newBrowser(t)
	ctx, cancel := chromedp.NewContext(b.root, chromedp.WithNewBrowserContext())
	defer cancel()
	tctx, stop := context.WithTimeout(ctx, 90*time.Second)
	defer stop()
	do := func(what string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(tctx, actions...); err != nil {
			t.Fatalf("%s: %v\nserver log:\n%s", what, err, s.logs)
		}
	}
	text := func() string {
		v, _ := chromedp.Run(tctx, chromedp.Evaluate[string](`document.body.innerText`))
		return v
	}
	const email = "ada.subscriber@analytical.example"
	do("subscribe",
		chromedp.Navigate(s.url+"/forms/newsletter"), chromedp.WaitVisible(chromedp.CSS("#f-email")),
		chromedp.SendKeys(chromedp.CSS("#f-full_name"), "Ada Subscriber"),
		chromedp.SendKeys(chromedp.CSS("#f-email"), email),
		chromedp.Click(chromedp.CSS("#f-_consent")),
		chromedp.Sleep(3200*time.Millisecond), // the form's minimum fill time
		chromedp.Click(chromedp.CSS("button.rf-submit")),
	)
	deadline := time.Now().Add(20 * time.Second)
	for !strings.Contains(text(), "confirm your subscription") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if !strings.Contains(text(), "confirm your subscription") {
		t.Fatalf("no success message:\n%s", text())
	}
	consent := func() (needs bool, confirmed, withdrawn string) {
		rows := dbQuery(t, dir, "SELECT needs_confirmation, coalesce(confirmed_at, ''), coalesce(withdrawn_at, '') FROM consents WHERE form = 'newsletter'")
		defer rows.Close()
		if !rows.Next() {
			t.Fatal("no consent stored")
		}
		if err := rows.Scan(&needs, &confirmed, &withdrawn); err != nil {
			t.Fatal(err)
		}
		return
	}
	if needs, confirmed, _ := consent(); !needs || confirmed != "" {
		t.Fatalf("the consent counts before confirmation: needs=%v confirmed=%q", needs, confirmed)
	}
	var confirmation *outboxtest.Message
	for deadline := time.Now().Add(30 * time.Second); confirmation == nil && time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		for _, m := range smtpd.Messages() {
			if m.Header.Get("Subject") == "Please confirm your subscription" {
				confirmation = m
			}
		}
	}
	if confirmation == nil || !strings.Contains(strings.Join(confirmation.To, ","), email) {
		t.Fatalf("no confirmation email to %s\nserver log:\n%s", email, s.logs)
	}
	msgs := []*outboxtest.Message{confirmation}
	body := strings.ReplaceAll(string(msgs[0].Data), "=\r\n", "")
	link := regexp.MustCompile(`https?://[^\s]+/confirm/[A-Za-z0-9_.-]+`).FindString(body)
	if link == "" {
		t.Fatalf("no confirmation link in:\n%s", body)
	}
	u, err := url.Parse(link)
	if err != nil {
		t.Fatal(err)
	}
	// Opening the link (as a mail scanner would) confirms nothing; the button does.
	do("open the link", chromedp.Navigate(s.url+u.Path), chromedp.WaitVisible(chromedp.CSS("#confirm")))
	if _, confirmed, _ := consent(); confirmed != "" {
		t.Fatal("opening the link confirmed the consent")
	}
	do("confirm", chromedp.Click(chromedp.CSS("#confirm")), chromedp.WaitVisible(chromedp.CSS("h1")))
	deadline = time.Now().Add(10 * time.Second)
	for !strings.Contains(text(), "confirmed") && time.Now().Before(deadline) {
		time.Sleep(100 * time.Millisecond)
	}
	if _, confirmed, _ := consent(); confirmed == "" {
		t.Fatalf("the button did not confirm: %s", text())
	}
	// Forged tokens are refused: a changed signature, and the same signature with a last
	// character that differs only in the encoding's unused bits.
	token := u.Path[len("/confirm/"):]
	dot := strings.IndexByte(token, '.')
	flip := map[byte]string{'A': "B", 'B': "A"}
	changed := token[:dot+1] + map[bool]string{true: "B", false: "A"}[token[dot+1] == 'A'] + token[dot+2:]
	last := token[len(token)-1]
	sameBits := token[:len(token)-1] + flip[last]
	if _, ok := flip[last]; !ok {
		sameBits = token + "A" // one character too many
	}
	for _, forged := range []string{changed, sameBits} {
		res, err := http.Get(s.url + "/confirm/" + forged)
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusBadRequest {
			t.Errorf("a forged token %q = %d; want 400", forged, res.StatusCode)
		}
	}

	// The admin's privacy page counts the consent by its form (counted by the server).
	admin := b.signIn(t, s, "admin@example.com")
	admin.open("/privacy", "[data-testid=privacy-request]")
	admin.wait("the consents by form", `[...document.querySelectorAll('.panel table.grid tr')].some((r) => r.innerText.replace(/\s+/g, ' ').trim() === 'newsletter 1')`)
}
