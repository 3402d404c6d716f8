package schemas

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"strings"

	"github.com/pocketbase/pocketbase/core"
)

// AddressHash returns the keyed hash (HMAC-SHA-256 with a stored secret) of an email address,
// lower-cased and trimmed. Privacy erasure keeps only this hash in the suppression list, so an
// erased person is never mailed again while their address is no longer stored.
func AddressHash(app core.App, addr string) (string, error) {
	hash, err := AddressHasher(app)
	if err != nil {
		return "", err
	}
	return hash(addr), nil
}

// AddressHasher returns AddressHash with the key read once, for a batch of addresses (the
// outbox's and a campaign's suppression checks hash hundreds at a time; reading the stored
// secret for each was a query per address).
func AddressHasher(app core.App) (func(addr string) string, error) {
	key, err := StoredSecret(app, "address-hash")
	if err != nil {
		return nil, err
	}
	return func(addr string) string {
		m := hmac.New(sha256.New, key)
		m.Write([]byte(strings.ToLower(strings.TrimSpace(addr))))
		return hex.EncodeToString(m.Sum(nil))
	}, nil
}
