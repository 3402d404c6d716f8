// Package tokens gives users personal API tokens for integrations: long-lived, scoped
// (read or write, optionally to some objects), revocable, with the time of last use shown.
//
// A token is "rlt_" and 43 random base64url characters, sent like a PocketBase token:
//
//	curl -H "Authorization: Bearer rlt_…" https://crm.example.com/api/collections/deals/records
//
// A request with a token acts as the token's user, under the same API rules as the user's
// own session: a token never reaches more than its user does, and reaches less when scoped.
// It reaches the record routes of the objects it names (or of every object), file downloads,
// and Relata's import and export of those objects; nothing else — no sign-in routes (a token
// cannot be traded for a session), no realtime, no batch, no token or account management.
// A read token only reads. An unknown, revoked or expired token is refused with 401, never
// served as anonymous.
//
// Only the SHA-256 of a token is stored (collection api_tokens, field hash, hidden):
//
//	POST   /api/relata/tokens   {"name", "scope": "read"|"write", "objects": [...], "expiresInDays"}
//	                            → {"id", "token", ...} — the only time the token is shown
//	GET    /api/collections/api_tokens/records   the caller's tokens (admins: everyone's)
//	DELETE /api/collections/api_tokens/records/{id}   revoke
package tokens

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Collection holds the tokens.
const Collection = "api_tokens"

// Prefix starts every token, so that it is told apart from a PocketBase session token (and
// found by secret scanners).
const Prefix = "rlt_"

// Scopes of a token.
const (
	ScopeRead  = "read"
	ScopeWrite = "write"
)

// MaxLifetime is the longest a token may live; tokens without an expiry live this long.
const MaxLifetime = 366 * 24 * time.Hour

// Spec describes a token to make.
type Spec struct {
	Name          string   `json:"name"`
	Scope         string   `json:"scope"`
	Objects       []string `json:"objects"`
	ExpiresInDays int      `json:"expiresInDays"`
}

// Token is a stored token, as the middleware needs it.
type Token struct {
	ID       string
	UserID   string
	Name     string
	Scope    string
	Objects  []string
	Expires  time.Time
	LastUsed time.Time
}

// Reaches reports whether the token may reach object (a collection name).
func (t *Token) Reaches(object string) bool {
	return len(t.Objects) == 0 || slices.Contains(t.Objects, object)
}

// SpecError is a refused token request: Pointer is the JSON pointer of the field at fault.
type SpecError struct {
	Pointer, Message string
}

func (e *SpecError) Error() string { return e.Pointer + ": " + e.Message }

// ErrInvalid is returned for a token that is unknown, revoked or expired.
var ErrInvalid = errors.New("the API token is unknown, revoked or expired")

// Hash is the stored form of a token.
func Hash(token string) string {
	sum := sha256.Sum256([]byte(token))
	return hex.EncodeToString(sum[:])
}

// Create makes a token for user as spec says and returns it with its record; the token is
// not kept anywhere. isObject says whether a name is a CRM object.
func Create(app core.App, user *core.Record, spec Spec, isObject func(string) bool, now time.Time) (string, *core.Record, error) {
	spec.Name = strings.TrimSpace(spec.Name)
	switch {
	case spec.Name == "":
		return "", nil, &SpecError{"/name", "give the token a name that says what it is for"}
	case len(spec.Name) > 100:
		return "", nil, &SpecError{"/name", "at most 100 characters"}
	case spec.Scope != ScopeRead && spec.Scope != ScopeWrite:
		return "", nil, &SpecError{"/scope", fmt.Sprintf("%q is neither %q nor %q", spec.Scope, ScopeRead, ScopeWrite)}
	case spec.ExpiresInDays < 0 || time.Duration(spec.ExpiresInDays)*24*time.Hour > MaxLifetime:
		return "", nil, &SpecError{"/expiresInDays", fmt.Sprintf("between 1 and %d (0: the longest)", int(MaxLifetime.Hours()/24))}
	}
	objects := []string{}
	for i, o := range spec.Objects {
		if !isObject(o) {
			return "", nil, &SpecError{fmt.Sprintf("/objects/%d", i), fmt.Sprintf("%q is not an object", o)}
		}
		if !slices.Contains(objects, o) {
			objects = append(objects, o)
		}
	}
	life := MaxLifetime
	if spec.ExpiresInDays > 0 {
		life = time.Duration(spec.ExpiresInDays) * 24 * time.Hour
	}
	buf := make([]byte, 32)
	if _, err := rand.Read(buf); err != nil {
		return "", nil, err
	}
	token := Prefix + base64.RawURLEncoding.EncodeToString(buf)
	coll, err := app.FindCachedCollectionByNameOrId(Collection)
	if err != nil {
		return "", nil, err
	}
	rec := core.NewRecord(coll)
	rec.Set("user", user.Id)
	rec.Set("name", spec.Name)
	rec.Set("hash", Hash(token))
	rec.Set("hint", token[:len(Prefix)+6])
	rec.Set("scope", spec.Scope)
	rec.Set("objects", objects)
	exp, _ := types.ParseDateTime(now.Add(life).UTC())
	rec.Set("expires", exp)
	if err := app.Save(rec); err != nil {
		return "", nil, err
	}
	return token, rec, nil
}

// Resolve finds the live token named by token, and its user.
func Resolve(app core.App, token string, now time.Time) (*Token, *core.Record, error) {
	var row struct {
		ID       string `db:"id"`
		User     string `db:"user"`
		Name     string `db:"name"`
		Scope    string `db:"scope"`
		Objects  string `db:"objects"`
		Expires  string `db:"expires"`
		LastUsed string `db:"last_used"`
	}
	err := app.DB().Select("id", "user", "name", "scope", "objects", "expires", "last_used").
		From(Collection).Where(dbx.HashExp{"hash": Hash(token)}).Limit(1).One(&row)
	if err != nil {
		return nil, nil, ErrInvalid
	}
	t := &Token{ID: row.ID, UserID: row.User, Name: row.Name, Scope: row.Scope}
	if d, err := types.ParseDateTime(row.Expires); err == nil && !d.IsZero() {
		t.Expires = d.Time()
	}
	if d, err := types.ParseDateTime(row.LastUsed); err == nil && !d.IsZero() {
		t.LastUsed = d.Time()
	}
	if t.Expires.IsZero() || !now.Before(t.Expires) {
		return nil, nil, ErrInvalid
	}
	var objs types.JSONArray[string]
	if err := objs.Scan(row.Objects); err == nil {
		t.Objects = objs
	}
	user, err := app.FindRecordById("users", t.UserID)
	if err != nil {
		return nil, nil, ErrInvalid
	}
	return t, user, nil
}

// touch records that t was used, at most once a minute (a direct update: no hooks, no audit
// entry, no write per request).
func touch(app core.App, t *Token, now time.Time) {
	if now.Sub(t.LastUsed) < time.Minute {
		return
	}
	_, err := app.DB().Update(Collection, dbx.Params{"last_used": now.UTC().Format(types.DefaultDateLayout)},
		dbx.HashExp{"id": t.ID}).Execute()
	if err != nil {
		app.Logger().Warn("relata: record the last use of an API token", "token", t.ID, "error", err)
	}
}
