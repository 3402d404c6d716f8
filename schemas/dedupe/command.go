package dedupe

import (
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/relata/relata/schemas"
)

// ready runs the app migrations, loads the object model and the rules file: commands do not
// get them from `serve`.
func (s *Service) ready() error {
	if err := s.app.RunAllMigrations(); err != nil {
		return fmt.Errorf("run migrations: %w", err)
	}
	if err := s.reg.Sync(); err != nil {
		return err
	}
	return s.loadRules()
}

// as is the caller of --as EMAIL, or the system (every record) without it.
func (s *Service) as(email string) (schemas.Caller, error) {
	if email == "" {
		return schemas.System, nil
	}
	u, err := s.app.FindAuthRecordByEmail(schemas.UsersCollection, email)
	if err != nil {
		return schemas.Caller{}, fmt.Errorf("--as %s: no CRM user with this email", email)
	}
	return schemas.User(u), nil
}

func (s *Service) newDuplicatesCommand() *cobra.Command {
	var (
		asJSON bool
		limit  int
		as     string
	)
	cmd := &cobra.Command{
		Use:   "duplicates OBJECT",
		Short: "List likely duplicate records of an object, best match first",
		Example: `  relata duplicates contacts
  relata duplicates companies --json --limit 0 --as alice@example.com`,
		Args:         cobra.ExactArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := s.ready(); err != nil {
				return err
			}
			c, err := s.as(as)
			if err != nil {
				return err
			}
			start := time.Now()
			ix, err := s.Index(c, args[0])
			if err != nil {
				return err
			}
			pairs := ix.Pairs()
			took, total := time.Since(start), len(pairs)
			if limit > 0 && len(pairs) > limit {
				pairs = pairs[:limit]
			}
			out := cmd.OutOrStdout()
			if asJSON {
				if pairs == nil {
					pairs = []Pair{}
				}
				enc := json.NewEncoder(out)
				enc.SetIndent("", "  ")
				return enc.Encode(pairs)
			}
			for _, p := range pairs {
				reasons := make([]string, len(p.Reasons))
				for i, r := range p.Reasons {
					reasons[i] = r.String()
				}
				fmt.Fprintf(out, "%.2f  %s %q  %s %q  %s\n", p.Score, p.A, p.ATitle, p.B, p.BTitle, strings.Join(reasons, ", "))
			}
			if total > len(pairs) {
				fmt.Fprintf(out, "… %d more (--limit 0 lists them all)\n", total-len(pairs))
			}
			fmt.Fprintf(out, "%d pairs among %d %s (%s)\n", total, ix.Len(), args[0], took.Round(time.Millisecond))
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, "print the pairs as JSON")
	cmd.Flags().IntVar(&limit, "limit", 100, "print at most this many pairs (0: all)")
	cmd.Flags().StringVar(&as, "as", "", "list as this CRM user (email): only records they may view")
	return cmd
}

func (s *Service) newMergeCommand() *cobra.Command {
	var (
		fields []string
		as     string
	)
	cmd := &cobra.Command{
		Use:   "merge OBJECT WINNER LOSER",
		Short: "Merge the LOSER record into the WINNER; every reference moves to the winner",
		Long: `Merge the LOSER record into the WINNER in one transaction. The winner keeps its values,
except empty ones (filled from the loser), lists such as tags (both records' values) and
those named with --field f=loser; --field f=winner keeps the winner's value as it is. Every
reference to the loser moves to the winner; the loser is deleted and its id redirects to the
winner. Prints the merge id, which "relata merge undo ID" takes.`,
		Example: `  relata merge contacts WINNER_ID LOSER_ID --field phone=loser
  relata merge undo MERGE_ID`,
		Args:         cobra.ExactArgs(3),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			opts := MergeOptions{Object: args[0], Winner: args[1], Loser: args[2]}
			for _, f := range fields {
				name, side, ok := strings.Cut(f, "=")
				switch {
				case !ok || (side != "loser" && side != "winner"):
					return fmt.Errorf("--field %q: write it as field=loser or field=winner", f)
				case side == "loser":
					opts.Take = append(opts.Take, strings.TrimSpace(name))
				default:
					opts.Keep = append(opts.Keep, strings.TrimSpace(name))
				}
			}
			if err := s.ready(); err != nil {
				return err
			}
			c, err := s.as(as)
			if err != nil {
				return err
			}
			res, err := s.Merge(c, opts)
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "merged %s %s into %s: merge %s, %d references moved, fields from the loser: %s\n",
				res.Object, res.Loser, res.Winner, res.ID, len(res.Repointed), strings.Join(orNone(res.Fields), ", "))
			return nil
		},
	}
	cmd.Flags().StringArrayVar(&fields, "field", nil, "field=loser takes the loser's value of field, field=winner keeps the winner's even when empty (repeatable)")
	cmd.Flags().StringVar(&as, "as", "", "merge as this CRM user (email), under their access rules")
	undo := &cobra.Command{
		Use:          "undo MERGE_ID",
		Short:        "Undo a merge while nothing it wrote has changed",
		Args:         cobra.ExactArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := s.ready(); err != nil {
				return err
			}
			c, err := s.as(as)
			if err != nil {
				return err
			}
			res, err := s.Undo(c, args[0])
			if err != nil {
				return err
			}
			fmt.Fprintf(cmd.OutOrStdout(), "undid merge %s: %s %s is back, %d references restored\n", res.ID, res.Object, res.Loser, len(res.Repointed))
			return nil
		},
	}
	undo.Flags().StringVar(&as, "as", "", "undo as this CRM user (email)")
	cmd.AddCommand(undo)
	return cmd
}

func orNone(s []string) []string {
	if len(s) == 0 {
		return []string{"none"}
	}
	return s
}
