package hooks_test

import (
	"fmt"
	"net/http"
	"testing"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/hooks"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/dedupe"
	"github.com/relata/relata/schemas/schemastest"
)

// BenchmarkRESTCreateContactDedupe creates contacts through the REST API as a sales user on
// top of 10,000 existing contacts at 499 companies, with distinct realistic names: bare
// PocketBase, Relata's record hooks, and Relata's hooks plus the duplicate warning (each
// create reads the contacts sharing a blocking key with it and names its likely duplicates
// in X-Relata-Duplicates when the create asks for it). "relata+dedupe" against "relata" is
// what the registered check costs a create that does not ask; "relata+dedupe-asked" what the
// warning costs one that does. Reproduce:
//
//	go test -run '^$' -bench RESTCreateContactDedupe -benchtime 1000x -count 3 ./hooks/
func BenchmarkRESTCreateContactDedupe(b *testing.B) {
	for _, v := range []struct {
		name          string
		hooks, dedupe bool
	}{
		{"bare", false, false},
		{"relata", true, false},
		{"relata+dedupe", true, true},       // registered, not asked for: what every create pays
		{"relata+dedupe-asked", true, true}, // each create sends X-Relata-Duplicates: check
	} {
		b.Run(v.name, func(b *testing.B) {
			app := schemastest.OpenApp(b, b.TempDir())
			reg := schemas.MustRegister(app, nil, schemas.Config{})
			if v.hooks {
				hooks.MustRegister(app, hooks.Config{Registry: reg})
			}
			if v.dedupe {
				dedupe.MustRegister(app, nil, dedupe.Config{Registry: reg})
			}
			srv := schemastest.Serve(b, app)
			user, tok := schemastest.NewUser(b, app, "rep@example.com", "sales", "north")
			companies := seedContacts(b, app, user.Id, 10000, 499)
			client := srv.Client()
			b.ReportAllocs()
			b.ResetTimer()
			if v.name == "relata+dedupe-asked" {
				client = askingClient(client)
			}
			cpu := cpuTime()
			for i := 0; i < b.N; i++ {
				n := 20000 + i
				send(b, client, http.MethodPost, srv.URL+"/api/collections/contacts/records", tok, map[string]any{"full_name": personName(n),
					"email": fmt.Sprintf("p%d@example.com", n), "company": companies[n%len(companies)], "owner": user.Id, "lifecycle_stage": "lead"})
			}
			reportCPU(b, cpu)
		})
	}
}

// personName is a made-up first and last name, distinct for every n below 40,000.
func personName(n int) string {
	first := []string{"Ada", "Bruno", "Carla", "Dario", "Elena", "Fabio", "Giulia", "Hugo", "Irene", "Jonas",
		"Katia", "Luca", "Marta", "Nico", "Olga", "Paolo", "Rita", "Sergio", "Tina", "Ugo"}
	syll := []string{"ba", "ce", "di", "fo", "gu", "la", "me", "ni", "po", "ru", "sa", "te", "vi", "zo", "ma", "ro", "li", "ne", "to", "ca"}
	f := first[n%20]
	n /= 20
	return fmt.Sprintf("%s %s%s%s", f, cap1(syll[n%20]), syll[(n/20)%20], syll[(n/400)%20]+"ni")
}

func cap1(s string) string { return string(s[0]-'a'+'A') + s[1:] }

// seedContacts writes n contacts owned by owner, spread over companies new companies, with
// multi-row inserts (no hooks): the records a duplicate check reads among. It returns the
// companies' ids.
func seedContacts(b *testing.B, app core.App, owner string, n, companies int) []string {
	b.Helper()
	now := types.NowDateTime().String()
	cos := make([]string, companies)
	rows := make([][]any, companies)
	for i := range cos {
		cos[i] = core.GenerateDefaultRandomId()
		rows[i] = []any{cos[i], fmt.Sprintf("Company %d", i), owner, now, now}
	}
	if err := schemas.InsertMany(app, "companies", []string{"id", "name", "owner", "created", "updated"}, rows); err != nil {
		b.Fatal(err)
	}
	rows = make([][]any, n)
	for i := range rows {
		rows[i] = []any{core.GenerateDefaultRandomId(), personName(i), fmt.Sprintf("p%d@example.com", i), cos[i%companies], owner, "lead", now, now}
	}
	if err := schemas.InsertMany(app, "contacts", []string{"id", "full_name", "email", "company", "owner", "lifecycle_stage", "created", "updated"}, rows); err != nil {
		b.Fatal(err)
	}
	return cos
}

// askingClient is client sending "X-Relata-Duplicates: check" with every request.
func askingClient(client *http.Client) *http.Client {
	c := *client
	base := c.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	c.Transport = roundTripper(func(r *http.Request) (*http.Response, error) {
		r = r.Clone(r.Context())
		r.Header.Set(dedupe.DuplicatesHeader, "check")
		return base.RoundTrip(r)
	})
	return &c
}

type roundTripper func(*http.Request) (*http.Response, error)

func (f roundTripper) RoundTrip(r *http.Request) (*http.Response, error) { return f(r) }
