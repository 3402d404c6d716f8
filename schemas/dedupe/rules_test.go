package dedupe_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/dedupe"
)

// defaults is Relata's default object model, loaded from the embedded definitions.
func defaults(t testing.TB) func(string) (*schemas.Object, bool) {
	t.Helper()
	objs, err := schemas.Load(schemas.Defaults())
	if err != nil {
		t.Fatal(err)
	}
	return func(name string) (*schemas.Object, bool) {
		for _, o := range objs {
			if o.Name == name {
				return o, true
			}
		}
		return nil, false
	}
}

func TestDefaultRules(t *testing.T) {
	t.Parallel()
	objects := defaults(t)
	contacts, _ := objects("contacts")
	companies, _ := objects("companies")
	describe := func(rs *dedupe.ObjectRules) string {
		var parts []string
		for _, r := range rs.Rules {
			parts = append(parts, r.Match+":"+r.Field+"/"+r.SameField)
		}
		return strings.Join(parts, " ")
	}
	if got, want := describe(dedupe.DefaultRules(contacts)), "email:email/ phone:phone/ name:full_name/company"; got != want {
		t.Errorf("contacts: got %q; want %q", got, want)
	}
	if got, want := describe(dedupe.DefaultRules(companies)), "domain:domain/ domain:website/ phone:phone/ name:name/"; got != want {
		t.Errorf("companies: got %q; want %q", got, want)
	}
}

func TestParseRules(t *testing.T) {
	t.Parallel()
	objects := defaults(t)
	good := `{
  "region": "it",
  "objects": {
    "contacts": {"minScore": 0.6, "rules": [
      {"match": "email", "field": "email", "score": 0.95},
      {"match": "name", "field": "full_name", "sameField": "company", "threshold": 0.85, "score": 0.9}
    ]}
  }
}`
	rs, err := dedupe.ParseRules([]byte(good), "dedupe.json", objects)
	if err != nil {
		t.Fatal(err)
	}
	c := rs.Objects["contacts"]
	if rs.Region != "IT" || c.MinScore != 0.6 || len(c.Rules) != 2 || c.Rules[1].Threshold != 0.85 || c.Rules[0].Threshold != 0 {
		t.Fatalf("got %+v %+v", rs, c)
	}

	scenarios := []struct {
		name, in string
		want     []string // every error, in order
	}{
		{"syntax", "{\n  \"objects\": {,\n}", []string{"dedupe.json:2: invalid JSON"}},
		{"not an object", `[]`, []string{"dedupe.json: must be an object"}},
		{"missing objects", `{}`, []string{`dedupe.json: missing "objects"`}},
		{"unknown key and bad region", "{\"objects\": {},\n \"regoin\": \"IT\", \"region\": \"ITA\"}", []string{
			`dedupe.json:2 /region: must be a two-letter country code`, `dedupe.json:2 /regoin: unknown key "regoin"`}},
		{"unknown object", `{"objects": {"people": {"rules": []}}}`, []string{`dedupe.json:1 /objects/people: no object named "people"`}},
		{"bad rule", "{\"objects\": {\"contacts\": {\"rules\": [\n{\"match\": \"sound\", \"field\": \"nope\", \"score\": 2, \"sameField\": \"company\"}]}}}", []string{
			`dedupe.json:2 /objects/contacts/rules/0/field: contacts has no field "nope"`,
			`dedupe.json:2 /objects/contacts/rules/0/match: must be one of email, phone, domain, exact, name, not "sound"`,
			`dedupe.json:2 /objects/contacts/rules/0/sameField: only name rules take sameField`,
			`dedupe.json:2 /objects/contacts/rules/0/score: must be between 0 and 1, not 2`,
		}},
		{"rules not a list", `{"objects": {"contacts": {"rules": {}}}}`, []string{`/objects/contacts/rules: must be a list of rules`}},
		{"trailing text", `{"objects": {}} x`, []string{"dedupe.json:1: unexpected text"}},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			_, err := dedupe.ParseRules([]byte(s.in), "dedupe.json", objects)
			var errs schemas.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("got %v; want schemas.Errors", err)
			}
			got := strings.Split(errs.Error(), "\n")
			if len(got) != len(s.want) {
				t.Fatalf("got %d errors:\n%s\nwant %d: %q", len(got), errs.Error(), len(s.want), s.want)
			}
			for i := range got {
				if !strings.Contains(got[i], s.want[i]) {
					t.Errorf("error %d: got %q; want it to contain %q", i, got[i], s.want[i])
				}
			}
		})
	}
}

func FuzzParseRules(f *testing.F) {
	f.Add([]byte(`{"region": "IT", "objects": {"contacts": {"rules": [{"match": "email", "field": "email", "score": 0.9}]}}}`))
	f.Add([]byte(`{"objects": {"companies": {"minScore": 0.5, "rules": [{"match": "name", "field": "name", "threshold": 0.8}]}}}`))
	f.Add([]byte(`{"objects": {"x": 1}, "y": [}`))
	objects := defaults(f)
	f.Fuzz(func(t *testing.T, data []byte) {
		rs, err := dedupe.ParseRules(data, "f.json", objects)
		if (rs == nil) == (err == nil) {
			t.Fatalf("rules %v and error %v: exactly one must be set", rs, err)
		}
		var errs schemas.Errors
		if err != nil && (!errors.As(err, &errs) || len(errs) == 0) {
			t.Fatalf("error %v is not a located schemas.Errors", err)
		}
	})
}

func FuzzNormalize(f *testing.F) {
	for _, s := range []string{"Mario.Rossi+x@GMail.com", "+39 02 1234 5678", "https://www.acme.com/a", "Café S.r.l.", "\xff\xfe", ""} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if e := dedupe.NormalizeEmail(s); e != "" && dedupe.NormalizeEmail(e) != e {
			t.Fatalf("email %q → %q is not stable", s, e)
		}
		if p := dedupe.NormalizePhone(s, "IT"); p != "" && (p[0] != '+' || dedupe.NormalizePhone(p, "") != p) {
			t.Fatalf("phone %q → %q is not stable E.164", s, p)
		}
		if d := dedupe.NormalizeDomain(s); d != "" && dedupe.NormalizeDomain(d) != d {
			t.Fatalf("domain %q → %q is not stable", s, d)
		}
		n := dedupe.NormalizeName(s)
		if sim := dedupe.NameSimilarity(n, n); n != "" && sim != 1 {
			t.Fatalf("name %q is %.3f like itself", n, sim)
		}
	})
}
