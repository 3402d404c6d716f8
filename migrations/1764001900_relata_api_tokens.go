package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Personal API tokens (package schemas/tokens): a user's long-lived, scoped, revocable
// credentials for integrations. Only the SHA-256 of a token is stored (hidden); the token
// itself is shown once, when POST /api/relata/tokens makes it. A user lists and revokes
// (deletes) her own tokens, admins everyone's; nobody creates or edits one through the REST
// API, so no token is ever chosen by a client or widened after it was made.
func init() {
	m.Register(func(app core.App) error {
		users, err := app.FindCollectionByNameOrId("users")
		if err != nil {
			return err
		}
		c := core.NewBaseCollection("api_tokens", "pbc_relata_api_tokens")
		c.Fields.Add(
			&core.RelationField{Name: "user", CollectionId: users.Id, MaxSelect: 1, Required: true, CascadeDelete: true},
			&core.TextField{Name: "name", Required: true, Max: 100, Presentable: true, Help: "What the token is for, e.g. \"Zapier\"."},
			&core.TextField{Name: "hash", Required: true, Hidden: true, Max: 64, Help: "SHA-256 of the token, hex."},
			&core.TextField{Name: "hint", Max: 20, Help: "The token's first characters, to recognise it."},
			&core.SelectField{Name: "scope", Values: []string{"read", "write"}, MaxSelect: 1, Required: true},
			&core.JSONField{Name: "objects", MaxSize: 4096, Help: "The objects the token reaches; empty: every object its user can."},
			&core.DateField{Name: "expires"},
			&core.DateField{Name: "last_used"},
			&core.AutodateField{Name: "created", OnCreate: true},
		)
		c.AddIndex("idx_api_tokens_hash", true, "`hash`", "")
		c.AddIndex("idx_api_tokens_user", false, "`user`", "")
		mine := `user = @request.auth.id || @request.auth.role = "admin"`
		c.ListRule = types.Pointer(mine)
		c.ViewRule = types.Pointer(mine)
		c.DeleteRule = types.Pointer(mine)
		return app.Save(c)
	}, func(app core.App) error {
		c, err := app.FindCollectionByNameOrId("api_tokens")
		if err != nil {
			return nil
		}
		return app.Delete(c)
	})
}
