package schemas_test

import (
	"fmt"
	"sync"
	"testing"

	"github.com/relata/relata/schemas"
)

// TestDashboardEditsSurviveConcurrentReloads: the watcher reloads the model on its own ticks
// while an admin adds fields in the dashboard; right after each edit's answer the live model
// has the field. (A reload that read the collections before an edit's commit used to publish
// its older model after the edit's refresh, or put the older collections back in
// PocketBase's cache under it; the field then appeared only at the watcher's next tick.)
func TestDashboardEditsSurviveConcurrentReloads(t *testing.T) {
	app := openApp(t, t.TempDir())
	reg := schemas.MustRegister(app, nil, schemas.Config{WatchInterval: -1})
	srv := serve(t, app)
	su := superuserToken(t, app)
	api := func(method, path string, body, out any) int { return call(t, srv, method, path, su, body, out) }

	stop := make(chan struct{})
	var wg sync.WaitGroup
	for range 2 { // the watcher, as fast as it can go
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				if err := reg.Reload(); err != nil {
					t.Error(err)
					return
				}
			}
		}()
	}
	defer func() { close(stop); wg.Wait() }()
	for i := range 30 {
		name := fmt.Sprintf("extra_%d", i)
		typ := []string{"text", "date", "number"}[i%3]
		addFieldAsDashboard(t, api, "deals", map[string]any{"name": name, "type": typ})
		deals, _ := reg.Object("deals")
		if deals.Field(name) == nil {
			t.Fatalf("field %s (%s) added in the dashboard is not in the live model after its answer", name, typ)
		}
	}
}
