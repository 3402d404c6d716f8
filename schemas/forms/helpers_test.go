package forms_test

import (
	"bytes"
	"encoding/json"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/hooks"
	_ "github.com/relata/relata/migrations"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/forms"
	"github.com/relata/relata/schemas/schemastest"
)

// clock is a settable time source, so tests control the minimum fill time.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

type env struct {
	app   *core.BaseApp
	reg   *schemas.Registry
	svc   *forms.Service
	srv   *httptest.Server
	clock *clock
}

// newEnv serves the forms of testdata/forms on a fresh app whose model is the default CRM
// objects plus testdata/objects (an object with every field type).
func newEnv(t testing.TB) *env {
	t.Helper()
	objects := t.TempDir()
	copyFS(t, schemas.Defaults(), objects)
	copyFS(t, os.DirFS("testdata/objects"), objects)
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{Dir: objects})
	// At the start of an hour, so a test that advances minutes stays in one rate-limit hour.
	c := &clock{now: time.Now().UTC().Truncate(time.Hour).Add(10 * time.Second)}
	svc := forms.MustRegister(app, nil, forms.Config{Registry: reg, Dirs: []string{"testdata/forms"}, Now: c.Now})
	// Relata's record hooks, as in the binary: defaults, owners, lower-cased emails.
	hooks.MustRegister(app, hooks.Config{Registry: reg})
	srv := schemastest.Serve(t, app)
	schemastest.NewUser(t, app, "alice@example.com", "sales", "north")
	return &env{app: app, reg: reg, svc: svc, srv: srv, clock: c}
}

func copyFS(t testing.TB, src fs.FS, dir string) {
	t.Helper()
	names, err := fs.Glob(src, "*.json")
	if err != nil {
		t.Fatal(err)
	}
	for _, name := range names {
		b, err := fs.ReadFile(src, name)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
}

// token returns a token of the form, served at the env's current time.
func (e *env) token(t testing.TB, slug string) string {
	t.Helper()
	tok, err := e.svc.Token(slug, e.clock.Now())
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

// response is a decoded answer of the JSON endpoint.
type response struct {
	OK       bool              `json:"ok"`
	Message  string            `json:"message"`
	Redirect string            `json:"redirect"`
	Errors   map[string]string `json:"errors"`
}

// post sends a JSON body (a value to marshal, or raw bytes) to the form's JSON endpoint.
func (e *env) post(t testing.TB, slug string, body any, header ...string) (int, response, http.Header) {
	t.Helper()
	b, ok := body.([]byte)
	if !ok {
		var err error
		if b, err = json.Marshal(body); err != nil {
			t.Fatal(err)
		}
	}
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/api/relata/forms/"+slug, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var out response
	if err := json.Unmarshal(data, &out); err != nil {
		t.Fatalf("POST %s: not JSON (%d): %s", slug, res.StatusCode, data)
	}
	return res.StatusCode, out, res.Header
}

// postForm posts URL-encoded form data to the page, as a browser without JavaScript does,
// with the given header names and values.
func (e *env) postForm(t testing.TB, slug string, vals url.Values, header ...string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, e.srv.URL+"/forms/"+slug, strings.NewReader(vals.Encode()))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := noRedirect(e.srv).Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(data), res.Header
}

func noRedirect(srv *httptest.Server) *http.Client {
	c := *srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	return &c
}

// get fetches a path and returns the status, body and headers.
func (e *env) get(t testing.TB, path string, header ...string) (int, string, http.Header) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, e.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	return res.StatusCode, string(data), res.Header
}

func (e *env) count(t testing.TB, collection, filter string, params ...map[string]any) int {
	t.Helper()
	if filter == "" {
		filter = "id != ''"
	}
	var ps []dbx.Params
	for _, p := range params {
		ps = append(ps, p)
	}
	recs, err := e.app.FindRecordsByFilter(collection, filter, "", 0, 0, ps...)
	if err != nil {
		t.Fatal(err)
	}
	return len(recs)
}

// stored counts what a submission may have written: records of the object, consents and
// form submissions.
func (e *env) stored(t testing.TB, object string) [3]int {
	t.Helper()
	return [3]int{e.count(t, object, ""), e.count(t, forms.ConsentsCollection, ""), e.count(t, forms.SubmissionsCollection, "")}
}

var tokenInput = regexp.MustCompile(`name="_token" value="([^"]+)"`)

// pageToken reads the token of a served page.
func pageToken(t testing.TB, html string) string {
	t.Helper()
	m := tokenInput.FindStringSubmatch(html)
	if m == nil {
		t.Fatalf("the page has no token:\n%s", html)
	}
	return m[1]
}

func contains(t testing.TB, what, s string, wants ...string) {
	t.Helper()
	for _, w := range wants {
		if !strings.Contains(s, w) {
			t.Errorf("%s lacks %q", what, w)
		}
	}
}
