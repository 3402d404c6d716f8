package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
	"github.com/pocketbase/pocketbase/tools/types"
)

// Privacy (package schemas/privacy): the register of access and erasure requests with their
// certificates (no personal data: the subject is kept as a keyed hash), readable by admins;
// and hashed entries in the suppression list, so an erased address is never mailed again.
func init() {
	m.Register(func(app core.App) error {
		const admins = `@request.auth.id != "" && @request.auth.collectionName = "users" && @request.auth.role = "admin"`
		c := core.NewBaseCollection("privacy_requests", "pbc_relata_privacy_requests")
		c.ListRule = types.Pointer(admins)
		c.ViewRule = types.Pointer(admins)
		c.Fields.Add(
			&core.SelectField{Name: "kind", Required: true, MaxSelect: 1, Values: []string{"access", "erasure"}},
			&core.SelectField{Name: "status", Required: true, MaxSelect: 1, Values: []string{"open", "done", "failed"}},
			&core.TextField{Name: "subject_hash", Max: 64, Help: "Keyed hash of the person's email (or phone, or record id); never the value."},
			&core.TextField{Name: "requested_by", Max: 100, Help: "Who made the request: a user id, or cli."},
			&core.DateField{Name: "requested_at", Required: true},
			&core.DateField{Name: "due_at", Help: "The legal deadline: 30 days after the request (GDPR art. 12)."},
			&core.DateField{Name: "completed_at"},
			&core.JSONField{Name: "certificate", MaxSize: 1 << 20, Help: "What was found, exported or erased, by collection."},
			&core.AutodateField{Name: "created", OnCreate: true},
			&core.AutodateField{Name: "updated", OnCreate: true, OnUpdate: true},
		)
		if err := app.Save(c); err != nil {
			return err
		}
		s, err := app.FindCollectionByNameOrId("email_suppressions")
		if err != nil {
			return err
		}
		if f, ok := s.Fields.GetByName("email").(*core.EmailField); ok {
			f.Required = false
			f.Help = "Stored in lower case; empty for the hashed entry of an erased person."
		}
		s.Fields.Add(&core.TextField{Name: "email_hash", Max: 64, Help: "Keyed hash of an erased person's address (schemas.AddressHash)."})
		s.AddIndex("idx_email_suppressions_hash", false, "`email_hash`", "`email_hash` != ''")
		return app.Save(s)
	}, nil)
}
