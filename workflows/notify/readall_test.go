package notify_test

import (
	"net/http"
	"testing"

	"github.com/pocketbase/dbx"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows/notify"
)

// TestReadAll: POST /api/relata/notifications/read marks every unread notification of the
// caller read (1,500 of them, more than any page of the list), and no one else's; anonymous
// callers and superusers (who have none) are refused.
func TestReadAll(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	srv := schemastest.Serve(t, e.app)
	alice, aliceTok := schemastest.NewUser(t, e.app, "alice@example.com", "sales", "north")
	bob, bobTok := schemastest.NewUser(t, e.app, "bob@example.com", "sales", "north")
	rows := [][]any{}
	add := func(user string, n int, readAt string) {
		for range n {
			id := schemas.OrderedID()
			rows = append(rows, []any{id, user, "assigned", "You were given a deal", "key:" + id, readAt, "2026-03-01 09:00:00.000Z"})
		}
	}
	add(alice.Id, 1500, "")
	add(alice.Id, 4, "2026-03-01 10:00:00.000Z")
	add(bob.Id, 3, "")
	if err := schemas.InsertMany(e.app, notify.Collection, []string{"id", "user", "kind", "title", "key", "read_at", "created"}, rows); err != nil {
		t.Fatal(err)
	}
	unread := func(user string) int {
		var n int
		if err := e.app.DB().Select("count(*)").From(notify.Collection).Where(dbx.HashExp{"user": user, "read_at": ""}).Row(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	post := func(token string) (int, int) {
		var out struct {
			Read int `json:"read"`
		}
		code := schemastest.Call(t, srv, http.MethodPost, "/api/relata/notifications/read", token, nil, &out)
		return code, out.Read
	}
	for _, c := range []struct {
		who, token string
		code       int
		read       int
		alice, bob int // unread after
	}{
		{"anonymous", "", 401, -1, 1500, 3},
		{"a superuser", schemastest.SuperuserToken(t, e.app), 403, -1, 1500, 3},
		{"alice", aliceTok, 200, 1500, 0, 3},
		{"alice again", aliceTok, 200, 0, 0, 3},
		{"bob", bobTok, 200, 3, 0, 0},
	} {
		code, read := post(c.token)
		if code != c.code || c.read >= 0 && read != c.read {
			t.Fatalf("%s: %d, %d read; want %d, %d read", c.who, code, read, c.code, c.read)
		}
		if a, b := unread(alice.Id), unread(bob.Id); a != c.alice || b != c.bob {
			t.Fatalf("after %s: alice %d and bob %d unread, want %d and %d", c.who, a, b, c.alice, c.bob)
		}
	}
	var kept int
	if err := e.app.DB().Select("count(*)").From(notify.Collection).Where(dbx.HashExp{"read_at": "2026-03-01 10:00:00.000Z"}).Row(&kept); err != nil || kept != 4 {
		t.Fatalf("%d notifications keep the time they were read (%v), want 4", kept, err)
	}
}
