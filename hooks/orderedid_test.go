package hooks_test

import (
	"net/http"
	"strconv"
	"testing"
	"time"

	"github.com/relata/relata/schemas/schemastest"
)

// New CRM records that come without an id get a time-ordered one (schemas.OrderedID): the
// first 9 characters are the creation time in base-36 milliseconds, so ids created later sort
// later. This holds for records created through the REST API, from Go, and for several
// objects; an id the client sends is kept, and collections that are not CRM objects keep
// PocketBase's random ids.
func TestNewRecordsGetTimeOrderedIDs(t *testing.T) {
	env := newEnv(t)
	app := env.app
	_, tok := schemastest.NewUser(t, app, "alice@example.com", "sales", "")

	timeOf := func(id string) time.Time {
		t.Helper()
		if len(id) != 15 {
			t.Fatalf("id %q: want 15 characters", id)
		}
		ms, err := strconv.ParseInt(id[:9], 36, 64)
		if err != nil {
			t.Fatalf("id %q: time part: %v", id, err)
		}
		return time.UnixMilli(ms)
	}
	var ids []string
	start := time.Now().Add(-time.Second)
	for i, c := range []struct{ coll, api string }{
		{"contacts", "rest"}, {"contacts", "go"}, {"companies", "rest"}, {"deals", "go"}, {"activities", "rest"}, {"contacts", "rest"},
	} {
		fields := map[string]any{"contacts": map[string]any{"full_name": "C" + strconv.Itoa(i)},
			"companies": map[string]any{"name": "Co" + strconv.Itoa(i)}, "deals": map[string]any{"name": "D" + strconv.Itoa(i)},
			"activities": map[string]any{"type": "note", "subject": "S" + strconv.Itoa(i)}}[c.coll].(map[string]any)
		var id string
		if c.api == "rest" {
			var out map[string]any
			if code := schemastest.Call(t, env.srv, http.MethodPost, "/api/collections/"+c.coll+"/records", tok, fields, &out); code != http.StatusOK {
				t.Fatalf("create %s = %d %v", c.coll, code, out)
			}
			id, _ = out["id"].(string)
		} else {
			id = schemastest.MustCreate(t, app, c.coll, fields).Id
		}
		if at := timeOf(id); at.Before(start) || at.After(time.Now().Add(time.Second)) {
			t.Errorf("%s %s (%s): id time %v; want the creation time", c.coll, id, c.api, at)
		}
		ids = append(ids, id)
		time.Sleep(2 * time.Millisecond) // ids of one millisecond need not sort by creation
	}
	for i := 1; i < len(ids); i++ {
		if ids[i] <= ids[i-1] {
			t.Errorf("id %s created after %s sorts before it", ids[i], ids[i-1])
		}
	}

	// An id the client sends is kept.
	var out map[string]any
	if code := schemastest.Call(t, env.srv, http.MethodPost, "/api/collections/contacts/records", tok,
		map[string]any{"id": "zzzzzzzzzzmine1", "full_name": "Mine"}, &out); code != http.StatusOK || out["id"] != "zzzzzzzzzzmine1" {
		t.Fatalf("create with an id = %d %v; want the id kept", code, out)
	}

	// Users are not a CRM object: PocketBase's random ids. (One random id in 36⁹ could pass
	// for a time of this second; the first 9 characters of a random id are almost never it.)
	u, _ := schemastest.NewUser(t, app, "bob@example.com", "sales", "")
	if at := timeOf(u.Id); !at.Before(start) && !at.After(time.Now().Add(time.Second)) {
		t.Errorf("user id %s looks time-ordered; want PocketBase's random id", u.Id)
	}
}
