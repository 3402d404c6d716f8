package privacy_test

import (
	"archive/zip"
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/hooks"
	_ "github.com/relata/relata/migrations"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/audit"
	"github.com/relata/relata/schemas/privacy"
	"github.com/relata/relata/schemas/schemastest"
)

// The person of these tests, with values that appear nowhere else.
const (
	adaEmail = "ada.lovelace-byron@analytical.example"
	adaPhone = "+44 20 7946 0958"
	adaName  = "Ada Lovelace-Byron"
	adaIP    = "203.0.113.77"
	adaUA    = "Mozilla/5.0 (AdaBrowser 1815)"
)

type world struct {
	app   *core.BaseApp
	reg   *schemas.Registry
	dir   string
	ada   *core.Record
	deal  *core.Record
	other *core.Record // a contact who stays
}

// unzip returns the files of a ZIP archive by name.
func unzip(t *testing.T, b []byte) map[string]string {
	t.Helper()
	z, err := zip.NewReader(bytes.NewReader(b), int64(len(b)))
	if err != nil {
		t.Fatal(err)
	}
	files := map[string]string{}
	for _, f := range z.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		data, _ := io.ReadAll(rc)
		rc.Close()
		files[f.Name] = string(data)
	}
	return files
}

// newWorld is an app on a temporary data directory with the default objects and Relata's
// hooks.
func newWorld(t *testing.T) *world {
	t.Helper()
	dir := t.TempDir()
	app := schemastest.OpenApp(t, dir)
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	hooks.MustRegister(app, hooks.Config{Registry: reg})
	if err := reg.Sync(); err != nil {
		t.Fatal(err)
	}
	return &world{app: app, reg: reg, dir: dir}
}

// seedPerson puts Ada into every collection: her contact, a deal and activities linked to her,
// an activity elsewhere naming her, an email to her and one about her, a consent, a form
// submission, a workflow run and step, a suppression entry, audit entries, and a server log.
func seedPerson(t *testing.T) *world {
	t.Helper()
	w := newWorld(t)
	app := w.app
	co := schemastest.MustCreate(t, app, "companies", map[string]any{"name": "Analytical Engines Ltd"})
	w.ada = schemastest.MustCreate(t, app, "contacts", map[string]any{"full_name": adaName, "email": adaEmail, "phone": adaPhone,
		"job_title": "Countess of numbers", "company": co.Id, "message": "Please call me about the engine"})
	w.other = schemastest.MustCreate(t, app, "contacts", map[string]any{"full_name": "Charles Babbage", "email": "charles@example.org"})
	w.deal = schemastest.MustCreate(t, app, "deals", map[string]any{"name": "Difference engine", "amount": 12345,
		"company": co.Id, "contacts": []string{w.ada.Id, w.other.Id}})
	schemastest.MustCreate(t, app, "activities", map[string]any{"type": "call", "subject": "Call " + adaName, "body": "She asked for " + adaPhone, "contact": w.ada.Id})
	schemastest.MustCreate(t, app, "activities", map[string]any{"type": "note", "subject": "Board notes", "body": "Forward to " + adaEmail + " later", "deal": w.deal.Id})
	schemastest.MustCreate(t, app, "activities", map[string]any{"type": "note", "subject": "Unrelated", "body": "Nothing personal"})
	// Deleted records in the trash: a duplicate of her contact, and a note naming her.
	dup := schemastest.MustCreate(t, app, "contacts", map[string]any{"full_name": adaName, "email": "ada.duplicate@analytical.example", "phone": adaPhone})
	note := schemastest.MustCreate(t, app, "activities", map[string]any{"type": "note", "subject": "Met " + adaName, "body": "at the fair"})
	for _, r := range []*core.Record{dup, note} {
		if err := app.Delete(r); err != nil {
			t.Fatal(err)
		}
	}
	// Updates, so that the audit trail holds old values too.
	w.ada.Set("job_title", "Mathematician")
	if err := app.Save(w.ada); err != nil {
		t.Fatal(err)
	}
	now := time.Now().UTC().Format("2006-01-02 15:04:05.000Z")
	insert := func(coll string, values map[string]any) {
		t.Helper()
		values["id"] = strings.ReplaceAll(coll, "_", "")[:6] + time.Now().Format("150405.000000")[7:]
		c, err := app.FindCollectionByNameOrId(coll)
		if err != nil {
			t.Fatal(err)
		}
		r := core.NewRecord(c)
		r.Load(values)
		if err := app.SaveNoValidate(r); err != nil {
			t.Fatalf("insert %s: %v", coll, err)
		}
	}
	insert("emails", map[string]any{"to": []string{adaName + " <" + adaEmail + ">"}, "subject": "Welcome, " + adaName, "text": "Dear " + adaName,
		"status": "sent", "category": "marketing", "object": "contacts", "record_id": w.ada.Id})
	insert("emails", map[string]any{"to": []string{"owner@example.com"}, "subject": "New lead: " + adaName, "text": "Phone " + adaPhone,
		"status": "sent", "category": "transactional"})
	insert("consents", map[string]any{"form": "contact-us", "object": "contacts", "record_id": w.ada.Id, "text": "I agree",
		"version": "1", "given_at": now, "client_ip": adaIP, "user_agent": adaUA})
	insert("form_submissions", map[string]any{"form": "contact-us", "object": "contacts", "record_id": w.ada.Id, "action": "created",
		"client_ip": adaIP, "user_agent": adaUA, "origin": "https://ada.example"})
	insert("workflow_runs", map[string]any{"workflow_name": "welcome", "object": "contacts", "record_id": w.ada.Id, "status": "succeeded",
		"input": map[string]any{"record": map[string]any{"email": adaEmail, "full_name": adaName}}})
	var run struct {
		ID string `db:"id"`
	}
	if err := app.DB().Select("id").From("workflow_runs").Limit(1).One(&run); err != nil {
		t.Fatal(err)
	}
	insert("workflow_steps", map[string]any{"run": run.ID, "path": "0", "action": "send_email", "status": "succeeded",
		"output": map[string]any{"to": adaEmail}})
	// A change whose runs the workflow engine has yet to write (workflows/events.go).
	insert("workflow_events", map[string]any{"object": "contacts", "record_id": w.ada.Id, "event": "update",
		"input": map[string]any{"record": map[string]any{"email": adaEmail, "full_name": adaName, "phone": adaPhone}},
		"runs":  []map[string]any{{"workflow": "wf0000000000001", "name": "welcome"}, {"workflow": "wf0000000000002", "name": "score"}}})
	insert("email_suppressions", map[string]any{"email": adaEmail, "reason": "unsubscribe", "source": "link"})
	insert("inbound_emails", map[string]any{"kind": "logged", "envelope_from": adaEmail, "from": adaName + " <" + adaEmail + ">",
		"to": []string{"rep@example.com"}, "subject": "Re: the engine", "text": "Call me on " + adaPhone, "size": 100})
	insert("email_bounces", map[string]any{"email": adaEmail, "class": "soft", "status": "4.2.2", "diagnostic": "mailbox full"})
	rep, _ := schemastest.NewUser(t, app, "notified-rep@example.com", "sales", "north")
	insert("notifications", map[string]any{"user": rep.Id, "kind": "mention", "title": "Bob mentioned you in “Call " + adaName + "”",
		"body": "Her number is " + adaPhone, "object": "activities", "record_id": "unrelated000001", "key": "mention:1"})
	insert("notifications", map[string]any{"user": rep.Id, "kind": "assigned", "title": "Bob assigned you a contact",
		"object": "contacts", "record_id": w.ada.Id, "key": "assigned:1"})
	// A request log, as PocketBase writes one for a list filtered by her address.
	if _, err := app.AuxDB().Insert("_logs", dbx.Params{"id": "log0000000000001", "level": 0, "message": "GET /api/collections/contacts/records",
		"data": `{"url":"/api/collections/contacts/records?filter=email='` + adaEmail + `'"}`, "created": now}).Execute(); err != nil {
		t.Fatal(err)
	}
	return w
}

// TestExportHoldsEveryPiece exports Ada's dossier and finds her in every collection.
func TestExportHoldsEveryPiece(t *testing.T) {
	t.Parallel()
	w := seedPerson(t)
	d, err := privacy.Find(w.app, w.reg, privacy.Subject{Email: strings.ToUpper(adaEmail)})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := d.WriteZip(&buf); err != nil {
		t.Fatal(err)
	}
	files := unzip(t, buf.Bytes())
	for _, coll := range []string{"contacts", "deals", "activities", "emails", "consents", "form_submissions",
		"workflow_runs", "workflow_events", "workflow_steps", "email_suppressions", "relata_audit", "relata_trash", "inbound_emails", "email_bounces", "notifications"} {
		js, ok := files["json/"+coll+".json"]
		if !ok {
			t.Errorf("the ZIP has no json/%s.json (files: %v)", coll, keys(files))
			continue
		}
		if _, ok := files["csv/"+coll+".csv"]; !ok {
			t.Errorf("the ZIP has no csv/%s.csv", coll)
		}
		var rows []map[string]any
		if err := json.Unmarshal([]byte(js), &rows); err != nil || len(rows) == 0 {
			t.Errorf("json/%s.json: %v, %d rows", coll, err, len(rows))
		}
	}
	if !strings.Contains(files["json/contacts.json"], adaName) || strings.Contains(files["json/contacts.json"], "Charles") {
		t.Errorf("contacts.json must hold Ada and only her: %s", files["json/contacts.json"])
	}
	if !strings.Contains(files["json/activities.json"], "Forward to") || strings.Contains(files["json/activities.json"], "Nothing personal") {
		t.Errorf("activities.json must hold the ones about Ada and only them")
	}
	if !strings.Contains(files["summary.html"], adaName) {
		t.Errorf("summary.html does not show her name")
	}
	if strings.Contains(buf.String(), "$2a$") {
		t.Errorf("the export holds a password hash")
	}
}

// TestEraseLeavesNoByte erases Ada, then reads every file of the data directory byte by byte.
func TestEraseLeavesNoByte(t *testing.T) {
	t.Parallel()
	w := seedPerson(t)
	sum := func() (amount float64, activities int) {
		_ = w.app.DB().NewQuery("SELECT coalesce(sum(amount), 0) FROM deals").Row(&amount)
		_ = w.app.DB().NewQuery("SELECT count(*) FROM activities").Row(&activities)
		return
	}
	amountBefore, activitiesBefore := sum()
	// The control: before erasure her address is in the files (database or its WAL).
	if !dirContains(t, w.dir, adaEmail) || !dirContains(t, w.dir, adaName) {
		t.Fatal("the data directory does not hold her address and name before erasure: the byte check below could not fail")
	}
	cert, err := privacy.Erase(w.app, w.reg, privacy.Subject{Email: adaEmail}, "test")
	if err != nil {
		t.Fatal(err)
	}
	if cert.Deleted["contacts"] != 1 || cert.Deleted["consents"] != 1 || cert.Deleted["relata_trash"] != 2 || cert.Deleted["notifications"] != 2 || cert.AuditErased == 0 || cert.LogsDeleted != 1 || !cert.Suppressed {
		t.Errorf("certificate = %+v", cert)
	}
	if a, n := sum(); a != amountBefore || n != activitiesBefore {
		t.Errorf("aggregates changed: amount %v -> %v, activities %d -> %d", amountBefore, a, activitiesBefore, n)
	}
	deal, err := w.app.FindRecordById("deals", w.deal.Id)
	if err != nil || strings.Join(deal.GetStringSlice("contacts"), ",") != w.other.Id {
		t.Errorf("the deal keeps its other contact only: %v %v", deal.GetStringSlice("contacts"), err)
	}
	if _, err := w.app.FindRecordById("contacts", w.other.Id); err != nil {
		t.Errorf("Charles was erased too: %v", err)
	}
	if r, err := audit.Verify(w.app); err != nil || !r.OK() {
		t.Errorf("audit verify after erasure: %v %v", r, err)
	}
	hash, _ := schemas.AddressHash(w.app, adaEmail)
	if n := count(t, w.app, "email_suppressions", dbx.HashExp{"email_hash": hash}); n != 1 {
		t.Errorf("%d hashed suppression entries; want 1", n)
	}
	if n := count(t, w.app, "privacy_requests", dbx.HashExp{"kind": "erasure"}); n != 1 {
		t.Errorf("%d erasure requests registered; want 1", n)
	}
	// Every byte of every file of the data directory.
	needles := []string{adaEmail, adaPhone, adaName, adaIP, adaUA, "Lovelace"}
	err = filepath.Walk(w.dir, func(path string, info os.FileInfo, err error) error {
		if err != nil || info.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		for _, n := range needles {
			for _, form := range []string{n, strings.ToLower(n), strings.ToUpper(n)} {
				if bytes.Contains(b, []byte(form)) {
					t.Errorf("%s still holds %q", strings.TrimPrefix(path, w.dir), form)
				}
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestPrivacyAPI: only admins export and erase; erasure needs confirmation.
func TestPrivacyAPI(t *testing.T) {
	t.Parallel()
	w := seedPerson(t)
	privacy.MustRegister(w.app, nil, privacy.Config{Registry: w.reg})
	srv := schemastest.Serve(t, w.app)
	_, salesTok := schemastest.NewUser(t, w.app, "rep@example.com", "sales", "north")
	_, mgrTok := schemastest.NewUser(t, w.app, "mgr@example.com", "manager", "")
	_, adminTok := schemastest.NewUser(t, w.app, "boss@example.com", "admin", "")
	body := map[string]any{"email": adaEmail}
	for _, tc := range []struct {
		name, path, token string
		body              any
		want              int
	}{
		{"anonymous export", "/api/relata/privacy/export", "", body, 401},
		{"sales export", "/api/relata/privacy/export", salesTok, body, 403},
		{"manager erase", "/api/relata/privacy/erase", mgrTok, map[string]any{"email": adaEmail, "confirm": true}, 403},
		{"admin export without a subject", "/api/relata/privacy/export", adminTok, map[string]any{}, 400},
		{"admin erase without confirmation", "/api/relata/privacy/erase", adminTok, body, 400},
		{"admin export", "/api/relata/privacy/export", adminTok, body, 200},
		{"admin erase", "/api/relata/privacy/erase", adminTok, map[string]any{"email": adaEmail, "confirm": true}, 200},
	} {
		req, _ := http.NewRequest(http.MethodPost, srv.URL+tc.path, bytes.NewReader(mustJSON(tc.body)))
		req.Header.Set("Content-Type", "application/json")
		if tc.token != "" {
			req.Header.Set("Authorization", tc.token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != tc.want {
			t.Errorf("%s = %d; want %d: %.200s", tc.name, res.StatusCode, tc.want, b)
		}
		if tc.want >= 400 && strings.Contains(string(b), adaName) {
			t.Errorf("%s: a refusal shows her name", tc.name)
		}
	}
	if _, err := w.app.FindRecordById("contacts", w.ada.Id); err == nil {
		t.Error("Ada is still there after the admin's erasure")
	}
}

func count(t *testing.T, app core.App, coll string, cond dbx.Expression) int {
	t.Helper()
	var n int
	if err := app.DB().Select("count(*)").From(coll).AndWhere(cond).Row(&n); err != nil {
		t.Fatal(err)
	}
	return n
}

func mustJSON(v any) []byte {
	b, _ := json.Marshal(v)
	return b
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}

// dirContains reports whether any file under dir holds s.
func dirContains(t *testing.T, dir, s string) bool {
	t.Helper()
	found := false
	_ = filepath.Walk(dir, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			if b, err := os.ReadFile(path); err == nil && bytes.Contains(b, []byte(s)) {
				found = true
			}
		}
		return nil
	})
	return found
}
