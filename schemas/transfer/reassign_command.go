package transfer

import (
	"context"
	"fmt"
	"io"
	"strings"

	"github.com/spf13/cobra"
)

func (s *Service) newReassignCommand() *cobra.Command {
	var (
		opts    ReassignOptions
		to      string
		objects string
	)
	cmd := &cobra.Command{
		Use:   "reassign",
		Short: "Hand a departing rep's deals, contacts, companies and open tasks over to other reps",
		Example: `  relata reassign --from ann@example.com --to bob@example.com --dry-run
  relata reassign --from ann@example.com --to bob@example.com,carol@example.com --objects deals,tasks`,
		Args:         cobra.NoArgs,
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, _ []string) error {
			if err := s.ready(); err != nil {
				return err
			}
			if opts.Workflows && !opts.DryRun {
				if err := s.loadWorkflows(); err != nil {
					return err
				}
			}
			for _, t := range strings.Split(to, ",") {
				if t = strings.TrimSpace(t); t != "" {
					opts.To = append(opts.To, t)
				}
			}
			for _, o := range strings.Split(objects, ",") {
				if o = strings.TrimSpace(o); o != "" {
					opts.Objects = append(opts.Objects, o)
				}
			}
			out := cmd.OutOrStdout()
			if opts.DryRun {
				pv, err := s.PreviewReassign(opts)
				if err != nil {
					return flagError(err)
				}
				printPreview(out, pv, true)
				return nil
			}
			j, pv, err := s.Reassign(cmd.Context(), opts)
			if err != nil {
				return flagError(err)
			}
			printPreview(out, pv, false)
			fmt.Fprintf(out, "job %s: %s; %d of %d records reassigned, %d unchanged, %d refused, %d failed",
				j.ID, j.Status, j.Changed, j.Total, j.Unchanged, j.Refused, j.Failed)
			if opts.Workflows {
				fmt.Fprintf(out, "; %d workflow runs queued (relata serve runs them)", j.RunsQueued)
			}
			fmt.Fprintln(out)
			for _, sm := range j.Samples {
				fmt.Fprintf(cmd.ErrOrStderr(), "%s %s: %s\n", sm.Object, sm.ID, sm.Reason)
			}
			if j.Status != JobDone || j.Refused+j.Failed > 0 {
				return fmt.Errorf("the reassignment did not hand over every record (job %s: %s)", j.ID, j.Status)
			}
			return nil
		},
	}
	cmd.SetContext(context.Background())
	fl := cmd.Flags()
	fl.StringVar(&opts.From, "from", "", "the departing rep (email or id); required")
	fl.StringVar(&to, "to", "", "the rep, or comma-separated reps shared round robin, who take over (emails or ids); required")
	fl.StringVar(&objects, "objects", "", "comma-separated objects to hand over: deals, contacts, companies, tasks (open tasks), or any object with an owner (default: deals,contacts,companies,tasks)")
	fl.BoolVar(&opts.DryRun, "dry-run", false, "count what would be handed over and change nothing")
	fl.BoolVar(&opts.Workflows, "workflows", false, "let each change of owner trigger workflows (default: none run)")
	fl.IntVar(&opts.BatchSize, "batch-size", 0, "records per transaction (default 200)")
	_ = cmd.MarkFlagRequired("from")
	_ = cmd.MarkFlagRequired("to")
	return cmd
}

// flagError names the command-line flag of a request error.
func flagError(err error) error {
	if bad, ok := err.(*BadRequestError); ok {
		return fmt.Errorf("--%s: %s", map[string]string{"objects": "objects", "from": "from", "to": "to"}[bad.Field], bad.Message)
	}
	return err
}

func printPreview(out io.Writer, pv *ReassignPreview, dry bool) {
	verb := "hands over"
	if dry {
		verb = "would hand over"
	}
	names := make([]string, len(pv.To))
	for i, p := range pv.To {
		names[i] = fmt.Sprintf("%s (%d)", p.Email, pv.Shares[p.ID])
	}
	fmt.Fprintf(out, "%s %s %d records to %s:\n", pv.From.Email, verb, pv.Total, strings.Join(names, ", "))
	for _, o := range pv.Objects {
		fmt.Fprintf(out, "  %-12s %d\n", o.Object, o.Count)
	}
}
