package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// web_forms: form definitions written in the web app's form editor, beside the files of
// --formsDir. Admins and managers read and write them; the forms package checks every save
// exactly as it checks a file (schema, object model, pickers) and refuses a bad definition
// with located errors.
func init() {
	m.Register(func(app core.App) error {
		c := core.NewBaseCollection("web_forms", "pbc_relata_web_forms")
		for _, r := range []**string{&c.ListRule, &c.ViewRule, &c.CreateRule, &c.UpdateRule, &c.DeleteRule} {
			*r = types.Pointer(ruleFormReaders)
		}
		c.Fields.Add(
			&core.TextField{Name: "slug", Required: true, Max: 63, Pattern: `^[a-z0-9][a-z0-9-]{0,62}$`, Presentable: true,
				Help: "The form's slug: /forms/{slug}. Must equal the definition's slug."},
			&core.JSONField{Name: "definition", Required: true, MaxSize: 1 << 20,
				Help: "The form definition, as a file of --formsDir holds it (schemas/forms/form.schema.json)."},
			&core.AutodateField{Name: "created", OnCreate: true},
			&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
		)
		c.AddIndex("idx_web_forms_slug", true, "`slug`", "")
		return app.Save(c)
	}, func(app core.App) error {
		if c, err := app.FindCollectionByNameOrId("web_forms"); err == nil {
			return app.Delete(c)
		}
		return nil
	})
}
