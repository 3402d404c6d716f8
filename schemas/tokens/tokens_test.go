package tokens_test

import (
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/relata/relata/hooks"
	_ "github.com/relata/relata/migrations"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/tokens"
	"github.com/relata/relata/schemas/transfer"
	"github.com/relata/relata/workflows"
)

type list struct {
	TotalItems int              `json:"totalItems"`
	Items      []map[string]any `json:"items"`
}

// TestTokens drives API tokens over real HTTP as two sales users, a manager and an admin: a
// token acts as its user and no further, within its scope and objects, is refused where it
// could be traded for more, shows only its hint, and stops working when revoked or expired.
func TestTokens(t *testing.T) {
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	eng := workflows.MustRegister(app, nil, workflows.Config{Registry: reg, RetryBase: time.Minute})
	hooks.MustRegister(app, hooks.Config{Registry: reg, Engine: eng})
	transfer.MustRegister(app, nil, transfer.Config{Registry: reg})
	var clock atomic.Int64
	clock.Store(time.Now().UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	if _, err := tokens.Register(app, tokens.Config{Registry: reg, Now: now}); err != nil {
		t.Fatal(err)
	}
	srv := schemastest.Serve(t, app)
	eng.Stop()
	t.Cleanup(eng.Stop)

	alice, aliceTok := schemastest.NewUser(t, app, "alice@example.com", "sales", "north")
	_, carolTok := schemastest.NewUser(t, app, "carol@example.com", "sales", "south")
	carol, _ := app.FindAuthRecordByEmail("users", "carol@example.com")
	_, adminTok := schemastest.NewUser(t, app, "admin@example.com", "admin", "")
	for i := range 3 {
		schemastest.MustCreate(t, app, "deals", map[string]any{"name": fmt.Sprintf("Alice %d", i), "stage": "lead", "owner": alice.Id})
	}
	schemastest.MustCreate(t, app, "deals", map[string]any{"name": "Carol's", "stage": "lead", "owner": carol.Id})

	call := func(method, path, auth string, body any, out any) int {
		t.Helper()
		return schemastest.Call(t, srv, method, path, auth, body, out)
	}
	type made struct {
		ID, Token, Hint string
	}
	mk := func(auth string, spec map[string]any) made {
		t.Helper()
		var m made
		if code := call("POST", "/api/relata/tokens", auth, spec, &m); code != 200 {
			t.Fatalf("make token %v = %d", spec, code)
		}
		if !strings.HasPrefix(m.Token, tokens.Prefix) || !strings.HasPrefix(m.Token, m.Hint) {
			t.Fatalf("token %q, hint %q", m.Token, m.Hint)
		}
		return m
	}
	read := mk(aliceTok, map[string]any{"name": "BI", "scope": "read", "objects": []string{"deals"}})
	write := mk(aliceTok, map[string]any{"name": "Zapier", "scope": "write", "expiresInDays": 30})

	// Refusals of bad token requests say where.
	for _, c := range []struct {
		spec map[string]any
		want string
	}{
		{map[string]any{"name": "", "scope": "read"}, "/name"},
		{map[string]any{"name": "x", "scope": "admin"}, "/scope"},
		{map[string]any{"name": "x", "scope": "read", "objects": []string{"deals", "relata_audit"}}, "/objects/1"},
		{map[string]any{"name": "x", "scope": "read", "expiresInDays": 5000}, "/expiresInDays"},
	} {
		var out struct {
			Message string
			Data    map[string]any
		}
		if code := call("POST", "/api/relata/tokens", aliceTok, c.spec, &out); code != 400 || out.Data[c.want] == nil || !strings.Contains(out.Message, c.want) {
			t.Errorf("token request %v = %d %q %v; want 400 at %q", c.spec, code, out.Message, out.Data, c.want)
		}
	}

	var l list
	if code := call("GET", "/api/collections/deals/records", "Bearer "+read.Token, nil, &l); code != 200 || l.TotalItems != 3 {
		t.Fatalf("deals with alice's read token = %d, %d items; want 200 and her 3", code, l.TotalItems)
	}
	carolDeal := ""
	var all list
	call("GET", "/api/collections/deals/records", carolTok, nil, &all)
	for _, d := range all.Items {
		if d["name"] == "Carol's" {
			carolDeal = d["id"].(string)
		}
	}
	newDeal := map[string]any{"name": "By token", "stage": "lead", "owner": alice.Id}
	for _, c := range []struct {
		name, method, path, token string
		body                      any
		want                      int
	}{
		{"a read token writes", "POST", "/api/collections/deals/records", read.Token, newDeal, 403},
		{"a deals token reads companies", "GET", "/api/collections/companies/records", read.Token, nil, 403},
		{"a scoped token expands", "GET", "/api/collections/deals/records?expand=company", read.Token, nil, 403},
		{"a deals token filters through companies", "GET", "/api/collections/deals/records?filter=" + url.QueryEscape(`company.name = "x"`), read.Token, nil, 403},
		{"a deals token filters through a back-relation", "GET", "/api/collections/deals/records?filter=" + url.QueryEscape(`activities_via_deal.subject ?~ "x"`), read.Token, nil, 403},
		{"a deals token sorts through companies", "GET", "/api/collections/deals/records?sort=company.name", read.Token, nil, 403},
		{"a deals token exports through companies", "GET", "/api/relata/export/deals?filter=" + url.QueryEscape(`company.domain != ""`), read.Token, nil, 403},
		{"a deals token filters by @collection", "GET", "/api/collections/deals/records?filter=" + url.QueryEscape(`@collection.companies.name = "x"`), read.Token, nil, 403},
		{"a deals token filters its own fields", "GET", "/api/collections/deals/records?filter=" + url.QueryEscape(`name != "" && owner.id != ""`) + "&sort=-amount,@rowid", read.Token, nil, 200},
		{"a deals token filters by owner's name", "GET", "/api/collections/deals/records?filter=" + url.QueryEscape(`owner.name != "zz"`), read.Token, nil, 200},
		{"an unscoped token filters through companies", "GET", "/api/collections/deals/records?filter=" + url.QueryEscape(`company.name != "x"`), write.Token, nil, 200},
		{"another user's deal", "GET", "/api/collections/deals/records/" + carolDeal, write.Token, nil, 404},
		{"a token trades itself for a session", "POST", "/api/collections/users/auth-refresh", write.Token, nil, 403},
		{"a token changes its user", "PATCH", "/api/collections/users/records/" + alice.Id, write.Token, map[string]any{"name": "x"}, 403},
		{"a token makes a token", "POST", "/api/relata/tokens", write.Token, map[string]any{"name": "more", "scope": "write"}, 403},
		{"a token lists tokens", "GET", "/api/collections/api_tokens/records", write.Token, nil, 403},
		{"a token opens realtime", "GET", "/api/realtime", write.Token, nil, 403},
		{"a token batches", "POST", "/api/batch", write.Token, map[string]any{"requests": []any{}}, 403},
		{"a token reads emails", "GET", "/api/collections/emails/records", write.Token, nil, 403},
		{"a made-up token", "GET", "/api/collections/deals/records", tokens.Prefix + "nope", nil, 401},
		{"a write token creates her deal", "POST", "/api/collections/deals/records", write.Token, newDeal, 200},
		{"a write token creates carol's deal", "POST", "/api/collections/deals/records", write.Token, map[string]any{"name": "x", "stage": "lead", "owner": carol.Id}, 400},
		{"a write token exports", "GET", "/api/relata/export/deals", write.Token, nil, 200},
		{"a deals token exports companies", "GET", "/api/relata/export/companies", read.Token, nil, 403},
		{"a read token imports", "POST", "/api/relata/import/deals", read.Token, nil, 403},
		{"a token reads colleagues", "GET", "/api/collections/users/records", write.Token, nil, 200},
		{"tokens are made over REST", "POST", "/api/collections/api_tokens/records", aliceTok, map[string]any{"user": alice.Id, "name": "x", "hash": "00", "scope": "write"}, 403},
	} {
		var out struct{ Message string }
		var into any
		if c.want >= 400 {
			into = &out // an error's message (a success may be a file)
		}
		if code := call(c.method, c.path, "Bearer "+c.token, c.body, into); code != c.want {
			t.Errorf("%s: %s %s = %d %q; want %d", c.name, c.method, c.path, code, out.Message, c.want)
		}
	}

	// Lists show the hint and when a token was last used, never its hash; each user sees
	// her own, admins everyone's.
	var mine list
	call("GET", "/api/collections/api_tokens/records", aliceTok, nil, &mine)
	if mine.TotalItems != 2 {
		t.Fatalf("alice lists %d tokens; want 2", mine.TotalItems)
	}
	for _, it := range mine.Items {
		if _, ok := it["hash"]; ok {
			t.Errorf("the token list shows the hash: %v", it)
		}
		if it["id"] == read.ID && it["last_used"] == "" {
			t.Errorf("the read token's last use is not recorded: %v", it)
		}
	}
	var theirs list
	call("GET", "/api/collections/api_tokens/records", carolTok, nil, &theirs)
	if theirs.TotalItems != 0 {
		t.Errorf("carol lists %d of alice's tokens", theirs.TotalItems)
	}
	if code := call("DELETE", "/api/collections/api_tokens/records/"+read.ID, carolTok, nil, nil); code != 404 {
		t.Errorf("carol revokes alice's token = %d; want 404", code)
	}
	var everyone list
	call("GET", "/api/collections/api_tokens/records", adminTok, nil, &everyone)
	if everyone.TotalItems != 2 {
		t.Errorf("the admin lists %d tokens; want 2", everyone.TotalItems)
	}

	// Revoked: refused at once. Expired: refused.
	if code := call("DELETE", "/api/collections/api_tokens/records/"+read.ID, aliceTok, nil, nil); code != 204 {
		t.Fatalf("revoke = %d", code)
	}
	if code := call("GET", "/api/collections/deals/records", "Bearer "+read.Token, nil, nil); code != 401 {
		t.Errorf("a revoked token = %d; want 401", code)
	}
	clock.Add(int64(31 * 24 * time.Hour))
	if code := call("GET", "/api/collections/deals/records", "Bearer "+write.Token, nil, nil); code != http.StatusUnauthorized {
		t.Errorf("an expired token = %d; want 401", code)
	}
}
