package transfer_test

import (
	"bytes"
	"context"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/schemas/transfer"
)

// The wizard's preview maps the columns automatically and dry-runs the first rows, naming
// each bad cell; it writes nothing.
func TestImportPreview(t *testing.T) {
	e := newEnv(t)
	csv := "Full name;Email;Company name;Mood\nAnn;ann@example.com;Acme S.p.A.;ok\nBad;not-an-email;Nowhere Inc;ok\nCid;cid@example.com;;\n"
	status, body := e.postImport(t, "/api/relata/import/contacts/preview", e.aliceTok, "p.csv", csv, nil)
	if status != 200 {
		t.Fatalf("preview: %d %s", status, body)
	}
	var p struct {
		Header  []string          `json:"header"`
		Mapping map[string]string `json:"mapping"`
		Ignored []string          `json:"ignored"`
		Rows    []struct {
			Row    int               `json:"row"`
			Cells  []string          `json:"cells"`
			Errors map[string]string `json:"errors"`
		} `json:"rows"`
		Created, Failed int
	}
	if err := json.Unmarshal(body, &p); err != nil {
		t.Fatal(err)
	}
	if p.Mapping["Full name"] != "full_name" || p.Mapping["Email"] != "email" || p.Mapping["Company name"] != "company" || p.Mapping["Mood"] != "" {
		t.Errorf("mapping %v", p.Mapping)
	}
	if len(p.Rows) != 3 || p.Created != 2 || p.Failed != 1 {
		t.Fatalf("rows %d, created %d, failed %d; want 3, 2, 1: %s", len(p.Rows), p.Created, p.Failed, body)
	}
	bad := p.Rows[1]
	if bad.Row != 3 || bad.Cells[1] != "not-an-email" || bad.Errors["Email"] == "" || !strings.Contains(bad.Errors["Company name"], "Nowhere Inc") {
		t.Errorf("bad row %+v", bad)
	}
	if len(p.Rows[0].Errors) != 0 || len(p.Rows[2].Errors) != 0 {
		t.Errorf("good rows with errors: %+v", p.Rows)
	}
	if n := e.count(t, "contacts"); n != 0 {
		t.Errorf("the preview wrote %d contacts", n)
	}
	// An edited mapping (skip the company column) is applied.
	m, _ := json.Marshal(map[string]string{"Company name": ""})
	_, body = e.postImport(t, "/api/relata/import/contacts/preview", e.aliceTok, "p.csv", csv, map[string]string{"mapping": string(m)})
	if !strings.Contains(string(body), `"failed":1`) || strings.Contains(string(body), `"Company name":"no`) {
		t.Errorf("preview with the company skipped: %s", body)
	}
}

type jobView struct {
	Batch, Status, Error                             string
	Total, Rows, Created, Updated, Unchanged, Failed int
}

func (e *env) job(t *testing.T, batch, token string) (int, jobView) {
	t.Helper()
	status, body := e.get(t, "/api/relata/import-jobs/"+batch, token)
	var v jobView
	_ = json.Unmarshal(body, &v)
	return status, v
}

// A job answers its batch at once, runs in the background with its counts readable, and
// keeps its failed rows as CSV with the reason of each; only its user sees it.
func TestImportJobs(t *testing.T) {
	e := newEnv(t)
	var b strings.Builder
	b.WriteString("Full name,Email,Company\n")
	for i := 1; i <= 2500; i++ {
		if i == 1200 {
			b.WriteString("Broken,broken-at-1200,Acme S.p.A.\n")
			continue
		}
		fmt.Fprintf(&b, "Person %d,p%d@example.com,Acme S.p.A.\n", i, i)
	}
	status, body := e.postImport(t, "/api/relata/import/contacts/start", e.aliceTok, "job.csv", b.String(), map[string]string{"key": "email"})
	if status != 200 {
		t.Fatalf("start: %d %s", status, body)
	}
	var started struct {
		Batch string
		Total int
	}
	_ = json.Unmarshal(body, &started)
	if started.Batch == "" || started.Total != 2500 {
		t.Fatalf("start answered %s", body)
	}
	// Another user (even a manager) does not see alice's job.
	if st, _ := e.job(t, started.Batch, e.bobTok); st != 404 {
		t.Errorf("bob reads alice's job: %d", st)
	}
	if st, _ := e.get(t, "/api/relata/import-jobs/"+started.Batch+"/failed", e.mgrTok); st != 404 {
		t.Errorf("the manager downloads alice's failed rows: %d", st)
	}
	var v jobView
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		var st int
		st, v = e.job(t, started.Batch, e.aliceTok)
		if st != 200 {
			t.Fatalf("job: %d", st)
		}
		if v.Status != "running" || time.Now().After(deadline) {
			break
		}
	}
	if v.Status != "done" || v.Rows != 2500 || v.Created != 2499 || v.Failed != 1 {
		t.Fatalf("job %+v; want done, 2500 rows, 2499 created, 1 failed", v)
	}
	batch := e.one(t, transfer.BatchesCollection, "id", started.Batch)
	if batch.GetString("status") != "done" || batch.GetString("user") != e.alice.Id || !strings.Contains(batch.GetString("counts"), `"created":2499`) {
		t.Errorf("batch record %v", batch.FieldsData())
	}
	status, body = e.get(t, "/api/relata/import-jobs/"+started.Batch+"/failed", e.aliceTok)
	rows, err := csv.NewReader(bytes.NewReader(body)).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if status != 200 || len(rows) != 2 || rows[1][0] != "1201" || rows[1][2] != "broken-at-1200" || !strings.Contains(rows[1][4], "Email") {
		t.Errorf("failed rows %d %q", status, rows)
	}
	// Re-importing the same file as a job changes nothing.
	_, body = e.postImport(t, "/api/relata/import/contacts/start", e.aliceTok, "job.csv", b.String(), map[string]string{"key": "email"})
	_ = json.Unmarshal(body, &started)
	for deadline := time.Now().Add(60 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		_, v = e.job(t, started.Batch, e.aliceTok)
		if v.Status != "running" || time.Now().After(deadline) {
			break
		}
	}
	if v.Status != "done" || v.Unchanged != 2499 || v.Created != 0 || v.Updated != 0 || v.Failed != 1 {
		t.Errorf("re-import %+v; want 2499 unchanged, 1 failed", v)
	}
	// Problems of the whole file answer at once, and start no job.
	status, body = e.postImport(t, "/api/relata/import/contacts/start", e.aliceTok, "job.csv", b.String(), map[string]string{"key": "salary"})
	if status != 400 || !strings.Contains(string(body), "salary") {
		t.Errorf("bad key: %d %s", status, body)
	}
}

// Cancelling stops an import after its current chunk: what was written stays, in a batch
// marked cancelled that undo removes.
func TestImportCancel(t *testing.T) {
	e := newEnv(t)
	var b strings.Builder
	b.WriteString("Full name,Email\n")
	for i := 1; i <= 100; i++ {
		fmt.Fprintf(&b, "Person %d,p%d@example.com\n", i, i)
	}
	ctx, cancel := context.WithCancel(context.Background())
	chunks := 0
	opts := transfer.ImportOptions{Object: "contacts", BatchSize: 10, Context: ctx,
		Progress: func(res *transfer.Result, rows int) {
			chunks++
			if rows >= 30 {
				cancel()
			}
		}}
	opts.File = "c.csv"
	res, err := e.svc.Import(strings.NewReader(b.String()), opts)
	if err != transfer.ErrCancelled {
		t.Fatalf("err %v; want ErrCancelled", err)
	}
	if res.Created != 30 || chunks != 3 || e.count(t, "contacts") != 30 {
		t.Fatalf("created %d in %d chunks, %d stored; want 30 in 3", res.Created, chunks, e.count(t, "contacts"))
	}
	batch := e.one(t, transfer.BatchesCollection, "id", res.Batch)
	if batch.GetString("status") != "cancelled" || batch.GetInt("rows") != 30 {
		t.Errorf("batch %v", batch.FieldsData())
	}
}

// The preview names the existing records a row may duplicate (among those the importer may
// view), not the record a row updates by the import's key, and not records hidden from her.
func TestImportPreviewNamesLikelyDuplicates(t *testing.T) {
	e := newEnv(t)
	ann := schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Ann Example", "email": "ann@example.com", "owner": e.alice.Id})
	schemastest.MustCreate(t, e.app, "contacts", map[string]any{"full_name": "Carol's Client", "email": "client@south.example", "owner": e.carol.Id})
	csv := "Full name;Email\nAnn Example;ANN@example.com\nCarol's Client;client@south.example\nNew Person;new@example.com\n"
	type preview struct {
		Rows []struct {
			Duplicates []struct {
				ID    string  `json:"id"`
				Score float64 `json:"score"`
			} `json:"duplicates"`
		} `json:"rows"`
	}
	for _, c := range []struct {
		name    string
		form    map[string]string
		annDups int
	}{
		{"create", nil, 1},
		{"upsert by email: the row updates Ann", map[string]string{"key": "email", "mode": "upsert"}, 0},
	} {
		status, body := e.postImport(t, "/api/relata/import/contacts/preview", e.aliceTok, "d.csv", csv, c.form)
		if status != 200 {
			t.Fatalf("%s: preview %d %s", c.name, status, body)
		}
		var p preview
		if err := json.Unmarshal(body, &p); err != nil || len(p.Rows) != 3 {
			t.Fatalf("%s: %v %s", c.name, err, body)
		}
		if got := len(p.Rows[0].Duplicates); got != c.annDups || got == 1 && p.Rows[0].Duplicates[0].ID != ann.Id {
			t.Errorf("%s: Ann's row names %+v; want %d duplicate(s) (Ann)", c.name, p.Rows[0].Duplicates, c.annDups)
		}
		if len(p.Rows[1].Duplicates) != 0 {
			t.Errorf("%s: alice is shown carol's contact as a duplicate: %+v", c.name, p.Rows[1].Duplicates)
		}
		if len(p.Rows[2].Duplicates) != 0 {
			t.Errorf("%s: a new person has duplicates %+v", c.name, p.Rows[2].Duplicates)
		}
	}
}
