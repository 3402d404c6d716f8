package main_test

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"
)

// The access matrix: every endpoint × every actor → allowed or refused, and the data a
// refused or narrowed answer must never contain. It runs the real binary on the example
// data. New endpoints and new collections must join it: TestAccessMatrixCoversEveryRoute
// fails for a route registered in Relata's code that has no row here, and the collection
// part fails for a collection without a policy.

// actor is who calls: anonymous, a sales rep, a rep of the same team, a rep of another team,
// a manager, an admin (CRM users) and a PocketBase superuser.
type actor string

const (
	anon    actor = "anonymous"
	alice   actor = "alice"   // sales, team north
	bob     actor = "bob"     // sales, team north
	carol   actor = "carol"   // sales, team south
	manager actor = "manager" // manager, no team
	admin   actor = "admin"   // CRM admin
	super   actor = "superuser"
)

var crmActors = []actor{anon, alice, bob, carol, manager, admin}

// matrixEnv is the example deployment seen by every actor.
type matrixEnv struct {
	s      *server
	dir    string
	tokens map[actor]string
	ids    map[actor]string
	// bodies holds every answer an actor received, to search for data they must never see.
	bodies map[actor]*bytes.Buffer
	// all holds every record of every collection as the superuser sees it.
	all map[string][]map[string]any
}

const (
	superEmail, superPassword = "root@example.com", "root-password-123"
	matrixTemplate            = "matrix-deal"
)

// exampleServeArgs are the flags that serve the example data with its demo accounts.
var exampleServeArgs = []string{"--demo", "--metrics"} // --metrics: /metrics is checked too

func newMatrixEnv(t *testing.T) *matrixEnv {
	t.Helper()
	dir := t.TempDir()
	if out, err := run(t, "superuser", "upsert", superEmail, superPassword, "--dir", dir); err != nil {
		t.Fatalf("superuser upsert: %v\n%s", err, out)
	}
	e := &matrixEnv{
		s:      startServer(t, dir, exampleServeArgs...),
		dir:    dir,
		tokens: map[actor]string{anon: ""},
		ids:    map[actor]string{},
		bodies: map[actor]*bytes.Buffer{},
		all:    map[string][]map[string]any{},
	}
	for _, a := range []actor{alice, bob, carol, manager, admin} {
		e.tokens[a], e.ids[a] = e.s.login(t, "users", string(a)+"@example.com", "relata-demo-1")
	}
	e.tokens[super], e.ids[super] = e.s.login(t, "_superusers", superEmail, superPassword)
	for _, a := range append(crmActors, super) {
		e.bodies[a] = &bytes.Buffer{}
	}
	// API tokens of two sales users and the admin, each listed by its owner (and the admin).
	for _, a := range []actor{alice, carol, admin} {
		if code, data := e.call(t, a, http.MethodPost, "/api/relata/tokens", map[string]any{"name": "matrix " + string(a), "scope": "read"}); code != 200 {
			t.Fatalf("make %s's token = %d %s", a, code, data)
		}
	}
	// An incoming webhook that writes contacts as alice.
	if code, data := e.call(t, super, http.MethodPost, "/api/collections/incoming_webhooks/records", map[string]any{
		"name": "matrix", "slug": "matrix", "object": "contacts", "mode": "create", "run_as": e.ids[alice],
		"mapping": map[string]string{"email": "/email"}, "enabled": true,
	}); code != 200 {
		t.Fatalf("create webhook = %d %s", code, data)
	}
	// A template that renders deals, for the preview route.
	if code, data := e.call(t, super, http.MethodPost, "/api/collections/email_templates/records", map[string]any{
		"name": matrixTemplate, "category": "transactional", "object": "deals",
		"subject": "About {{.record.name}}", "html": "<p>{{.record.name}}: {{.record.amount}}</p>",
	}); code != 200 {
		t.Fatalf("create template = %d %s", code, data)
	}
	// A static segment and a draft campaign to it, for the marketing routes.
	for _, c := range []struct {
		collection string
		body       map[string]any
	}{
		{"segments", map[string]any{"id": matrixSegment, "name": "Matrix list", "kind": "static", "owner": e.ids[manager]}},
		{"campaigns", map[string]any{"id": matrixCampaign, "name": "Matrix campaign", "template": matrixTemplate,
			"segment": matrixSegment, "status": "draft", "owner": e.ids[manager]}},
	} {
		if code, data := e.call(t, super, http.MethodPost, "/api/collections/"+c.collection+"/records", c.body); code != 200 {
			t.Fatalf("create %s = %d %s", c.collection, code, data)
		}
	}
	// Notifications for alice and carol: the manager assigns each a deal.
	for _, a := range []actor{alice, carol} {
		if code, data := e.call(t, manager, http.MethodPost, "/api/collections/deals/records", map[string]any{
			"name": "Matrix assignment for " + string(a), "owner": e.ids[a]}); code != 200 {
			t.Fatalf("assign a deal to %s = %d %s", a, code, data)
		}
	}
	e.settle(t)
	return e
}

// settle waits until the workflow runs the setup's records triggered are done writing: no
// workflow event waits for its runs, and the number of runs and steps is the same twice a
// second apart.
func (e *matrixEnv) settle(t *testing.T) {
	t.Helper()
	count := func(c string) int {
		_, data := e.call(t, super, http.MethodGet, "/api/collections/"+c+"/records?perPage=1&fields=id", nil)
		var l struct {
			TotalItems int `json:"totalItems"`
		}
		_ = json.Unmarshal(data, &l)
		return l.TotalItems
	}
	last := -1
	for range 60 {
		n := count("workflow_runs")*100000 + count("workflow_steps")
		if n == last && count("workflow_events") == 0 {
			return
		}
		last = n
		time.Sleep(time.Second)
	}
	t.Fatal("the workflow runs of the setup did not settle in 60 s")
}

const matrixSegment, matrixCampaign = "matrixsegment01", "matrixcampaign1"

// call sends a request as a and returns the status and raw body, remembering the body.
func (e *matrixEnv) call(t *testing.T, a actor, method, path string, body any) (int, []byte) {
	t.Helper()
	var rd io.Reader
	if body != nil {
		b, _ := json.Marshal(body)
		rd = bytes.NewReader(b)
	}
	req, _ := http.NewRequest(method, e.s.url+path, rd)
	req.Header.Set("Content-Type", "application/json")
	if tok := e.tokens[a]; tok != "" {
		req.Header.Set("Authorization", tok)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	e.bodies[a].Write(data)
	e.bodies[a].WriteByte('\n')
	return res.StatusCode, data
}

// list reads every page of a collection as a; status is that of the first page.
func (e *matrixEnv) list(t *testing.T, a actor, collection, query string) (int, []map[string]any) {
	t.Helper()
	var items []map[string]any
	for page := 1; ; page++ {
		path := fmt.Sprintf("/api/collections/%s/records?perPage=500&page=%d", collection, page)
		if query != "" {
			path += "&" + query
		}
		code, data := e.call(t, a, http.MethodGet, path, nil)
		if code != 200 {
			return code, nil
		}
		var l struct {
			TotalPages int              `json:"totalPages"`
			Items      []map[string]any `json:"items"`
		}
		if err := json.Unmarshal(data, &l); err != nil {
			t.Fatalf("list %s as %s: %v", collection, a, err)
		}
		items = append(items, l.Items...)
		if page >= l.TotalPages {
			return code, items
		}
	}
}

// policy says who may read and write the records of a collection.
type policy struct {
	// read decides whether actor a may see record r; nil means nobody but superusers.
	read func(e *matrixEnv, a actor, r map[string]any) bool
	// write lists the CRM actors who may change or delete records they can read.
	write []actor
}

func signedIn(a actor) bool   { return a != anon && a != super }
func privileged(a actor) bool { return a == manager || a == admin }

var teams = map[actor]string{alice: "north", bob: "north", carol: "south"}

// ownerOf returns the actor owning r ("" when unowned or not a demo user).
func (e *matrixEnv) ownerOf(r map[string]any) actor {
	for a, id := range e.ids {
		if id != "" && r["owner"] == id {
			return a
		}
	}
	return ""
}

var (
	readNobody          = policy{}
	readManager         = policy{read: func(_ *matrixEnv, a actor, _ map[string]any) bool { return privileged(a) }}
	writeManager        = policy{read: readManager.read, write: []actor{manager, admin}}
	readAllWriteManager = policy{
		read:  func(_ *matrixEnv, a actor, _ map[string]any) bool { return signedIn(a) },
		write: []actor{manager, admin},
	}
	readAllWriteAdmin = policy{
		read:  func(_ *matrixEnv, a actor, _ map[string]any) bool { return signedIn(a) },
		write: []actor{admin},
	}
	// objectPolicy follows schemas.Rules: owner, team or everyone signed in.
	ownerScope = policy{read: func(e *matrixEnv, a actor, r map[string]any) bool {
		return privileged(a) || (signedIn(a) && r["owner"] == e.ids[a])
	}, write: []actor{alice, bob, carol, manager, admin}}
	teamScope = policy{read: func(e *matrixEnv, a actor, r map[string]any) bool {
		if privileged(a) {
			return true
		}
		if !signedIn(a) {
			return false
		}
		o := e.ownerOf(r)
		return r["owner"] == e.ids[a] || (teams[a] != "" && teams[o] == teams[a])
	}, write: []actor{alice, bob, carol, manager, admin}}
	allScope = policy{read: func(_ *matrixEnv, a actor, _ map[string]any) bool { return signedIn(a) },
		write: []actor{alice, bob, carol, manager, admin}}
)

// collectionPolicies is the expected access to every collection of the example deployment.
// A collection missing here fails the test: decide who may read it, then add it.
var collectionPolicies = map[string]policy{
	"companies":  allScope,
	"contacts":   teamScope,
	"deals":      ownerScope,
	"activities": teamScope,
	"users": {read: func(_ *matrixEnv, a actor, _ map[string]any) bool { return signedIn(a) },
		write: []actor{admin}},
	"saved_views": {read: func(e *matrixEnv, a actor, r map[string]any) bool {
		return signedIn(a) && (r["owner"] == e.ids[a] || r["shared"] == true)
	}},
	"workflows":                 writeManager,
	"workflow_runs":             readManager,
	"workflow_steps":            readManager,
	"workflow_events":           readNobody, // changes whose runs the engine is about to write (milliseconds)
	"emails":                    readManager,
	"email_templates":           readAllWriteManager,
	"email_suppressions":        writeManager,
	"inbound_emails":            readManager,
	"email_bounces":             readManager,
	"consents":                  readManager,
	"form_submissions":          readManager,
	"relata_form_blocks":        readManager,
	"web_forms":                 writeManager,
	"stage_changes":             readManager,
	"relata_objects":            readNobody,
	"relata_schema_changes":     readNobody,
	"relata_secrets":            readNobody,
	"relata_seeded":             readNobody,
	"relata_import_batches":     readManager,
	"relata_import_changes":     readNobody,
	"relata_assignment_turns":   readNobody,
	"relata_settings":           readAllWriteAdmin,
	"exchange_rates":            readAllWriteAdmin,
	"quotas":                    readAllWriteAdmin,
	"relata_audit":              readNobody, // read through /api/relata/audit, never written through the API
	"relata_trash":              readNobody, // read and restored through /api/relata/trash
	"relata_bulk_jobs":          readNobody, // read through /api/relata/bulk/{id} by its starter and admins
	"relata_bulk_changes":       readNobody, // previous values of bulk jobs, read only by their undo
	"relata_merges":             readNobody, // merges and redirects through /api/relata/merge(s)
	"privacy_requests":          {read: func(_ *matrixEnv, a actor, _ map[string]any) bool { return a == admin }},
	"retention_policies":        {read: func(_ *matrixEnv, a actor, _ map[string]any) bool { return a == admin }, write: []actor{admin}},
	"relata_models":             {read: func(_ *matrixEnv, a actor, _ map[string]any) bool { return a == admin }}, // written by `relata score train` only
	"incoming_webhooks":         {read: func(_ *matrixEnv, a actor, _ map[string]any) bool { return a == admin }, write: []actor{admin}},
	"relata_webhook_deliveries": readNobody,
	"api_tokens": {read: func(e *matrixEnv, a actor, r map[string]any) bool { // revoked (deleted) by their owner or an admin
		return signedIn(a) && (r["user"] == e.ids[a] || a == admin)
	}, write: []actor{alice, bob, carol, manager, admin}},
	"_superusers": readNobody,
	// Each user lists, marks read and deletes only her own; nobody creates them through the API.
	"notifications": {read: func(e *matrixEnv, a actor, r map[string]any) bool { return signedIn(a) && r["user"] == e.ids[a] },
		write: []actor{alice, bob, carol, manager, admin}},
	"segments":            readAllWriteManager,
	"segment_members":     readManager,
	"campaigns":           writeManager,
	"campaign_recipients": readManager,
	"campaign_events":     readManager,
	// PocketBase's own auth bookkeeping: each user sees and deletes only their own rows.
	"_mfas": ownRows, "_otps": ownRows, "_externalAuths": ownRows, "_authOrigins": ownRows,
}

var ownRows = policy{read: func(e *matrixEnv, a actor, r map[string]any) bool {
	return signedIn(a) && r["recordRef"] == e.ids[a]
}, write: []actor{alice, bob, carol, manager, admin}}

// TestAccessMatrix checks every collection's list, view, update and delete for every actor
// against its policy, then the Relata routes, the cross-relation probes, realtime and batch,
// and finally that no actor ever received data of records they may not read.
func TestAccessMatrix(t *testing.T) {
	t.Parallel()
	e := newMatrixEnv(t)

	// Every collection, as the superuser sees it.
	var colls struct {
		Items []struct {
			Name string `json:"name"`
		} `json:"items"`
	}
	code, data := e.call(t, super, http.MethodGet, "/api/collections?perPage=500", nil)
	if code != 200 || json.Unmarshal(data, &colls) != nil {
		t.Fatalf("list collections = %d %s", code, data)
	}
	var names []string
	for _, c := range colls.Items {
		names = append(names, c.Name)
		if _, ok := collectionPolicies[c.Name]; !ok {
			t.Errorf("collection %q has no policy in the access matrix: add it to collectionPolicies", c.Name)
			continue
		}
		_, e.all[c.Name] = e.list(t, super, c.Name, "")
	}
	sort.Strings(names)

	t.Run("collections", func(t *testing.T) {
		for _, name := range names {
			p, ok := collectionPolicies[name]
			if !ok {
				continue
			}
			for _, a := range crmActors {
				e.checkCollection(t, name, p, a)
			}
		}
	})
	t.Run("routes", func(t *testing.T) { e.checkRoutes(t) })
	t.Run("relations", func(t *testing.T) { e.checkRelations(t) })
	t.Run("realtime", func(t *testing.T) { e.checkRealtime(t) })
	t.Run("batch", func(t *testing.T) { e.checkBatch(t) })
	t.Run("never contains", func(t *testing.T) { e.checkNeverContains(t) })
}

// checkCollection lists, views, updates and deletes records of name as a.
func (e *matrixEnv) checkCollection(t *testing.T, name string, p policy, a actor) {
	t.Helper()
	want := map[string]bool{}
	var hidden []map[string]any
	for _, r := range e.all[name] {
		if p.read != nil && p.read(e, a, r) {
			want[r["id"].(string)] = true
		} else {
			hidden = append(hidden, r)
		}
	}
	code, items := e.list(t, a, name, "")
	got := map[string]bool{}
	for _, r := range items {
		got[r["id"].(string)] = true
	}
	switch {
	case code == 200:
		known := map[string]bool{}
		for _, r := range e.all[name] {
			known[r["id"].(string)] = true
		}
		for _, r := range items {
			id := r["id"].(string)
			if want[id] {
				continue
			}
			// The server's minute jobs (time triggers, reminders, segment evaluation) may
			// have added records since the snapshot: judge such a record as it is now.
			if !known[id] {
				var now map[string]any
				if code, data := e.call(t, super, http.MethodGet, "/api/collections/"+name+"/records/"+id, nil); code == 200 &&
					json.Unmarshal(data, &now) == nil && p.read != nil && p.read(e, a, now) {
					continue
				}
			}
			t.Errorf("%s lists %s/%s, which they may not read", a, name, id)
		}
		for id := range want {
			if !got[id] {
				t.Errorf("%s does not list %s/%s, which they may read", a, name, id)
			}
		}
	case code == 401 || code == 403 || code == 404:
		if len(want) > 0 {
			t.Errorf("%s may not list %s (%d); want %d records", a, name, code, len(want))
		}
	default:
		t.Errorf("%s lists %s = %d", a, name, code)
	}
	// One record they may not read: view, update and delete are refused and change nothing.
	if len(hidden) == 0 {
		return
	}
	r := hidden[len(hidden)/2]
	id := r["id"].(string)
	path := "/api/collections/" + name + "/records/" + id
	if code, _ := e.call(t, a, http.MethodGet, path, nil); code == 200 {
		t.Errorf("%s views %s/%s, which they may not read", a, name, id)
	}
	if code, _ := e.call(t, a, http.MethodPatch, path, map[string]any{}); code == 200 {
		t.Errorf("%s updates %s/%s, which they may not read", a, name, id)
	}
	if code, _ := e.call(t, a, http.MethodDelete, path, nil); code < 400 {
		t.Errorf("%s deletes %s/%s, which they may not read", a, name, id)
	}
	if code, _ := e.call(t, super, http.MethodGet, path, nil); code != 200 {
		t.Errorf("%s/%s is gone after %s's refused delete (%d)", name, id, a, code)
	}
	// Writers only: someone who may read but not write a record cannot change it.
	if slices.Contains(p.write, a) || len(want) == 0 {
		return
	}
	for id := range want {
		path := "/api/collections/" + name + "/records/" + id
		if code, _ := e.call(t, a, http.MethodPatch, path, map[string]any{}); code == 200 {
			t.Errorf("%s updates %s/%s, which they may only read", a, name, id)
		}
		if code, _ := e.call(t, a, http.MethodDelete, path, nil); code < 400 {
			t.Errorf("%s deletes %s/%s, which they may only read", a, name, id)
		}
		break
	}
}

// route is one row of the routes part: a request and the status class each actor gets.
type route struct {
	method, pattern string // the pattern as registered, e.g. "/api/relata/timeline/{object}/{id}"
	path            string // the concrete path requested
	body            any
	allowed         []actor // actors who get a 2xx; everyone else gets a 4xx
}

func (e *matrixEnv) first(collection string, match func(r map[string]any) bool) string {
	for _, r := range e.all[collection] {
		if match == nil || match(r) {
			return r["id"].(string)
		}
	}
	return "missing"
}

// routes are the Relata endpoints (PocketBase's own are covered by the collection part).
func (e *matrixEnv) routes() []route {
	users := []actor{alice, bob, carol, manager, admin}
	everyone := crmActors
	managers := []actor{manager, admin}
	carolDeal := e.first("deals", func(r map[string]any) bool { return r["owner"] == e.ids[carol] })
	wf := e.first("workflows", nil)
	wfName := ""
	for _, r := range e.all["workflows"] {
		if r["id"] == wf {
			wfName, _ = r["name"].(string)
		}
	}
	tpl := matrixTemplate
	def, _ := os.ReadFile(filepath.Join(repoRoot, "examples/sales/workflows/idle-deal-reminder.json"))
	run := e.first("workflow_runs", nil)
	insight := func(kind string) route {
		return route{method: "GET", pattern: "/api/relata/insights/" + kind, path: "/api/relata/insights/" + kind + "?object=deals", allowed: users}
	}
	return []route{
		{method: "GET", pattern: "/api/relata/objects", path: "/api/relata/objects", allowed: users},
		{method: "GET", pattern: "/api/relata/objects/{object}", path: "/api/relata/objects/deals", allowed: users},
		{method: "GET", pattern: "/api/relata/objects/{object}/index-advice", path: "/api/relata/objects/deals/index-advice?sort=-source", allowed: []actor{admin}},
		{method: "GET", pattern: "/api/relata/objects/{object}/variables", path: "/api/relata/objects/deals/variables", allowed: managers},
		insight("pipeline"), insight("forecast"), insight("sources"), insight("cycle"), insight("stage-since"),
		// Carol's deal: only she and the privileged see its timeline.
		{method: "GET", pattern: "/api/relata/timeline/{object}/{id}", path: "/api/relata/timeline/deals/" + carolDeal, allowed: []actor{carol, manager, admin}},
		{method: "POST", pattern: "/api/relata/workflows/validate", path: "/api/relata/workflows/validate",
			body: map[string]any{"definition": json.RawMessage(def)}, allowed: managers},
		{method: "POST", pattern: "/api/relata/workflows/test", path: "/api/relata/workflows/test",
			body: map[string]any{"workflow": wfName, "recordId": carolDeal}, allowed: nil}, // shape varies: refusal for sales checked below
		{method: "POST", pattern: "/api/relata/workflows/{name}/run", path: "/api/relata/workflows/" + wfName + "/run",
			body: map[string]any{"recordId": carolDeal}, allowed: nil},
		{method: "POST", pattern: "/api/relata/runs/{id}/retry", path: "/api/relata/runs/" + run + "/retry", allowed: nil},
		{method: "POST", pattern: "/api/relata/email-templates/{name}/preview", path: "/api/relata/email-templates/" + tpl + "/preview",
			body: map[string]any{"object": "deals", "recordId": carolDeal}, allowed: managers},
		// Unsigned: refused for everyone (signatures are tested in schemas/webhooks).
		{method: "POST", pattern: "/api/relata/hooks/{slug}", path: "/api/relata/hooks/matrix", body: map[string]any{"email": "x@example.com"}, allowed: nil},
		{method: "POST", pattern: "/api/relata/webhooks/{id}/secret", path: "/api/relata/webhooks/" + e.first("incoming_webhooks", nil) + "/secret", allowed: []actor{admin}},
		{method: "POST", pattern: "/api/relata/tokens", path: "/api/relata/tokens", body: map[string]any{"name": "matrix", "scope": "read"}, allowed: users},
		{method: "GET", pattern: "/api/relata/forms/{slug}", path: "/api/relata/forms/contact-us", allowed: everyone},
		{method: "POST", pattern: "/api/relata/forms/{slug}", path: "/api/relata/forms/contact-us", body: map[string]any{}, allowed: nil},
		{method: "GET", pattern: "/forms/{slug}", path: "/forms/contact-us", allowed: everyone},
		{method: "POST", pattern: "/forms/{slug}", path: "/forms/contact-us", allowed: nil},
		{method: "GET", pattern: "/forms/{slug}/embed.js", path: "/forms/contact-us/embed.js", allowed: everyone},
		{method: "GET", pattern: "/unsubscribe/{token}", path: "/unsubscribe/not-a-token", allowed: nil},
		{method: "GET", pattern: "/confirm/{token}", path: "/confirm/bm90.YS10b2tlbg", allowed: nil},
		{method: "POST", pattern: "/confirm/{token}", path: "/confirm/bm90.YS10b2tlbg", allowed: nil},
		{method: "POST", pattern: "/unsubscribe/{token}", path: "/unsubscribe/not-a-token", allowed: nil},
		{method: "GET", pattern: "/{path...}", path: "/", allowed: everyone},
		{method: "POST", pattern: "/api/relata/privacy/export", path: "/api/relata/privacy/export",
			body: map[string]any{"email": "matrix-nobody@example.com"}, allowed: []actor{admin}},
		// An erasure without "confirm" changes nothing; only the refusals are checked here.
		{method: "POST", pattern: "/api/relata/privacy/erase", path: "/api/relata/privacy/erase",
			body: map[string]any{"email": "matrix-nobody@example.com"}, allowed: nil},
		{method: "GET", pattern: "/api/relata/privacy/retention", path: "/api/relata/privacy/retention", allowed: []actor{admin}},
		{method: "POST", pattern: "/api/relata/privacy/retention", path: "/api/relata/privacy/retention", allowed: []actor{admin}},
		// Each user marks her own notifications read (the superuser has none: 403).
		{method: "POST", pattern: "/api/relata/notifications/read", path: "/api/relata/notifications/read", allowed: users},
		// Counts under the consents' list rule: a rep gets an empty list (as from the REST API).
		{method: "GET", pattern: "/api/relata/privacy/consents", path: "/api/relata/privacy/consents", allowed: users},
		{method: "GET", pattern: "/api/relata/secrets", path: "/api/relata/secrets", allowed: managers},
		// Setting and deleting a secret is checked with a name that no workflow uses.
		{method: "PUT", pattern: "/api/relata/secrets/{name}", path: "/api/relata/secrets/matrix-probe", body: map[string]any{"value": "matrix-secret-value-1"}, allowed: managers},
		{method: "DELETE", pattern: "/api/relata/secrets/{name}", path: "/api/relata/secrets/matrix-probe", allowed: nil},
		// Everyone exports what they may list: alice's CSV must hold none of carol's deals.
		{method: "GET", pattern: "/api/relata/export/{object}", path: "/api/relata/export/deals?format=csv", allowed: users},
		{method: "GET", pattern: "/api/relata/export/{object}", path: "/api/relata/export/contacts?format=csv&fields=full_name,email,phone", allowed: users},
		// A body that is no spreadsheet: refused for everyone (imports are tested in schemas/transfer).
		{method: "POST", pattern: "/api/relata/import/{object}", path: "/api/relata/import/deals", body: map[string]any{}, allowed: nil},
		// The import wizard: no spreadsheet, refused for everyone; a job that is not the
		// caller's (or does not exist) is a 404 for everyone (TestImportJobs in schemas/transfer
		// runs real jobs, and checks another user cannot see or cancel one).
		{method: "POST", pattern: "/api/relata/import/{object}/preview", path: "/api/relata/import/deals/preview", body: map[string]any{}, allowed: nil},
		{method: "POST", pattern: "/api/relata/import/{object}/start", path: "/api/relata/import/deals/start", body: map[string]any{}, allowed: nil},
		{method: "GET", pattern: "/api/relata/import-jobs/{batch}", path: "/api/relata/import-jobs/not-a-batch", allowed: nil},
		{method: "POST", pattern: "/api/relata/import-jobs/{batch}/cancel", path: "/api/relata/import-jobs/not-a-batch/cancel", allowed: nil},
		{method: "GET", pattern: "/api/relata/import-jobs/{batch}/failed", path: "/api/relata/import-jobs/not-a-batch/failed", allowed: nil},
		{method: "GET", pattern: "/api/relata/audit", path: "/api/relata/audit?object=deals", allowed: []actor{admin}},
		{method: "GET", pattern: "/api/relata/audit/{object}/{id}", path: "/api/relata/audit/deals/" + carolDeal, allowed: []actor{carol, manager, admin}},
		// The trash lists, for each caller, only what they could see (TestTrashAcrossTeams);
		// restoring an entry that is not there is refused for everyone.
		{method: "GET", pattern: "/api/relata/trash", path: "/api/relata/trash", allowed: users},
		{method: "POST", pattern: "/api/relata/trash/{id}/restore", path: "/api/relata/trash/not-an-entry/restore", allowed: nil},
		// Bulk jobs: a dry run on carol's deal is a job for every user; alice and bob get it
		// counted as "not found" (schemas/transfer TestBulk*). Jobs that are not there: 404.
		{method: "POST", pattern: "/api/relata/bulk/{object}", path: "/api/relata/bulk/deals",
			body: map[string]any{"ids": []string{carolDeal}, "action": "update", "field": "source", "value": "referral", "dryRun": true}, allowed: users},
		{method: "GET", pattern: "/api/relata/bulk/{id}", path: "/api/relata/bulk/not-a-job", allowed: nil},
		{method: "POST", pattern: "/api/relata/bulk/{id}/cancel", path: "/api/relata/bulk/not-a-job/cancel", allowed: nil},
		// Undo of a bulk job: a job that is not there (or not the caller's) is a 404 for everyone;
		// TestBulkUndo* in schemas/transfer undo real jobs and refuse other users' (404).
		{method: "POST", pattern: "/api/relata/bulk/{id}/undo", path: "/api/relata/bulk/not-a-job/undo", allowed: nil},
		// Reassigning a rep's records: managers and admins only (a dry run changes nothing).
		{method: "POST", pattern: "/api/relata/reassign", path: "/api/relata/reassign",
			body: map[string]any{"from": "carol@example.com", "to": []string{"bob@example.com"}, "dryRun": true}, allowed: managers},
		// Duplicates: each caller gets the pairs among what they may view (TestPairsAccess in
		// schemas/dedupe); merging a record that is not there is refused for everyone (merge
		// access is TestMergeAccess there).
		{method: "GET", pattern: "/api/relata/duplicates/{object}", path: "/api/relata/duplicates/contacts", allowed: users},
		{method: "GET", pattern: "/api/relata/duplicates/{object}/check", path: "/api/relata/duplicates/contacts/check?email=matrix@example.com", allowed: users},
		{method: "POST", pattern: "/api/relata/merge/{object}", path: "/api/relata/merge/deals", body: map[string]any{"winner": carolDeal, "loser": "not-a-record"}, allowed: nil},
		{method: "POST", pattern: "/api/relata/merges/{id}/undo", path: "/api/relata/merges/not-a-merge/undo", allowed: nil},
		{method: "GET", pattern: "/api/relata/merges/redirect/{object}/{id}", path: "/api/relata/merges/redirect/deals/" + carolDeal, allowed: nil},
		{method: "GET", pattern: "/api/relata/score/{object}/{id}", path: "/api/relata/score/deals/" + carolDeal, allowed: []actor{carol, manager, admin}},
		// A record's rule-based scores explained: whoever may view it (the demo scores no deals: an empty list).
		{method: "GET", pattern: "/api/relata/score/{object}/{id}/rules", path: "/api/relata/score/deals/" + carolDeal + "/rules", allowed: []actor{carol, manager, admin}},
		// Bulk scoring answers every CRM user, with only the records each may view (TestAPIScoreManyAsTheCaller).
		{method: "GET", pattern: "/api/relata/score/{object}", path: "/api/relata/score/deals?ids=" + carolDeal, allowed: users},
		// Retraining on demand is for admins (the demo has too few closed deals: it answers the fallback).
		{method: "POST", pattern: "/api/relata/score/{object}/train", path: "/api/relata/score/deals/train", allowed: []actor{admin}},
		// Forecasts answer every CRM user over what each may list (TestForecastByRepTeamAndQuotas).
		{method: "GET", pattern: "/api/relata/forecast/{object}", path: "/api/relata/forecast/deals", allowed: users},
		{method: "GET", pattern: "/api/relata/forecast/{object}/backtest", path: "/api/relata/forecast/deals/backtest?months=3", allowed: users},
		// Segments count as the caller; static lists and campaigns are for managers. A pause of
		// a draft and a send of no campaign are refused for everyone (sales before the lookup).
		{method: "POST", pattern: "/api/relata/segments/count", path: "/api/relata/segments/count", body: map[string]any{"filter": `company.name != ""`}, allowed: users},
		{method: "GET", pattern: "/api/relata/segments/{id}/count", path: "/api/relata/segments/" + matrixSegment + "/count", allowed: users},
		{method: "POST", pattern: "/api/relata/segments/{id}/members", path: "/api/relata/segments/" + matrixSegment + "/members", body: map[string]any{"ids": []string{}}, allowed: managers},
		{method: "GET", pattern: "/api/relata/campaigns/{id}/report", path: "/api/relata/campaigns/" + matrixCampaign + "/report", allowed: managers},
		{method: "POST", pattern: "/api/relata/campaigns/{id}/send", path: "/api/relata/campaigns/missing/send", allowed: nil},
		{method: "POST", pattern: "/api/relata/campaigns/{id}/pause", path: "/api/relata/campaigns/" + matrixCampaign + "/pause", allowed: nil},
		{method: "POST", pattern: "/api/relata/campaigns/{id}/resume", path: "/api/relata/campaigns/" + matrixCampaign + "/resume", allowed: nil},
		{method: "POST", pattern: "/api/relata/campaigns/{id}/cancel", path: "/api/relata/campaigns/missing/cancel", allowed: nil},
		// Tracking: a forged click token redirects nobody; the pixel answers everyone with an image.
		{method: "GET", pattern: "/t/c/{token}", path: "/t/c/bm90.YS10b2tlbg", allowed: nil},
		{method: "GET", pattern: "/t/o/{token}", path: "/t/o/bm90.YS10b2tlbg.gif", allowed: everyone},
		// PocketBase's administration API is for superusers only, CRM admins included.
		{method: "GET", pattern: "/api/collections", path: "/api/collections", allowed: nil},
		{method: "GET", pattern: "/api/settings", path: "/api/settings", allowed: nil},
		{method: "GET", pattern: "/api/logs", path: "/api/logs", allowed: nil},
		{method: "GET", pattern: "/api/backups", path: "/api/backups", allowed: nil},
		{method: "GET", pattern: "/api/crons", path: "/api/crons", allowed: nil},
		{method: "GET", pattern: "/metrics", path: "/metrics", allowed: nil}, // superusers or RELATA_METRICS_TOKEN only
	}
}

// refusedFor are the actors who must get a 4xx from a route whose success depends on its
// input (allowed == nil): sales reps and anonymous callers must never get through.
var refusedFor = map[string][]actor{
	"POST /api/relata/workflows/test":       {anon, alice, bob, carol},
	"POST /api/relata/workflows/{name}/run": {anon, alice, bob, carol},
	"POST /api/relata/runs/{id}/retry":      {anon, alice, bob, carol},
	"POST /api/relata/forms/{slug}":         crmActors, // an empty submission is invalid for everyone
	"POST /forms/{slug}":                    nil,       // answers with the form page and its errors
	"POST /api/relata/trash/{id}/restore":   crmActors, // no such entry
	"GET /unsubscribe/{token}":              crmActors, // a forged token
	"POST /unsubscribe/{token}":             crmActors,
	"DELETE /api/relata/secrets/{name}":     {anon, alice, bob, carol}, // managers: 204, or 404 once deleted

	// duplicates and merge: no such loser, merge or merged-away record
	"POST /api/relata/merge/{object}":               crmActors,
	"POST /api/relata/merges/{id}/undo":             crmActors,
	"GET /api/relata/merges/redirect/{object}/{id}": crmActors,
	// marketing (workflows/campaigns)
	"POST /api/relata/campaigns/{id}/send":   crmActors, // no such campaign
	"POST /api/relata/campaigns/{id}/pause":  crmActors, // a draft is not sending
	"POST /api/relata/campaigns/{id}/resume": crmActors, // a draft is not paused
	"POST /api/relata/campaigns/{id}/cancel": crmActors, // no such campaign
	"GET /t/c/{token}":                       crmActors, // a forged token
}

func (e *matrixEnv) checkRoutes(t *testing.T) {
	for _, r := range e.routes() {
		key := r.method + " " + r.pattern
		refused, conditional := refusedFor[key]
		for _, a := range crmActors {
			code, data := e.call(t, a, r.method, r.path, r.body)
			ok := code >= 200 && code < 300
			switch {
			case conditional:
				if slices.Contains(refused, a) && ok {
					t.Errorf("%s %s as %s = %d; want a refusal: %.200s", r.method, r.path, a, code, data)
				}
			case slices.Contains(r.allowed, a) && !ok:
				t.Errorf("%s %s as %s = %d; want it allowed: %.200s", r.method, r.path, a, code, data)
			case !slices.Contains(r.allowed, a) && ok:
				t.Errorf("%s %s as %s = %d; want a refusal: %.200s", r.method, r.path, a, code, data)
			}
			if code >= 500 {
				t.Errorf("%s %s as %s = %d: a server error", r.method, r.path, a, code)
			}
		}
	}
}

// checkRelations probes the cross-relation holes: all-match operators over back-relations
// and multi relations, expand, and linking a record one cannot see.
func (e *matrixEnv) checkRelations(t *testing.T) {
	// A company with one of carol's deals: alice must not learn its amount by bisection.
	var deal map[string]any
	for _, d := range e.all["deals"] {
		if d["owner"] == e.ids[carol] && d["company"] != "" {
			deal = d
			break
		}
	}
	if deal == nil {
		t.Fatal("no deal of carol's with a company in the example data")
	}
	amount, _ := deal["amount"].(float64)
	company := deal["company"].(string)
	probes := []string{
		`id="%s" && deals_via_company.amount < %v`,
		`id="%s" && deals_via_company.amount <= %v`,
		`id="%s" && deals_via_company.amount != %v`,
		`id="%s" && deals_via_company.amount > %v`,
	}
	for _, p := range probes {
		below := e.count(t, alice, "companies", fmt.Sprintf(p, company, amount))
		above := e.count(t, alice, "companies", fmt.Sprintf(p, company, amount+1))
		if below >= 0 && above >= 0 && below != above {
			t.Errorf("alice learns carol's deal amount through %q: %d vs %d results", p, below, above)
		}
	}
	// Contacts through a multi relation on deals (contacts of other teams).
	for _, d := range e.all["deals"] {
		if d["owner"] != e.ids[alice] {
			continue
		}
		f := fmt.Sprintf(`id="%s" && contacts.email != ""`, d["id"])
		_ = e.count(t, alice, "deals", f) // refused or answered; must not be a server error
		break
	}
	// Expanding a visible company's deals shows only alice's own deals.
	code, data := e.call(t, alice, http.MethodGet, "/api/collections/companies/records/"+company+"?expand=deals_via_company", nil)
	if code == 200 && bytes.Contains(data, []byte(deal["id"].(string))) {
		t.Errorf("alice expands carol's deal %s through its company", deal["id"])
	}
	// Linking a record alice cannot see: a contact of team south on her own deal.
	var south string
	for _, c := range e.all["contacts"] {
		if teams[e.ownerOf(c)] == "south" {
			south = c["id"].(string)
			break
		}
	}
	code, data = e.call(t, alice, http.MethodPost, "/api/collections/deals/records",
		map[string]any{"name": "Matrix link probe", "stage": "lead", "contacts": []string{south}})
	if code == 200 {
		t.Errorf("alice links contact %s of team south to a new deal: %.200s", south, data)
	}
	code, data = e.call(t, alice, http.MethodPost, "/api/collections/activities/records",
		map[string]any{"type": "note", "subject": "Matrix link probe", "deal": deal["id"]})
	if code == 200 {
		t.Errorf("alice links carol's deal %s to an activity: %.200s", deal["id"], data)
	}
}

// count returns totalItems of a filtered list, or -1 when the filter is refused (4xx).
func (e *matrixEnv) count(t *testing.T, a actor, collection, filter string) int {
	t.Helper()
	code, data := e.call(t, a, http.MethodGet, "/api/collections/"+collection+"/records?perPage=1&filter="+urlEscape(filter), nil)
	if code >= 500 {
		t.Errorf("filter %q as %s = %d", filter, a, code)
	}
	if code != 200 {
		return -1
	}
	var l struct {
		TotalItems int `json:"totalItems"`
	}
	_ = json.Unmarshal(data, &l)
	return l.TotalItems
}

// checkRealtime subscribes alice to deals and contacts; changes to carol's deal and a south
// contact must not reach her, her own change must.
func (e *matrixEnv) checkRealtime(t *testing.T) {
	req, _ := http.NewRequest(http.MethodGet, e.s.url+"/api/realtime", nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	events := make(chan string, 64)
	clientID := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(res.Body)
		sc.Buffer(make([]byte, 1<<20), 1<<20)
		var ev string
		for sc.Scan() {
			line := sc.Text()
			switch {
			case strings.HasPrefix(line, "event:"):
				ev = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
			case strings.HasPrefix(line, "data:") && ev == "PB_CONNECT":
				var c struct {
					ClientID string `json:"clientId"`
				}
				_ = json.Unmarshal([]byte(strings.TrimPrefix(line, "data:")), &c)
				clientID <- c.ClientID
			case strings.HasPrefix(line, "data:"):
				events <- strings.TrimPrefix(line, "data:")
			}
		}
		close(events)
	}()
	var id string
	select {
	case id = <-clientID:
	case <-time.After(10 * time.Second):
		t.Fatal("no PB_CONNECT from /api/realtime")
	}
	code, data := e.call(t, alice, http.MethodPost, "/api/realtime", map[string]any{"clientId": id, "subscriptions": []string{"deals", "contacts"}})
	if code != 204 {
		t.Fatalf("subscribe = %d %s", code, data)
	}
	var carolDeal, aliceDeal, southContact string
	for _, d := range e.all["deals"] {
		switch d["owner"] {
		case e.ids[carol]:
			carolDeal = d["id"].(string)
		case e.ids[alice]:
			aliceDeal = d["id"].(string)
		}
	}
	for _, c := range e.all["contacts"] {
		if teams[e.ownerOf(c)] == "south" {
			southContact = c["id"].(string)
		}
	}
	secret := "realtime-probe-" + strconv.FormatInt(time.Now().UnixNano(), 36)
	e.call(t, super, http.MethodPatch, "/api/collections/deals/records/"+carolDeal, map[string]any{"description": secret})
	e.call(t, super, http.MethodPatch, "/api/collections/contacts/records/"+southContact, map[string]any{"job_title": secret})
	e.call(t, super, http.MethodPatch, "/api/collections/deals/records/"+aliceDeal, map[string]any{"description": "own-" + secret})
	deadline := time.After(10 * time.Second)
	for {
		select {
		case ev, ok := <-events:
			if !ok {
				t.Fatal("realtime stream closed")
			}
			if strings.Contains(ev, secret) && !strings.Contains(ev, "own-"+secret) {
				t.Fatalf("alice received a change she may not read: %.300s", ev)
			}
			if strings.Contains(ev, "own-"+secret) {
				return // her own change arrived after the others were published
			}
		case <-deadline:
			t.Fatal("alice never received the change of her own deal")
		}
	}
}

// checkBatch: the batch API either is off, or applies the same rules per request.
func (e *matrixEnv) checkBatch(t *testing.T) {
	body := map[string]any{"requests": []any{map[string]any{
		"method": "POST", "url": "/api/collections/deals/records",
		"body": map[string]any{"name": "Batch probe", "stage": "lead", "owner": e.ids[bob]},
	}}}
	code, data := e.call(t, alice, http.MethodPost, "/api/batch", body)
	if code == 200 {
		t.Errorf("alice creates a deal for bob through the batch API: %.300s", data)
	}
}

// checkNeverContains searches every answer each actor received for data of records they
// may not read: contacts' emails, phones and names, deals' names, activities' subjects, the
// password hashes and token keys of users, and Relata's stored secrets.
func (e *matrixEnv) checkNeverContains(t *testing.T) {
	fields := map[string][]string{
		"contacts":   {"email", "phone", "full_name"},
		"deals":      {"name"},
		"activities": {"subject"},
	}
	secrets := e.storedSecrets(t)
	for _, a := range crmActors {
		visible := &strings.Builder{}
		for name, p := range collectionPolicies {
			for _, r := range e.all[name] {
				if p.read != nil && p.read(e, a, r) {
					b, _ := json.Marshal(r)
					visible.Write(b)
				}
			}
		}
		seen := visible.String()
		body := e.bodies[a].String()
		for coll, fs := range fields {
			p := collectionPolicies[coll]
			for _, r := range e.all[coll] {
				if p.read(e, a, r) {
					continue
				}
				for _, f := range fs {
					v, _ := r[f].(string)
					if len(v) < 6 || strings.Contains(seen, v) {
						continue // too short to be telling, or also in a record they may read
					}
					if strings.Contains(body, v) {
						t.Errorf("%s received %s.%s %q of %s, which they may not read", a, coll, f, v, r["id"])
					}
				}
			}
		}
		for _, s := range secrets {
			if strings.Contains(body, s) {
				t.Errorf("%s received a stored secret or password hash", a)
			}
		}
	}
}

// storedSecrets reads secrets, password hashes and token keys from the database file.
func (e *matrixEnv) storedSecrets(t *testing.T) []string {
	var out []string
	for _, q := range []string{
		"SELECT value FROM relata_secrets",
		"SELECT password FROM users", "SELECT tokenKey FROM users",
		"SELECT password FROM _superusers", "SELECT tokenKey FROM _superusers",
	} {
		rows := dbQuery(t, e.dir, q)
		for rows.Next() {
			var v string
			if rows.Scan(&v) == nil && len(v) >= 8 {
				out = append(out, v)
			}
		}
		rows.Close()
	}
	if len(out) == 0 {
		t.Fatal("no secrets found in the database: the query is wrong")
	}
	return out
}

// TestAccessMatrixCoversEveryRoute finds every route Relata registers (router calls with a
// literal path in the module's non-test Go files, under their group's prefix) and fails for
// one without a row in the matrix.
func TestAccessMatrixCoversEveryRoute(t *testing.T) {
	t.Parallel()
	e := &matrixEnv{ids: map[actor]string{}, all: map[string][]map[string]any{}}
	have := map[string]bool{}
	for _, r := range e.routes() {
		have[r.method+" "+r.pattern] = true
	}
	found := registeredRoutes(t, repoRoot)
	if len(found) < 10 {
		t.Fatalf("found only %d routes: the scan is broken (%v)", len(found), found)
	}
	for _, r := range found {
		if !have[r] && !coveredBySuffix(have, r) {
			t.Errorf("route %s is not in the access matrix: add a row to routes() in access_matrix_test.go", r)
		}
	}
}

// coveredBySuffix accepts a route whose group prefix the scan could not resolve (a group
// passed to a function as a parameter): a row with the same method whose pattern ends with it.
func coveredBySuffix(have map[string]bool, route string) bool {
	method, path, _ := strings.Cut(route, " ")
	for k := range have {
		m, p, _ := strings.Cut(k, " ")
		if m == method && len(p) > len(path) && strings.HasSuffix(p, path) {
			return true
		}
	}
	return false
}

// registeredRoutes scans the Go files under root for calls X.GET/POST/PUT/PATCH/DELETE("path", …)
// and resolves X through `X := Y.Group("prefix")` assignments in the same function.
func registeredRoutes(t *testing.T, root string) []string {
	t.Helper()
	var routes []string
	fset := token.NewFileSet()
	err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch d.Name() {
			case "node_modules", "vendor", "testdata", ".git", "relata-bench":
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, 0)
		if err != nil {
			return err
		}
		for _, decl := range f.Decls {
			fn, ok := decl.(*ast.FuncDecl)
			if !ok || fn.Body == nil {
				continue
			}
			prefixes := map[string]string{}
			ast.Inspect(fn.Body, func(n ast.Node) bool {
				if as, ok := n.(*ast.AssignStmt); ok && len(as.Lhs) == 1 && len(as.Rhs) == 1 {
					if id, ok := as.Lhs[0].(*ast.Ident); ok {
						if p, ok := groupPrefix(as.Rhs[0], prefixes); ok {
							prefixes[id.Name] = p
						}
					}
				}
				call, ok := n.(*ast.CallExpr)
				if !ok || len(call.Args) < 2 {
					return true
				}
				sel, ok := call.Fun.(*ast.SelectorExpr)
				if !ok {
					return true
				}
				switch sel.Sel.Name {
				case "GET", "POST", "PUT", "PATCH", "DELETE":
				default:
					return true
				}
				lit, ok := call.Args[0].(*ast.BasicLit)
				if !ok || lit.Kind != token.STRING {
					return true
				}
				p, _ := strconv.Unquote(lit.Value)
				prefix := ""
				if id, ok := sel.X.(*ast.Ident); ok {
					prefix = prefixes[id.Name]
				}
				if !strings.HasPrefix(prefix+p, "/") {
					return true
				}
				routes = append(routes, sel.Sel.Name+" "+prefix+p)
				return true
			})
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	sort.Strings(routes)
	return slices.Compact(routes)
}

// groupPrefix recognises Y.Group("prefix") (Y possibly itself a group variable).
func groupPrefix(x ast.Expr, prefixes map[string]string) (string, bool) {
	call, ok := x.(*ast.CallExpr)
	if !ok || len(call.Args) != 1 {
		return "", false
	}
	sel, ok := call.Fun.(*ast.SelectorExpr)
	if !ok || sel.Sel.Name != "Group" {
		return "", false
	}
	lit, ok := call.Args[0].(*ast.BasicLit)
	if !ok || lit.Kind != token.STRING {
		return "", false
	}
	p, _ := strconv.Unquote(lit.Value)
	parent := ""
	if id, ok := sel.X.(*ast.Ident); ok {
		parent = prefixes[id.Name]
	}
	return parent + p, true
}
