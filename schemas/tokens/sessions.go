package tokens

import (
	"errors"
	"sync"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/security"

	"github.com/relata/relata/schemas"
)

// SessionTTL bounds how long a user read for a sign-in token is reused without reading it
// again. Changes made through this process reach the next request at once (the cache is
// emptied); SessionTTL is the delay of those made by another process on the same data
// directory (the CLI).
const SessionTTL = time.Second

// maxSessions bounds the cache: past it, it starts empty again.
const maxSessions = 10_000

// errNotCached sends a token to PocketBase's own loading: not a user's sign-in token.
var errNotCached = errors.New("not a user's sign-in token")

// sessions caches the users that sign-in tokens (PocketBase's auth JWTs of the users
// collection) belong to. PocketBase reads the user from the database at every request to
// check the token's signature against the user's token key; a signed-in client's requests
// now read it once a second instead: about a twentieth of the CPU of an end-to-end workflow
// run, whose create is one such request (BENCHMARKS.md).
//
// The signature and expiry are checked at every request, against the cached user's token
// key and the collection's secret, exactly as [core.App.FindAuthRecordByToken] does. Any
// save or delete of a user (password, role, team, verification) and any change of the
// users collection (its token secret) empties the cache before its write and again after
// its commit. A request that read the user before the commit cannot store it after: the
// cache keeps a generation, moved by every emptying, and a read stores only into the
// generation it started in.
type sessions struct {
	mu  sync.Mutex
	gen uint64
	m   map[string]session // user id → user, read at
}

type session struct {
	user *core.Record
	at   time.Time
}

func newSessions() *sessions { return &sessions{m: map[string]session{}} }

// bind empties the cache around every change of a user or of the users collection.
func (s *sessions) bind(app core.App) {
	around := func(e *core.RecordEvent) error {
		s.reset()
		err := e.Next()
		s.reset()
		return err
	}
	after := func(e *core.RecordEvent) error {
		s.reset()
		return e.Next()
	}
	app.OnRecordUpdate(schemas.UsersCollection).Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.tokens.sessions-update", Func: around})
	app.OnRecordDelete(schemas.UsersCollection).Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.tokens.sessions-delete", Func: around})
	app.OnRecordAfterUpdateSuccess(schemas.UsersCollection).Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.tokens.sessions-updated", Func: after})
	app.OnRecordAfterDeleteSuccess(schemas.UsersCollection).Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.tokens.sessions-deleted", Func: after})
	collection := func(e *core.CollectionEvent) error {
		s.reset()
		err := e.Next()
		s.reset()
		return err
	}
	app.OnCollectionUpdate().Bind(&hook.Handler[*core.CollectionEvent]{Id: "relata.tokens.sessions-collection-update", Func: collection})
	app.OnCollectionDelete().Bind(&hook.Handler[*core.CollectionEvent]{Id: "relata.tokens.sessions-collection-delete", Func: collection})
	app.OnCollectionAfterUpdateSuccess().Bind(&hook.Handler[*core.CollectionEvent]{Id: "relata.tokens.sessions-collection-updated",
		Func: func(e *core.CollectionEvent) error { s.reset(); return e.Next() }})
}

func (s *sessions) reset() {
	s.mu.Lock()
	s.gen++
	clear(s.m)
	s.mu.Unlock()
}

// user returns the user whose sign-in token token is, as PocketBase's token loading would,
// or errNotCached for a token of another kind (another auth collection, another token
// type), which PocketBase's loading then handles.
func (s *sessions) user(app core.App, token string) (*core.Record, error) {
	claims, err := security.ParseUnverifiedJWT(token)
	if err != nil {
		return nil, errNotCached
	}
	id, _ := claims[core.TokenClaimId].(string)
	collID, _ := claims[core.TokenClaimCollectionId].(string)
	typ, _ := claims[core.TokenClaimType].(string)
	if id == "" || typ != core.TokenTypeAuth {
		return nil, errNotCached
	}
	users, err := app.FindCachedCollectionByNameOrId(schemas.UsersCollection)
	if err != nil || collID != users.Id {
		return nil, errNotCached
	}
	now := time.Now()
	s.mu.Lock()
	c, ok := s.m[id]
	gen := s.gen
	s.mu.Unlock()
	if ok && now.Sub(c.at) < SessionTTL {
		if _, err := security.ParseJWT(token, c.user.TokenKey()+c.user.Collection().AuthToken.Secret); err != nil {
			return nil, err
		}
		return c.user.Clone(), nil
	}
	rec, err := app.FindAuthRecordByToken(token, core.TokenTypeAuth)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	if s.gen == gen {
		if len(s.m) >= maxSessions {
			clear(s.m)
		}
		s.m[id] = session{user: rec.Clone(), at: now}
	}
	s.mu.Unlock()
	return rec, nil
}
