// Command relata is the Relata CRM: one binary with PocketBase (database, REST API, auth,
// realtime, admin dashboard) and Relata's object model, record hooks and web app.
//
//	relata serve                         # http://127.0.0.1:8090, data in ./pb_data
//	relata serve --demo                  # the same, with examples/sales and its demo accounts
//	relata serve --seed DIR              # load DIR's example data once (users without passwords)
//	relata init                          # the default model into ./pb_schemas, which serve then reads
//	relata schema validate|apply|diff|export
//	relata form validate examples/sales/forms
//	relata seed examples/sales
package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"syscall"
	"time"

	"github.com/pocketbase/pocketbase"
	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/cmd"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/plugins/migratecmd"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/pocketbase/pocketbase/tools/osutils"
	"github.com/spf13/pflag"

	"github.com/relata/relata/hooks"
	"github.com/relata/relata/insights/scoring"
	_ "github.com/relata/relata/migrations"
	pbpublic "github.com/relata/relata/pb_public"
	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/audit"
	"github.com/relata/relata/schemas/dedupe"
	"github.com/relata/relata/schemas/forms"
	"github.com/relata/relata/schemas/insights"
	"github.com/relata/relata/schemas/privacy"
	"github.com/relata/relata/schemas/segments"
	"github.com/relata/relata/schemas/tokens"
	"github.com/relata/relata/schemas/transfer"
	"github.com/relata/relata/schemas/trash"
	"github.com/relata/relata/schemas/webhooks"
	"github.com/relata/relata/workflows"
	"github.com/relata/relata/workflows/campaigns"
	"github.com/relata/relata/workflows/inbox"
	"github.com/relata/relata/workflows/notify"
	"github.com/relata/relata/workflows/outbox"
)

// version is Relata's release version, set when a release is built:
//
//	go build -ldflags "-X main.version=v1.2.0" ./cmd/relata
//
// Without it, --version reports the module version and VCS revision Go recorded at build time.
var version string

func main() {
	tuneGC()
	// Dev mode (every SQL statement on the console) only when asked for with --dev, also
	// under `go run`, which is how the README starts Relata.
	app := pocketbase.NewWithConfig(appConfig())
	app.RootCmd.Version = versionString()
	// PocketBase's error writer colours the text but prints it to standard output; commands'
	// errors and warnings belong on standard error (`relata export … > file.csv`).
	app.RootCmd.SetErr(os.Stderr)
	if err := setup(app); err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
	stopProfile, err := startProfile()
	if err != nil {
		fmt.Fprintln(os.Stderr, "Error:", err)
		os.Exit(1)
	}
	err = execute(app)
	stopProfile()
	if err != nil {
		os.Exit(1)
	}
}

// execute is what app.Start does, plus an exit status: PocketBase discards command errors,
// but an unknown command or flag, a failed `schema validate` or a refused `serve` must exit
// non-zero for scripts and CI. Cobra prints the command's error; execute prints the others.
func execute(app *pocketbase.PocketBase) error {
	if !skipBootstrap(app) {
		if err := app.Bootstrap(); err != nil {
			fmt.Fprintln(os.Stderr, "Error:", err)
			return err
		}
	}
	done := make(chan error, 1)
	go func() { done <- app.RootCmd.Execute() }()
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, os.Interrupt, syscall.SIGTERM)
	var err error
	select {
	case err = <-done:
	case s := <-sig:
		c, _, ferr := app.RootCmd.Find(os.Args[1:])
		switch {
		case ferr == nil && c.Annotations[schemas.StopsOnInterrupt] != "":
			// The command stops by itself (relata import: after the rows it is writing) and
			// returns its error; a second signal ends it now.
			select {
			case err = <-done:
			case s = <-sig:
				err = fmt.Errorf("interrupted again (%s)", s)
				fmt.Fprintln(os.Stderr, "Error:", err)
			}
		case ferr != nil || c.Name() != "serve":
			// A graceful stop of `serve` is not a failure; an interrupted command is.
			err = fmt.Errorf("interrupted (%s)", s)
			fmt.Fprintln(os.Stderr, "Error:", err)
		}
	}
	event := &core.TerminateEvent{App: app}
	if terr := app.OnTerminate().Trigger(event, func(e *core.TerminateEvent) error {
		return e.App.ResetBootstrapState()
	}); terr != nil {
		fmt.Fprintln(os.Stderr, "Error:", terr)
		return errors.Join(err, terr)
	}
	return err
}

// skipBootstrap mirrors PocketBase's: no database for help, --version or an unknown command.
func skipBootstrap(app *pocketbase.PocketBase) bool {
	if app.IsBootstrapped() {
		return true
	}
	c, _, err := app.RootCmd.Find(os.Args[1:])
	if err != nil {
		return true
	}
	for _, arg := range os.Args[1:] {
		switch arg {
		case "-h", "--help", "-v", "--version":
			name := strings.TrimLeft(arg, "-")
			if len(name) > 1 && c.Flags().Lookup(name) == nil || len(name) == 1 && c.Flags().ShorthandLookup(name) == nil {
				return true
			}
		}
	}
	return false
}

// versionString is the release version (see [version]), else the module version and VCS
// revision from the build info, with the PocketBase version.
func versionString() string {
	v, pb := version, ""
	if info, ok := debug.ReadBuildInfo(); ok {
		if v == "" && info.Main.Version != "" && info.Main.Version != "(devel)" {
			v = info.Main.Version
		}
		var rev, modified string
		for _, s := range info.Settings {
			switch s.Key {
			case "vcs.revision":
				rev = s.Value
			case "vcs.modified":
				if s.Value == "true" {
					modified = ", modified"
				}
			}
		}
		if v == "" {
			v = "devel"
			if len(rev) > 12 {
				rev = rev[:12]
			}
			if rev != "" {
				v += " (" + rev + modified + ")"
			}
		}
		for _, d := range info.Deps {
			if d.Path == "github.com/pocketbase/pocketbase" {
				pb = d.Version
			}
		}
	}
	if v == "" {
		v = "devel"
	}
	if pb != "" {
		v += ", PocketBase " + pb
	}
	return v
}

// superuserBanner replaces PocketBase's first-start message, which names `go run .` under
// `go run`: Relata's command is `go run ./cmd/relata` (from the checkout, as the README says)
// or the binary's own path.
func superuserBanner(app core.App, su *core.Record, baseURL string) error {
	token, err := su.NewStaticAuthToken(30 * time.Minute)
	if err != nil {
		return err
	}
	url := fmt.Sprintf("%s/_/#/pbinstall/%s", strings.TrimRight(baseURL, "/"), token)
	_ = osutils.LaunchURL(url)
	self := os.Args[0]
	if osutils.IsProbablyGoRun() {
		self = "go run ./cmd/relata"
	}
	fmt.Printf("\n(!) Open this link to create the first superuser of the admin dashboard:\n%s\n", url)
	fmt.Printf("(or create one with: %s superuser upsert EMAIL PASSWORD)\n\n", self)
	return nil
}

func isDir(path string) bool {
	st, err := os.Stat(path)
	return err == nil && st.IsDir()
}

// flags are Relata's command-line flags: global ones (definitions, migrations, forms) and
// serve's own (seed, workflows, public dir, no auto-apply).
type flags struct {
	schemasDir    string
	migrationsDir string
	publicDir     string
	seedDir       string
	demo          bool
	workflowsDir  string
	formsDir      string
	noAutoApply   bool
	mfa           string
	inbound       inbox.Config
	dedupeRules   string
}

// setup registers Relata's parts and commands on app. It is main without Start, so tests can
// build the same app.
func setup(app *pocketbase.PocketBase) error {
	if err := registerGroupCommit(app); err != nil { // shared commits on data.db (dbconnect.go)
		return err
	}
	serve := cmd.NewServeCommand(app, true)
	app.RootCmd.AddCommand(cmd.NewSuperuserCommand(app), serve)

	var f flags
	pf := app.RootCmd.PersistentFlags()
	pf.StringVar(&f.schemasDir, "schemasDir", os.Getenv("RELATA_SCHEMAS_DIR"), "directory of the object definitions (default: ./pb_schemas beside the data directory when it exists, else the embedded CRM model; env RELATA_SCHEMAS_DIR)")
	pf.StringVar(&f.migrationsDir, "migrationsDir", os.Getenv("RELATA_MIGRATIONS_DIR"), "directory where applied schema changes are written as Go migrations (env RELATA_MIGRATIONS_DIR)")
	pf.StringVar(&f.formsDir, "formsDir", os.Getenv("RELATA_FORMS_DIR"), "directory of the web form definitions (*.json) served at /forms/{slug} (env RELATA_FORMS_DIR)")
	pf.StringVar(&f.dedupeRules, "dedupeRules", os.Getenv("RELATA_DEDUPE_RULES"), "JSON file of duplicate-matching rules per object (default: rules derived from each object's fields; env RELATA_DEDUPE_RULES)")
	sf := serve.Flags()
	sf.StringVar(&f.publicDir, "publicDir", "", "serve the web app from this directory instead of the embedded files (for development)")
	sf.StringVar(&f.seedDir, "seed", "", "load the example data of this directory once (records, users without passwords, workflows, forms; its object definitions from DIR/schemas unless --schemasDir is set)")
	sf.BoolVar(&f.demo, "demo", false, "demo mode on a loopback address: seed "+demoDir+" (or --seed DIR) with its demo accounts and passwords")
	sf.StringVar(&f.workflowsDir, "workflowsDir", os.Getenv("RELATA_WORKFLOWS_DIR"), "import the workflow definitions (*.json) of this directory at start (env RELATA_WORKFLOWS_DIR)")
	sf.BoolVar(&f.noAutoApply, "noAutoApply", false, "do not apply the object definitions at start")
	sf.StringVar(&f.mfa, "mfa", defaultMFA(), "multi-factor sign-in (a password and a code by email): off, admins (and users who turn it on) or all; default: as set in the dashboard (env "+mfaEnv+")")
	sf.StringVar(&f.inbound.Addr, "smtpInbound", os.Getenv("RELATA_INBOUND_ADDR"), "listen for inbound mail (BCC logging, replies, bounces) on this address, e.g. :25 (env RELATA_INBOUND_ADDR; default off)")
	sf.StringVar(&f.inbound.Domain, "inboundDomain", os.Getenv("RELATA_INBOUND_DOMAIN"), "the only domain inbound mail is accepted for; outbound mail then returns bounces to bounce+ID-TAG@DOMAIN (env RELATA_INBOUND_DOMAIN)")
	sf.StringVar(&f.inbound.TLSCert, "inboundTLSCert", os.Getenv("RELATA_INBOUND_TLS_CERT"), "PEM certificate file: offer STARTTLS on the inbound listener (with --inboundTLSKey; env RELATA_INBOUND_TLS_CERT)")
	sf.StringVar(&f.inbound.TLSKey, "inboundTLSKey", os.Getenv("RELATA_INBOUND_TLS_KEY"), "PEM key file of --inboundTLSCert (env RELATA_INBOUND_TLS_KEY)")
	sf.StringVar(&f.inbound.Auth, "inboundAuth", os.Getenv("RELATA_INBOUND_AUTH"), "how the From of inbound mail is authenticated before a user's BCC is logged: dkim (verify DKIM signatures), results:AUTHSERV-ID (trust your MX's Authentication-Results) or off (env RELATA_INBOUND_AUTH; default dkim)")
	// Read our flags now, before the commands run, as PocketBase does for its own; cobra
	// parses them again, and reports unknown ones, when the command runs.
	eager := pflag.NewFlagSet("relata", pflag.ContinueOnError)
	eager.ParseErrorsWhitelist.UnknownFlags = true
	eager.SetOutput(io.Discard)
	eager.AddFlagSet(pf)
	eager.AddFlagSet(sf)
	_ = eager.Parse(os.Args[1:])
	if f.demo && f.seedDir == "" {
		f.seedDir = demoDir
	}
	if dir := filepath.Join(f.seedDir, "schemas"); f.seedDir != "" && f.schemasDir == "" && isDir(dir) {
		// An example with its own object model (examples/recruiting/schemas).
		f.schemasDir = dir
	}

	reg, err := schemas.Register(app, app.RootCmd, schemas.Config{
		Dir:           f.schemasDir,
		DefaultDir:    filepath.Join(filepath.Dir(app.DataDir()), "pb_schemas"),
		MigrationsDir: f.migrationsDir,
		NoAutoApply:   f.noAutoApply,
	})
	if err != nil {
		return err
	}
	app.RootCmd.AddCommand(schemas.NewSecretCommand(app)) // relata secret set|list|delete NAME
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
	// Win probability learnt from the closed records: `relata score train|evaluate|explain`.
	if _, err := scoring.Register(app, app.RootCmd, scoring.Config{Registry: reg}); err != nil {
		return err
	}
	transfer.MustRegister(app, app.RootCmd, transfer.Config{Registry: reg, LoadWorkflows: eng.Load}) // relata import|export, /api/relata/{import,export}
	// Duplicates and merge: `relata duplicates|merge`, /api/relata/{duplicates,merge,merges}.
	if _, err := dedupe.Register(app, app.RootCmd, dedupe.Config{Registry: reg, RulesFile: f.dedupeRules}); err != nil {
		return err
	}
	// The trash: deleted records for 30 days, listed and restored by whoever could see them
	// (package hooks keeps the copies).
	if _, err := trash.Register(app, trash.Config{Registry: reg}); err != nil {
		return err
	}
	// Personal API tokens for integrations: scoped, revocable (schemas/tokens).
	if _, err := tokens.Register(app, tokens.Config{Registry: reg}); err != nil {
		return err
	}
	// Incoming webhooks: signed posts that create or update records (schemas/webhooks).
	if _, err := webhooks.Register(app, webhooks.Config{Registry: reg}); err != nil {
		return err
	}
	// Email delivery: SMTP from the dashboard's mail settings, overridden by RELATA_SMTP_*,
	// RELATA_MAIL_* and RELATA_PUBLIC_URL (see workflows/outbox).
	if _, err := outbox.Register(app, outbox.Config{Registry: reg, InboundDomain: f.inbound.Domain}); err != nil {
		return err
	}
	// Inbound mail: --smtpInbound ADDR --inboundDomain DOMAIN (see workflows/inbox).
	f.inbound.Registry = reg
	if _, err := inbox.Register(app, f.inbound); err != nil {
		return err
	}
	// Notifications: reminders before due and the 08:00 digest, every minute (see workflows/notify).
	if _, err := notify.Register(app, notify.Config{Registry: reg}); err != nil {
		return err
	}
	// Marketing: segments of contacts (evaluated as the reader; stored every 15 minutes) and
	// campaigns that send a template to one (schemas/segments, workflows/campaigns).
	if _, err := segments.Register(app, segments.Config{OnChange: eng.SegmentChanged}); err != nil {
		return err
	}
	if _, err := campaigns.Register(app, campaigns.Config{Registry: reg}); err != nil {
		return err
	}
	registerBackups(app)     // default backup schedule, `relata backup` (backup.go)
	registerReplication(app) // serve --replicate, `relata restore` (replicate.go)
	registerMetrics(app)     // /metrics with --metrics (metrics.go)
	registerDoctor(app)      // `relata doctor` (doctor.go)
	// No automigrate, also under `go run`: the object definitions are the source of truth
	// (`relata schema export`), and the checkout's migrations/ is Relata's own code.
	migratecmd.MustRegister(app, app.RootCmd, migratecmd.Config{
		TemplateLang: migratecmd.TemplateLangGo,
		Automigrate:  false,
	})

	// Before anything else serves: no published demo password beyond this machine; Relata's
	// rate limits on at the first start.
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
		Id:       "relata.main.exposure",
		Priority: -1000,
		Func: func(e *core.ServeEvent) error {
			if err := checkExposure(e.App, e.Server.Addr, f.demo); err != nil {
				return err
			}
			if f.demo {
				demoBanner(os.Stderr, e.Server.Addr)
			}
			// on a loopback address, still not through a proxy while demo passwords work
			if accounts, err := demoAccounts(e.App); err != nil {
				return fmt.Errorf("check for demo accounts: %w", err)
			} else if f.demo || len(accounts) > 0 {
				e.Router.Bind(&hook.Handler[*core.RequestEvent]{Id: "relata.main.demo-local-only",
					Priority: apis.DefaultWWWRedirectMiddlewarePriority + 1, Func: demoLocalOnly})
			}
			msg, err := applyRateLimits(e.App)
			if err != nil {
				return err
			}
			// the auth routes' limits counted by IPv6 /64 network too (netlimit.go)
			bindNetworkRateLimit(e.Router, newNetworkLimiter(time.Now))
			if msg != "" {
				fmt.Println(msg)
			}
			if msg, err = applyMFA(e.App, f.mfa); err != nil {
				return err
			}
			if msg != "" {
				fmt.Println(msg)
			}
			return e.Next()
		},
	})
	if f.seedDir != "" {
		app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{
			Id:       "relata.main.seed",
			Priority: -50, // after the object model is in sync
			Func: func(e *core.ServeEvent) error {
				if !isDir(f.seedDir) {
					return fmt.Errorf("seed %s: not a directory (run from the repository root, or pass --seed DIR)", f.seedDir)
				}
				if err := reg.SeedFromWith(os.Stdout, f.seedDir, schemas.SeedOptions{Demo: f.demo}); err != nil {
					return err
				}
				// An example directory may hold workflows too (examples/sales/workflows),
				// seeded once like the records.
				if dir := filepath.Join(f.seedDir, "workflows"); isDir(dir) {
					created, kept, err := seedWorkflows(e.App, eng, dir)
					if err != nil {
						return err
					}
					fmt.Printf("workflows: %d created, %d already there, from %s\n", created, kept, dir)
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
		Id: "relata.main.banner",
		Func: func(e *core.ServeEvent) error {
			if e.InstallerFunc != nil {
				e.InstallerFunc = superuserBanner
			}
			return e.Next()
		},
	})
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
