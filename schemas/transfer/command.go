package transfer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/signal"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/pocketbase/pocketbase/core"
	"github.com/spf13/cobra"

	"github.com/relata/relata/schemas"
)

// ready runs the app migrations and loads the object model, which commands do not get from
// `serve`.
func (s *Service) ready() error {
	if err := s.app.RunAllMigrations(); err != nil {
		return fmt.Errorf("run migrations: %w", err)
	}
	return s.reg.Sync()
}

// loadWorkflows makes this process's workflow engine know the enabled workflows, for a
// command with --workflows: the runs its writes trigger are queued with them, and the server
// runs them (at its next poll, or when it starts).
func (s *Service) loadWorkflows() error {
	if s.cfg.LoadWorkflows == nil {
		return errors.New("--workflows: this program has no workflow engine")
	}
	if err := s.cfg.LoadWorkflows(); err != nil {
		return fmt.Errorf("--workflows: %w", err)
	}
	return nil
}

// user finds the CRM user of --as.
func (s *Service) user(email string) (*core.Record, error) {
	if email == "" {
		return nil, nil
	}
	u, err := s.app.FindAuthRecordByEmail(schemas.UsersCollection, email)
	if err != nil {
		return nil, fmt.Errorf("--as %s: no CRM user with this email", email)
	}
	return u, nil
}

func (s *Service) newImportCommand() *cobra.Command {
	var (
		opts     ImportOptions
		maps     []string
		as       string
		delim    string
		asJSON   bool
		dupCheck int
	)
	cmd := &cobra.Command{
		Use:   "import OBJECT FILE",
		Short: "Import a CSV or XLSX file into an object, as an undoable batch",
		Example: `  relata import contacts contacts.csv --key email --dry-run
  relata import deals deals.xlsx --sheet Deals --map "Deal Name=name" --as alice@example.com
  relata import undo BATCH_ID`,
		Args:         cobra.ExactArgs(2),
		SilenceUsage: true,
		Annotations:  map[string]string{schemas.StopsOnInterrupt: "true"},
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := s.ready(); err != nil {
				return err
			}
			u, err := s.user(as)
			if err != nil {
				return err
			}
			opts.As = u
			if opts.Workflows {
				if err := s.loadWorkflows(); err != nil {
					return err
				}
			}
			opts.Object, opts.File = args[0], filepath.Base(args[1])
			opts.Map = map[string]string{}
			for _, m := range maps {
				col, field, ok := strings.Cut(m, "=")
				if !ok {
					return fmt.Errorf("--map %q: write it as \"Column=field\" (an empty field skips the column)", m)
				}
				opts.Map[strings.TrimSpace(col)] = strings.TrimSpace(field)
			}
			switch delim {
			case "":
			case `\t`, "tab":
				opts.Read.Delimiter = '\t'
			default:
				if len([]rune(delim)) != 1 {
					return fmt.Errorf("--delimiter %q: one character, or tab", delim)
				}
				opts.Read.Delimiter = []rune(delim)[0]
			}
			opts.DuplicateCheck = dupCheck
			if dupCheck <= 0 {
				opts.DuplicateCheck = -1
			}
			f, err := os.Open(args[1])
			if err != nil {
				return err
			}
			defer f.Close()
			msg := fmt.Sprintf("interrupted: stopping after the rows being written (a second interrupt ends at once, and the batch can then be undone only %.0f minutes later)", ImportLease.Minutes())
			if opts.DryRun {
				msg = "interrupted: stopping the dry run (nothing is written)"
			}
			ctx, stop := interruptible(cmd.Context(), cmd.ErrOrStderr(), msg)
			defer stop()
			opts.Context = ctx
			opts.Progress = progressEvery(cmd.ErrOrStderr(), 2*time.Second)
			res, err := s.Import(f, opts)
			if errors.Is(err, ErrCancelled) && res != nil {
				printResult(cmd.OutOrStdout(), cmd.ErrOrStderr(), opts, res)
				rows := res.Created + res.Updated + res.Unchanged + res.Failed
				if res.Batch == "" { // a dry run: nothing was written
					return fmt.Errorf("%s: dry run interrupted after %d rows; nothing was written", opts.File, rows)
				}
				return fmt.Errorf("%s: import interrupted after %d rows; the rows written stay in batch %s, marked cancelled (undo it now: relata import undo %s)",
					opts.File, rows, res.Batch, res.Batch)
			}
			if err != nil {
				return err
			}
			if asJSON {
				if err := printJSON(cmd.OutOrStdout(), opts, res); err != nil {
					return err
				}
			} else {
				printResult(cmd.OutOrStdout(), cmd.ErrOrStderr(), opts, res)
			}
			if res.Failed > 0 {
				return fmt.Errorf("%s: %d rows failed", opts.File, res.Failed)
			}
			return nil
		},
	}
	fl := cmd.Flags()
	fl.StringArrayVar(&maps, "map", nil, `map a column to a field: "Column=field" (repeatable; "Column=" skips it); unmapped columns are matched by name, label and similarity`)
	fl.StringVar(&opts.Key, "key", "", "field that matches rows to existing records (email, domain, an external id)")
	fl.StringVar(&opts.Mode, "mode", "", "create, update or upsert (default: upsert with --key, else create)")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "report what would happen and write nothing")
	fl.StringVar(&opts.Read.Sheet, "sheet", "", "XLSX worksheet (default: the first)")
	fl.StringVar(&opts.Read.Encoding, "encoding", "", "CSV encoding: utf-8, utf-16le, utf-16be, windows-1252 (default: detected)")
	fl.StringVar(&delim, "delimiter", "", `CSV separator: ",", ";" or tab (default: sniffed)`)
	fl.BoolVar(&opts.Workflows, "workflows", false, "let each imported row trigger workflows once (default: no workflows run)")
	fl.StringVar(&as, "as", "", "import as this CRM user (email), under their access rules (default: superuser)")
	fl.BoolVar(&opts.CreateMissing, "create-missing", false, "create related records (such as companies) that are named but do not exist")
	fl.StringVar(&opts.DateOrder, "date-order", "", "dmy or mdy for dates such as 05/03/2025 (default: detected per column, else dmy)")
	fl.StringVar(&opts.Decimal, "decimal", "", `decimal separator "," or "." (default: detected per column)`)
	fl.IntVar(&opts.BatchSize, "batch-size", 0, "rows per transaction (default 5000)")
	fl.IntVar(&dupCheck, "check-duplicates", DefaultDuplicateCheck, "check this many created rows for likely duplicates of existing records (0: none)")
	fl.BoolVar(&asJSON, "json", false, "print the summary as JSON (counts, errors, warnings, likely duplicates)")
	cmd.AddCommand(s.newUndoCommand())
	return cmd
}

// interruptible returns a context that the first SIGINT (Ctrl-C) or SIGTERM cancels, after
// writing msg to errOut: an import stops after the chunk of rows it is writing and marks its
// batch cancelled, which can be undone at once; an export stops and removes its unfinished
// file. The signal's default comes back with it, so a second Ctrl-C ends the process there
// and then (an import's batch then stays "running", and undo waits for ImportLease; an
// export's unfinished file is removed by removeUnfinished on the way out).
func interruptible(parent context.Context, errOut io.Writer, msg string) (context.Context, func()) {
	if parent == nil {
		parent = context.Background()
	}
	ctx, cancel := context.WithCancel(parent)
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		select {
		case <-sigs:
			signal.Stop(sigs)
			fmt.Fprintln(errOut, msg)
			cancel()
		case <-ctx.Done():
		}
	}()
	return ctx, func() {
		signal.Stop(sigs)
		cancel()
	}
}

// progressEvery returns an import's Progress callback that writes the batch and the counts so
// far to w at most once per interval, and not before the first interval: a short import
// prints nothing. The batch is there for an import killed before its summary.
func progressEvery(w io.Writer, interval time.Duration) func(*Result, int) {
	last := time.Now()
	return func(res *Result, rows int) {
		if time.Since(last) < interval {
			return
		}
		last = time.Now()
		batch := "dry run"
		if res.Batch != "" {
			batch = "batch " + res.Batch
		}
		fmt.Fprintf(w, "%s: %d rows read: %d created, %d updated, %d unchanged, %d failed\n", batch, rows, res.Created, res.Updated, res.Unchanged, res.Failed)
	}
}

func printResult(out, errOut io.Writer, opts ImportOptions, res *Result) {
	cols := make([]string, 0, len(res.Mapping))
	for c := range res.Mapping {
		cols = append(cols, c)
	}
	sort.Strings(cols)
	for _, c := range cols {
		fmt.Fprintf(out, "  %q -> %s\n", c, res.Mapping[c])
	}
	if len(res.Ignored) > 0 {
		fmt.Fprintf(out, "  ignored columns: %s\n", strings.Join(res.Ignored, ", "))
	}
	for _, w := range res.Warnings {
		fmt.Fprintln(errOut, "warning: "+w.Error())
	}
	for _, e := range res.Errors {
		fmt.Fprintln(errOut, e.Error())
	}
	printDuplicates(out, opts, res)
	verb := "imported into"
	if res.DryRun {
		verb = "dry run, nothing written; would import into"
	}
	fmt.Fprintf(out, "%s: %s %s: %d created, %d updated, %d unchanged, %d failed", opts.File, verb, opts.Object,
		res.Created, res.Updated, res.Unchanged, res.Failed)
	if res.Related > 0 {
		fmt.Fprintf(out, " (%d related records created)", res.Related)
	}
	if opts.Workflows {
		runs := "workflow runs"
		if res.RunsQueued == 1 {
			runs = "workflow run"
		}
		if res.DryRun {
			fmt.Fprintf(out, "; would queue %d %s", res.RunsQueued, runs)
		} else {
			fmt.Fprintf(out, "; %d %s queued (relata serve runs them)", res.RunsQueued, runs)
		}
	}
	if res.Batch != "" {
		fmt.Fprintf(out, "; batch %s (undo: relata import undo %s)", res.Batch, res.Batch)
	}
	fmt.Fprintln(out)
}

// printDuplicates writes the rows that may duplicate existing records, one line each:
// "row 12 → contacts/ID "Ada Lovelace" (same email ada@x.example; 95%)".
func printDuplicates(out io.Writer, opts ImportOptions, res *Result) {
	if len(res.Duplicates) == 0 && res.DuplicatesChecked == 0 {
		return
	}
	created := res.Created
	checked := fmt.Sprintf("the %d created rows checked", res.DuplicatesChecked)
	if res.DuplicatesChecked < created {
		checked = fmt.Sprintf("the first %d of %d created rows checked; relata duplicates %s lists every pair", res.DuplicatesChecked, created, opts.Object)
	}
	if len(res.Duplicates) == 0 {
		fmt.Fprintf(out, "no row may duplicate an existing record (%s)\n", checked)
		return
	}
	rows := "rows"
	if len(res.Duplicates) == 1 {
		rows = "row"
	}
	fmt.Fprintf(out, "%d %s may duplicate existing records (%s):\n", len(res.Duplicates), rows, checked)
	for _, d := range res.Duplicates {
		reasons := make([]string, len(d.Reasons))
		for i, r := range d.Reasons {
			reasons[i] = r.String()
		}
		fmt.Fprintf(out, "  row %d → %s/%s %q (%s; %.0f%%)\n", d.Row, opts.Object, d.Existing, d.ExistingTitle, strings.Join(reasons, ", "), d.Score*100)
	}
}

// printJSON writes the summary as one JSON object.
func printJSON(out io.Writer, opts ImportOptions, res *Result) error {
	warnings := make([]map[string]any, len(res.Warnings))
	for i, w := range res.Warnings {
		warnings[i] = map[string]any{"row": w.Row, "column": w.Column, "message": w.Message}
	}
	enc := json.NewEncoder(out)
	enc.SetIndent("", "  ")
	return enc.Encode(struct {
		Object string `json:"object"`
		File   string `json:"file"`
		*Result
		Errors   []map[string]any `json:"errors"`
		Warnings []map[string]any `json:"warnings"`
	}{opts.Object, opts.File, res, res.ErrorList(), warnings})
}

func (s *Service) newUndoCommand() *cobra.Command {
	var as string
	cmd := &cobra.Command{
		Use:          "undo BATCH",
		Short:        "Undo an import batch (within 30 days): remove the records it created, restore the ones it updated",
		Args:         cobra.ExactArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := s.ready(); err != nil {
				return err
			}
			u, err := s.user(as)
			if err != nil {
				return err
			}
			res, err := s.Undo(args[0], u)
			if err != nil {
				return err
			}
			for _, sk := range res.Skipped {
				fmt.Fprintln(cmd.ErrOrStderr(), "left alone: "+sk)
			}
			fmt.Fprintf(cmd.OutOrStdout(), "batch %s undone: %d records removed, %d restored, %d left alone", args[0], res.Removed, res.Restored, len(res.Skipped))
			if res.Resumed > 0 {
				fmt.Fprintf(cmd.OutOrStdout(), " (continued after the %d records an earlier undo went through)", res.Resumed)
			}
			fmt.Fprintln(cmd.OutOrStdout())
			return nil
		},
	}
	cmd.Flags().StringVar(&as, "as", "", "undo as this CRM user (email), under their access rules (default: superuser)")
	return cmd
}

func (s *Service) newExportCommand() *cobra.Command {
	var (
		opts   ExportOptions
		fields string
		out    string
		as     string
	)
	cmd := &cobra.Command{
		Use:   "export OBJECT",
		Short: "Export the records of an object to CSV or XLSX (stdout or a file)",
		Example: `  relata export contacts --filter 'lifecycle_stage = "customer"' --sort -created > customers.csv
  relata export deals --fields name,amount,stage --format xlsx -o deals.xlsx --as alice@example.com`,
		Args:         cobra.ExactArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := s.ready(); err != nil {
				return err
			}
			u, err := s.user(as)
			if err != nil {
				return err
			}
			opts.Object, opts.As = args[0], u
			if fields != "" {
				opts.Fields = strings.Split(fields, ",")
			}
			if opts.Format == "" && strings.HasSuffix(strings.ToLower(out), ".xlsx") {
				opts.Format = FormatXLSX
			}
			ctx, stop := interruptible(cmd.Context(), cmd.ErrOrStderr(), "interrupted: stopping the export")
			defer stop()
			opts.Context = ctx
			x, err := s.prepareExport(opts)
			if err != nil {
				return err
			}
			if out != "" && out != "-" {
				// A second Ctrl-C ends the process without waiting for the export; relata's
				// main triggers OnTerminate on the way out, and the unfinished file goes.
				s.app.OnTerminate().BindFunc(func(e *core.TerminateEvent) error {
					removeUnfinished()
					return e.Next()
				})
				var n int
				err := writeFile(out, func(f io.Writer) (err error) {
					n, err = x.write(f)
					return err
				})
				if err != nil {
					return fmt.Errorf("%s: export not written: %w", out, err)
				}
				fmt.Fprintf(cmd.ErrOrStderr(), "%s: %d %s exported\n", out, n, opts.Object)
				return nil
			}
			_, err = x.write(cmd.OutOrStdout())
			return err
		},
	}
	cmd.Annotations = map[string]string{schemas.StopsOnInterrupt: "true"}
	fl := cmd.Flags()
	fl.StringVar(&opts.Filter, "filter", "", `PocketBase filter, e.g. 'owner.email = "alice@example.com"'`)
	fl.StringVar(&opts.Sort, "sort", "", "sort fields, e.g. -created,name")
	fl.StringVar(&fields, "fields", "", "comma-separated fields to export (default: all)")
	fl.StringVar(&opts.Format, "format", "", "csv or xlsx (default: csv, or xlsx for an -o file ending in .xlsx)")
	fl.StringVarP(&out, "output", "o", "", "write to this file (default: stdout)")
	fl.StringVar(&as, "as", "", "export as this CRM user (email), under their access rules (default: superuser)")
	return cmd
}

// writeFile writes what write produces to path whole or not at all: into a temporary file
// beside it, renamed over path once complete and synced. A failed or interrupted export
// leaves no partial file and an earlier file at path as it was. The file is readable by its
// owner only (0600), as the privacy export's: an export holds personal data. A path that is
// not a regular file (/dev/stdout, a named pipe) is written as it is.
func writeFile(path string, write func(io.Writer) error) (err error) {
	if fi, err := os.Stat(path); err == nil && !fi.Mode().IsRegular() {
		f, err := os.OpenFile(path, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		return errors.Join(write(f), f.Close())
	}
	dir, base := filepath.Split(path)
	if dir == "" {
		dir = "."
	}
	f, err := os.CreateTemp(dir, "."+base+".*.part")
	if err != nil {
		return err
	}
	unfinished.Lock()
	unfinished.files[f.Name()] = true
	unfinished.Unlock()
	defer func() {
		if err != nil {
			f.Close()
			unfinished.Lock()
			delete(unfinished.files, f.Name())
			os.Remove(f.Name())
			unfinished.Unlock()
		}
	}()
	if err = write(f); err != nil {
		return err
	}
	if err = f.Sync(); err != nil {
		return err
	}
	if err = f.Close(); err != nil {
		return err
	}
	unfinished.Lock()
	defer unfinished.Unlock()
	if !unfinished.files[f.Name()] {
		return errors.New("stopped: the unfinished file was removed")
	}
	delete(unfinished.files, f.Name())
	return os.Rename(f.Name(), path)
}

// unfinished holds the temporary files writeFile is writing.
var unfinished = struct {
	sync.Mutex
	files map[string]bool
}{files: map[string]bool{}}

// removeUnfinished removes the temporary files of the exports still being written, for a
// process that ends without waiting for them (a second Ctrl-C). An export whose file goes
// fails instead of renaming it into place.
func removeUnfinished() {
	unfinished.Lock()
	defer unfinished.Unlock()
	for name := range unfinished.files {
		os.Remove(name)
		delete(unfinished.files, name)
	}
}
