package transfer_test

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"mime/multipart"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/transfer"
)

// seedContacts creates contacts of alice and bob (team north) and carol (team south), one
// with a name a spreadsheet would run as a formula.
func (e *env) seedContacts(t *testing.T) {
	t.Helper()
	for _, c := range []map[string]any{
		{"full_name": "=HYPERLINK(\"http://evil.example\",\"click\")", "email": "evil@example.com", "owner": e.alice.Id, "company": e.acme.Id, "tags": []string{"vip", "-minus"}},
		{"full_name": "Bob's lead", "email": "bl@example.com", "owner": e.bob.Id, "do_not_email": true},
		{"full_name": "Carol's lead", "email": "cl@example.com", "owner": e.carol.Id, "lifecycle_stage": "customer"},
	} {
		schemastest.MustCreate(t, e.app, "contacts", c)
	}
}

func readCSV(t *testing.T, b []byte) [][]string {
	t.Helper()
	if !bytes.HasPrefix(b, []byte("\xEF\xBB\xBF")) {
		t.Fatalf("CSV export has no UTF-8 BOM: %q", b[:min(len(b), 20)])
	}
	rows, err := csv.NewReader(bytes.NewReader(b[3:])).ReadAll()
	if err != nil {
		t.Fatalf("%v\n%s", err, b)
	}
	return rows
}

func TestExportCSVNeutralisesAndRoundTrips(t *testing.T) {
	e := newEnv(t)
	e.seedContacts(t)
	var buf bytes.Buffer
	n, err := e.svc.Export(&buf, transfer.ExportOptions{Object: "contacts", Sort: "email", Fields: []string{"full_name", "email", "company", "owner", "tags", "do_not_email", "lifecycle_stage"}})
	if err != nil || n != 3 {
		t.Fatalf("export: %d, %v", n, err)
	}
	got := readCSV(t, buf.Bytes())
	want := [][]string{
		{"Full name", "Email", "Company", "Owner", "Tags", "Do not email", "Lifecycle stage"},
		{"Bob's lead", "bl@example.com", "", "bob@example.com", "", "true", "lead"},
		{"Carol's lead", "cl@example.com", "", "carol@example.com", "", "false", "customer"},
		{`'=HYPERLINK("http://evil.example","click")`, "evil@example.com", "Acme S.p.A.", "alice@example.com", "vip; -minus", "false", "lead"},
	}
	if !slices.EqualFunc(got, want, slices.Equal) {
		t.Fatalf("export:\n%q\nwant:\n%q", got, want)
	}
	// Importing the export back changes nothing.
	res := e.importBytes(t, "export.csv", buf.Bytes(), transfer.ImportOptions{Object: "contacts", Key: "email"})
	if c := countsOf(res); c != (counts{unchanged: 3}) {
		t.Fatalf("re-import of the export: %+v; errors %v", c, res.Errors)
	}
}

func TestExportXLSX(t *testing.T) {
	e := newEnv(t)
	schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "Big", "stage": "won", "amount": 1234.5, "expected_close": "2025-03-15 00:00:00.000Z", "owner": e.alice.Id})
	schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "+cmd|' /C calc'!A0", "stage": "lead", "owner": e.bob.Id})
	var buf bytes.Buffer
	if _, err := e.svc.Export(&buf, transfer.ExportOptions{Object: "deals", Format: transfer.FormatXLSX, Sort: "-name", Fields: []string{"name", "stage", "amount", "expected_close"}}); err != nil {
		t.Fatal(err)
	}
	tab, err := transfer.Open(bytes.NewReader(buf.Bytes()), transfer.ReadOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tab.Close()
	want := [][]string{{"Big", "won", "1234.5", "EUR", "2025-03-15"}, {"'+cmd|' /C calc'!A0", "lead", "0", "EUR", ""}} // PocketBase numbers are never empty
	if h := tab.Header(); !slices.Equal(h, []string{"Deal name", "Stage", "Amount", "Amount currency", "Expected close date"}) {
		t.Errorf("header %q", h)
	}
	for i := 0; ; i++ {
		cells, _, err := tab.Next()
		if errors.Is(err, io.EOF) {
			if i != len(want) {
				t.Fatalf("%d rows; want %d", i, len(want))
			}
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for len(cells) < len(want[i]) {
			cells = append(cells, "")
		}
		if !slices.Equal(cells, want[i]) {
			t.Errorf("row %d = %q; want %q", i+2, cells, want[i])
		}
	}
}

// get calls the export API and returns the status and body.
func (e *env) get(t *testing.T, path, token string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func TestExportAPIAccess(t *testing.T) {
	e := newEnv(t)
	e.seedContacts(t)
	schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "Alice deal", "stage": "lead", "owner": e.alice.Id})
	schemastest.MustCreate(t, e.app, "deals", map[string]any{"name": "Bob deal", "stage": "lead", "owner": e.bob.Id})
	q := func(filter string) string { return url.QueryEscape(filter) }
	scenarios := []struct {
		name   string
		path   string
		token  string
		status int
		emails []string // first column values of the rows, sorted
		says   string   // in the body of a refusal
	}{
		{"anonymous", "/api/relata/export/contacts", "", 401, nil, ""},
		{"sales sees the team's contacts", "/api/relata/export/contacts?fields=email&sort=email", e.aliceTok, 200, []string{"bl@example.com", "evil@example.com"}, ""},
		{"sales of another team", "/api/relata/export/contacts?fields=email&sort=email", e.carolTok, 200, []string{"cl@example.com"}, ""},
		{"a filter cannot widen the scope", "/api/relata/export/contacts?fields=email&filter=" + q(`owner = "`+e.carol.Id+`"`), e.aliceTok, 200, nil, ""},
		{"sales sees only own deals", "/api/relata/export/deals?fields=name", e.bobTok, 200, []string{"Bob deal"}, ""},
		{"manager sees every contact", "/api/relata/export/contacts?fields=email&sort=email", e.mgrTok, 200, []string{"bl@example.com", "cl@example.com", "evil@example.com"}, ""},
		{"admin with a filter", "/api/relata/export/contacts?fields=email&filter=" + q(`lifecycle_stage = "customer"`), e.adminTok, 200, []string{"cl@example.com"}, ""},
		{"superuser", "/api/relata/export/deals?fields=name&sort=name", e.su, 200, []string{"Alice deal", "Bob deal"}, ""},
		{"hidden fields stay hidden in filters", "/api/relata/export/contacts?filter=" + q(`owner.tokenKey != ""`), e.aliceTok, 400, nil, ""},
		// @collection joins every deal with no list rule: the export's rows would answer
		// "is there a deal of anyone's under 150001?" (PocketBase's REST list refuses it too).
		{"sales cannot filter by @collection", "/api/relata/export/companies?fields=name&filter=" + q(`@collection.deals.amount < 150001`), e.aliceTok, 400, nil,
			`Cannot export: filter \"@collection.deals.amount`},
		{"nor by @request", "/api/relata/export/companies?fields=name&filter=" + q(`@request.auth.id != ""`), e.aliceTok, 400, nil, "only superusers can filter or sort by @request"},
		{"nor sort by @collection", "/api/relata/export/companies?fields=name&sort=" + q(`@collection.contacts.email`), e.aliceTok, 400, nil, `sort \"@collection.contacts.email\": only superusers can filter or sort by @collection references`},
		{"superuser may filter by @collection", "/api/relata/export/companies?fields=name&sort=name&filter=" + q(`@collection.deals.name ?= "Bob deal"`), e.su, 200, []string{"Acme S.p.A.", "Beta Srl"}, ""},
		{"hidden fields cannot be exported", "/api/relata/export/users?fields=tokenKey", e.aliceTok, 400, nil, ""},
		// An owner is written as an import finds it again: by email where the reader may read
		// it (her own), by name where PocketBase hides it (a colleague's), for a superuser by email.
		{"a colleague's hidden email stays hidden", "/api/relata/export/contacts?fields=owner&sort=email", e.aliceTok, 200, []string{"Bob Berg", "alice@example.com"}, ""},
		{"a superuser reads every owner's email", "/api/relata/export/contacts?fields=owner&sort=email", e.su, 200, []string{"bob@example.com", "carol@example.com", "alice@example.com"}, ""},
		{"unknown field", "/api/relata/export/contacts?fields=salary", e.aliceTok, 400, nil, ""},
		{"bad format", "/api/relata/export/contacts?format=pdf", e.aliceTok, 400, nil, ""},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			status, body := e.get(t, s.path, s.token)
			if status != s.status {
				t.Fatalf("status %d; want %d: %s", status, s.status, body)
			}
			if status != 200 {
				if !strings.Contains(string(body), s.says) {
					t.Fatalf("body %s; want it to say %s", body, s.says)
				}
				return
			}
			rows := readCSV(t, body)
			var got []string
			for _, r := range rows[1:] {
				got = append(got, r[0])
			}
			if !slices.Equal(got, s.emails) {
				t.Fatalf("rows %q; want %q", got, s.emails)
			}
		})
	}
}

// postImport sends a file to the import API.
func (e *env) postImport(t *testing.T, path, token, name, content string, fields map[string]string) (int, []byte) {
	t.Helper()
	var body bytes.Buffer
	mw := multipart.NewWriter(&body)
	fw, err := mw.CreateFormFile("file", name)
	if err != nil {
		t.Fatal(err)
	}
	_, _ = fw.Write([]byte(content))
	for k, v := range fields {
		_ = mw.WriteField(k, v)
	}
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, e.srv.URL+path, &body)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if token != "" {
		req.Header.Set("Authorization", token)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	return res.StatusCode, b
}

func TestImportAPIAccess(t *testing.T) {
	e := newEnv(t)
	csvFile := "Name,Stage,Owner\nMine,lead,\nFor Carol,lead,carol@example.com\n"
	type summary struct {
		Batch                               string
		DryRun                              bool
		Created, Updated, Unchanged, Failed int
		Errors                              []struct {
			Row     int
			Column  string
			Message string
		}
	}
	scenarios := []struct {
		name    string
		token   string
		fields  map[string]string
		status  int
		created int
		failed  int
	}{
		{"anonymous", "", nil, 401, 0, 0},
		{"sales cannot import records owned by others", e.aliceTok, map[string]string{"dryRun": "true"}, 200, 1, 1},
		{"manager", e.mgrTok, map[string]string{"dryRun": "true"}, 200, 2, 0},
		{"admin", e.adminTok, map[string]string{"dryRun": "true"}, 200, 2, 0},
		{"superuser", e.su, map[string]string{"dryRun": "true"}, 200, 2, 0},
		{"bad mapping", e.aliceTok, map[string]string{"mapping": `{"Nope": "name"}`}, 400, 0, 0},
		{"sales, for real", e.aliceTok, map[string]string{"key": "name"}, 200, 1, 1},
	}
	for _, s := range scenarios {
		t.Run(s.name, func(t *testing.T) {
			status, body := e.postImport(t, "/api/relata/import/deals", s.token, "deals.csv", csvFile, s.fields)
			if status != s.status {
				t.Fatalf("status %d; want %d: %s", status, s.status, body)
			}
			if status != 200 {
				return
			}
			var sum summary
			if err := json.Unmarshal(body, &sum); err != nil {
				t.Fatal(err)
			}
			if sum.Created != s.created || sum.Failed != s.failed {
				t.Fatalf("summary %s", body)
			}
			if s.failed > 0 && (sum.Errors[0].Row != 3 || sum.Errors[0].Column != "Owner") {
				t.Errorf("errors %+v", sum.Errors)
			}
			if sum.DryRun != (s.fields["dryRun"] == "true") || sum.DryRun == (sum.Batch != "") {
				t.Errorf("dryRun %v batch %q", sum.DryRun, sum.Batch)
			}
		})
	}
	if n := e.count(t, "deals"); n != 1 {
		t.Fatalf("%d deals; want 1 (dry runs write nothing, Carol's was refused)", n)
	}
	e.expectRecord(t, "deals", "name", "Mine", map[string]string{"owner": e.alice.Id})

	status, body := e.postImport(t, "/api/relata/import/deals?failed=csv", e.aliceTok, "deals.csv", csvFile, map[string]string{"dryRun": "true", "key": "name"})
	if status != 200 {
		t.Fatalf("failed rows: %d %s", status, body)
	}
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if len(rows) != 2 || !slices.Equal(rows[0], []string{"Row", "Name", "Stage", "Owner", "Reason"}) ||
		rows[1][0] != "3" || rows[1][1] != "For Carol" || !strings.HasPrefix(rows[1][4], "Owner: you may not create this record") {
		t.Fatalf("failed rows CSV %q", rows)
	}
}
