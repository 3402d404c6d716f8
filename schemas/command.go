package schemas

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"
)

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
				fsys, name = os.DirFS(args[0]), args[0]
			}
			objs, err := Load(fsys)
			if err != nil {
				return printProblems(cmd.ErrOrStderr(), name, err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%s: %d objects, all valid\n", name, len(objs))
			return nil
		},
	}
}

// printProblems writes each problem on its own line and returns an error for the exit code.
func printProblems(w io.Writer, source string, err error) error {
	var errs Errors
	if !errors.As(err, &errs) {
		return err
	}
	for _, e := range errs {
		fmt.Fprintln(w, e.Error())
	}
	return fmt.Errorf("%s: %d problems", source, len(errs))
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
		Use:          "export [dir]",
		Short:        "Write the live object model, dashboard edits included, to definition files",
		Long:         "Writes one <object>.json per object into dir (default: --schemasDir). Fields and settings an admin added in the dashboard are written out, so the files become the source of truth again.",
		Args:         cobra.MaximumNArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			dir := r.cfg.Dir
			if len(args) == 1 {
				dir = args[0]
			}
			if dir == "" {
				return errors.New("the definitions are the embedded defaults: name a directory to export to, e.g. `relata schema export ./schemas-live`, and run with --schemasDir pointing at it")
			}
			if err := r.ready(); err != nil {
				return err
			}
			objs, err := r.liveModel()
			if err != nil {
				return err
			}
			paths, err := Export(r.app, dir, objs)
			for _, p := range paths {
				fmt.Fprintln(cmd.OutOrStdout(), "wrote", p)
			}
			return err
		},
	}
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
