package schemas_test

import (
	"testing"
	"time"

	"github.com/relata/relata/schemas"
)

// A serving registry sees a schema another process applied to its database (here a second
// app on the same data directory, as `relata schema apply` would be) within 2 seconds, and
// tells its listeners.
func TestRegistryPicksUpOtherProcessChanges(t *testing.T) {
	dir := t.TempDir()
	app := openApp(t, dir)
	reg := schemas.MustRegister(app, nil, schemas.Config{WatchInterval: 200 * time.Millisecond})
	changed := make(chan struct{}, 16)
	reg.OnChange(func() { changed <- struct{}{} })
	serve(t, app)
	if o, _ := reg.Object("deals"); o == nil || o.Field("region") != nil {
		t.Fatal("deals missing, or region there before the change")
	}

	other := openApp(t, dir)
	objs := defaults(t)
	deals := find(objs, "deals")
	deals.Fields = append(deals.Fields, &schemas.Field{Name: "region", Type: schemas.TypeText, Label: "Region"})
	deals.Label.Plural = "Opportunities"
	applyObjs(t, other, objs, false)

	deadline := time.Now().Add(2 * time.Second)
	for time.Now().Before(deadline) {
		if o, _ := reg.Object("deals"); o != nil && o.Field("region") != nil && o.Label.Plural == "Opportunities" {
			select {
			case <-changed:
			case <-time.After(time.Second):
				t.Error("listeners were not told")
			}
			if _, err := app.FindCachedCollectionByNameOrId("deals"); err != nil {
				t.Fatal(err)
			}
			if c, _ := app.FindCachedCollectionByNameOrId("deals"); c.Fields.GetByName("region") == nil {
				t.Error("PocketBase's cached collection misses the new field")
			}
			return
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatal("the registry did not see the field applied by another process within 2s")
}
