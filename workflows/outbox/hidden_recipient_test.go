package outbox_test

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/hooks"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/insights"
	"github.com/relata/relata/schemas/schemastest"
	"github.com/relata/relata/workflows/outbox"
	"github.com/relata/relata/workflows/outbox/outboxtest"
)

// hiddenWorld is a served app with the filter guard (hooks) and an outbox, and the users of
// the access matrix. Ada and Max are managers who keep their addresses hidden, Vic a manager
// who shows hers; the admin and the rep (sales) keep theirs hidden too.
type hiddenWorld struct {
	*env
	srv                                     *httptest.Server
	ada, max, vic                           *core.Record
	adaTok, maxTok, adminTok, repTok, suTok string
}

func newHiddenWorld(t *testing.T) *hiddenWorld {
	t.Helper()
	app := schemastest.OpenApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{})
	hooks.MustRegister(app, hooks.Config{Registry: reg})
	insights.MustRegister(app, insights.Config{Registry: reg}) // record timelines
	smtpSrv := outboxtest.NewServer(t, outboxtest.Options{})
	c := &clock{}
	s, err := outbox.Register(app, testConfig(smtpSrv, c, outbox.Config{Registry: reg}))
	if err != nil {
		t.Fatal(err)
	}
	srv := schemastest.Serve(t, app)
	s.Stop() // tests send with Drain
	t.Cleanup(s.Stop)
	w := &hiddenWorld{env: &env{app: app, reg: reg, sender: s, smtp: smtpSrv, clock: c, srv: srv}, srv: srv}
	named := func(email, role, name string, visible bool) (*core.Record, string) {
		u, tok := schemastest.NewUser(t, app, email, role, "north")
		u.Set("name", name)
		u.Set(core.FieldNameEmailVisibility, visible)
		if err := app.Save(u); err != nil {
			t.Fatal(err)
		}
		return u, tok
	}
	w.ada, w.adaTok = named("Ada.Hidden@example.com", "manager", "ada.hidden@example.com", false) // her name is her address
	w.max, w.maxTok = named("max.hidden@example.com", "manager", "Max", false)
	w.vic, _ = named("vic.shown@example.com", "manager", "Vic", true)
	_, w.adminTok = named("admin@example.com", "admin", "Admin", false)
	_, w.repTok = named("rep@example.com", "sales", "Rep", false)
	w.suTok = schemastest.SuperuserToken(t, app)
	return w
}

// The emails API shows the address of a recipient who is a user only to whoever may read it
// — superusers, that user herself, everyone when she made it visible — and the others read
// "user <id> (address hidden)" instead, in "to" and wherever the email prints it (subject,
// text, html, last_error); lists, views, expands and realtime events alike. Filters and sorts
// by the fields that may hold it are refused to all but superusers; to_users is the way to
// find a user's emails. Delivery still goes to the real address.
func TestEmailsHideUsersHiddenAddresses(t *testing.T) {
	t.Parallel()
	w := newHiddenWorld(t)
	const adaAddr, maxAddr = "ada.hidden@example.com", "max.hidden@example.com"
	toAda := w.enqueue(t, outbox.Message{To: []string{`"ada.hidden@example.com" <Ada.Hidden@example.com>`}, UserIDs: []string{w.ada.Id},
		Subject: "For ADA.HIDDEN@example.com", Text: "Good morning ada.hidden@example.com,", HTML: "<p>Hi Ada.Hidden@Example.com</p>", Notice: true})
	toVic := w.enqueue(t, outbox.Message{To: []string{"Vic <vic.shown@example.com>"}, UserIDs: []string{w.vic.Id}, Subject: "s", Text: "t"})
	ids, err := outbox.EnqueueMany(w.app, []outbox.Message{
		{To: []string{"carl@client.example", "Max <max.hidden@example.com>"}, UserIDs: []string{"", w.max.Id}, Subject: "Both", Text: "cc max.hidden@example.com"},
		{To: []string{"carl@client.example"}, Subject: "Contact only", Text: "t"},
	})
	if err != nil {
		t.Fatal(err)
	}
	toBoth, toCarl := ids[0], ids[1]
	hiddenAda, hiddenMax := outbox.HiddenRecipient(w.ada.Id), outbox.HiddenRecipient(w.max.Id)

	// want: what "to" shows to each reader, for each email; nil: she may not read it at all.
	type view map[string][]string
	all := view{toAda.Id: {`"ada.hidden@example.com" <Ada.Hidden@example.com>`}, toVic.Id: {"Vic <vic.shown@example.com>"},
		toBoth: {"carl@client.example", "Max <max.hidden@example.com>"}, toCarl: {"carl@client.example"}}
	tests := []struct {
		reader, tok string
		want        view
		hides       []string // addresses that must appear nowhere in her answers
	}{
		{"superuser", w.suTok, all, nil},
		{"admin", w.adminTok, view{toAda.Id: {hiddenAda}, toVic.Id: all[toVic.Id], toBoth: {"carl@client.example", hiddenMax}, toCarl: all[toCarl]}, []string{adaAddr, maxAddr}},
		{"manager", w.maxTok, view{toAda.Id: {hiddenAda}, toVic.Id: all[toVic.Id], toBoth: all[toBoth], toCarl: all[toCarl]}, []string{adaAddr}},
		{"the recipient herself", w.adaTok, view{toAda.Id: all[toAda.Id], toVic.Id: all[toVic.Id], toBoth: {"carl@client.example", hiddenMax}, toCarl: all[toCarl]}, []string{maxAddr}},
		{"rep", w.repTok, nil, nil},
	}
	for _, tt := range tests {
		t.Run(tt.reader, func(t *testing.T) {
			var list struct {
				Items []map[string]any `json:"items"`
			}
			if code := schemastest.Call(t, w.srv, http.MethodGet, "/api/collections/emails/records?perPage=100", tt.tok, nil, &list); code != 200 {
				t.Fatalf("list = %d", code)
			}
			if len(list.Items) != len(tt.want) {
				t.Fatalf("list shows %d emails, want %d", len(list.Items), len(tt.want))
			}
			shown := func(where string, rec map[string]any) {
				t.Helper()
				id, _ := rec["id"].(string)
				if got := strings.Join(toStrings(rec["to"]), ", "); got != strings.Join(tt.want[id], ", ") {
					t.Errorf("%s of %s: to = %q, want %q", where, id, got, tt.want[id])
				}
				for _, addr := range tt.hides {
					if s := strings.ToLower(jsonString(rec)); strings.Contains(s, addr) {
						t.Errorf("%s of %s shows the hidden %s: %s", where, id, addr, s)
					}
				}
			}
			for _, rec := range list.Items {
				shown("list", rec)
			}
			for id := range all {
				var rec map[string]any
				code := schemastest.Call(t, w.srv, http.MethodGet, "/api/collections/emails/records/"+id, tt.tok, nil, &rec)
				switch {
				case tt.want == nil && code != 404:
					t.Errorf("view %s = %d, want 404", id, code)
				case tt.want != nil && code != 200:
					t.Errorf("view %s = %d", id, code)
				case tt.want != nil:
					shown("view", rec)
				}
			}
			if tt.want != nil && len(tt.hides) > 0 {
				// the stand-in replaces the address in what the email prints, in any letter case
				var rec map[string]any
				schemastest.Call(t, w.srv, http.MethodGet, "/api/collections/emails/records/"+toAda.Id, tt.tok, nil, &rec)
				if tt.hides[0] == adaAddr && (rec["subject"] != "For "+hiddenAda || rec["text"] != "Good morning "+hiddenAda+"," || rec["html"] != "<p>Hi "+hiddenAda+"</p>") {
					t.Errorf("ada's email reads %v", rec)
				}
			}

			// Filters and sorts that could tell a hidden address, letter by letter.
			probes := []struct{ q, what string }{
				{"filter=" + url.QueryEscape(`to ~ "ada%"`), "filter by to"},
				{"filter=" + url.QueryEscape(`run.emails_via_run.to ?~ "ada%"`), "filter by to through a relation"},
				{"filter=" + url.QueryEscape(`text ~ "ada.hidden"`), "filter by text"},
				{"filter=" + url.QueryEscape(`html ~ "ada.hidden"`), "filter by html"},
				{"filter=" + url.QueryEscape(`last_error ~ "ada"`), "filter by last_error"},
				{"sort=to", "sort by to"},
				{"sort=-text", "sort by text"},
			}
			for _, p := range probes {
				var out struct {
					Message string `json:"message"`
				}
				code := schemastest.Call(t, w.srv, http.MethodGet, "/api/collections/emails/records?"+p.q, tt.tok, nil, &out)
				if tt.tok == w.suTok {
					if code != 200 {
						t.Errorf("superuser: %s = %d %s", p.what, code, out.Message)
					}
					continue
				}
				if code != 400 || !strings.Contains(out.Message, "to_users") {
					t.Errorf("%s = %d %q, want 400 naming the alternative", p.what, code, out.Message)
				}
			}
			// The alternative: her emails by her id.
			var mine struct {
				Items []map[string]any `json:"items"`
			}
			q := url.QueryEscape(`to_users ~ "` + w.ada.Id + `"`)
			code := schemastest.Call(t, w.srv, http.MethodGet, "/api/collections/emails/records?filter="+q, tt.tok, nil, &mine)
			if wantN := map[bool]int{true: 1, false: 0}[tt.want != nil]; code != 200 || len(mine.Items) != wantN {
				t.Errorf("filter by to_users = %d with %d items, want 200 with %d", code, len(mine.Items), wantN)
			}
		})
	}

	// Realtime: a manager subscribed to the emails reads the stand-in; the recipient herself
	// reads her address; a filter by "to" is refused.
	if code, msg := schemastest.Subscribe(t, w.srv, schemastest.RealtimeClient(t, w.srv), w.maxTok, "emails/*", map[string]string{"filter": `to ~ "ada%"`}); code != 400 {
		t.Errorf("a subscription filtered by to = %d %s, want 400", code, msg)
	}
	maxEvents := subscribeEmails(t, w.srv, w.maxTok)
	adaEvents := subscribeEmails(t, w.srv, w.adaTok)
	suEvents := subscribeEmails(t, w.srv, w.suTok)
	live := w.enqueue(t, outbox.Message{To: []string{"Ada <ada.hidden@example.com>"}, UserIDs: []string{w.ada.Id}, Subject: "Live", Text: "to ada.hidden@example.com"})
	for _, tc := range []struct {
		reader string
		events <-chan map[string]any
		want   string
	}{{"manager", maxEvents, hiddenAda}, {"the recipient herself", adaEvents, "Ada <ada.hidden@example.com>"}, {"superuser", suEvents, "Ada <ada.hidden@example.com>"}} {
		rec := <-tc.events
		if rec == nil {
			t.Fatalf("realtime: %s received no event", tc.reader)
		}
		if rec["id"] != live.Id || strings.Join(toStrings(rec["to"]), ",") != tc.want {
			t.Errorf("realtime: %s reads %v, want to = %q", tc.reader, rec, tc.want)
		}
		if tc.want == hiddenAda && strings.Contains(jsonString(rec), adaAddr) {
			t.Errorf("realtime: %s reads the hidden address: %v", tc.reader, rec)
		}
	}

	// Delivery is unaffected: the server received ada's and max's real addresses.
	w.drain(t)
	got := map[string]bool{}
	for _, m := range w.smtp.Messages() {
		for _, to := range m.To {
			got[strings.ToLower(to)] = true
		}
	}
	if !got[adaAddr] || !got[maxAddr] {
		t.Errorf("delivered to %v, want ada's and max's addresses among them", got)
	}
}

// subscribeEmails opens a realtime connection as tok, subscribes it to every email, and
// returns the record of the first event it receives (nil when none arrives within 5s).
func subscribeEmails(t *testing.T, srv *httptest.Server, tok string) <-chan map[string]any {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	t.Cleanup(cancel)
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL+"/api/realtime", nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 1<<16), 1<<20)
	var clientID string
	for clientID == "" && sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data:"); ok {
			var m struct {
				ClientID string `json:"clientId"`
			}
			if json.Unmarshal([]byte(data), &m) == nil {
				clientID = m.ClientID
			}
		}
	}
	if clientID == "" {
		t.Fatal("no realtime client id")
	}
	if code, msg := schemastest.Subscribe(t, srv, clientID, tok, "emails/*", nil); code != 204 {
		t.Fatalf("subscribe = %d %s", code, msg)
	}
	events := make(chan map[string]any, 1)
	go func() {
		defer close(events)
		for sc.Scan() {
			data, ok := strings.CutPrefix(sc.Text(), "data:")
			if !ok {
				continue
			}
			var ev struct {
				Record map[string]any `json:"record"`
			}
			if json.Unmarshal([]byte(data), &ev) == nil && ev.Record != nil {
				events <- ev.Record
				return
			}
		}
	}()
	return events
}

func toStrings(v any) []string {
	var out []string
	items, _ := v.([]any)
	for _, x := range items {
		s, _ := x.(string)
		out = append(out, s)
	}
	return out
}

// UserIDs are stored as to_users, item for item with "to" (null when no recipient is a user),
// by Enqueue and EnqueueMany alike; a list of another length is refused.
func TestEmailsStoreUserRecipients(t *testing.T) {
	t.Parallel()
	e := newSender(t, outboxtest.Options{}, outbox.Config{})
	one := e.enqueue(t, outbox.Message{To: []string{"a@example.com", "b@example.com"}, UserIDs: []string{"", "u1"}, Subject: "s", Text: "t"})
	ids, err := outbox.EnqueueMany(e.app, []outbox.Message{
		{To: []string{"a@example.com"}, UserIDs: []string{"u2"}, Subject: "s", Text: "t"},
		{To: []string{"a@example.com"}, Subject: "s", Text: "t"},
		{To: []string{"a@example.com"}, UserIDs: []string{""}, Subject: "s", Text: "t"},
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		id, want string
	}{{one.Id, `["","u1"]`}, {ids[0], `["u2"]`}, {ids[1], ""}, {ids[2], ""}} {
		var raw *string
		if err := e.app.DB().NewQuery("SELECT to_users FROM emails WHERE id = {:id}").Bind(map[string]any{"id": tc.id}).Row(&raw); err != nil {
			t.Fatal(err)
		}
		got := ""
		if raw != nil && *raw != "null" {
			got = *raw
		}
		if got != tc.want {
			t.Errorf("email %s: to_users = %q, want %q", tc.id, got, tc.want)
		}
	}
	for _, bad := range [][]string{{"u1"}, {"u1", "u2", "u3"}} {
		_, err := outbox.Enqueue(e.app, outbox.Message{To: []string{"a@example.com", "b@example.com"}, UserIDs: bad, Subject: "s", Text: "t"})
		if err == nil || !strings.Contains(err.Error(), "user ids for 2 recipients") {
			t.Errorf("UserIDs %v: %v", bad, err)
		}
	}
}

// TestTimelineHidesUsersHiddenAddresses: an email to a user about a deal (a workflow's
// send_email to its owner) whose template printed her address is on the deal's timeline
// twice — the email and the activity its delivery logs. Whoever else may view the deal reads
// the stand-in in both; the user herself reads her address in the email, as the emails API
// shows it to her, and the stand-in in the activity, which the deal's viewers share. The
// message still went to her address.
func TestTimelineHidesUsersHiddenAddresses(t *testing.T) {
	t.Parallel()
	w := newHiddenWorld(t)
	const adaAddr = "ada.hidden@example.com"
	deal := schemastest.MustCreate(t, w.app, "deals", map[string]any{"name": "Acme renewal", "owner": w.max.Id, "stage": "lead"})
	email := w.enqueue(t, outbox.Message{To: []string{"Ada <Ada.Hidden@example.com>"}, UserIDs: []string{w.ada.Id},
		Subject: "For ada.hidden@example.com: Acme", Text: "Hello ADA.HIDDEN@example.com, the deal moved.", Object: "deals", RecordID: deal.Id})
	w.drain(t)
	if got := w.email(t, email.Id); got.GetString("status") != outbox.StatusSent {
		t.Fatalf("the email = %s %q", got.GetString("status"), got.GetString("last_error"))
	}
	if msgs := w.smtp.Messages(); len(msgs) != 1 || !strings.Contains(strings.ToLower(strings.Join(msgs[0].To, ",")), adaAddr) {
		t.Fatalf("delivered %v; want one message to %s", msgs, adaAddr)
	}
	hidden := outbox.HiddenRecipient(w.ada.Id)
	type entry struct{ Kind, Title, Body string }
	timeline := func(tok string) []entry {
		t.Helper()
		var out struct{ Items []entry }
		if code := schemastest.Call(t, w.srv, http.MethodGet, "/api/relata/timeline/deals/"+deal.Id, tok, nil, &out); code != 200 {
			t.Fatalf("timeline = %d", code)
		}
		return out.Items
	}
	find := func(es []entry, kind string) entry {
		t.Helper()
		for _, e := range es {
			if e.Kind == kind {
				return e
			}
		}
		t.Fatalf("no %s entry in %v", kind, es)
		return entry{}
	}
	for _, r := range []struct{ reader, tok, emailTitle string }{
		{"the deal's owner", w.maxTok, "For " + hidden + ": Acme"},
		{"an admin", w.adminTok, "For " + hidden + ": Acme"},
		{"the recipient herself", w.adaTok, "For ada.hidden@example.com: Acme"},
	} {
		es := timeline(r.tok)
		if got := find(es, "email").Title; got != r.emailTitle {
			t.Errorf("%s reads the email as %q; want %q", r.reader, got, r.emailTitle)
		}
		act := find(es, "activity")
		if act.Title != "For "+hidden+": Acme" || act.Body != "Hello "+hidden+", the deal moved." {
			t.Errorf("%s reads the activity as %q / %q; want the stand-in", r.reader, act.Title, act.Body)
		}
	}
}
