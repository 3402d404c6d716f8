package condition_test

import (
	"testing"
	"time"

	"github.com/relata/relata/schemas"
)

// defaultObject returns the named object of Relata's default CRM model.
func defaultObject(tb testing.TB, name string) *schemas.Object {
	tb.Helper()
	objs, err := schemas.Load(schemas.Defaults())
	if err != nil {
		tb.Fatal(err)
	}
	for _, o := range objs {
		if o.Name == name {
			return o
		}
	}
	tb.Fatalf("no default object %q", name)
	return nil
}

// kitchen is an object with a field of every type.
func kitchen() *schemas.Object {
	return &schemas.Object{
		Name:       "kitchens",
		TitleField: "title",
		Fields: []*schemas.Field{
			{Name: "title", Type: schemas.TypeText, Label: "Title"},
			{Name: "notes", Type: schemas.TypeLongText},
			{Name: "body", Type: schemas.TypeRichText},
			{Name: "score", Type: schemas.TypeNumber},
			{Name: "price", Type: schemas.TypeCurrency, Currency: "EUR"},
			{Name: "active", Type: schemas.TypeBoolean},
			{Name: "due", Type: schemas.TypeDate},
			{Name: "met_at", Type: schemas.TypeDateTime},
			{Name: "email", Type: schemas.TypeEmail},
			{Name: "phone", Type: schemas.TypePhone},
			{Name: "site", Type: schemas.TypeURL},
			{Name: "kind", Type: schemas.TypeSelect, Options: []schemas.Option{{Value: "a"}, {Value: "b"}, {Value: "c"}}},
			{Name: "labels", Type: schemas.TypeSelect, Multiple: true, Options: []schemas.Option{{Value: "vip"}, {Value: "new"}}},
			{Name: "tags", Type: schemas.TypeTags},
			{Name: "company", Type: schemas.TypeRelation, Target: "companies"},
			{Name: "contacts", Type: schemas.TypeRelation, Target: "contacts", Multiple: true},
			{Name: "owner", Type: schemas.TypeOwner},
			{Name: "stage", Type: schemas.TypeStage, Pipeline: "main"},
			{Name: "logo", Type: schemas.TypeFile},
			{Name: "docs", Type: schemas.TypeFile, Multiple: true},
			{Name: "meta", Type: schemas.TypeJSON},
		},
		Pipelines: []*schemas.Pipeline{{Name: "main", Stages: []*schemas.Stage{{Name: "open"}, {Name: "done", Won: true}}}},
	}
}

// now is the time of every test evaluation.
var now = time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)

// pbDate stands for PocketBase's types.DateTime: a value with a Time method.
type pbDate struct{ t time.Time }

func (d pbDate) Time() time.Time { return d.t }

// panicDate is a date value whose Time method panics.
type panicDate struct{}

func (panicDate) Time() time.Time { panic("boom") }

// secret is a host value with an exported method and field, as a PocketBase record would have.
type secret struct{ Password string }

func (s secret) Reveal() string { return s.Password }
