package scoring_test

import (
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/relata/relata/insights/scoring"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
)

// post sends an empty POST as token and returns the status and the body (for goroutines:
// it does not stop the test).
func post(srv interface{ Client() *http.Client }, url, token string) (int, string, error) {
	req, err := http.NewRequest(http.MethodPost, url, nil)
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Authorization", token)
	res, err := srv.Client().Do(req)
	if err != nil {
		return 0, "", err
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	return res.StatusCode, string(body), err
}

// TestTrainOneAtATime: while a training of deals runs (held after it has begun), a second
// admin's POST /train is answered 409 at once, saying a training is running, and trains
// nothing; the first then stores version 1 alone, and a training asked for after it ends runs
// (version 2).
func TestTrainOneAtATime(t *testing.T) {
	t.Parallel()
	app, reg := seededApp(t)
	svc := scoring.MustRegister(app, nil, scoring.Config{Registry: reg, Schedule: "-"})
	_, adminTok := schemastest.NewUser(t, app, "admin@example.com", schemas.RoleAdmin, "")
	_, otherTok := schemastest.NewUser(t, app, "admin2@example.com", schemas.RoleAdmin, "")
	insertClosedDeals(t, app, 60)
	srv := schemastest.Serve(t, app)
	const path = "/api/relata/score/deals/train"

	started, release := svc.HoldFirstTraining()
	type answer struct {
		code int
		body string
		err  error
	}
	first := make(chan answer, 1)
	go func() {
		code, body, err := post(srv, srv.URL+path, adminTok)
		first <- answer{code, body, err}
	}()
	<-started // the first training has begun, and waits

	var busy struct{ Message string }
	code := schemastest.Call(t, srv, "POST", path, otherTok, nil, &busy)
	release() // only now may the first one go on
	if code != http.StatusConflict || !strings.Contains(busy.Message, "A training of deals is already running") {
		t.Errorf("second training while the first runs: %d %q; want 409 saying a training is running", code, busy.Message)
	}
	a := <-first
	var rep struct{ Version int }
	if a.err != nil || a.code != 200 || json.Unmarshal([]byte(a.body), &rep) != nil || rep.Version != 1 {
		t.Fatalf("first training: %d %v %s; want 200 with version 1", a.code, a.err, a.body)
	}
	if n, err := app.CountRecords(scoring.ModelsCollection); err != nil || n != 1 {
		t.Errorf("%d models stored (%v); want 1: the second request trained nothing", n, err)
	}
	rep.Version = 0
	if code := schemastest.Call(t, srv, "POST", path, otherTok, nil, &rep); code != 200 || rep.Version != 2 {
		t.Errorf("a training after the first ended: %d version %d; want 200, version 2", code, rep.Version)
	}
}
