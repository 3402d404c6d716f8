package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// Users may ask for multi-factor sign-in for themselves (`serve --mfa admins` requires it of
// admins and of every user with this field on; see cmd/relata/mfa.go).
func init() {
	m.Register(func(app core.App) error {
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			return err
		}
		users.Fields.Add(&core.BoolField{Name: "mfa", Help: "Sign in with a password and a code sent by email."})
		return app.Save(users)
	}, func(app core.App) error {
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			return nil
		}
		users.Fields.RemoveByName("mfa")
		return app.Save(users)
	})
}
