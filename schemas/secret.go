package schemas

import (
	"crypto/rand"
	"encoding/hex"
	"fmt"

	"github.com/pocketbase/pocketbase/core"
)

// SecretsCollection stores secrets Relata generates for itself (superusers only). It is
// created by the migrations package.
const SecretsCollection = "relata_secrets"

// StoredSecret returns the secret called name, generating a random 256-bit one and storing it
// in [SecretsCollection] the first time. Features use it to sign what they hand out (form
// tokens, unsubscribe links) without a hard-coded key.
func StoredSecret(app core.App, name string) ([]byte, error) {
	if rec, err := app.FindFirstRecordByData(SecretsCollection, "name", name); err == nil {
		return []byte(rec.GetString("value")), nil
	}
	coll, err := app.FindCachedCollectionByNameOrId(SecretsCollection)
	if err != nil {
		return nil, fmt.Errorf("the %s collection is missing (did the migrations run?): %w", SecretsCollection, err)
	}
	var buf [32]byte
	if _, err := rand.Read(buf[:]); err != nil {
		return nil, err
	}
	rec := core.NewRecord(coll)
	rec.Set("name", name)
	rec.Set("value", hex.EncodeToString(buf[:]))
	if err := app.Save(rec); err != nil {
		// Another process may have stored one first: use theirs.
		if rec, err = app.FindFirstRecordByData(SecretsCollection, "name", name); err != nil {
			return nil, fmt.Errorf("store the %s secret: %w", name, err)
		}
	}
	return []byte(rec.GetString("value")), nil
}

// EditDistance is the Levenshtein distance of a and b, in bytes; "did you mean" hints use it.
func EditDistance(a, b string) int {
	prev := make([]int, len(b)+1)
	cur := make([]int, len(b)+1)
	for j := range prev {
		prev[j] = j
	}
	for i := 1; i <= len(a); i++ {
		cur[0] = i
		for j := 1; j <= len(b); j++ {
			cost := 1
			if a[i-1] == b[j-1] {
				cost = 0
			}
			cur[j] = min(prev[j]+1, cur[j-1]+1, prev[j-1]+cost)
		}
		prev, cur = cur, prev
	}
	return prev[len(b)]
}
