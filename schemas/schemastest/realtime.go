package schemastest

import (
	"bufio"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// RealtimeClient opens PocketBase's realtime connection (GET /api/realtime, server-sent
// events) and returns its client id, for POST /api/realtime subscriptions. The connection is
// closed when the test ends.
func RealtimeClient(t testing.TB, srv *httptest.Server) string {
	t.Helper()
	res, err := srv.Client().Get(srv.URL + "/api/realtime")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { res.Body.Close() })
	sc := bufio.NewScanner(res.Body)
	for sc.Scan() {
		if data, ok := strings.CutPrefix(sc.Text(), "data:"); ok {
			var m struct {
				ClientID string `json:"clientId"`
			}
			if json.Unmarshal([]byte(data), &m) == nil && m.ClientID != "" {
				return m.ClientID
			}
		}
	}
	t.Fatalf("no realtime client id: %v", sc.Err())
	return ""
}

// Subscribe sets the subscriptions of a realtime client, the topic of each
// "collection/*" or "collection/id" with options.query built from query (filter, sort),
// as token; it returns the status and the error message.
func Subscribe(t testing.TB, srv *httptest.Server, clientID, token, topic string, query map[string]string) (int, string) {
	t.Helper()
	if len(query) > 0 {
		opts, err := json.Marshal(map[string]any{"query": query})
		if err != nil {
			t.Fatal(err)
		}
		topic += "?options=" + url.QueryEscape(string(opts))
	}
	var out struct {
		Message string `json:"message"`
	}
	st := Call(t, srv, http.MethodPost, "/api/realtime", token, map[string]any{"clientId": clientID, "subscriptions": []string{topic}}, &out)
	return st, out.Message
}
