package forms_test

import (
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/forms"
	"github.com/relata/relata/schemas/schemastest"
)

// TestSubmissionDoesNotLookUpWhatItMade: the consent and the form_submissions record point
// at records the same transaction saved (the contact, the consent); the write transaction
// does not look them up again (PocketBase's relation check is a count query per relation),
// and still stores every link.
func TestSubmissionDoesNotLookUpWhatItMade(t *testing.T) {
	e := newEnv(t)
	tok := e.token(t, "contact")
	e.clock.Add(5 * time.Second)
	stmts := schemastest.LogStatements(t, e.app)
	code, res, _ := e.post(t, "contact", map[string]any{"full_name": "Ada", "email": "ada@example.com", "message": "Hello", "_consent": true, "_token": tok})
	all := stmts()
	if code != http.StatusOK || !res.OK {
		t.Fatalf("submit = %d %+v", code, res)
	}
	for _, table := range []string{"contacts", forms.ConsentsCollection} {
		if strings.Contains(all, "SELECT count(*) FROM `"+table+"`") {
			t.Errorf("the transaction looked up the %s record it saved:\n%s", table, all)
		}
	}
	for _, table := range []string{"contacts", forms.ConsentsCollection, forms.SubmissionsCollection} {
		if !strings.Contains(all, "INSERT INTO `"+table+"`") {
			t.Errorf("no insert into %s:\n%s", table, all)
		}
	}
	c, err := e.app.FindFirstRecordByData("contacts", "email", "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	consent, err := e.app.FindFirstRecordByData(forms.ConsentsCollection, "record_id", c.Id)
	if err != nil || consent.GetString("contact") != c.Id {
		t.Fatalf("consent %v, %v", consent, err)
	}
	sub, err := e.app.FindFirstRecordByData(forms.SubmissionsCollection, "record_id", c.Id)
	if err != nil || sub.GetString("consent") != consent.Id || len(consent.Id) != 15 || len(sub.Id) != 15 {
		t.Fatalf("submission %v, %v", sub, err)
	}
}

// TestMadeRecordsStillValidated: the consent and the form_submissions record are checked
// field by field as a save checks them: a field an admin added as required, or a pattern an
// admin set, refuses the submission and nothing is stored.
func TestMadeRecordsStillValidated(t *testing.T) {
	for _, tc := range []struct {
		collection string
		change     func(*core.Collection)
	}{
		{forms.SubmissionsCollection, func(c *core.Collection) {
			c.Fields.Add(&core.TextField{Name: "campaign", Required: true})
		}},
		{forms.ConsentsCollection, func(c *core.Collection) {
			c.Fields.GetByName("client_ip").(*core.TextField).Pattern = `^10\.`
		}},
	} {
		t.Run(tc.collection, func(t *testing.T) {
			e := newEnv(t)
			coll, err := e.app.FindCollectionByNameOrId(tc.collection)
			if err != nil {
				t.Fatal(err)
			}
			tc.change(coll)
			if err := e.app.Save(coll); err != nil {
				t.Fatal(err)
			}
			var leftover []*core.Record
			e.app.OnRecordAfterCreateError(forms.SubmissionsCollection, forms.ConsentsCollection).BindFunc(func(re *core.RecordErrorEvent) error {
				leftover = append(leftover, re.Record)
				return re.Next()
			})
			tok := e.token(t, "contact")
			e.clock.Add(5 * time.Second)
			before := e.stored(t, "contacts")
			code, res, _ := e.post(t, "contact", map[string]any{"full_name": "Ada", "email": "ada@example.com", "message": "Hello", "_consent": true, "_token": tok})
			if code != http.StatusInternalServerError || res.OK {
				t.Fatalf("submit = %d %+v; want 500", code, res)
			}
			if after := e.stored(t, "contacts"); after != before {
				t.Fatalf("stored %v, before %v", after, before)
			}
			for _, r := range leftover {
				if forms.SubmittedRecord(r) != nil {
					t.Errorf("%s %s still held after its transaction", r.Collection().Name, r.Id)
				}
			}
		})
	}
}

// TestSubmittedRecord: hooks after a submission's commit get the record it saved without
// reading it again, and nothing is held once the submission has been answered.
func TestSubmittedRecord(t *testing.T) {
	e := newEnv(t)
	var subs, recs []*core.Record
	e.app.OnRecordAfterCreateSuccess(forms.SubmissionsCollection).BindFunc(func(re *core.RecordEvent) error {
		subs = append(subs, re.Record)
		recs = append(recs, forms.SubmittedRecord(re.Record))
		return re.Next()
	})
	for i, email := range []string{"ada@example.com", "ADA@example.com"} { // created, then updated
		tok := e.token(t, "contact")
		e.clock.Add(5 * time.Second)
		if code, res, _ := e.post(t, "contact", map[string]any{"full_name": "Ada", "email": email, "message": "Hello " + email, "_consent": true, "_token": tok}); code != http.StatusOK {
			t.Fatalf("submit %d = %d %+v", i, code, res)
		}
	}
	if len(subs) != 2 {
		t.Fatalf("%d submissions", len(subs))
	}
	for i, rec := range recs {
		if rec == nil || rec.Id != subs[i].GetString("record_id") || rec.Collection().Name != "contacts" || rec.GetString("message") != "Hello "+[]string{"ada@example.com", "ADA@example.com"}[i] {
			t.Fatalf("submission %d: submitted record %v", i, rec)
		}
		if forms.SubmittedRecord(subs[i]) != nil {
			t.Errorf("submission %d still held after it was answered", i)
		}
	}
	if forms.SubmittedRecord(core.NewRecord(subs[0].Collection())) != nil {
		t.Error("a record not saved by a form has a submitted record")
	}
}
