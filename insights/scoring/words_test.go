package scoring_test

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/relata/relata/insights/scoring"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
)

// TestExplainInItalian: the same factors, in the same order and with the same effects, in
// Italian words.
func TestExplainInItalian(t *testing.T) {
	t.Parallel()
	d := history(1000, 5)
	m, err := scoring.TrainAll(d, scoring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var hot *scoring.Record
	for _, r := range d.Records {
		if s := r.At(r.ClosedAt); r.Cats["source"] == "referral" && s.Recent["meeting"] == 1 {
			hot = r
			break
		}
	}
	snap := hot.At(hot.ClosedAt)
	pe, en := m.Explain(snap, 10)
	pi, it := m.ExplainIn(snap, 10, "it")
	if pe != pi || len(en) != len(it) || len(en) == 0 {
		t.Fatalf("English %v %d factors, Italian %v %d", pe, len(en), pi, len(it))
	}
	texts := map[string]bool{}
	for i := range en {
		if en[i].Feature != it[i].Feature || en[i].Effect != it[i].Effect {
			t.Fatalf("factor %d: %+v in English, %+v in Italian", i, en[i], it[i])
		}
		texts[it[i].Text] = true
	}
	for _, want := range []string{"+ source: referral", "+ 1 riunione negli ultimi 21 giorni"} {
		if !texts[want] {
			t.Errorf("Italian factors %+v lack %q", it, want)
		}
	}
	// A language Relata does not speak is English.
	if _, de := m.ExplainIn(snap, 10, "de-DE"); de[0].Text != en[0].Text {
		t.Errorf("German: %q; want English %q", de[0].Text, en[0].Text)
	}
}

// TestAPIScoreInTheCallersLanguage: the score API words the factors in the user's language,
// else in the request's Accept-Language, else in English.
func TestAPIScoreInTheCallersLanguage(t *testing.T) {
	t.Parallel()
	app, _, _ := newApp(t)
	alice, aliceTok := schemastest.NewUser(t, app, "alice@example.com", schemas.RoleSales, "north")
	giveOpenDeal(t, app, alice)
	h := history(300, 2)
	m, err := scoring.TrainAll(h, scoring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := scoring.Evaluate(h, scoring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := scoring.Save(app, m, rep.Closed, rep); err != nil {
		t.Fatal(err)
	}
	srv := schemastest.Serve(t, app)
	italian := []string{"giorni", "nella fase", "importo", "negli ultimi", "in tutto", "aperta da", "ultimo contatto"}
	english := []string{"days", "in stage", "amount", "in the last", "in total", "open for", "last touch"}
	score := func(path, accept string) string {
		t.Helper()
		req, _ := http.NewRequest("GET", srv.URL+path, nil)
		req.Header.Set("Authorization", aliceTok)
		if accept != "" {
			req.Header.Set("Accept-Language", accept)
		}
		res, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body struct {
			Factors []scoring.Factor `json:"factors"`
			Scores  map[string]struct {
				Factors []scoring.Factor `json:"factors"`
			} `json:"scores"`
		}
		if err := json.NewDecoder(res.Body).Decode(&body); err != nil || res.StatusCode != 200 {
			t.Fatalf("GET %s: %d %v", path, res.StatusCode, err)
		}
		fs := body.Factors
		if s, ok := body.Scores["lkd000000000002"]; ok {
			fs = s.Factors
		}
		var words []string
		for _, f := range fs {
			words = append(words, f.Text)
		}
		if len(words) == 0 {
			t.Fatalf("GET %s: no factors", path)
		}
		return strings.Join(words, "\n")
	}
	says := func(text string, words []string) bool {
		for _, w := range words {
			if strings.Contains(text, w) {
				return true
			}
		}
		return false
	}
	const one, many = "/api/relata/score/deals/lkd000000000002", "/api/relata/score/deals?factors=10&ids=lkd000000000002"
	for _, c := range []struct {
		name, language, accept string
		italian                bool
	}{
		{"no choice, no header", "", "", false},
		{"no choice, an Italian browser", "", "it-IT,it;q=0.9,en;q=0.8", true},
		{"no choice, a German browser", "", "de-DE,de;q=0.9", false},
		{"Italian chosen", "it", "", true},
		{"English chosen, an Italian browser", "en", "it-IT", false},
	} {
		alice.Set("language", c.language)
		if err := app.Save(alice); err != nil {
			t.Fatal(err)
		}
		for _, path := range []string{one, many} {
			text := score(path, c.accept)
			if c.italian && (!says(text, italian) || says(text, english)) || !c.italian && (!says(text, english) || says(text, italian)) {
				t.Errorf("%s, %s: factors\n%s", c.name, path, text)
			}
		}
	}
}
