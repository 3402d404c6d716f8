package schemas_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
)

func TestApplyCreatesCollectionsOnce(t *testing.T) {
	app := openApp(t, t.TempDir())
	p := applyObjs(t, app, defaults(t), false)
	if !p.Pending() {
		t.Fatal("first apply had nothing to do")
	}
	deals, err := app.FindCollectionByNameOrId("deals")
	if err != nil {
		t.Fatal(err)
	}
	for name, typ := range map[string]string{
		"name": "text", "stage": "select", "amount": "number", "amount_currency": "text", "expected_close": "date",
		"owner": "relation", "company": "relation", "contacts": "relation", "last_touched": "date", "created": "autodate",
	} {
		f := deals.Fields.GetByName(name)
		if f == nil || f.Type() != typ {
			t.Errorf("deals.%s = %v; want a %s field", name, f, typ)
		}
	}
	if got := deals.Fields.GetByName("stage").(*core.SelectField).Values; !slices.Equal(got, []string{"lead", "qualified", "proposal", "negotiation", "won", "lost", "renewal_due", "renewal_talks", "renewed", "churned"}) {
		t.Errorf("stage values = %v; want the stages of both pipelines, sales first", got)
	}
	contacts, _ := app.FindCollectionByNameOrId("contacts")
	if !slices.ContainsFunc(contacts.Indexes, func(s string) bool { return strings.Contains(s, "UNIQUE") && strings.Contains(s, "`email`") }) {
		t.Errorf("contacts has no unique email index: %v", contacts.Indexes)
	}

	again, err := schemas.NewPlan(app, defaults(t))
	if err != nil {
		t.Fatal(err)
	}
	if len(again.Changes) != 0 {
		t.Errorf("second plan is not empty: %v", again.Changes)
	}
}

func TestApplyAdditiveKeepsRows(t *testing.T) {
	app := openApp(t, t.TempDir())
	applyObjs(t, app, defaults(t), false)
	co := mustCreate(t, app, "companies", map[string]any{"name": "Acme", "industry": "software"})
	ct := mustCreate(t, app, "contacts", map[string]any{"full_name": "Ada", "email": "ada@acme.test", "company": co.Id, "source": "event"})
	dl := mustCreate(t, app, "deals", map[string]any{"name": "Acme deal", "stage": "proposal", "amount": 5000, "contacts": []string{ct.Id}})

	objs := defaults(t)
	contacts := find(objs, "contacts")
	contacts.Fields = append(contacts.Fields, &schemas.Field{Name: "linkedin", Type: schemas.TypeURL})
	contacts.Field("source").Options = append(contacts.Field("source").Options, schemas.Option{Value: "webinar"})
	sales := find(objs, "deals").Pipeline("sales")
	sales.Stages = slices.Insert(sales.Stages, 1, &schemas.Stage{Name: "discovery", Probability: 15})
	objs = append(objs, &schemas.Object{
		Name: "projects", Label: schemas.Label{Singular: "Project", Plural: "Projects"}, TitleField: "title",
		Fields: []*schemas.Field{{Name: "title", Type: schemas.TypeText}, {Name: "deal", Type: schemas.TypeRelation, Target: "deals"}},
	})
	if err := schemas.Validate(objs); err != nil {
		t.Fatal(err)
	}
	p := applyObjs(t, app, objs, false)
	if b := p.Blocking(); len(b) > 0 {
		t.Fatalf("additive changes were blocking: %v", b)
	}

	for _, c := range []struct{ coll, id, field, want string }{
		{"companies", co.Id, "name", "Acme"},
		{"contacts", ct.Id, "email", "ada@acme.test"},
		{"contacts", ct.Id, "source", "event"},
		{"deals", dl.Id, "stage", "proposal"},
	} {
		r, err := app.FindRecordById(c.coll, c.id)
		if err != nil {
			t.Fatalf("%s %s lost: %v", c.coll, c.id, err)
		}
		if got := r.GetString(c.field); got != c.want {
			t.Errorf("%s.%s = %q; want %q", c.coll, c.field, got, c.want)
		}
	}
	r, _ := app.FindRecordById("deals", dl.Id)
	if r.GetFloat("amount") != 5000 || len(r.GetStringSlice("contacts")) != 1 {
		t.Errorf("deal values changed: %v", r.PublicExport())
	}
	mustCreate(t, app, "contacts", map[string]any{"full_name": "Bo", "source": "webinar", "linkedin": "https://linkedin.com/in/bo"})
	mustCreate(t, app, "deals", map[string]any{"name": "New", "stage": "discovery"})
	mustCreate(t, app, "projects", map[string]any{"title": "Rollout", "deal": dl.Id})
}

func TestApplyRefusesDestructive(t *testing.T) {
	tests := []struct {
		name   string
		change func(objs []*schemas.Object) []*schemas.Object
		want   string // part of the refused change's text
	}{
		{
			name: "drop a field that holds data",
			change: func(objs []*schemas.Object) []*schemas.Object {
				c := find(objs, "contacts")
				c.Fields = slices.DeleteFunc(c.Fields, func(f *schemas.Field) bool { return f.Name == "job_title" })
				return objs
			},
			want: "drop field contacts.job_title",
		},
		{
			name: "retype a field that holds data",
			change: func(objs []*schemas.Object) []*schemas.Object {
				find(objs, "contacts").Field("job_title").Type = schemas.TypeNumber
				return objs
			},
			want: "retype field contacts.job_title",
		},
		{
			name: "remove a stage in use",
			change: func(objs []*schemas.Object) []*schemas.Object {
				p := find(objs, "deals").Pipeline("sales")
				p.Stages = slices.DeleteFunc(p.Stages, func(s *schemas.Stage) bool { return s.Name == "proposal" })
				return objs
			},
			want: `option "proposal" is removed but 1 records use it`,
		},
		{
			name: "remove a select option in use",
			change: func(objs []*schemas.Object) []*schemas.Object {
				f := find(objs, "contacts").Field("source")
				f.Options = slices.DeleteFunc(f.Options, func(o schemas.Option) bool { return o.Value == "event" })
				return objs
			},
			want: `option "event" is removed but 1 records use it`,
		},
		{
			name: "make a multi relation single while records hold several",
			change: func(objs []*schemas.Object) []*schemas.Object {
				find(objs, "deals").Field("contacts").Multiple = false
				return objs
			},
			want: "becomes single-valued but 1 records hold several values",
		},
		{
			name: "drop an object with records",
			change: func(objs []*schemas.Object) []*schemas.Object {
				// activities link to deals; drop activities, which holds one record.
				return slices.DeleteFunc(objs, func(o *schemas.Object) bool { return o.Name == "activities" })
			},
			want: "drop object activities",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			app := openApp(t, t.TempDir())
			applyObjs(t, app, defaults(t), false)
			c1 := mustCreate(t, app, "contacts", map[string]any{"full_name": "Ada", "job_title": "CTO", "source": "event"})
			c2 := mustCreate(t, app, "contacts", map[string]any{"full_name": "Bo"})
			dl := mustCreate(t, app, "deals", map[string]any{"name": "D", "stage": "proposal", "contacts": []string{c1.Id, c2.Id}})
			mustCreate(t, app, "activities", map[string]any{"type": "call", "subject": "Call", "deal": dl.Id})

			objs := tt.change(defaults(t))
			p, err := schemas.NewPlan(app, objs)
			if err != nil {
				t.Fatal(err)
			}
			_, err = schemas.Apply(app, p, schemas.ApplyOptions{})
			var refused *schemas.RefusedError
			if !errors.As(err, &refused) {
				t.Fatalf("apply did not refuse: %v", err)
			}
			if !strings.Contains(err.Error(), tt.want) {
				t.Errorf("refusal does not mention %q:\n%v", tt.want, err)
			}
			// Nothing changed: the data and the columns are intact.
			r, err := app.FindRecordById("contacts", c1.Id)
			if err != nil || r.GetString("job_title") != "CTO" || r.GetString("source") != "event" {
				t.Fatalf("contact changed after a refused apply: %v %v", r, err)
			}
			if d, _ := app.FindRecordById("deals", dl.Id); d.GetString("stage") != "proposal" || len(d.GetStringSlice("contacts")) != 2 {
				t.Fatalf("deal changed after a refused apply: %v", d)
			}

			if _, err := schemas.Apply(app, p, schemas.ApplyOptions{Force: true}); err != nil {
				t.Fatalf("forced apply: %v", err)
			}
			after, err := schemas.NewPlan(app, objs)
			if err != nil {
				t.Fatal(err)
			}
			if after.Pending() {
				t.Errorf("after a forced apply the plan is not empty: %v", after.Changes)
			}
		})
	}
}

func TestApplyAllowsRemovingUnusedStage(t *testing.T) {
	app := openApp(t, t.TempDir())
	applyObjs(t, app, defaults(t), false)
	mustCreate(t, app, "deals", map[string]any{"name": "D", "stage": "lead"})
	objs := defaults(t)
	p := find(objs, "deals").Pipeline("sales")
	p.Stages = slices.DeleteFunc(p.Stages, func(s *schemas.Stage) bool { return s.Name == "negotiation" })
	plan := applyObjs(t, app, objs, false)
	if len(plan.Blocking()) != 0 {
		t.Fatalf("removing an unused stage was blocking: %v", plan.Blocking())
	}
}

func TestApplyWritesReplayableMigration(t *testing.T) {
	app := openApp(t, t.TempDir())
	dir := t.TempDir()
	p, err := schemas.NewPlan(app, defaults(t))
	if err != nil {
		t.Fatal(err)
	}
	res, err := schemas.Apply(app, p, schemas.ApplyOptions{MigrationsDir: dir})
	if err != nil {
		t.Fatal(err)
	}
	if res.MigrationFile == "" || filepath.Dir(res.MigrationFile) != dir {
		t.Fatalf("migration file = %q", res.MigrationFile)
	}
	src, err := os.ReadFile(res.MigrationFile)
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile(`//go:embed (\S+\.json)`).FindSubmatch(src)
	if m == nil {
		t.Fatalf("the migration embeds no snapshot:\n%s", src)
	}
	snapshot, err := os.ReadFile(filepath.Join(dir, string(m[1])))
	if err != nil {
		t.Fatal(err)
	}
	// Replaying the history on an empty database rebuilds the same collections.
	fresh := openApp(t, t.TempDir())
	if err := fresh.ImportCollectionsByMarshaledJSON(snapshot, false); err != nil {
		t.Fatalf("replay: %v", err)
	}
	for _, name := range []string{"companies", "contacts", "deals", "activities"} {
		a, err1 := app.FindCollectionByNameOrId(name)
		b, err2 := fresh.FindCollectionByNameOrId(name)
		if err1 != nil || err2 != nil {
			t.Fatalf("%s: %v %v", name, err1, err2)
		}
		if !slices.Equal(a.Fields.FieldNames(), b.Fields.FieldNames()) || !slices.Equal(a.Indexes, b.Indexes) {
			t.Errorf("%s differs after replay", name)
		}
	}
	hist, err := app.FindAllRecords(schemas.HistoryCollection)
	if err != nil || len(hist) != 1 {
		t.Fatalf("history = %d records, %v; want 1", len(hist), err)
	}
}
