package transfer_test

import (
	"context"
	"encoding/json"
	"errors"
	"testing"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/transfer"
)

// FuzzBulkRequest sends arbitrary JSON bodies of POST /api/relata/bulk/{object} as a dry run
// by a sales rep: a body is refused with a BadRequestError (or as forbidden), or runs; it
// never panics, never changes a record, and never counts more than the records asked for.
func FuzzBulkRequest(f *testing.F) {
	e := newEnv(f)
	d := schemastest.MustCreate(f, e.app, "deals", map[string]any{"name": "Fuzz deal", "stage": "lead", "owner": e.alice.Id})
	schemastest.MustCreate(f, e.app, "deals", map[string]any{"name": "Carol's", "stage": "lead", "owner": e.carol.Id})
	c := schemastest.MustCreate(f, e.app, "contacts", map[string]any{"full_name": "Fuzz", "tags": []string{"a"}, "owner": e.alice.Id})
	for _, s := range []string{
		`{"all": true, "action": "update", "field": "source", "value": "event"}`,
		`{"ids": ["` + d.Id + `"], "action": "owner", "value": "` + e.bob.Id + `"}`,
		`{"ids": ["` + c.Id + `"], "action": "addTags", "field": "tags", "tags": ["x", "", "a"]}`,
		`{"all": true, "filter": "amount > 5 && (name ~ 'F' || stage = 'lead')", "action": "delete"}`,
		`{"all": true, "filter": "deals_via_company.amount > 1", "action": "update", "field": "name", "value": 7}`,
		`{"all": true, "filter": "@request.auth.id != ''", "action": "removeTags", "field": "source", "tags": [1]}`,
		`{"ids": [], "action": "update", "field": "amount", "value": {"a": [1]}}`,
	} {
		f.Add("deals", s)
		f.Add("contacts", s)
	}
	before := e.count(f, "deals") + e.count(f, "contacts")
	f.Fuzz(func(t *testing.T, object, body string) {
		var opts transfer.BulkOptions
		if json.Unmarshal([]byte(body), &opts) != nil {
			return
		}
		opts.Object, opts.As, opts.DryRun = object, e.alice, true
		j, err := e.svc.Bulk(context.Background(), opts)
		var bad *transfer.BadRequestError
		switch {
		case err == nil:
			if j.Processed > j.Total || j.Changed+j.Unchanged+j.Refused+j.Failed != j.Processed {
				t.Fatalf("inconsistent counts %+v", j)
			}
		case errors.As(err, &bad):
			if bad.Field == "" || bad.Message == "" {
				t.Fatalf("unlocated error %v", err)
			}
		case errors.Is(err, transfer.ErrForbidden):
		default:
			t.Fatalf("%s %s: unexpected error %v", object, body, err)
		}
		if n := e.count(t, "deals") + e.count(t, "contacts"); n != before {
			t.Fatalf("a dry run changed the number of records: %d → %d", before, n)
		}
		if got := e.reload(t, d); got.GetString("owner") != e.alice.Id || got.GetString("source") != "" {
			t.Fatalf("a dry run changed a deal: %v", got.FieldsData())
		}
	})
}
