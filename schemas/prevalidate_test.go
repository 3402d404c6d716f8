package schemas_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
)

// TestSaveValidated: activities validated before the write transaction are saved in it
// without PocketBase's relation lookups (one read per related collection instead); one whose
// contact was deleted in between is refused as a save refuses it, and nothing of the
// transaction is stored; one that failed its validation before is refused by it.
func TestSaveValidated(t *testing.T) {
	app := schemastest.OpenApp(t, t.TempDir())
	if err := schemas.MustRegister(app, nil, schemas.Config{}).Sync(); err != nil {
		t.Fatal(err)
	}
	owner, _ := schemastest.NewUser(t, app, "olga@example.com", "sales", "north")
	co := mustCreate(t, app, "companies", map[string]any{"name": "Acme"})
	ada := mustCreate(t, app, "contacts", map[string]any{"full_name": "Ada", "company": co.Id, "owner": owner.Id})
	bea := mustCreate(t, app, "contacts", map[string]any{"full_name": "Bea", "company": co.Id, "owner": owner.Id})
	coll, err := app.FindCollectionByNameOrId("activities")
	if err != nil {
		t.Fatal(err)
	}
	activity := func(values map[string]any) *core.Record {
		r := core.NewRecord(coll)
		r.Load(values)
		return r
	}
	count := func() int {
		n, err := app.CountRecords("activities")
		if err != nil {
			t.Fatal(err)
		}
		return int(n)
	}
	call := func(contact string) map[string]any {
		return map[string]any{"type": "call", "subject": "Call " + contact, "contact": contact, "company": co.Id, "owner": owner.Id}
	}

	// Validated before: the write transaction reads each related collection once.
	recs := []*core.Record{activity(call(ada.Id)), activity(call(bea.Id)), activity(call(ada.Id))}
	for _, r := range recs {
		if err := schemas.ValidateBeforeWrite(context.Background(), app, r); err != nil {
			t.Fatalf("validate %v: %v", r.FieldsData(), err)
		}
	}
	stmts := schemastest.LogStatements(t, app)
	err = app.RunInTransaction(func(tx core.App) error { return schemas.SaveValidated(tx, recs...) })
	sent := stmts()
	if err != nil {
		t.Fatal(err)
	}
	if count() != 3 {
		t.Fatalf("%d activities stored; want 3", count())
	}
	if strings.Contains(sent, "count(*)") {
		t.Errorf("the transaction looked relations up one by one:\n%s", sent)
	}
	for _, table := range []string{"contacts", "companies", schemas.UsersCollection} {
		if n := strings.Count(sent, "SELECT `id` FROM `"+table+"`"); n != 1 {
			t.Errorf("%d reads of %s in the transaction; want 1:\n%s", n, table, sent)
		}
	}

	// Bea deleted between the validation and the save: refused as a save refuses it, and the
	// transaction's other save is not kept.
	late := []*core.Record{activity(call(ada.Id)), activity(call(bea.Id))}
	for _, r := range late {
		if err := schemas.ValidateBeforeWrite(context.Background(), app, r); err != nil {
			t.Fatal(err)
		}
	}
	if err := app.Delete(bea); err != nil {
		t.Fatal(err)
	}
	before := count()
	err = app.RunInTransaction(func(tx core.App) error { return schemas.SaveValidated(tx, late...) })
	var verrs validation.Errors
	if !errors.As(err, &verrs) || verrs["contact"] == nil {
		t.Fatalf("save after the contact's delete = %v; want a validation error on contact", err)
	}
	if count() != before {
		t.Errorf("%d activities after a refused transaction; want %d", count(), before)
	}

	// Refused before the transaction: a required field missing, an unknown contact.
	for name, values := range map[string]map[string]any{
		"subject": {"type": "call", "contact": ada.Id},
		"contact": {"type": "call", "subject": "Call", "contact": "nosuchcontact00"},
	} {
		err := schemas.ValidateBeforeWrite(context.Background(), app, activity(values))
		if !errors.As(err, &verrs) || verrs[name] == nil {
			t.Errorf("validate without a good %s = %v; want a validation error on it", name, err)
		}
	}
	if err := schemas.ValidateBeforeWrite(context.Background(), app, ada); err == nil {
		t.Error("validating a stored record before its write: want an error")
	}
}
