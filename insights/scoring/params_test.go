package scoring_test

import (
	"net/http"
	"strings"
	"testing"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/schemastest"
)

// TestBadParametersAre400NamingThem: a parameter the scores and forecasts do not understand
// is a 400 whose message starts with its name; an object without a pipeline is a 404.
func TestBadParametersAre400NamingThem(t *testing.T) {
	t.Parallel()
	app, _, _ := newApp(t)
	_, tok := schemastest.NewUser(t, app, "alice@example.com", schemas.RoleSales, "north")
	srv := schemastest.Serve(t, app)
	ids := strings.TrimSuffix(strings.Repeat("x,", 201), ",")
	for path, param := range map[string]string{
		"/api/relata/forecast/deals?pipeline=nope":         "pipeline",
		"/api/relata/forecast/deals?months=0":              "months",
		"/api/relata/forecast/deals?months=x":              "months",
		"/api/relata/forecast/deals/backtest?months=25":    "months",
		"/api/relata/score/deals?ids=" + ids:               "ids",
		"/api/relata/score/deals?ids=a&factors=11":         "factors",
		"/api/relata/score/deals?ids=a&factors=1e3":        "factors",
		"/api/relata/forecast/deals?pipeline=renewals%00x": "pipeline",
	} {
		var got struct{ Message string }
		code := schemastest.Call(t, srv, http.MethodGet, path, tok, nil, &got)
		if code != 400 || !strings.HasPrefix(strings.ToLower(got.Message), param+":") {
			t.Errorf("%.70s: %d %q; want 400 naming %s", path, code, got.Message, param)
		}
	}
	for _, path := range []string{"/api/relata/forecast/companies", "/api/relata/forecast/nope", "/api/relata/forecast/companies/backtest"} {
		if code := schemastest.Call(t, srv, http.MethodGet, path, tok, nil, nil); code != 404 {
			t.Errorf("%s: %d; want 404", path, code)
		}
	}
	if code := schemastest.Call(t, srv, http.MethodGet, "/api/relata/forecast/deals?pipeline=renewals", tok, nil, nil); code != 200 {
		t.Errorf("the renewals pipeline: %d; want 200", code)
	}
}
