package privacy

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sort"
	"time"

	"github.com/pocketbase/pocketbase/apis"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"
	"github.com/spf13/cobra"

	"github.com/relata/relata/schemas"
)

// Config configures the privacy requests' routes and commands.
type Config struct {
	// Registry is the live object model; required.
	Registry *schemas.Registry
	// RetentionSchedule is when the retention policies run, as a cron expression in UTC.
	// Default: "30 3 * * *" (every day at 03:30).
	RetentionSchedule string
	// Now is the clock of retention runs. Default: time.Now.
	Now func() time.Time
}

// Service answers privacy requests.
type Service struct {
	app core.App
	reg *schemas.Registry
	now func() time.Time
}

// Register adds the privacy endpoints (admins only) and, if rootCmd is set, the "privacy"
// command:
//
//	POST /api/relata/privacy/export  {"email"|"phone"|"recordId"}            → the ZIP
//	POST /api/relata/privacy/erase   {"email"|"phone"|"recordId", "confirm": true} → the certificate
//
// Requests and certificates are listed in the privacy_requests collection (admins).
func Register(app core.App, rootCmd *cobra.Command, cfg Config) (*Service, error) {
	if cfg.Registry == nil {
		return nil, errors.New("privacy: Config.Registry is required")
	}
	if cfg.RetentionSchedule == "" {
		cfg.RetentionSchedule = "30 3 * * *"
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	s := &Service{app: app, reg: cfg.Registry, now: cfg.Now}
	app.OnServe().Bind(&hook.Handler[*core.ServeEvent]{Id: "relata.privacy.routes", Func: func(se *core.ServeEvent) error {
		g := se.Router.Group("/api/relata/privacy")
		g.Bind(apis.RequireAuth())
		g.POST("/export", s.apiExport)
		g.POST("/erase", s.apiErase)
		g.GET("/retention", s.apiRetention)
		g.POST("/retention", s.apiRetention)
		g.GET("/consents", s.apiConsents)
		return se.Next()
	}})
	// Policies are checked when saved, whoever saves them.
	app.OnRecordValidate(PoliciesCollection).BindFunc(func(e *core.RecordEvent) error {
		var fields []string
		_ = json.Unmarshal([]byte(e.Record.GetString("fields")), &fields)
		p := &Policy{Collection: e.Record.GetString("collection"), Field: e.Record.GetString("field"),
			After: e.Record.GetString("after"), Action: e.Record.GetString("action"), Fields: fields}
		if err := p.Validate(e.App, s.reg); err != nil && s.reg.Objects() != nil {
			return fmt.Errorf("retention policy %q: %w", e.Record.GetString("name"), err)
		}
		return e.Next()
	})
	if err := app.Cron().Add("relata.retention", cfg.RetentionSchedule, func() {
		rep, err := RunRetention(app, s.reg, s.now(), false)
		if err != nil {
			app.Logger().Error("relata: retention run", "error", err)
			return
		}
		for _, o := range rep.Outcomes {
			app.Logger().Info("relata: retention", "policy", o.Policy, "matched", o.Matched, "done", o.Done, "error", o.Error)
		}
	}); err != nil {
		return nil, fmt.Errorf("privacy: retention schedule %q: %w", cfg.RetentionSchedule, err)
	}
	if rootCmd != nil {
		rootCmd.AddCommand(s.newCommand())
	}
	return s, nil
}

// admin reports whether the request comes from a CRM admin or a superuser.
func admin(re *core.RequestEvent) bool {
	return re.HasSuperuserAuth() || (re.Auth.Collection().Name == schemas.UsersCollection && re.Auth.GetString("role") == schemas.RoleAdmin)
}

type requestBody struct {
	Subject
	Confirm bool `json:"confirm"`
}

func (s *Service) apiExport(re *core.RequestEvent) error {
	if !admin(re) {
		return re.ForbiddenError("Only admins answer privacy requests.", nil)
	}
	var body requestBody
	if err := re.BindBody(&body); err != nil {
		return re.BadRequestError("The body must be JSON: {\"email\": …}.", err)
	}
	var buf bytes.Buffer
	if err := s.Export(&buf, body.Subject, re.Auth.Id); err != nil {
		return re.BadRequestError(err.Error(), nil)
	}
	re.Response.Header().Set("Content-Disposition", `attachment; filename="personal-data.zip"`)
	re.Response.Header().Set("Cache-Control", "no-store")
	return re.Blob(http.StatusOK, "application/zip", buf.Bytes())
}

func (s *Service) apiErase(re *core.RequestEvent) error {
	if !admin(re) {
		return re.ForbiddenError("Only admins answer privacy requests.", nil)
	}
	var body requestBody
	if err := re.BindBody(&body); err != nil {
		return re.BadRequestError("The body must be JSON: {\"email\": …, \"confirm\": true}.", err)
	}
	if !body.Confirm {
		return re.BadRequestError("Erasure cannot be undone: send \"confirm\": true.", nil)
	}
	cert, err := Erase(s.app, s.reg, body.Subject, re.Auth.Id)
	if err != nil {
		return re.BadRequestError(err.Error(), nil)
	}
	return re.JSON(http.StatusOK, cert)
}

// apiRetention previews (GET, a dry run) or runs (POST) the retention policies; admins only.
func (s *Service) apiRetention(re *core.RequestEvent) error {
	if !admin(re) {
		return re.ForbiddenError("Only admins run retention policies.", nil)
	}
	rep, err := RunRetention(s.app, s.reg, s.now(), re.Request.Method == http.MethodGet)
	if err != nil {
		return err
	}
	return re.JSON(http.StatusOK, rep)
}

// Export writes the ZIP of the person s and registers the access request.
func (s *Service) Export(w *bytes.Buffer, subj Subject, by string) error {
	d, err := Find(s.app, s.reg, subj)
	if err != nil {
		return err
	}
	if err := d.WriteZip(w); err != nil {
		return err
	}
	key, err := subj.key(s.app)
	if err != nil {
		return err
	}
	return register(s.app, "access", key, by, time.Now(), map[string]any{"found": d.Count()})
}

func (s *Service) newCommand() *cobra.Command {
	cmd := &cobra.Command{Use: "privacy", Short: "Answer data subjects' access and erasure requests (GDPR art. 15, 17, 20)"}
	var subj Subject
	var out string
	var yes bool
	flags := func(c *cobra.Command) {
		c.Flags().StringVar(&subj.Email, "email", "", "the person's email address")
		c.Flags().StringVar(&subj.Phone, "phone", "", "the person's phone number")
		c.Flags().StringVar(&subj.RecordID, "record", "", "the id of the person's record (e.g. a contact)")
	}
	ready := func() error {
		if err := s.app.RunAllMigrations(); err != nil {
			return fmt.Errorf("run migrations: %w", err)
		}
		return s.reg.Open()
	}
	export := &cobra.Command{
		Use:          "export",
		Short:        "Export everything held about a person as a ZIP (JSON, CSV and an HTML summary)",
		Example:      "  relata privacy export --email ada@example.com -o ada.zip",
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if out == "" {
				return errors.New("--out (-o) is required: the ZIP file to write")
			}
			if err := ready(); err != nil {
				return err
			}
			var buf bytes.Buffer
			if err := s.Export(&buf, subj, "cli"); err != nil {
				return err
			}
			if err := os.WriteFile(out, buf.Bytes(), 0o600); err != nil {
				return fmt.Errorf("write %s: %w", out, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d bytes\n", out, buf.Len())
			return nil
		},
	}
	flags(export)
	export.Flags().StringVarP(&out, "out", "o", "", "the ZIP file to write")
	erase := &cobra.Command{
		Use:   "erase",
		Short: "Erase a person from every record, email, log and audit entry (without --yes: show what would go)",
		Example: "  relata privacy erase --email ada@example.com          # what would be erased\n" +
			"  relata privacy erase --email ada@example.com --yes    # erase",
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := ready(); err != nil {
				return err
			}
			w := cmd.OutOrStdout()
			if !yes {
				d, err := Find(s.app, s.reg, subj)
				if err != nil {
					return err
				}
				printCounts(cmd, d.erasureCount())
				fmt.Fprintln(w, "nothing was changed: add --yes to erase (it cannot be undone)")
				return nil
			}
			cert, err := Erase(s.app, s.reg, subj, "cli")
			if err != nil {
				return err
			}
			enc := json.NewEncoder(w)
			enc.SetIndent("", "  ")
			return enc.Encode(cert)
		},
	}
	flags(erase)
	erase.Flags().BoolVar(&yes, "yes", false, "erase for real")
	var apply bool
	var at string
	retention := &cobra.Command{
		Use:   "retention",
		Short: "Preview (or, with --apply, run) the retention policies",
		Example: "  relata privacy retention                 # what the policies would do now\n" +
			"  relata privacy retention --apply         # do it",
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := ready(); err != nil {
				return err
			}
			now := s.now()
			if at != "" {
				t, err := time.Parse(time.DateOnly, at)
				if err != nil {
					return fmt.Errorf("--at %q: want YYYY-MM-DD", at)
				}
				now = t
			}
			rep, err := RunRetention(s.app, s.reg, now, !apply)
			if err != nil {
				return err
			}
			failed := 0
			for _, o := range rep.Outcomes {
				if apply {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: %d due (before %s), %d done\n", o.Policy, o.Matched, o.Cutoff, o.Done)
				} else {
					fmt.Fprintf(cmd.OutOrStdout(), "%s: %d due (before %s)\n", o.Policy, o.Matched, o.Cutoff)
				}
				if o.Error != "" {
					fmt.Fprintf(cmd.ErrOrStderr(), "  error: %s\n", o.Error)
					failed++
				}
			}
			if failed > 0 {
				return fmt.Errorf("%d %s failed", failed, plural(failed, "policy", "policies"))
			}
			return nil
		},
	}
	retention.Flags().BoolVar(&apply, "apply", false, "apply the policies (default: a dry run)")
	retention.Flags().StringVar(&at, "at", "", "run as of this date (YYYY-MM-DD) instead of today")
	cmd.AddCommand(export, erase, retention)
	return cmd
}

func printCounts(cmd *cobra.Command, counts map[string]int) {
	names := make([]string, 0, len(counts))
	for n := range counts {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(cmd.OutOrStdout(), "%s: %d\n", n, counts[n])
	}
}

// MustRegister is like [Register] but panics on error. It is meant for main.
func MustRegister(app core.App, rootCmd *cobra.Command, cfg Config) *Service {
	s, err := Register(app, rootCmd, cfg)
	if err != nil {
		panic(err)
	}
	return s
}

func plural(n int, one, many string) string {
	if n == 1 {
		return one
	}
	return many
}
