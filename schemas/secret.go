package schemas

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"unicode/utf8"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/security"
)

// SecretsCollection stores secrets (superusers only): those Relata generates for itself
// (see [StoredSecret]) and those people store for definitions to reference by name, such as
// a webhook's signing key (see [SetSecret]). It is created by the migrations package.
// Values are encrypted at rest with PocketBase's key (the environment variable named by
// --encryptionEnv) when it is set, as PocketBase does for its settings.
const SecretsCollection = "relata_secrets"

// MaxSecretLen is the longest value [SetSecret] stores, in bytes.
const MaxSecretLen = 512

// ErrNoSecret is returned for a secret name that is not stored.
var ErrNoSecret = errors.New("no such secret")

// secretRefPrefix sets the secrets people store apart from Relata's own in
// SecretsCollection, so no API or command can list, read or replace a generated one.
const secretRefPrefix = "ref:"

// encPrefix marks an encrypted value; values stored without a key have none.
const encPrefix = "enc:v1:"

var secretNameRe = regexp.MustCompile(`^[a-z0-9][a-z0-9._-]{0,62}$`)

// CheckSecretName reports a name that cannot name a stored secret: 1 to 63 lowercase
// letters, digits, dots, dashes and underscores, starting with a letter or digit.
func CheckSecretName(name string) error {
	if !secretNameRe.MatchString(name) {
		return fmt.Errorf("secret name %q must be 1 to 63 lowercase letters, digits, '.', '-' or '_', starting with a letter or digit", name)
	}
	return nil
}

// SecretInfo describes a stored secret without its value.
type SecretInfo struct {
	Name      string `json:"name"`
	Encrypted bool   `json:"encrypted"` // stored encrypted (a key was set when it was stored)
	Updated   string `json:"updated"`   // when the value was last set (UTC)
}

// SetSecret stores value under name, replacing any value it had. The value is encrypted
// when PocketBase's encryption key is set. Values are write-only: no API returns them, only
// [Secret] reads them for the feature that uses them.
func SetSecret(app core.App, name, value string) error {
	if err := CheckSecretName(name); err != nil {
		return err
	}
	switch {
	case value == "":
		return errors.New("the secret value is empty")
	case len(value) > MaxSecretLen:
		return fmt.Errorf("the secret value is %d bytes; at most %d are stored", len(value), MaxSecretLen)
	case !utf8.ValidString(value):
		return errors.New("the secret value is not valid UTF-8 text")
	}
	stored, err := sealSecret(app, value)
	if err != nil {
		return err
	}
	coll, err := app.FindCachedCollectionByNameOrId(SecretsCollection)
	if err != nil {
		return fmt.Errorf("the %s collection is missing (did the migrations run?): %w", SecretsCollection, err)
	}
	// Replace the record, so its created time says when the value was last set (the
	// collection has no updated field).
	err = app.RunInTransaction(func(tx core.App) error {
		if old, err := tx.FindFirstRecordByData(SecretsCollection, "name", secretRefPrefix+name); err == nil {
			if err := tx.Delete(old); err != nil {
				return err
			}
		}
		rec := core.NewRecord(coll)
		rec.Set("name", secretRefPrefix+name)
		rec.Set("value", stored)
		return tx.Save(rec)
	})
	if err != nil {
		return fmt.Errorf("store secret %s: %w", name, err)
	}
	return nil
}

// DeleteSecret removes the secret called name; [ErrNoSecret] when there is none.
func DeleteSecret(app core.App, name string) error {
	if err := CheckSecretName(name); err != nil {
		return err
	}
	rec, err := app.FindFirstRecordByData(SecretsCollection, "name", secretRefPrefix+name)
	if err != nil {
		return fmt.Errorf("secret %s: %w", name, ErrNoSecret)
	}
	return app.Delete(rec)
}

// Secrets lists the secrets people stored, by name, without their values.
func Secrets(app core.App) ([]SecretInfo, error) {
	var rows []struct {
		Name    string `db:"name"`
		Value   string `db:"value"`
		Created string `db:"created"`
	}
	err := app.RecordQuery(SecretsCollection).
		Select("name", "value", "created").
		AndWhere(dbx.Like("name", secretRefPrefix).Match(false, true)).
		OrderBy("name").All(&rows)
	if err != nil {
		return nil, fmt.Errorf("list secrets: %w", err)
	}
	out := make([]SecretInfo, 0, len(rows))
	for _, r := range rows {
		if !strings.HasPrefix(r.Name, secretRefPrefix) {
			continue
		}
		out = append(out, SecretInfo{Name: strings.TrimPrefix(r.Name, secretRefPrefix), Encrypted: strings.HasPrefix(r.Value, encPrefix), Updated: r.Created})
	}
	slices.SortFunc(out, func(a, b SecretInfo) int { return strings.Compare(a.Name, b.Name) })
	return out, nil
}

// Secret returns the value stored under name by [SetSecret]; [ErrNoSecret] when there is
// none. Only the feature that uses a secret calls it (a webhook signing its request).
func Secret(app core.App, name string) (string, error) {
	rec, err := app.FindFirstRecordByData(SecretsCollection, "name", secretRefPrefix+name)
	if err != nil {
		return "", fmt.Errorf("secret %s: %w", name, ErrNoSecret)
	}
	v, err := openSecret(app, rec.GetString("value"))
	if err != nil {
		return "", fmt.Errorf("secret %s: %w", name, err)
	}
	return v, nil
}

// encryptionKey returns PocketBase's encryption key, or "" when none is set.
func encryptionKey(app core.App) string {
	if env := app.EncryptionEnv(); env != "" {
		return os.Getenv(env)
	}
	return ""
}

// sealSecret returns value as stored: encrypted with PocketBase's key when one is set.
func sealSecret(app core.App, value string) (string, error) {
	key := encryptionKey(app)
	if key == "" {
		return value, nil
	}
	if len(key) != 32 {
		return "", fmt.Errorf("the encryption key in $%s must be 32 characters, not %d", app.EncryptionEnv(), len(key))
	}
	enc, err := security.Encrypt([]byte(value), key)
	if err != nil {
		return "", fmt.Errorf("encrypt secret: %w", err)
	}
	return encPrefix + enc, nil
}

// openSecret returns a stored value in clear.
func openSecret(app core.App, stored string) (string, error) {
	enc, ok := strings.CutPrefix(stored, encPrefix)
	if !ok {
		return stored, nil
	}
	key := encryptionKey(app)
	if key == "" {
		return "", fmt.Errorf("it is encrypted and the encryption key ($%s) is not set", app.EncryptionEnv())
	}
	plain, err := security.Decrypt(enc, key)
	if err != nil {
		return "", fmt.Errorf("decrypt (wrong key in $%s?): %w", app.EncryptionEnv(), err)
	}
	return string(plain), nil
}

// StoredSecret returns the secret called name, generating a random 256-bit one and storing it
// in [SecretsCollection] the first time. Features use it to sign what they hand out (form
// tokens, unsubscribe links) without a hard-coded key.
func StoredSecret(app core.App, name string) ([]byte, error) {
	if rec, err := app.FindFirstRecordByData(SecretsCollection, "name", name); err == nil {
		v, err := openSecret(app, rec.GetString("value"))
		return []byte(v), err
	}
	coll, err := app.FindCachedCollectionByNameOrId(SecretsCollection)
	if err != nil {
		return nil, fmt.Errorf("the %s collection is missing (did the migrations run?): %w", SecretsCollection, err)
	}
	var buf [32]byte
	if _, err := rand.Read(buf[:]); err != nil {
		return nil, err
	}
	value := hex.EncodeToString(buf[:])
	stored, err := sealSecret(app, value)
	if err != nil {
		return nil, err
	}
	rec := core.NewRecord(coll)
	rec.Set("name", name)
	rec.Set("value", stored)
	if err := app.Save(rec); err != nil {
		// Another process may have stored one first: use theirs.
		if rec, err = app.FindFirstRecordByData(SecretsCollection, "name", name); err != nil {
			return nil, fmt.Errorf("store the %s secret: %w", name, err)
		}
		v, err := openSecret(app, rec.GetString("value"))
		return []byte(v), err
	}
	return []byte(value), nil
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
