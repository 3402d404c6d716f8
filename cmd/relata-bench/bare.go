package main

import (
	"encoding/json"
	"fmt"
	"log"
	"os"
	"runtime/pprof"

	"github.com/pocketbase/pocketbase"
	"github.com/pocketbase/pocketbase/core"
)

// runBare is the hidden "bare" command: `relata-bench bare serve --dir D --http A` is a plain
// PocketBase (pocketbase.New() with its default commands and nothing added). This program
// imports no Relata package, so no Relata migration, hook or route is registered in it.
func runBare(args []string) {
	os.Args = append([]string{"pocketbase"}, args...)
	// RELATA_BARE_CPUPROFILE: a CPU profile of the bare server, to compare with one of Relata
	// (RELATA_CPUPROFILE) taken in the same run.
	if path := os.Getenv("RELATA_BARE_CPUPROFILE"); path != "" {
		f, err := os.Create(path)
		if err != nil {
			log.Fatal(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			log.Fatal(err)
		}
		defer func() { pprof.StopCPUProfile(); f.Close() }()
	}
	app := pocketbase.New()
	if err := app.Start(); err != nil {
		log.Print(err)
	}
}

// openApp bootstraps a PocketBase app on dir (creating it if needed) for setup work while no
// server runs there. Close it with closeApp.
func openApp(dir string) (*core.BaseApp, error) {
	app := core.NewBaseApp(core.BaseAppConfig{DataDir: dir})
	if err := app.Bootstrap(); err != nil {
		return nil, fmt.Errorf("open %s: %w", dir, err)
	}
	return app, nil
}

func closeApp(app *core.BaseApp) {
	_ = app.ResetBootstrapState()
}

// exportCollections returns, as PocketBase's collection import JSON, the collections of
// Relata's CRM objects (those recorded in relata_objects) and the users collection: what a
// bare PocketBase needs to hold the same data under the same rules.
func exportCollections(app core.App) ([]byte, []string, error) {
	var names []string
	if err := app.DB().NewQuery("SELECT name FROM relata_objects ORDER BY name").Column(&names); err != nil {
		return nil, nil, fmt.Errorf("read the object list (relata_objects): %w", err)
	}
	if len(names) == 0 {
		return nil, nil, fmt.Errorf("no objects in relata_objects: did `relata schema apply` run?")
	}
	// Users first: the objects' owner fields point at it.
	var list []*core.Collection
	for _, name := range append([]string{"users"}, names...) {
		c, err := app.FindCollectionByNameOrId(name)
		if err != nil {
			return nil, nil, fmt.Errorf("collection %s: %w", name, err)
		}
		list = append(list, c)
	}
	data, err := json.Marshal(list)
	return data, names, err
}

// importCollections creates the exported collections in a bare PocketBase data dir.
func importCollections(app core.App, data []byte) error {
	if err := app.ImportCollectionsByMarshaledJSON(data, false); err != nil {
		return fmt.Errorf("import the Relata collections into the bare PocketBase: %w", err)
	}
	return nil
}
