package dedupe_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strings"
	"testing"

	"github.com/relata/relata/schemas/dedupe"
)

// rest sends one JSON request as tok, asking for the duplicates check, and returns the
// status, the duplicates header and the record id answered.
func (e *env) rest(t *testing.T, method, path, tok string, body map[string]any) (int, string, string) {
	t.Helper()
	return e.restAsking(t, method, path, tok, body, "check")
}

// restAsking is rest with the request's X-Relata-Duplicates header set to ask ("" for none).
func (e *env) restAsking(t *testing.T, method, path, tok string, body map[string]any, ask string) (int, string, string) {
	t.Helper()
	raw, _ := json.Marshal(body)
	req, _ := http.NewRequest(method, e.srv.URL+path, bytes.NewReader(raw))
	req.Header.Set("Content-Type", "application/json")
	if ask != "" {
		req.Header.Set(dedupe.DuplicatesHeader, ask)
	}
	if tok != "" {
		req.Header.Set("Authorization", tok)
	}
	res, err := e.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	var rec struct{ ID string }
	_ = json.Unmarshal(data, &rec)
	return res.StatusCode, res.Header.Get(dedupe.DuplicatesHeader), rec.ID
}

// warned reads the ids a duplicates header names, checking each item's form.
func warned(t *testing.T, h string) []string {
	t.Helper()
	var ids []string
	if h == "" {
		return nil
	}
	for item := range strings.SplitSeq(h, ", ") {
		ref, score, ok := strings.Cut(item, ";score=")
		object, id, ok2 := strings.Cut(ref, "/")
		if !ok || !ok2 || object != "contacts" || len(score) != 4 {
			t.Fatalf("header item %q is not contacts/ID;score=0.00", item)
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// TestRESTCreateWarns creates and updates contacts through PocketBase's REST API: the answer
// names the likely duplicates the caller may view, and never one they may not.
func TestRESTCreateWarns(t *testing.T) {
	t.Parallel()
	e := newEnv(t, dedupe.Config{})
	ada := e.create(t, "contacts", map[string]any{"full_name": "Ada Lovelace", "email": "ada@x.example", "owner": e.alice.Id})
	adaC := e.create(t, "contacts", map[string]any{"full_name": "Ada L", "email": "ada+carol@x.example", "owner": e.carol.Id})
	both := []string{ada.Id, adaC.Id}
	slices.Sort(both)
	const path = "/api/collections/contacts/records"
	n := 0
	body := func(owner string) map[string]any { // emails are unique: each create tags its own
		n++
		return map[string]any{"full_name": "Ada Lovelace", "email": fmt.Sprintf("ADA+%d@x.example", n), "owner": owner, "lifecycle_stage": "lead"}
	}
	for _, s := range []struct {
		name, tok, owner string
		want             []string
	}{
		{"alice is warned of her own Ada only", e.aliceTok, e.alice.Id, []string{ada.Id}},
		{"carol is warned of her own Ada only", e.carolTok, e.carol.Id, []string{adaC.Id}},
		{"the manager of both", e.mgrTok, e.mgr.Id, both},
		{"the superuser of both", e.su, e.alice.Id, both},
	} {
		code, h, id := e.rest(t, http.MethodPost, path, s.tok, body(s.owner))
		if code != 200 {
			t.Fatalf("%s: status %d", s.name, code)
		}
		got := warned(t, h)
		// records created by earlier cases are duplicates too: keep only the two seeded ones
		got = slices.DeleteFunc(got, func(x string) bool { return x != ada.Id && x != adaC.Id })
		if !slices.Equal(got, s.want) {
			t.Errorf("%s: header %q names %v; want %v", s.name, h, got, s.want)
		}
		if slices.Contains(warned(t, h), id) {
			t.Errorf("%s: the new record %s names itself", s.name, id)
		}
	}
	// a client that does not ask is not checked (nor one asking for something else)
	for _, ask := range []string{"", "yes"} {
		if code, h, _ := e.restAsking(t, http.MethodPost, path, e.aliceTok, body(e.alice.Id), ask); code != 200 || h != "" {
			t.Errorf("create asking %q: status %d, header %q", ask, code, h)
		}
	}
	// a distinct contact is not warned
	if _, h, _ := e.rest(t, http.MethodPost, path, e.aliceTok, map[string]any{"full_name": "Grace Hopper",
		"email": "grace@y.example", "owner": e.alice.Id, "lifecycle_stage": "lead"}); h != "" {
		t.Errorf("a distinct contact is warned: %q", h)
	}
	// anonymous callers are refused by the rules and learn nothing
	if code, h, _ := e.rest(t, http.MethodPost, path, "", body("")); code < 400 || h != "" {
		t.Errorf("anonymous: status %d, header %q", code, h)
	}
	// updates: changing a compared field warns, another field does not
	bo := e.create(t, "contacts", map[string]any{"full_name": "Bo", "email": "bo@z.example", "owner": e.alice.Id})
	if code, h, _ := e.rest(t, http.MethodPatch, path+"/"+bo.Id, e.aliceTok, map[string]any{"job_title": "Buyer"}); code != 200 || h != "" {
		t.Errorf("update of job_title: status %d, header %q", code, h)
	}
	code, h, _ := e.rest(t, http.MethodPatch, path+"/"+bo.Id, e.aliceTok, map[string]any{"email": "ada+bo@x.example"})
	if got := warned(t, h); code != 200 || !slices.Contains(got, ada.Id) || slices.Contains(got, adaC.Id) || slices.Contains(got, bo.Id) {
		t.Errorf("update of email: status %d, header %q", code, h)
	}
}
