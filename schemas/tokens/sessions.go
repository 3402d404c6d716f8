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
// collection) belong to. PocketBase reads the user from the database at every request and
// checks the token's signature against the user's token key; a signed-in client's requests
// now do that once a second instead: about a twentieth of the CPU of an end-to-end workflow
// run, whose create is one such request (BENCHMARKS.md).
//
// The cache is keyed by the token itself: an entry is a token PocketBase's
// [core.App.FindAuthRecordByToken] accepted (signature, expiry, type, collection), with its
// user as read then. A hit checks the token's expiry again and returns a copy of the user.
// Any save or delete of a user (password, role, team, verification) and any change of a
// collection (the users' token secret) empties the cache before its write and again after
// its commit. A request that read a user before the commit cannot store it after: the
// cache keeps a generation, moved by every emptying, and a read stores only into the
// generation it started in.
type sessions struct {
	mu  sync.Mutex
	gen uint64
	m   map[string]session // token → its user
}

type session struct {
	user *core.Record
	at   time.Time // when the user was read
	exp  time.Time // the token's expiry
}

func newSessions() *sessions { return &sessions{m: map[string]session{}} }

// bind empties the cache around every change of a user or of a collection.
func (s *sessions) bind(app core.App) {
	app.OnRecordUpdate(schemas.UsersCollection).Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.tokens.sessions-update", Func: emptyAround[*core.RecordEvent](s)})
	app.OnRecordDelete(schemas.UsersCollection).Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.tokens.sessions-delete", Func: emptyAround[*core.RecordEvent](s)})
	app.OnRecordAfterUpdateSuccess(schemas.UsersCollection).Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.tokens.sessions-updated", Func: emptyAfter[*core.RecordEvent](s)})
	app.OnRecordAfterDeleteSuccess(schemas.UsersCollection).Bind(&hook.Handler[*core.RecordEvent]{Id: "relata.tokens.sessions-deleted", Func: emptyAfter[*core.RecordEvent](s)})
	app.OnCollectionUpdate().Bind(&hook.Handler[*core.CollectionEvent]{Id: "relata.tokens.sessions-collection-update", Func: emptyAround[*core.CollectionEvent](s)})
	app.OnCollectionDelete().Bind(&hook.Handler[*core.CollectionEvent]{Id: "relata.tokens.sessions-collection-delete", Func: emptyAround[*core.CollectionEvent](s)})
	app.OnCollectionAfterUpdateSuccess().Bind(&hook.Handler[*core.CollectionEvent]{Id: "relata.tokens.sessions-collection-updated", Func: emptyAfter[*core.CollectionEvent](s)})
	app.OnCollectionAfterDeleteSuccess().Bind(&hook.Handler[*core.CollectionEvent]{Id: "relata.tokens.sessions-collection-deleted", Func: emptyAfter[*core.CollectionEvent](s)})
}

// emptyAround is a handler that empties the cache before the change and after its write.
func emptyAround[E interface{ Next() error }](s *sessions) func(E) error {
	return func(e E) error {
		s.reset()
		err := e.Next()
		s.reset()
		return err
	}
}

// emptyAfter is a handler that empties the cache after a change committed.
func emptyAfter[E interface{ Next() error }](s *sessions) func(E) error {
	return func(e E) error {
		s.reset()
		return e.Next()
	}
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
	now := time.Now()
	s.mu.Lock()
	c, ok := s.m[token]
	gen := s.gen
	s.mu.Unlock()
	if ok && now.Sub(c.at) < SessionTTL && now.Before(c.exp) {
		return c.user.Clone(), nil
	}
	claims, err := security.ParseUnverifiedJWT(token) // checks exp, nbf and iat
	if err != nil {
		return nil, errNotCached
	}
	collID, _ := claims[core.TokenClaimCollectionId].(string)
	typ, _ := claims[core.TokenClaimType].(string)
	exp, err := claims.GetExpirationTime()
	if typ != core.TokenTypeAuth || err != nil || exp == nil {
		return nil, errNotCached
	}
	users, err := app.FindCachedCollectionByNameOrId(schemas.UsersCollection)
	if err != nil || collID != users.Id {
		return nil, errNotCached
	}
	rec, err := app.FindAuthRecordByToken(token, core.TokenTypeAuth)
	if err != nil {
		return nil, err
	}
	s.put(token, session{user: rec.Clone(), at: now, exp: exp.Time}, gen)
	return rec, nil
}

// put stores a session read in generation gen, unless an emptying came since. A full cache
// first drops the entries past SessionTTL (read again at their next request anyway); if
// that leaves more than three quarters of maxSessions, it starts empty, so a sweep comes
// at most once every maxSessions/4 new tokens.
func (s *sessions) put(token string, c session, gen uint64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.gen != gen {
		return
	}
	if len(s.m) >= maxSessions {
		for t, old := range s.m {
			if c.at.Sub(old.at) >= SessionTTL {
				delete(s.m, t)
			}
		}
		if len(s.m) > maxSessions*3/4 {
			clear(s.m)
		}
	}
	s.m[token] = c
}
