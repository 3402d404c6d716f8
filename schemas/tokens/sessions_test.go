package tokens_test

import (
	"context"
	"database/sql"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"
	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/security"

	"github.com/relata/relata/hooks"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/tokens"
	"github.com/relata/relata/workflows"
)

// TestSignInTokensAfterChanges: the users of sign-in tokens are cached, and every change a
// request must see — a role, a password, a deletion, the collection's token secret, a
// forged or expired token — is seen by the very next request; a change made behind the
// app's back (another process) within tokens.SessionTTL.
func TestSignInTokensAfterChanges(t *testing.T) {
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	eng := workflows.MustRegister(app, nil, workflows.Config{Registry: reg, RetryBase: time.Minute})
	hooks.MustRegister(app, hooks.Config{Registry: reg, Engine: eng})
	if _, err := tokens.Register(app, tokens.Config{Registry: reg}); err != nil {
		t.Fatal(err)
	}
	srv := schemastest.Serve(t, app)
	eng.Stop()
	t.Cleanup(eng.Stop)

	// Reads of users on the read pool, where PocketBase loads a token's user.
	var userReads atomic.Int64
	pool := app.ConcurrentDB().(*dbx.DB)
	pool.QueryLogFunc = func(_ context.Context, _ time.Duration, s string, _ *sql.Rows, _ error) {
		if strings.Contains(s, "FROM `users`") {
			userReads.Add(1)
		}
	}
	t.Cleanup(func() { pool.QueryLogFunc = nil })

	alice, _ := schemastest.NewUser(t, app, "alice@example.com", "sales", "north")
	for _, name := range []string{"A1", "A2"} {
		schemastest.MustCreate(t, app, "deals", map[string]any{"name": name, "stage": "lead", "owner": alice.Id})
	}
	type list struct {
		TotalItems int `json:"totalItems"`
	}
	// deals is how many deals tok's user sees, -1 when the request is refused.
	deals := func(tok string) int {
		t.Helper()
		var l list
		if code := schemastest.Call(t, srv, http.MethodGet, "/api/collections/deals/records", tok, nil, &l); code != 200 {
			return -1
		}
		return l.TotalItems
	}
	// signedIn says whether the request is served as a signed-in user.
	signedIn := func(tok string) bool {
		t.Helper()
		return schemastest.Call(t, srv, http.MethodPost, "/api/collections/users/auth-refresh", tok, nil, nil) == 200
	}
	newManager := func(t *testing.T, email string) (*core.Record, string) {
		u, tok := schemastest.NewUser(t, app, email, "manager", "")
		if got := deals(tok); got != 2 {
			t.Fatalf("the manager sees %d deals; want 2", got)
		}
		return u, tok
	}
	sign := func(t *testing.T, u *core.Record, key string, d time.Duration) string {
		tok, err := security.NewJWT(jwt.MapClaims{core.TokenClaimId: u.Id, core.TokenClaimType: core.TokenTypeAuth,
			core.TokenClaimCollectionId: u.Collection().Id, core.TokenClaimRefreshable: true}, key, d)
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}

	t.Run("one read of the user for many requests", func(t *testing.T) {
		_, tok := newManager(t, "many@example.com")
		before := userReads.Load()
		for range 20 {
			if got := deals(tok); got != 2 {
				t.Fatalf("sees %d deals; want 2", got)
			}
		}
		if n := userReads.Load() - before; n > 2 {
			t.Errorf("%d reads of users for 20 requests; want at most 2 (one a second)", n)
		}
	})
	for _, c := range []struct {
		name   string
		change func(t *testing.T, u *core.Record, tok string)
		check  func(t *testing.T, u *core.Record, tok string)
	}{
		{"role lowered", func(t *testing.T, u *core.Record, _ string) {
			u.Set("role", "sales")
			if err := app.Save(u); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, _ *core.Record, tok string) {
			if got := deals(tok); got != 0 {
				t.Errorf("a manager made sales still sees %d deals of others", got)
			}
			var out struct{ Record map[string]any }
			if code := schemastest.Call(t, srv, http.MethodPost, "/api/collections/users/auth-refresh", tok, nil, &out); code != 200 || out.Record["role"] != "sales" {
				t.Errorf("the request's user has role %v (%d); want sales", out.Record["role"], code)
			}
		}},
		{"password changed by its user", func(t *testing.T, u *core.Record, tok string) {
			if code := schemastest.Call(t, srv, http.MethodPatch, "/api/collections/users/records/"+u.Id, tok,
				map[string]any{"oldPassword": "password-123", "password": "another-pass-456", "passwordConfirm": "another-pass-456"}, nil); code != 200 {
				t.Fatalf("password change = %d", code)
			}
		}, func(t *testing.T, _ *core.Record, tok string) {
			if signedIn(tok) {
				t.Error("a token from before the password change still signs in")
			}
		}},
		{"user deleted", func(t *testing.T, u *core.Record, _ string) {
			if err := app.Delete(u); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, _ *core.Record, tok string) {
			if signedIn(tok) || deals(tok) > 0 {
				t.Error("a deleted user's token still signs in")
			}
		}},
		{"collection's token secret changed", func(t *testing.T, _ *core.Record, _ string) {
			coll, err := app.FindCollectionByNameOrId(schemas.UsersCollection)
			if err != nil {
				t.Fatal(err)
			}
			coll.AuthToken.Secret = security.RandomString(50)
			if err := app.Save(coll); err != nil {
				t.Fatal(err)
			}
		}, func(t *testing.T, _ *core.Record, tok string) {
			if signedIn(tok) {
				t.Error("a token signed with the old secret still signs in")
			}
		}},
		{"forged signature", nil, func(t *testing.T, u *core.Record, _ string) {
			if signedIn(sign(t, u, "not the key", time.Hour)) {
				t.Error("a token with a forged signature signs in as a cached user")
			}
		}},
		{"expired", nil, func(t *testing.T, u *core.Record, _ string) {
			if signedIn(sign(t, u, u.TokenKey()+u.Collection().AuthToken.Secret, -time.Minute)) {
				t.Error("an expired token signs in as a cached user")
			}
		}},
		{"token key changed by another process", func(t *testing.T, u *core.Record, _ string) {
			// Straight to the database, as another process would: no hook sees it.
			if _, err := app.DB().Update(schemas.UsersCollection, dbx.Params{"tokenKey": security.RandomString(50)},
				dbx.HashExp{"id": u.Id}).Execute(); err != nil {
				t.Fatal(err)
			}
			time.Sleep(tokens.SessionTTL + 100*time.Millisecond)
		}, func(t *testing.T, _ *core.Record, tok string) {
			if signedIn(tok) {
				t.Errorf("a token whose key changed elsewhere still signs in after %s", tokens.SessionTTL)
			}
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			u, tok := newManager(t, strings.ReplaceAll(c.name, " ", "-")+"@example.com")
			if !signedIn(tok) { // cached now
				t.Fatal("a fresh token does not sign in")
			}
			if c.change != nil {
				c.change(t, u, tok)
			}
			c.check(t, u, tok)
		})
	}
	t.Run("a cached token expires", func(t *testing.T) {
		u, _ := newManager(t, "expiring@example.com")
		// Expiry is in whole seconds: sign in 0.4 s before it, ask again 0.2 s after it,
		// within the second the user is kept.
		exp := time.Now().Truncate(time.Second).Add(2 * time.Second)
		tok, err := jwt.NewWithClaims(jwt.SigningMethodHS256, jwt.MapClaims{core.TokenClaimId: u.Id, core.TokenClaimType: core.TokenTypeAuth,
			core.TokenClaimCollectionId: u.Collection().Id, core.TokenClaimRefreshable: true, "exp": exp.Unix()}).
			SignedString([]byte(u.TokenKey() + u.Collection().AuthToken.Secret))
		if err != nil {
			t.Fatal(err)
		}
		time.Sleep(time.Until(exp.Add(-400 * time.Millisecond)))
		if !signedIn(tok) {
			t.Fatal("the token does not sign in before its expiry")
		}
		time.Sleep(time.Until(exp.Add(200 * time.Millisecond)))
		if signedIn(tok) {
			t.Error("a cached token still signs in after its expiry")
		}
	})
	t.Run("superusers are not cached and still sign in", func(t *testing.T) {
		su := schemastest.SuperuserToken(t, app)
		for range 2 {
			if code := schemastest.Call(t, srv, http.MethodGet, "/api/collections/users/records", su, nil, nil); code != 200 {
				t.Fatalf("superuser list of users = %d", code)
			}
		}
	})
}
