package outbox

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

// VERPPrefix starts the local part of an outbound email's return address (VERP):
// bounce+<emailid>-<tag>@InboundDomain, which workflows/inbox reads to tell which email a
// bounce or an automatic reply is about.
const VERPPrefix = "bounce+"

// verpSecret names the key of VERP tags in relata_secrets.
const verpSecret = "email-verp"

// verpTagLen is the length of a VERP tag in hex digits: 64 bits.
const verpTagLen = 16

// A VERP address names an email, and a bounce to it suppresses the addresses the email went
// to; an email's id is 9 characters of its time and 6 random ones, so without a tag a sender
// could guess the address of someone else's email (and, with the reply path, put a message on
// a contact's timeline). The tag is an HMAC of the id under a key only the server holds.

// VERPKey returns the key of VERP tags, made once and kept in relata_secrets, and when it
// was made: emails queued before then went out with untagged return addresses.
func VERPKey(app core.App) (key []byte, since time.Time, err error) {
	key, err = schemas.StoredSecret(app, verpSecret)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("the VERP key: %w", err)
	}
	rec, err := app.FindFirstRecordByData(schemas.SecretsCollection, "name", verpSecret)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("the VERP key: %w", err)
	}
	return key, rec.GetDateTime("created").Time(), nil
}

// VERPLocal returns the local part of the return address of the email with id.
func VERPLocal(key []byte, id string) string {
	return VERPPrefix + id + "-" + verpTag(key, id)
}

// ParseVERP reads a VERP local part (lower case, VERPPrefix included): the email id it
// names, and whether it carries a tag. A tag that does not hold gives ok false; an untagged
// part gives its id with tagged false, for the caller to accept only for emails sent before
// tags (see [VERPKey]).
func ParseVERP(key []byte, local string) (id string, tagged, ok bool) {
	rest, found := strings.CutPrefix(local, VERPPrefix)
	if !found || rest == "" {
		return "", false, false
	}
	id, tag, found := strings.Cut(rest, "-")
	if !found {
		return id, false, true
	}
	if id == "" || !hmac.Equal([]byte(tag), []byte(verpTag(key, id))) {
		return "", true, false
	}
	return id, true, true
}

func verpTag(key []byte, id string) string {
	m := hmac.New(sha256.New, key)
	m.Write([]byte("relata-verp-v1\n"))
	m.Write([]byte(id))
	return hex.EncodeToString(m.Sum(nil))[:verpTagLen]
}

// VERPKeys caches the VERP key in a process (it never changes once made); the zero value
// is ready to use.
type VERPKeys struct {
	mu    sync.Mutex
	key   []byte
	since time.Time
}

// Get returns the key and when it was made ([VERPKey]), read once.
func (v *VERPKeys) Get(app core.App) ([]byte, time.Time, error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if v.key != nil {
		return v.key, v.since, nil
	}
	key, since, err := VERPKey(app)
	if err != nil {
		return nil, time.Time{}, err
	}
	v.key, v.since = key, since
	return key, since, nil
}
