package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// Consents gain their purpose and legal basis (GDPR art. 6), and the double opt-in and
// withdrawal dates: a consent counts while it is not withdrawn and, when it needs
// confirmation, once confirmed. Existing consents were given for marketing email.
func init() {
	m.Register(func(app core.App) error {
		c, err := app.FindCollectionByNameOrId("consents")
		if err != nil {
			return err
		}
		c.Fields.Add(
			&core.SelectField{Name: "purpose", MaxSelect: 1, Values: []string{"marketing_email", "profiling", "service"},
				Help: "What the consent is for."},
			&core.SelectField{Name: "basis", MaxSelect: 1, Values: []string{"consent", "contract", "legitimate_interest", "legal_obligation"},
				Help: "The legal basis (GDPR art. 6)."},
			&core.BoolField{Name: "needs_confirmation", Help: "Double opt-in: the consent counts once confirmed."},
			&core.DateField{Name: "confirmed_at", Help: "When the person confirmed it through the emailed link."},
			&core.DateField{Name: "withdrawn_at", Help: "When it was withdrawn (an unsubscribe withdraws the marketing consent)."},
		)
		if err := app.Save(c); err != nil {
			return err
		}
		_, err = app.DB().NewQuery("UPDATE consents SET purpose = 'marketing_email', basis = 'consent' WHERE purpose = '' OR purpose IS NULL").Execute()
		return err
	}, nil)
}
