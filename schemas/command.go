package schemas

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"
)

// StopsOnInterrupt is the annotation of a command that handles SIGINT and SIGTERM itself
// (relata import: it stops after the rows it is writing). The relata binary then waits for
// it at the first signal instead of ending the process; a second signal ends it at once.
const StopsOnInterrupt = "relata.stops-on-interrupt"

func (r *Registry) newSchemaCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "schema",
		Short: "Validate, apply, diff and export the CRM object definitions",
	}
	cmd.AddCommand(r.newValidateCommand(), r.newApplyCommand(), r.newDiffCommand(), r.newExportCommand())
	return cmd
}

func (r *Registry) newValidateCommand() *cobra.Command {
	return &cobra.Command{
		Use:          "validate [dir]",
		Short:        "Check object definitions and report every problem",
		Example:      "  relata schema validate ./my-schemas",
		Args:         cobra.MaximumNArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			fsys, name := r.Source(), r.sourceName()
			if len(args) == 1 {
				if err := checkDir(args[0]); err != nil {
					return err
				}
				fsys, name = os.DirFS(args[0]), args[0]
			}
			objs, err := Load(fsys)
			if err != nil {
				return printProblems(cmd.ErrOrStderr(), name, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %s, all valid\n", name, Plural(len(objs), "object"))
			return nil
		},
	}
}

// checkDir returns an error naming path unless it is a directory.
func checkDir(path string) error {
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return fmt.Errorf("%s: no such directory", path)
	case err != nil:
		return err
	case !st.IsDir():
		return fmt.Errorf("%s: not a directory", path)
	}
	return nil
}

// Plural counts n things: "1 problem", "2 problems".
func Plural(n int, thing string) string {
	if n == 1 {
		return "1 " + thing
	}
	return fmt.Sprintf("%d %ss", n, thing)
}

// printProblems writes each problem on its own line and returns an error for the exit code.
// Problems about the directory as a whole (file ".") name source instead.
func printProblems(w io.Writer, source string, err error) error {
	var errs Errors
	if !errors.As(err, &errs) {
		return err
	}
	for _, e := range errs {
		if e.File == "." {
			e.File = source
		}
		fmt.Fprintln(w, e.Error())
	}
	return fmt.Errorf("%s: %s", source, Plural(len(errs), "problem"))
}

// plan prepares the database and compares it with the definition files, printing definition
// problems to the command's error output.
func (r *Registry) plan(cmd *cobra.Command) (*Plan, error) {
	if err := r.ready(); err != nil {
		return nil, err
	}
	defs, err := r.Definitions()
	if err != nil {
		return nil, printProblems(cmd.ErrOrStderr(), r.sourceName(), err)
	}
	return NewPlan(r.app, defs)
}

// ready runs the app migrations, which commands do not get from `serve`.
func (r *Registry) ready() error {
	if err := r.app.RunAllMigrations(); err != nil {
		return fmt.Errorf("run migrations: %w", err)
	}
	return nil
}

func (r *Registry) newApplyCommand() *cobra.Command {
	var force bool
	cmd := &cobra.Command{
		Use:          "apply",
		Short:        "Make the database match the object definitions",
		Long:         "Creates and updates collections for the object definitions. Additive changes apply at once; changes that would lose data or overwrite dashboard edits are listed and refused unless --force is given.",
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := r.plan(cmd)
			if err != nil {
				return err
			}
			applied, err := Apply(r.app, p, ApplyOptions{Force: force, MigrationsDir: r.cfg.MigrationsDir, Source: r.sourceName()})
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if !p.Pending() {
				fmt.Fprintln(out, "nothing to apply: the database matches the definitions")
			}
			for _, c := range applied.Changes {
				fmt.Fprintln(out, c.String())
			}
			if applied.MigrationFile != "" {
				fmt.Fprintln(out, "migration written to", applied.MigrationFile)
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&force, "force", false, "apply destructive and conflicting changes too")
	return cmd
}

func (r *Registry) newDiffCommand() *cobra.Command {
	return &cobra.Command{
		Use:          "diff",
		Short:        "Show where the definition files and the database differ",
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			p, err := r.plan(cmd)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if len(p.Changes) == 0 {
				fmt.Fprintln(out, "in sync: the database matches the definitions")
				return nil
			}
			for _, c := range p.Changes {
				fmt.Fprintln(out, c.String())
			}
			fmt.Fprintln(out, "\n`relata schema apply` applies the file side; `relata schema export` writes dashboard edits into the files.")
			return nil
		},
	}
}

func (r *Registry) newExportCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "export [dir]",
		Short: "Write the live object model, dashboard edits included, to definition files",
		Long: "Writes one <object>.json per object into dir (default: --schemasDir, else pb_schemas beside the data directory, " +
			"which `serve` then reads). Fields and settings an admin added in the dashboard are written out, so the files " +
			"become the source of truth again. Exporting elsewhere writes the files and changes nothing the server reads.",
		Args:         cobra.MaximumNArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			home := r.homeDir()
			dir := home
			if len(args) == 1 {
				dir = args[0]
			}
			if dir == "" {
				return errors.New("no directory to export to: name one, e.g. `relata schema export ./crm`, and serve with --schemasDir pointing at it")
			}
			if err := r.ready(); err != nil {
				return err
			}
			objs, err := r.liveModel()
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			served := home != "" && samePath(dir, home)
			var paths []string
			if served {
				// The files the server reads: record them as applied, so the dashboard edits
				// now in the files are in sync.
				paths, err = Export(r.app, dir, objs)
			} else {
				// Somewhere else: the server's definitions and their applied state stay as
				// they are, so the next start changes nothing.
				paths, err = WriteFiles(dir, objs)
			}
			for _, p := range paths {
				fmt.Fprintln(out, "wrote", p)
			}
			if err == nil && !served {
				fmt.Fprintf(out, "the server reads %s; to make these files the definitions, serve with --schemasDir %s\n", r.sourceName(), dir)
			}
			return err
		},
	}
}

// newInitCommand writes the default CRM model into the definitions directory, where `serve`
// then reads it: the files to edit.
func (r *Registry) newInitCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "init [dir]",
		Short: "Write the default CRM object definitions into a directory to edit",
		Long: "Writes the default object definitions (companies, contacts, deals, activities) as <object>.json into dir " +
			"(default: --schemasDir, else pb_schemas beside the data directory, which `serve` then reads). " +
			"Refuses to overwrite existing definitions; `relata schema export` writes the live model instead.",
		Example:      "  relata init\n  relata init ./crm && relata serve --schemasDir ./crm",
		Args:         cobra.MaximumNArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := r.homeDir()
			if len(args) == 1 {
				dir = args[0]
			}
			if dir == "" {
				return errors.New("no directory to write to: name one, e.g. `relata init ./crm`")
			}
			if existing, _ := filepath.Glob(filepath.Join(dir, "*.json")); len(existing) > 0 {
				return fmt.Errorf("%s already holds object definitions (%s): nothing written", dir, filepath.Base(existing[0]))
			}
			objs, err := Load(Defaults())
			if err != nil {
				return err
			}
			paths, err := WriteFiles(dir, objs)
			for _, p := range paths {
				fmt.Fprintln(cmd.OutOrStdout(), "wrote", p)
			}
			if err == nil && !samePath(dir, r.homeDir()) {
				fmt.Fprintf(cmd.OutOrStdout(), "serve with --schemasDir %s to use them\n", dir)
			}
			return err
		},
	}
}

func samePath(a, b string) bool {
	if a == "" || b == "" {
		return false
	}
	aa, err1 := filepath.Abs(a)
	bb, err2 := filepath.Abs(b)
	return err1 == nil && err2 == nil && aa == bb
}

// liveModel loads the files and merges them with the database, without applying anything.
func (r *Registry) liveModel() ([]*Object, error) {
	defs, err := r.Definitions()
	if err != nil {
		return nil, err
	}
	return Merge(r.app, defs)
}

// App returns the PocketBase app the registry belongs to.
func (r *Registry) App() core.App { return r.app }
