// Command relata is the Relata CRM: one binary with PocketBase (database, REST API, auth,
// realtime, admin dashboard) and Relata's object model, record hooks and web app.
//
//	relata serve                         # http://127.0.0.1:8090, data in ./pb_data
//	relata serve --seed examples/sales   # the same, with example data loaded
//	relata schema validate|apply|diff|export
//	relata form validate examples/sales/forms
//	relata seed examples/sales
package main

import (
	"fmt"
	"io/fs"
	"log"
	"net/http"
	"os"
	"path/filepath"

	"github.com/pocketbase/pocketbase"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/cmd"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/plugins/migratecmd"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/osutils"
	"github.com/spf13/cobra"

	"github.com/relata/relata/hooks"
	_ "github.com/relata/relata/migrations"
	pbpublic "github.com/relata/relata/pb_public"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/audit"
	"github.com/relata/relata/schemas/forms"
	"github.com/relata/relata/schemas/insights"
	"github.com/relata/relata/schemas/privacy"
	"github.com/relata/relata/workflows"
	"github.com/relata/relata/workflows/outbox"
)

func main() {
	// Dev mode (every SQL statement on the console) only when asked for with --dev, also
	// under `go run`, which is how the README starts Relata.
	app := pocketbase.NewWithConfig(pocketbase.Config{DefaultDev: false})
	if err := setup(app); err != nil {
		log.Fatal(err)
	}
	// What app.Start does, plus an exit status: PocketBase discards command errors, but a
	// failed `schema validate` or a refused `serve` must exit non-zero for scripts and CI.
	app.RootCmd.AddCommand(cmd.NewSuperuserCommand(app), cmd.NewServeCommand(app, true))
	var failed bool
	trackErrors(app.RootCmd, &failed)
	if err := app.Execute(); err != nil {
		log.Fatal(err)
	}
	if failed {
		os.Exit(1)
	}
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// trackErrors wraps the RunE of c and its subcommands to set *failed when one returns an error.
func trackErrors(c *cobra.Command, failed *bool) {
	if run := c.RunE; run != nil {
		c.RunE = func(c *cobra.Command, args []string) error {
			err := run(c, args)
			if err != nil {
				*failed = true
			}
			return err
		}
	}
	for _, sub := range c.Commands() {
		trackErrors(sub, failed)
	}
}

// flags are Relata's persistent command-line flags.
type flags struct {
	schemasDir    string
	migrationsDir string
	publicDir     string
	seedDir       string
	workflowsDir  string
	formsDir      string
	noAutoApply   bool
}

// setup registers Relata's parts on app. It is main without Start, so tests can build the
// same app.
func setup(app *pocketbase.PocketBase) error {
	var f flags
	pf := app.RootCmd.PersistentFlags()
	pf.StringVar(&f.schemasDir, "schemasDir", os.Getenv("RELATA_SCHEMAS_DIR"), "directory of the object definitions (default: the embedded CRM model; env RELATA_SCHEMAS_DIR)")
	pf.StringVar(&f.migrationsDir, "migrationsDir", os.Getenv("RELATA_MIGRATIONS_DIR"), "directory where applied schema changes are written as Go migrations (env RELATA_MIGRATIONS_DIR)")
	pf.StringVar(&f.publicDir, "publicDir", "", "serve the web app from this directory instead of the embedded files (for development)")
	pf.StringVar(&f.seedDir, "seed", "", "with serve: load example data from this directory at start (e.g. examples/sales)")
	pf.StringVar(&f.workflowsDir, "workflowsDir", os.Getenv("RELATA_WORKFLOWS_DIR"), "with serve: import the workflow definitions (*.json) of this directory at start (env RELATA_WORKFLOWS_DIR)")
	pf.StringVar(&f.formsDir, "formsDir", os.Getenv("RELATA_FORMS_DIR"), "directory of the web form definitions (*.json) served at /forms/{slug} (env RELATA_FORMS_DIR)")
	pf.BoolVar(&f.noAutoApply, "noAutoApply", false, "with serve: do not apply the object definitions at start")
	// Read our flags now, before the commands run, as PocketBase does for its own.
	_ = app.RootCmd.ParseFlags(os.Args[1:])

	reg, err := schemas.Register(app, app.RootCmd, schemas.Config{
		Dir:           f.schemasDir,
		MigrationsDir: f.migrationsDir,
		NoAutoApply:   f.noAutoApply,
	})
	if err != nil {
		return err
	}
	eng, err := workflows.Register(app, app.RootCmd, workflows.Config{
		Registry: reg,
		Dir:      f.workflowsDir,
	})
	if err != nil {
		return err
	}
	if err := hooks.Register(app, hooks.Config{Registry: reg, Engine: eng}); err != nil {
		return err
	}
	// Web forms: --formsDir, plus DIR/forms of --seed (examples/sales/forms).
	var formDirs []string
	if f.formsDir != "" {
		formDirs = append(formDirs, f.formsDir)
	}
	if dir := filepath.Join(f.seedDir, "forms"); f.seedDir != "" && isDir(dir) {
		formDirs = append(formDirs, dir)
	}
	if _, err := forms.Register(app, app.RootCmd, forms.Config{Registry: reg, Dirs: formDirs}); err != nil {
		return err
	}
	// The web app: stage history of records, and its numbers and timelines (schemas/insights).
	if _, err := insights.Register(app, insights.Config{Registry: reg}); err != nil {
		return err
	}
	// The audit trail's endpoints and `relata audit verify` (package hooks appends the entries).
	if _, err := audit.Register(app, app.RootCmd, audit.Config{Registry: reg}); err != nil {
		return err
	}
	// Privacy requests: `relata privacy export|erase` and the admins' endpoints.
	if _, err := privacy.Register(app, app.RootCmd, privacy.Config{Registry: reg}); err != nil {
		return err
	}
	// Email delivery: SMTP from the dashboard's mail settings, overridden by RELATA_SMTP_*,
	// RELATA_MAIL_* and RELATA_PUBLIC_URL (see workflows/outbox).
	if _, err := outbox.Register(app, outbox.Config{Registry: reg}); err != nil {
		return err
	}
	registerBackups(app)     // default backup schedule, `relata backup` (backup.go)
	registerReplication(app) // serve --replicate, `relata restore` (replicate.go)
	registerMetrics(app)     // /metrics with --metrics (metrics.go)
	registerDoctor(app)      // `relata doctor` (doctor.go)
	migratecmd.MustRegister(app, app.RootCmd, migratecmd.Config{
		TemplateLang: migratecmd.TemplateLangGo,
		Automigrate:  osutils.IsProbablyGoRun(),
	})

	if f.seedDir != "" {
		app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
			Id:       "relata.main.seed",
			Priority: -50, // after the object model is in sync
			Func: func(e *core.ServeEvent) error {
				if err := reg.SeedFrom(os.Stdout, f.seedDir); err != nil {
					return err
				}
				// An example directory may hold workflows too (examples/sales/workflows).
				if dir := filepath.Join(f.seedDir, "workflows"); isDir(dir) {
					n, err := eng.ImportDir(dir)
					if err != nil {
						return fmt.Errorf("import example workflows: %w", err)
					}
					fmt.Printf("workflows: %d imported from %s\n", n, dir)
				}
				return e.Next()
			},
		})
	}

	var public fs.FS = pbpublic.FS
	if f.publicDir != "" {
		public = os.DirFS(f.publicDir)
	}
	registerHeaders(app, public, f.publicDir != "") // CSP, nosniff, Referrer-Policy (headers.go)
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id:       "relata.main.public",
		Priority: 999, // last, so every other route wins
		Func: func(e *core.ServeEvent) error {
			if !e.Router.HasRoute(http.MethodGet, "/{path...}") {
				e.Router.GET("/{path...}", apis.Static(public, true))
			}
			return e.Next()
		},
	})
	return nil
}
