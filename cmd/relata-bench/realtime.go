package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Realtime delivery: many SSE clients subscribed to contacts, signed in as different users,
// while contacts are created one at a time. For every create the tool knows, by asking the
// server as each user (GET of the record), who may see it; it then measures how long each of
// those subscribers waited for the event and checks that nobody else got it.

// rtUsers are the users the subscribers sign in as, in turn: the 20 sales users (4 teams)
// and the manager.
func rtUsers() []string {
	out := make([]string, 0, nUsers+1)
	for i := range nUsers {
		out = append(out, userEmail(i))
	}
	return append(out, managerEmail)
}

// rtResult is one realtime measurement on one side.
type rtResult struct {
	clients, creates int
	// expected deliveries (visible subscriber × create), received by those, and received by
	// subscribers who may not see the record (must be 0).
	expected, delivered, leaked int
	// lats are the delays from sending a create to each visible subscriber's event; last
	// are, per create, the delay until the last visible subscriber had it.
	lats, last []time.Duration
	connect    time.Duration // time to open and subscribe every client
}

// rtTokens caches the tokens of rtUsers per side (sign-in is bcrypt: slow on purpose).
var (
	rtTokensMu sync.Mutex
	rtTokens   = map[*side][]string{}
)

func (b *bench) userTokens(ctx context.Context, s *side) ([]string, error) {
	rtTokensMu.Lock()
	defer rtTokensMu.Unlock()
	if toks, ok := rtTokens[s]; ok {
		return toks, nil
	}
	var toks []string
	for _, email := range rtUsers() {
		tok, err := b.login(ctx, s, email)
		if err != nil {
			return nil, err
		}
		toks = append(toks, tok)
	}
	rtTokens[s] = toks
	return toks, nil
}

// rtEvent is a record event that reached subscriber client.
type rtEvent struct {
	client int
	id     string
	at     time.Time
}

// realtime opens clients SSE subscriptions to contacts on s, creates creates contacts (one at
// a time, owners spread over the sales users) and measures the deliveries.
func (b *bench) realtime(ctx context.Context, s *side, clients, creates int) (rtResult, error) {
	res := rtResult{clients: clients, creates: creates}
	toks, err := b.userTokens(ctx, s)
	if err != nil {
		return res, err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: clients + 16, DisableCompression: true}}
	defer hc.CloseIdleConnections()
	events := make(chan rtEvent, clients*creates+clients)
	ready := make(chan error, clients)
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	t0 := time.Now()
	sem := make(chan struct{}, 32) // connect 32 at a time
	for c := range clients {
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			var once sync.Once
			done := func(err error) {
				once.Do(func() {
					<-sem
					if err != nil {
						err = fmt.Errorf("subscriber %d: %w", c, err)
					}
					ready <- err
				})
			}
			err := b.subscribe(ctx, hc, s, toks[c%len(toks)], c, events, done)
			if ctx.Err() == nil {
				if err == nil {
					err = fmt.Errorf("the stream ended")
				}
				done(err) // a no-op once subscribed; the count below then waits or times out
			}
		})
	}
	for range clients {
		select {
		case err := <-ready:
			if err != nil {
				return res, err
			}
		case <-time.After(2 * time.Minute):
			return res, fmt.Errorf("%s: subscribers not ready after 2 minutes", s.name)
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	res.connect = time.Since(t0)
	b.vlogf("%s: %d subscribers ready in %s", s.name, clients, res.connect.Round(time.Millisecond))

	// The creates, one at a time, each as its owner.
	sent := map[string]time.Time{}
	var ids []string
	for k := range creates {
		owner := (k * 7) % nUsers // every team in turn
		n := s.seq.Add(1)
		body := []byte(fmt.Sprintf(`{"full_name":"Realtime %d","email":"rt%d@bench.local","owner":%q,"lifecycle_stage":"lead"}`,
			n, n, userID(owner)))
		at := time.Now()
		data, err := b.call(ctx, s, http.MethodPost, "/api/collections/contacts/records", toks[owner], body)
		if err != nil {
			return res, err
		}
		var rec struct {
			ID string `json:"id"`
		}
		if err := json.Unmarshal(data, &rec); err != nil || rec.ID == "" {
			return res, fmt.Errorf("create: no id in %.200s", data)
		}
		sent[rec.ID], ids = at, append(ids, rec.ID)
		select {
		case <-time.After(150 * time.Millisecond):
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	// Who may see each record: the server's answer to each user.
	visible := map[string][]bool{}
	for _, id := range ids {
		v := make([]bool, len(toks))
		for u, tok := range toks {
			_, err := b.call(ctx, s, http.MethodGet, "/api/collections/contacts/records/"+id, tok, nil)
			v[u] = err == nil
		}
		visible[id] = v
		for c := range clients {
			if v[c%len(toks)] {
				res.expected++
			}
		}
	}
	// Collect until every expected event arrived, or nothing came for 3 s.
	got := map[[2]any]bool{}
	lastAt := map[string]time.Time{}
	idle := time.NewTimer(3 * time.Second)
	defer idle.Stop()
collect:
	for res.delivered < res.expected || len(events) > 0 {
		select {
		case ev := <-events:
			at, ours := sent[ev.id]
			if !ours || got[[2]any{ev.client, ev.id}] {
				continue
			}
			got[[2]any{ev.client, ev.id}] = true
			if !visible[ev.id][ev.client%len(toks)] {
				res.leaked++
				continue
			}
			res.delivered++
			res.lats = append(res.lats, ev.at.Sub(at))
			if ev.at.After(lastAt[ev.id]) {
				lastAt[ev.id] = ev.at
			}
			idle.Reset(3 * time.Second)
		case <-idle.C:
			break collect
		case <-ctx.Done():
			return res, ctx.Err()
		}
	}
	// Late leaks: anything else queued.
	for len(events) > 0 {
		ev := <-events
		if _, ours := sent[ev.id]; ours && !visible[ev.id][ev.client%len(toks)] && !got[[2]any{ev.client, ev.id}] {
			got[[2]any{ev.client, ev.id}] = true
			res.leaked++
		}
	}
	for id, at := range lastAt {
		res.last = append(res.last, at.Sub(sent[id]))
	}
	sortDurations(res.lats)
	sortDurations(res.last)
	return res, nil
}

// subscribe opens one SSE connection, subscribes it to contacts as the user of tok, calls
// ready (nil once subscribed, or the error), and sends every contacts event to events until
// ctx ends.
func (b *bench) subscribe(ctx context.Context, hc *http.Client, s *side, tok string, client int, events chan<- rtEvent, ready func(error)) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.url+"/api/realtime", nil)
	if err != nil {
		ready(err)
		return err
	}
	res, err := hc.Do(req)
	if err != nil {
		ready(err)
		return err
	}
	defer res.Body.Close()
	sc := bufio.NewScanner(res.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	var event string
	subscribed := false
	for sc.Scan() {
		line := sc.Text()
		switch {
		case line == "":
			event = ""
		case strings.HasPrefix(line, "event:"):
			event = strings.TrimSpace(strings.TrimPrefix(line, "event:"))
		case strings.HasPrefix(line, "data:") && event == "PB_CONNECT" && !subscribed:
			var c struct {
				ClientID string `json:"clientId"`
			}
			if err := json.Unmarshal([]byte(strings.TrimPrefix(line, "data:")), &c); err != nil || c.ClientID == "" {
				err = fmt.Errorf("PB_CONNECT without a client id: %.200s", line)
				ready(err)
				return err
			}
			body, _ := json.Marshal(map[string]any{"clientId": c.ClientID, "subscriptions": []string{"contacts"}})
			if err := b.post(ctx, hc, s, "/api/realtime", tok, body); err != nil {
				ready(err)
				return err
			}
			subscribed = true
			ready(nil)
		case strings.HasPrefix(line, "data:") && event == "contacts":
			at := time.Now()
			var m struct {
				Record struct {
					ID string `json:"id"`
				} `json:"record"`
			}
			if json.Unmarshal([]byte(strings.TrimPrefix(line, "data:")), &m) == nil {
				select {
				case events <- rtEvent{client: client, id: m.Record.ID, at: at}:
				default: // the channel holds every expected event; more are dropped
				}
			}
		}
	}
	return sc.Err()
}

// post sends a JSON POST with hc (its own connection pool: the bench client's pool is for
// the measured requests).
func (b *bench) post(ctx context.Context, hc *http.Client, s *side, path, tok string, body []byte) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url+path, bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", tok)
	res, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer res.Body.Close()
	data, _ := io.ReadAll(res.Body)
	if res.StatusCode/100 != 2 {
		return &statusError{method: http.MethodPost, path: path, code: res.StatusCode, body: string(data)}
	}
	return nil
}
