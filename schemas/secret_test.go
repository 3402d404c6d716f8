package schemas_test

import (
	"bytes"
	"errors"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

const encEnv = "RELATA_TEST_SECRET_KEY"

// openEncryptedApp opens an app whose encryption key is read from encEnv, as `relata serve
// --encryptionEnv RELATA_TEST_SECRET_KEY` does.
func openEncryptedApp(t *testing.T, dir string) *core.BaseApp {
	t.Helper()
	app := core.NewBaseApp(core.BaseAppConfig{DataDir: dir, EncryptionEnv: encEnv})
	if err := app.Bootstrap(); err != nil {
		t.Fatal(err)
	}
	if err := app.RunAllMigrations(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = app.ResetBootstrapState() })
	return app
}

func storedValue(t *testing.T, app core.App, name string) string {
	t.Helper()
	var v string
	if err := app.DB().NewQuery("SELECT value FROM relata_secrets WHERE name = {:n}").Bind(map[string]any{"n": name}).Row(&v); err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return v
}

func TestSecretsEncryptedAtRest(t *testing.T) {
	const value = "whsec-7d41c0de"
	t.Setenv(encEnv, "0123456789abcdef0123456789abcdef")
	dir := t.TempDir()
	app := openEncryptedApp(t, dir)
	if err := schemas.SetSecret(app, "crm-hook", value); err != nil {
		t.Fatal(err)
	}
	stored := storedValue(t, app, "ref:crm-hook")
	if strings.Contains(stored, value) || !strings.HasPrefix(stored, "enc:v1:") {
		t.Errorf("stored value = %q; want it encrypted", stored)
	}
	if got, err := schemas.Secret(app, "crm-hook"); err != nil || got != value {
		t.Errorf("Secret = %q, %v; want %q", got, err, value)
	}
	// Relata's generated secrets are encrypted too, and stable across reads.
	gen, err := schemas.StoredSecret(app, "unsubscribe")
	if err != nil {
		t.Fatal(err)
	}
	if s := storedValue(t, app, "unsubscribe"); strings.Contains(s, string(gen)) {
		t.Errorf("generated secret stored in clear: %q", s)
	}
	if again, _ := schemas.StoredSecret(app, "unsubscribe"); !bytes.Equal(again, gen) {
		t.Errorf("StoredSecret changed between reads")
	}
	list, err := schemas.Secrets(app)
	if err != nil || len(list) != 1 || list[0].Name != "crm-hook" || !list[0].Encrypted {
		t.Errorf("Secrets = %+v, %v; want crm-hook, encrypted", list, err)
	}
	// Without the key the value cannot be read, and the error says why.
	t.Setenv(encEnv, "")
	if _, err := schemas.Secret(app, "crm-hook"); err == nil || !strings.Contains(err.Error(), encEnv) {
		t.Errorf("Secret without the key: err = %v; want it to name %s", err, encEnv)
	}
	// A wrong key does not decrypt.
	t.Setenv(encEnv, "fedcba9876543210fedcba9876543210")
	if _, err := schemas.Secret(app, "crm-hook"); err == nil {
		t.Error("Secret decrypted with a wrong key")
	}
}

func TestSecretStoreChecks(t *testing.T) {
	app := openApp(t, t.TempDir())
	tests := []struct {
		name, secret, value, want string
	}{
		{"bad name", "Bad Name", "x", "must be 1 to 63"},
		{"colon", "ref:x", "x", "must be 1 to 63"},
		{"empty", "a", "", "empty"},
		{"too long", "a", strings.Repeat("x", schemas.MaxSecretLen+1), "at most 512"},
		{"not utf-8", "a", "\xff", "UTF-8"},
	}
	for _, tt := range tests {
		if err := schemas.SetSecret(app, tt.secret, tt.value); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%s: SetSecret = %v; want %q", tt.name, err, tt.want)
		}
	}
	if _, err := schemas.Secret(app, "missing"); !errors.Is(err, schemas.ErrNoSecret) {
		t.Errorf("Secret(missing) = %v; want ErrNoSecret", err)
	}
	if err := schemas.DeleteSecret(app, "missing"); !errors.Is(err, schemas.ErrNoSecret) {
		t.Errorf("DeleteSecret(missing) = %v; want ErrNoSecret", err)
	}
	// Without a key values are stored as they are (PocketBase does the same for settings).
	if err := schemas.SetSecret(app, "plain", "v1"); err != nil {
		t.Fatal(err)
	}
	if err := schemas.SetSecret(app, "plain", "v2"); err != nil {
		t.Fatal(err)
	}
	if got, _ := schemas.Secret(app, "plain"); got != "v2" {
		t.Errorf("replaced value = %q; want v2", got)
	}
	if n, _ := app.CountRecords(schemas.SecretsCollection); n != 1 {
		t.Errorf("%d records after set and replace; want 1", n)
	}
}

func TestSecretCommand(t *testing.T) {
	const value = "cli-secret-93ab"
	t.Setenv(encEnv, "0123456789abcdef0123456789abcdef")
	app := openEncryptedApp(t, t.TempDir())
	run := func(stdin string, args ...string) (string, error) {
		cmd := schemas.NewSecretCommand(app)
		var out bytes.Buffer
		cmd.SetIn(strings.NewReader(stdin))
		cmd.SetOut(&out)
		cmd.SetErr(&out)
		cmd.SetArgs(args)
		err := cmd.Execute()
		return out.String(), err
	}
	out, err := run(value+"\n", "set", "crm-hook")
	if err != nil || !strings.Contains(out, "stored secret crm-hook") || !strings.Contains(out, "encrypted") || strings.Contains(out, value) {
		t.Fatalf("set: %q, %v", out, err)
	}
	if got, _ := schemas.Secret(app, "crm-hook"); got != value {
		t.Errorf("stored %q; want %q (newline trimmed)", got, value)
	}
	if _, err := run("", "set", "empty"); err == nil || !strings.Contains(err.Error(), "standard input") {
		t.Errorf("set with no input: err = %v", err)
	}
	if _, err := run("x", "set", "Bad Name"); err == nil {
		t.Error("set with a bad name succeeded")
	}
	out, err = run("", "list")
	if err != nil || !strings.Contains(out, "crm-hook\tencrypted") || strings.Contains(out, value) {
		t.Errorf("list: %q, %v", out, err)
	}
	if out, err = run("", "delete", "crm-hook"); err != nil || !strings.Contains(out, "deleted secret crm-hook") {
		t.Errorf("delete: %q, %v", out, err)
	}
	if _, err = run("", "delete", "crm-hook"); !errors.Is(err, schemas.ErrNoSecret) {
		t.Errorf("second delete: err = %v; want ErrNoSecret", err)
	}
}
