package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// systemCollections are the collections where Relata records the object definitions it applied
// (the common ancestor for three-way schema diffs) and the history of applied schema changes.
// Only superusers reach them.
const systemCollections = `[
	{
		"id": "pbc_relata_objects",
		"name": "relata_objects",
		"type": "base",
		"system": true,
		"listRule": null, "viewRule": null, "createRule": null, "updateRule": null, "deleteRule": null,
		"fields": [
			{"id": "text3208210256", "name": "id", "type": "text", "system": true, "primaryKey": true, "required": true,
			 "min": 15, "max": 15, "pattern": "^[a-z0-9]+$", "autogeneratePattern": "[a-z0-9]{15}"},
			{"id": "text1579384326", "name": "name", "type": "text", "required": true, "max": 63},
			{"id": "json1166384427", "name": "definition", "type": "json", "maxSize": 2000000},
			{"id": "json3451530473", "name": "snapshot", "type": "json", "maxSize": 2000000},
			{"id": "autodate2990389176", "name": "created", "type": "autodate", "onCreate": true},
			{"id": "autodate3332085495", "name": "updated", "type": "autodate", "onCreate": true, "onUpdate": true}
		],
		"indexes": ["CREATE UNIQUE INDEX ` + "`idx_relata_objects_name`" + ` ON ` + "`relata_objects`" + ` (` + "`name`" + `)"]
	},
	{
		"id": "pbc_relata_schema_changes",
		"name": "relata_schema_changes",
		"type": "base",
		"system": true,
		"listRule": null, "viewRule": null, "createRule": null, "updateRule": null, "deleteRule": null,
		"fields": [
			{"id": "text3208210256", "name": "id", "type": "text", "system": true, "primaryKey": true, "required": true,
			 "min": 15, "max": 15, "pattern": "^[a-z0-9]+$", "autogeneratePattern": "[a-z0-9]{15}"},
			{"id": "text1843675174", "name": "summary", "type": "text", "max": 0},
			{"id": "json2052834903", "name": "changes", "type": "json", "maxSize": 2000000},
			{"id": "json1010465530", "name": "snapshots", "type": "json", "maxSize": 20000000},
			{"id": "json3225327577", "name": "dropped", "type": "json", "maxSize": 100000},
			{"id": "bool1250219043", "name": "forced", "type": "bool"},
			{"id": "text1602912115", "name": "source", "type": "text", "max": 0},
			{"id": "autodate2990389176", "name": "created", "type": "autodate", "onCreate": true}
		],
		"indexes": []
	}
]`

func init() {
	m.Register(func(app core.App) error {
		if err := app.ImportCollectionsByMarshaledJSON([]byte(systemCollections), false); err != nil {
			return err
		}
		return setupUsers(app)
	}, func(app core.App) error {
		for _, name := range []string{"relata_schema_changes", "relata_objects"} {
			c, err := app.FindCollectionByNameOrId(name)
			if err != nil {
				continue
			}
			c.System = false
			if err := app.Save(c); err != nil {
				return err
			}
			if err := app.Delete(c); err != nil {
				return err
			}
		}
		return nil
	})
}

// setupUsers turns PocketBase's default "users" auth collection into Relata's CRM users:
// every user has a role (admin, manager, sales) and an optional team; signed-in users can see
// their colleagues (to assign owners); only admins create users, change roles or delete users;
// nobody signs up on their own.
func setupUsers(app core.App) error {
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		return err
	}
	users.Fields.Add(
		&core.SelectField{Name: "role", Values: []string{"admin", "manager", "sales"}, MaxSelect: 1, Required: true,
			Help: "admin: configures Relata; manager: sees every record; sales: sees own (and team) records"},
		&core.TextField{Name: "team", Max: 100, Help: "Users with the same team share records of objects with team scope."},
	)
	const signedIn = `@request.auth.id != "" && @request.auth.collectionName = "users"`
	const admin = `@request.auth.role = "admin"`
	users.ListRule = types.Pointer(signedIn)
	users.ViewRule = types.Pointer(signedIn)
	users.CreateRule = types.Pointer(admin)
	users.UpdateRule = types.Pointer(admin + ` || (id = @request.auth.id && @request.body.role:isset = false && @request.body.team:isset = false)`)
	users.DeleteRule = types.Pointer(admin + ` && id != @request.auth.id`)
	users.PasswordAuth.Enabled = true
	return app.Save(users)
}
