package main_test

import (
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
)

// TestDealFactorsAndForecastPages: with enough closed deals an admin retrains the model from
// the app's API; alice's deal page shows the model's probability, the stage's and the top
// factors in words, her board cards and her list show a compact percentage; the dashboard
// shows the forecast with quotas and the backtest, and alice's forecast covers only her deals.
func TestDealFactorsAndForecastPages(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s := startServer(t, dir, exampleServeArgs...)
	adminTok, _ := s.login(t, "users", "admin@example.com", "relata-demo-1")
	aliceTok, aliceID := s.login(t, "users", "alice@example.com", "relata-demo-1")
	owners := []string{aliceID, "usrbob000000001", "usrcarol0000001"}
	sources := []string{"referral", "partner", "website", "cold_outreach", "event"}
	now := time.Now().UTC()
	// 45 more closed deals (the example has 35): referrals and partners win far more often.
	for i := range 45 {
		src := sources[i%len(sources)]
		stage := "lost"
		if (i%len(sources) < 2 && i%7 != 0) || i%9 == 0 {
			stage = "won"
		}
		closed := now.AddDate(0, 0, -3-4*i)
		body := map[string]any{"name": fmt.Sprintf("Closed %02d", i), "stage": stage, "source": src, "owner": owners[i%3],
			"amount": 2000 + 500*(i%6), "expected_close": closed.Format(time.DateOnly), "closed_at": closed.Format("2006-01-02 15:04:05.000Z")}
		if code := s.api(t, http.MethodPost, "/api/collections/deals/records", adminTok, body, nil); code != 200 {
			t.Fatalf("create closed deal %d = %d", i, code)
		}
	}
	var trained struct {
		Version int `json:"version"`
	}
	if code := s.api(t, http.MethodPost, "/api/relata/score/deals/train", aliceTok, nil, nil); code != 403 {
		t.Errorf("alice retrains = %d; want 403", code)
	}
	if code := s.api(t, http.MethodPost, "/api/relata/score/deals/train", adminTok, nil, &trained); code != 200 || trained.Version != 1 {
		t.Fatalf("retrain = %d, version %d; want version 1", code, trained.Version)
	}
	month := time.Date(now.Year(), now.Month(), 1, 0, 0, 0, 0, time.UTC).Format(time.DateOnly)
	for _, q := range []map[string]any{
		{"user": aliceID, "period": "month", "start": month, "amount": 20000},
		{"team": "north", "period": "month", "start": month, "amount": 50000, "currency": "USD"},
	} {
		if code := s.api(t, http.MethodPost, "/api/collections/quotas/records", adminTok, q, nil); code != 200 {
			t.Fatalf("create quota = %d", code)
		}
	}
	if code := s.api(t, http.MethodPost, "/api/collections/quotas/records", aliceTok, map[string]any{"user": aliceID, "period": "month", "start": month, "amount": 1}, nil); code < 400 {
		t.Errorf("alice creates a quota = %d; want a refusal", code)
	}
	var deals list
	filter := urlEscape(`owner="` + aliceID + `" && (stage="proposal" || stage="negotiation")`)
	if code := s.api(t, http.MethodGet, "/api/collections/deals/records?perPage=1&sort=-amount&filter="+filter, aliceTok, nil, &deals); code != 200 || len(deals.Items) == 0 {
		t.Fatalf("alice's open deals = %d", code)
	}
	deal := deals.Items[0]["id"].(string)

	b := newBrowser(t)
	alice := b.signIn(t, s, "alice@example.com")
	alice.do(chromedp.EmulateViewport(1400, 900))
	alice.open("/record/deals/"+deal, "[data-testid=score-panel]")
	alice.wait("the model's factors", `!!document.querySelector('[data-testid=score-factors] li') && document.querySelector('[data-testid=score-model]').innerText.includes('Model v1')`)
	panel := eval[string](alice, `document.querySelector('[data-testid=score-panel]').innerText`)
	if !strings.Contains(panel, "%") || !strings.Contains(panel, "stage") || !strings.Contains(panel, "AUC") {
		alice.fail("the score panel reads %q", panel)
	}
	factors := eval[[]string](alice, `[...document.querySelectorAll('[data-testid=score-factors] li')].map((li) => li.innerText)`)
	for _, f := range factors {
		if !strings.HasPrefix(f, "+ ") && !strings.HasPrefix(f, "− ") {
			alice.fail("factor %q is not in words with its sign", f)
		}
	}
	alice.screenshot("deal-factors")

	// Contacts are leads: their page shows the conversion probability (the lifecycle stage's
	// until enough leads are decided).
	var contacts list
	if code := s.api(t, http.MethodGet, "/api/collections/contacts/records?perPage=1&filter="+urlEscape(`lifecycle_stage="lead"`), aliceTok, nil, &contacts); code != 200 || len(contacts.Items) == 0 {
		t.Fatalf("alice's leads = %d", code)
	}
	alice.open("/record/contacts/"+contacts.Items[0]["id"].(string), "[data-testid=score-panel]")
	if p := eval[string](alice, `document.querySelector('[data-testid=score-panel]').innerText`); !strings.Contains(p, "Conversion probability") || !strings.Contains(p, "lifecycle stage") {
		alice.fail("the contact's panel reads %q", p)
	}

	alice.open("/board/deals/sales", ".board")
	alice.wait("percentages on the open cards", `document.querySelectorAll('.column:not(.won):not(.lost) .card [data-testid=score-badge]').length > 0`)
	if n := eval[int](alice, `document.querySelectorAll('.column.won [data-testid=score-badge], .column.lost [data-testid=score-badge]').length`); n != 0 {
		alice.fail("%d closed cards carry a percentage", n)
	}
	alice.open("/list/deals", "table.records")
	alice.wait("the win % column", `[...document.querySelectorAll('table.records th')].some((th) => th.innerText.includes('Win %')) && document.querySelectorAll('table.records [data-testid=score-badge]').length > 0`)

	alice.open("/dashboard", "[data-testid=forecast]")
	alice.wait("alice's forecast", `!!document.querySelector('[data-testid=forecast-groups] tbody tr') && !!document.querySelector('[data-testid=backtest-mae]')`)
	reps := eval[[]string](alice, `[...document.querySelectorAll('[data-testid=forecast-groups] tbody tr td:first-child')].map((td) => td.innerText)`)
	if len(reps) != 1 || !strings.Contains(reps[0], "Alice") {
		alice.fail("alice's forecast lists reps %v; want only herself", reps)
	}
	if eval[bool](alice, `!!document.querySelector('[data-testid=retrain]')`) {
		alice.fail("a sales rep sees the retrain button")
	}

	manager := b.signIn(t, s, "manager@example.com")
	manager.do(chromedp.EmulateViewport(1400, 900))
	manager.open("/dashboard", "[data-testid=forecast]")
	manager.wait("the forecast and the backtest", `document.querySelectorAll('[data-testid=forecast-groups] tbody tr').length >= 3 && !!document.querySelector('[data-testid=backtest-mae]') && document.querySelectorAll('[data-testid=quotas] tbody tr').length === 2`)
	if q := eval[string](manager, `document.querySelector('[data-testid=quotas]').innerText`); !strings.Contains(q, "Team north") || !strings.Contains(q, "Alice Lindqvist") {
		manager.fail("the quotas read %q; want alice's and team north's", q)
	}
	if eval[bool](manager, `[...document.querySelectorAll('.sidebar a')].some((a) => a.innerText.includes('Quotas'))`) {
		manager.fail("quotas are listed as a CRM object in the menu")
	}
	if src := eval[string](manager, `document.querySelector('[data-testid=forecast-source]').innerText`); !strings.Contains(src, "model v1") {
		manager.fail("forecast source %q; want model v1", src)
	}
	manager.do(chromedp.Evaluate[chromedp.Void](`document.querySelector('[data-testid=forecast]').scrollIntoView()`))
	manager.screenshot("forecast")
}

// TestRuleScoresOnRecordPage: with a score definition on contacts, a contact's page shows its
// score, grade and the rules that make them, and follows a meeting logged through the API
// (scored behind the write, the page told by realtime) without a reload.
func TestRuleScoresOnRecordPage(t *testing.T) {
	t.Parallel()
	s := startServer(t, t.TempDir(), append(exampleServeArgs, "--schemasDir", scoredDefinitions(t))...)
	aliceTok, aliceID := s.login(t, "users", "alice@example.com", "relata-demo-1")
	var c map[string]any
	if code := s.api(t, http.MethodPost, "/api/collections/contacts/records", aliceTok,
		map[string]any{"full_name": "Rita Rule", "job_title": "Head of Marketing", "owner": aliceID}, &c); code != 200 {
		t.Fatalf("create contact = %d", code)
	}
	id := c["id"].(string)

	alice := newBrowser(t).signIn(t, s, "alice@example.com")
	alice.do(chromedp.EmulateViewport(1400, 900))
	alice.open("/record/contacts/"+id, "[data-testid=rule-score-panel]")
	panel := func() string {
		return eval[string](alice, `document.querySelector('[data-testid=rule-score-panel]').innerText`)
	}
	for _, want := range []string{"Score", "contact-fit", "20", "Grade C", "+20 Decision maker"} {
		if !strings.Contains(panel(), want) {
			alice.fail("the score panel reads %q; want %q in it", panel(), want)
		}
	}
	if code := s.api(t, http.MethodPost, "/api/collections/activities/records", aliceTok, map[string]any{"type": "meeting", "subject": "Kick-off",
		"done": true, "done_at": time.Now().Add(-time.Minute).UTC().Format("2006-01-02 15:04:05.000Z"), "contact": id, "owner": aliceID}, nil); code != 200 {
		t.Fatalf("log a meeting = %d", code)
	}
	alice.wait("the meeting's points", `document.querySelector('[data-testid=rule-score-value]')?.innerText === '35'
		&& document.querySelector('[data-testid=rule-score-hits]').innerText.includes('+15 Meeting held')
		&& document.querySelector('[data-testid=rule-score-grade]').innerText === 'Grade B'`)
	alice.screenshot("rule-score")
}
