package workflows

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"text/tabwriter"

	"github.com/pocketbase/dbx"
	"github.com/spf13/cobra"

	"github.com/relata/relata/schemas"
)

func (e *Engine) newCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "workflow",
		Short: "Validate, test, import and export workflows; inspect and retry runs",
	}
	cmd.AddCommand(e.newValidateCommand(), e.newTestCommand(), e.newImportCommand(), e.newExportCommand(),
		e.newRunsCommand(), e.newRetryCommand())
	return cmd
}

// ready brings the database and the object model up, as `serve` does, without applying
// schema changes.
func (e *Engine) ready() error {
	if err := e.app.RunAllMigrations(); err != nil {
		return fmt.Errorf("run migrations: %w", err)
	}
	if err := e.reg.Sync(); err != nil {
		return err
	}
	return e.Load()
}

func printErrors(w io.Writer, err error) error {
	var errs schemas.Errors
	if !errors.As(err, &errs) {
		return err
	}
	for _, e := range errs {
		fmt.Fprintln(w, e.Error())
	}
	return errors.New(schemas.Plural(len(errs), "problem"))
}

func (e *Engine) newValidateCommand() *cobra.Command {
	return &cobra.Command{
		Use:          "validate [dir]",
		Short:        "Check workflow files (or, without dir, the stored workflows) and report every problem",
		Args:         cobra.MaximumNArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := e.ready(); err != nil {
				return err
			}
			if len(args) == 1 {
				if err := checkDir(args[0]); err != nil {
					return err
				}
				defs, err := e.LoadDir(os.DirFS(args[0]))
				if err != nil {
					return printErrors(cmd.ErrOrStderr(), err)
				}
				fmt.Fprintf(cmd.OutOrStdout(), "%s: %d workflows, all valid\n", args[0], len(defs))
				return nil
			}
			recs, err := e.app.FindRecordsByFilter(Collection, "id != ''", "name", 0, 0)
			if err != nil {
				return err
			}
			var all schemas.Errors
			for _, rec := range recs {
				d, err := e.definitionOf(rec)
				if err == nil {
					_, err = e.Compile(rec.GetString("name"), d)
				}
				all = append(all, asErrors(err)...)
			}
			if err := all.Err(); err != nil {
				return printErrors(cmd.ErrOrStderr(), err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "%d stored workflows, all valid\n", len(recs))
			return nil
		},
	}
}

func (e *Engine) newTestCommand() *cobra.Command {
	var record, old string
	cmd := &cobra.Command{
		Use:   "test NAME|FILE.json --record ID|JSON",
		Short: "Dry run: show what a workflow would do for a record, with no side effects",
		Long: `Dry run: show what a stored workflow, or a definition file that is not imported, would do
for a record, with no side effects.

--record is a record id, or JSON values: a new record ({"name": "Test", "amount": 90000}, any
column including currency codes such as amount_currency), or an existing record with some
fields overridden ({"id": "...", "stage": "won"}); the override is then the change tested,
from the stored values unless --old gives others.`,
		Example: `  relata workflow test web-lead-call-task --record '{"full_name": "Test Lead", "source": "website"}'
  relata workflow test proposal-task --record '{"name": "Test", "amount": 90000, "stage": "proposal"}' --old '{"stage": "qualified"}'
  relata workflow test ./examples/sales/workflows/proposal-task.json --record '{"name": "Test", "amount": 90000, "amount_currency": "GBP", "stage": "proposal"}'
  relata workflow test proposal-task --record '{"id": "dea000000000001", "stage": "proposal"}'`,
		Args:         cobra.ExactArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := e.ready(); err != nil {
				return err
			}
			w, err := e.testWorkflow(args[0])
			if err != nil {
				return printErrors(cmd.ErrOrStderr(), err)
			}
			var values, oldValues map[string]any
			id := record
			if strings.HasPrefix(strings.TrimSpace(record), "{") {
				id = ""
				if err := json.Unmarshal([]byte(record), &values); err != nil {
					return fmt.Errorf("--record: %w", err)
				}
			}
			if old != "" {
				if err := json.Unmarshal([]byte(old), &oldValues); err != nil {
					return fmt.Errorf("--old: %w", err)
				}
			}
			rec, err := e.testRecord(w, id, values)
			if err != nil {
				return err
			}
			rep, err := e.DryRun(w, rec, testOld(rec, values, oldValues), nil)
			if err != nil {
				return err
			}
			printReport(cmd.OutOrStdout(), rep)
			return nil
		},
	}
	cmd.Flags().StringVar(&record, "record", "", "the record: an id, or JSON field values")
	cmd.Flags().StringVar(&old, "old", "", "JSON values the record had before the change (for update triggers)")
	return cmd
}

// testWorkflow is the stored workflow named arg, or the definition in file arg (a path
// ending in .json, or an existing file), compiled but not stored.
func (e *Engine) testWorkflow(arg string) (*Workflow, error) {
	st, statErr := os.Stat(arg)
	if !strings.HasSuffix(arg, ".json") && (statErr != nil || st.IsDir()) {
		return e.storedWorkflow(arg)
	}
	data, err := os.ReadFile(arg)
	if err != nil {
		return nil, fmt.Errorf("read the workflow file: %w", err)
	}
	d, err := Parse(arg, data)
	if err != nil {
		return nil, err
	}
	return e.Compile(arg, d)
}

func printReport(w io.Writer, rep *Report) {
	fmt.Fprintf(w, "workflow %s", rep.Workflow)
	if rep.Record != "" {
		fmt.Fprintf(w, " on record %s", rep.Record)
	}
	fmt.Fprintln(w, " (dry run: nothing was changed)")
	switch {
	case !rep.Triggered:
		fmt.Fprintln(w, "the trigger does not fire for this change")
		return
	case !rep.ConditionMet:
		fmt.Fprintln(w, "the condition does not hold: no action would run")
		if rep.Error != "" {
			fmt.Fprintln(w, rep.Error)
		}
		return
	}
	for _, s := range rep.Steps {
		out, _ := json.Marshal(s.Output)
		label := s.Action
		if s.Name != "" {
			label += " (" + s.Name + ")"
		}
		fmt.Fprintf(w, "  %s %s: %s\n", s.Path, label, out)
		if s.Error != "" {
			fmt.Fprintf(w, "    error: %s\n", s.Error)
		}
	}
	if rep.Error != "" {
		fmt.Fprintln(w, "the run would fail:", rep.Error)
	}
}

func (e *Engine) newImportCommand() *cobra.Command {
	return &cobra.Command{
		Use:          "import DIR",
		Short:        "Save every workflow file of DIR into the database (all or none)",
		Args:         cobra.ExactArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := e.ready(); err != nil {
				return err
			}
			n, err := e.ImportDir(args[0])
			if err != nil {
				return printErrors(cmd.ErrOrStderr(), err)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "imported %d workflows from %s\n", n, args[0])
			return nil
		},
	}
}

func (e *Engine) newExportCommand() *cobra.Command {
	return &cobra.Command{
		Use:          "export DIR",
		Short:        "Write every stored workflow to DIR as <name>.json",
		Args:         cobra.ExactArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := e.ready(); err != nil {
				return err
			}
			paths, err := e.ExportDir(args[0])
			for _, p := range paths {
				fmt.Fprintln(cmd.OutOrStdout(), "wrote", p)
			}
			return err
		},
	}
}

func (e *Engine) newRunsCommand() *cobra.Command {
	var status string
	var limit int
	cmd := &cobra.Command{
		Use:          "runs",
		Short:        "List recent workflow runs",
		Example:      "  relata workflow runs --status dead",
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := e.app.RunAllMigrations(); err != nil {
				return err
			}
			filter := "id != ''"
			if status != "" {
				filter = "status = {:status}"
			}
			recs, err := e.app.FindRecordsByFilter(RunsCollection, filter, "-created", limit, 0, dbx.Params{"status": status})
			if err != nil {
				return err
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "RUN\tWORKFLOW\tRECORD\tSTATUS\tCREATED\tERROR")
			for _, r := range recs {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", r.Id, r.GetString("workflow_name"), r.GetString("record_id"),
					r.GetString("status"), r.GetDateTime("created").String(), firstLine(r.GetString("error")))
			}
			return tw.Flush()
		},
	}
	cmd.Flags().StringVar(&status, "status", "", "only runs with this status (pending, running, waiting, retry, succeeded, failed, dead, skipped)")
	cmd.Flags().IntVar(&limit, "limit", 50, "how many runs")
	return cmd
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(s, "\n")
	return s
}

func (e *Engine) newRetryCommand() *cobra.Command {
	return &cobra.Command{
		Use:          "retry RUN_ID",
		Short:        "Queue a failed or dead run again (its completed steps are not repeated)",
		Args:         cobra.ExactArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := e.app.RunAllMigrations(); err != nil {
				return err
			}
			if err := e.Retry(args[0]); err != nil {
				return err
			}
			fmt.Fprintln(cmd.OutOrStdout(), "queued again:", args[0])
			return nil
		},
	}
}
