package forms_test

import (
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/forms"
	"github.com/relata/relata/schemas/schemastest"
)

// taskForm is a form on activities whose pickers list contacts (visible to the owner's team)
// and deals (visible to their owner); public says whether strangers reach it.
func taskForm(slug string, public bool) string {
	p := "false"
	if public {
		p = "true"
	}
	return `{"slug": "` + slug + `", "title": "Task", "object": "activities", "public": ` + p + `,
  "fields": [{"name": "subject"}, {"name": "contact", "picker": {}}, {"name": "deal", "picker": {}}],
  "hidden": {"type": "task"},
  "spam": {"minFillSeconds": 0, "ratePerMinute": 0, "ratePerHour": 0}}`
}

// TestPrivatePickerReadsAsUser: a private form's pickers list, and accept, only the records
// the signed-in user may view — her team's contacts and her own deals for a sales rep, every
// record for a manager, an admin and a superuser — on the page, in the JSON definition and
// when the submission is stored. Signed out, the form is not there. A public form's pickers
// still list what the filter matches, whoever loads it.
func TestPrivatePickerReadsAsUser(t *testing.T) {
	// The filter guard refuses guarded's filter to a rep: it compares contacts, which she may
	// list only in part, through a multiple relation with an all-match operator.
	guarded := `{"slug": "guarded", "title": "Guarded", "object": "activities", "public": false,
  "fields": [{"name": "subject"}, {"name": "deal", "picker": {"filter": "contacts.full_name != 'nobody'"}}],
  "hidden": {"type": "task"}, "spam": {"minFillSeconds": 0, "ratePerMinute": 0, "ratePerHour": 0}}`
	e := newEnvWith(t, map[string]string{"private-task.json": taskForm("private-task", false),
		"public-task.json": taskForm("public-task", true), "guarded.json": guarded})
	ann, annTok := schemastest.NewUser(t, e.app, "ann@example.com", "sales", "north")
	nora, _ := schemastest.NewUser(t, e.app, "nora@example.com", "sales", "north")
	bea, beaTok := schemastest.NewUser(t, e.app, "bea@example.com", "sales", "south")
	_, mgrTok := schemastest.NewUser(t, e.app, "max@example.com", "manager", "south")
	_, adminTok := schemastest.NewUser(t, e.app, "ada@example.com", "admin", "")
	suTok := schemastest.SuperuserToken(t, e.app)

	rec := func(collection, title string, owner *core.Record) *core.Record {
		field := "name"
		if collection == "contacts" {
			field = "full_name"
		}
		return schemastest.MustCreate(t, e.app, collection, map[string]any{field: title, "owner": owner.Id})
	}
	annContact, noraContact, beaContact := rec("contacts", "Contact of Ann", ann), rec("contacts", "Contact of Nora", nora), rec("contacts", "Contact of Bea", bea)
	annDeal, noraDeal, beaDeal := rec("deals", "Deal of Ann", ann), rec("deals", "Deal of Nora", nora), rec("deals", "Deal of Bea", bea)
	all := []*core.Record{annContact, noraContact, beaContact, annDeal, noraDeal, beaDeal}
	title := func(r *core.Record) string { return r.GetString("name") + r.GetString("full_name") }

	// Who sees which choices, on the private form and the public one.
	scenarios := []struct {
		name, slug, token string
		sees              []*core.Record
	}{
		{"rep north, private", "private-task", annTok, []*core.Record{annContact, noraContact, annDeal}},
		{"rep south, private", "private-task", beaTok, []*core.Record{beaContact, beaDeal}},
		{"manager, private", "private-task", mgrTok, all},
		{"admin, private", "private-task", adminTok, all},
		{"superuser, private", "private-task", suTok, all},
		{"signed out, public", "public-task", "", all},
		{"rep north, public", "public-task", annTok, all},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			var header []string
			if s.token != "" {
				header = []string{"Authorization", s.token}
			}
			code, html, _ := e.get(t, "/forms/"+s.slug, header...)
			if code != http.StatusOK {
				t.Fatalf("GET page = %d: %s", code, html)
			}
			code, body, _ := e.get(t, "/api/relata/forms/"+s.slug, header...)
			if code != http.StatusOK {
				t.Fatalf("GET definition = %d: %s", code, body)
			}
			var def forms.PublicForm
			decode(t, body, &def)
			var offered []string
			for _, f := range def.Fields {
				for _, o := range f.Options {
					if f.Type == "picker" {
						offered = append(offered, o.Value)
					}
				}
			}
			for _, r := range all {
				want := slices.Contains(s.sees, r)
				option := `<option value="` + r.Id + `">` + title(r) + `</option>`
				if got := strings.Contains(html, option); got != want {
					t.Errorf("page offers %q: %v; want %v", title(r), got, want)
				}
				if !want && (strings.Contains(html, title(r)) || strings.Contains(body, title(r)) || strings.Contains(body, r.Id)) {
					t.Errorf("%q (%s) leaks into the page or the definition", title(r), r.Id)
				}
				if got := slices.Contains(offered, r.Id); got != want {
					t.Errorf("definition offers %q: %v; want %v", title(r), got, want)
				}
			}
		})
	}

	// Signed out, the private form is not there, and nothing of its pickers is read.
	for _, path := range []string{"/forms/private-task", "/api/relata/forms/private-task"} {
		if code, body, _ := e.get(t, path); code != http.StatusNotFound || strings.Contains(body, "Deal of") {
			t.Errorf("signed-out GET %s = %d %q; want 404", path, code, body)
		}
	}
	if code, res, _ := e.post(t, "private-task", map[string]any{"subject": "x", "deal": beaDeal.Id}); code != http.StatusNotFound {
		t.Errorf("signed-out POST = %d %+v; want 404", code, res)
	}

	// A rep cannot link a record she may not view: 400 naming the field, nothing stored.
	refused := "is not one of the choices; load the form again and pick one"
	for _, c := range []struct {
		name, field string
		body        map[string]any
	}{
		{"another owner's deal", "deal", map[string]any{"subject": "Call", "deal": beaDeal.Id}},
		{"a teammate's deal", "deal", map[string]any{"subject": "Call", "deal": noraDeal.Id}},
		{"another team's contact", "contact", map[string]any{"subject": "Call", "contact": beaContact.Id}},
	} {
		before := e.stored(t, "activities")
		code, res, _ := e.post(t, "private-task", c.body, "Authorization", annTok)
		if code != http.StatusBadRequest || res.Errors[c.field] != refused {
			t.Errorf("%s: POST = %d %v; want 400 with %s: %q", c.name, code, res.Errors, c.field, refused)
		}
		if after := e.stored(t, "activities"); after != before {
			t.Errorf("%s: a refused submission stored something (%v -> %v)", c.name, before, after)
		}
	}
	// The page says so too, and shows her own choices again, not the forged one.
	before := e.stored(t, "activities")
	code, html, _ := e.postForm(t, "private-task", url.Values{"subject": {"Call"}, "deal": {beaDeal.Id}}, "Authorization", annTok)
	if code != http.StatusBadRequest {
		t.Fatalf("page POST of another owner's deal = %d", code)
	}
	contains(t, "page", html, "Deal: "+refused, `<option value="`+annDeal.Id+`">Deal of Ann</option>`)
	if strings.Contains(html, "Deal of Bea") {
		t.Errorf("the page shown again after the refusal offers Deal of Bea")
	}
	if after := e.stored(t, "activities"); after != before {
		t.Errorf("a refused page submission stored something (%v -> %v)", before, after)
	}

	// What each may view is accepted.
	accepted := []struct {
		name, token, subject string
		contact, deal        *core.Record
	}{
		{"rep, her own deal and her teammate's contact", annTok, "Ann's call", noraContact, annDeal},
		{"manager, another team's records", mgrTok, "Max's call", annContact, noraDeal},
		{"superuser, any record", suTok, "Root's call", beaContact, annDeal},
	}
	for _, a := range accepted {
		code, res, _ := e.post(t, "private-task", map[string]any{"subject": a.subject, "contact": a.contact.Id, "deal": a.deal.Id}, "Authorization", a.token)
		if code != http.StatusOK {
			t.Errorf("%s: POST = %d %v; want 200", a.name, code, res.Errors)
			continue
		}
		r, err := e.app.FindFirstRecordByData("activities", "subject", a.subject)
		if err != nil || r.GetString("deal") != a.deal.Id || r.GetString("contact") != a.contact.Id {
			t.Errorf("%s: stored %v, %v; want deal %s and contact %s", a.name, r, err, a.deal.Id, a.contact.Id)
		}
	}
	// When the access check refuses a rep's read of a picker (the filter guard), she is
	// offered nothing and may pick nothing; a superuser, whom no rule limits, sees them all.
	deal := schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "Linked deal of Ann", "owner": ann.Id, "contacts": []string{annContact.Id}})
	code, html, _ = e.get(t, "/forms/guarded", "Authorization", annTok)
	if code != http.StatusOK || strings.Contains(html, "Linked deal of Ann") || !strings.Contains(html, `name="deal"`) {
		t.Errorf("guarded picker, rep: GET = %d, offers her deal: %v; want 200 and no choices", code, strings.Contains(html, "Linked deal of Ann"))
	}
	if code, res, _ := e.post(t, "guarded", map[string]any{"subject": "Guarded call", "deal": deal.Id}, "Authorization", annTok); code != http.StatusBadRequest || res.Errors["deal"] != refused {
		t.Errorf("guarded picker, rep: POST = %d %v; want 400 with deal: %q", code, res.Errors, refused)
	}
	code, html, _ = e.get(t, "/forms/guarded", "Authorization", suTok)
	contains(t, "guarded page for a superuser", html, `<option value="`+deal.Id+`">Linked deal of Ann</option>`)
	if code != http.StatusOK {
		t.Errorf("guarded picker, superuser: GET = %d", code)
	}

	// A public form still takes what its filter matches, from anyone.
	if code, res, _ := e.post(t, "public-task", map[string]any{"subject": "Stranger's call", "deal": beaDeal.Id}); code != http.StatusOK {
		t.Errorf("public form, signed out: POST = %d %v; want 200", code, res.Errors)
	}
	if code, res, _ := e.post(t, "public-task", map[string]any{"subject": "Ann's public call", "deal": beaDeal.Id}, "Authorization", annTok); code != http.StatusOK {
		t.Errorf("public form, signed-in rep: POST = %d %v; want 200", code, res.Errors)
	}
}
