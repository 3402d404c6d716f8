package scoring_test

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/relata/relata/insights/scoring"
)

// TestRareLevelsAreNoFeature: a categorical value that only one closed record had must not get
// its own feature, however long that record lived. Training takes a snapshot of a record every
// 14 days, so a deal open for 100 days gives 8 snapshots; counted as snapshots, one deal made a
// feature, whose weight then told whether that one deal was won. A sales rep read it on her own
// deal's score after pointing it at a company in that country (the example history: Carol's
// only Austrian deal, won, moved Alice's deal from 10 % to 67 %; her only Portuguese one, lost,
// to 1 %). A value needs as many records as Options.MinLevel (5).
func TestRareLevelsAreNoFeature(t *testing.T) {
	t.Parallel()
	d := history(300, 11)
	end := time.Date(2026, 11, 1, 0, 0, 0, 0, time.UTC)
	add := func(id, country string, won bool, lifeDays int) {
		outcome := "lost"
		if won {
			outcome = "won"
		}
		closed := end.AddDate(0, 0, -len(d.Records))
		created := closed.AddDate(0, 0, -lifeDays)
		d.Records = append(d.Records, &scoring.Record{ID: id, Created: created, Stage: outcome, Closed: true, Won: won,
			ClosedAt: closed, ExpectedClose: closed, Amount: 5000,
			Cats:   map[string]string{"source": "website", "owner": "Carol", "company.country": country},
			Counts: map[string]float64{"contacts": 1},
			Stages: []scoring.StageChange{{To: "lead", At: created}, {To: "proposal", At: created.AddDate(0, 0, 3)}, {To: outcome, At: closed}}})
	}
	add("austria", "Austria", true, 200)    // one record, 15 snapshots
	add("portugal", "Portugal", false, 120) // one record, 9 snapshots
	for i := range 4 {
		add(fmt.Sprint("malta", i), "Malta", i%2 == 0, 120) // four records: still too few
	}
	for i := range 5 {
		add(fmt.Sprint("iceland", i), "Iceland", i%2 == 0, 20) // five short-lived records: enough
	}
	m, err := scoring.TrainAll(d, scoring.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range m.Features {
		names = append(names, f.Name)
	}
	for _, rare := range []string{"company.country=Austria", "company.country=Portugal", "company.country=Malta"} {
		if slices.Contains(names, rare) {
			t.Errorf("feature %q exists; fewer than 5 closed records had the value", rare)
		}
	}
	if !slices.Contains(names, "company.country=Iceland") {
		t.Errorf("no feature company.country=Iceland (5 records); features %v", names)
	}
	// An open deal pointed at the Austrian company scores as one pointed at a country no
	// closed deal had, and no factor names the country.
	open := d.Records[0].At(d.Records[0].ClosedAt)
	probe := func(country string) (float64, []scoring.Factor) {
		s := open
		s.Cats = map[string]string{}
		for k, v := range open.Cats {
			s.Cats[k] = v
		}
		s.Cats["company.country"] = country
		return m.Explain(s, 100)
	}
	pNone, _ := probe("Atlantis")
	for _, country := range []string{"Austria", "Portugal", "Malta"} {
		p, factors := probe(country)
		if p != pNone {
			t.Errorf("%s moves the probability: %.4f, %.4f for a country nobody had", country, p, pNone)
		}
		for _, f := range factors {
			if f.Feature == "company.country="+country {
				t.Errorf("factor %+v names %s", f, country)
			}
		}
	}
}
