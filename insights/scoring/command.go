package scoring

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"time"

	"github.com/spf13/cobra"
)

func (s *Service) command() *cobra.Command {
	c := &cobra.Command{
		Use:   "score",
		Short: "Win probability learnt from the closed records: train, evaluate, explain",
	}
	c.AddCommand(s.trainCommand(), s.evaluateCommand(), s.explainCommand(), s.rulesCommand(), s.backtestCommand())
	return c
}

// ready runs the migrations and loads the object model, as the commands run without serve.
// Definitions of the scores folder that do not load are logged, not fatal: these commands
// report their own (`relata score rules DIR`).
func (s *Service) ready() error {
	s.checking.Store(true)
	if err := s.app.RunAllMigrations(); err != nil {
		return fmt.Errorf("run migrations: %w", err)
	}
	return s.reg.Open()
}

func (s *Service) trainCommand() *cobra.Command {
	return &cobra.Command{
		Use:          "train OBJECT",
		Short:        "Train the win-probability model of OBJECT on all its closed records and store it as a new version",
		Example:      "  relata score train deals",
		Args:         cobra.ExactArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := s.ready(); err != nil {
				return err
			}
			rep, v, err := s.TrainAndSave(s.app, args[0])
			if errors.Is(err, ErrTrainingRunning) {
				return fmt.Errorf("not trained: %w; try again when it has ended", err)
			}
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if v == 0 {
				fmt.Fprintf(out, "%s: %s; no model stored\n", args[0], rep.Fallback)
				return nil
			}
			fmt.Fprintf(out, "%s: model version %d trained on %d closed records\n", args[0], v, rep.Closed)
			writeTable(out, rep)
			return nil
		},
	}
}

func (s *Service) evaluateCommand() *cobra.Command {
	var asJSON bool
	c := &cobra.Command{
		Use:   "evaluate OBJECT",
		Short: "Train on the oldest 70 % of the closed records, test on the newest 30 %: AUC, log loss, Brier",
		Long: "Order the closed records of OBJECT by closed_at, train the model and an Odoo-style frequency\n" +
			"baseline (naive Bayes over the categorical values) on the oldest 70 %, and report AUC, log loss\n" +
			"and Brier score of the model, the baseline and the stage probability alone on the newest 30 %.\n" +
			"--json adds the model's prediction for every test record.",
		Example:      "  relata score evaluate deals\n  relata score evaluate deals --json",
		Args:         cobra.ExactArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := s.ready(); err != nil {
				return err
			}
			d, err := Load(s.app, s.reg, args[0])
			if err != nil {
				return err
			}
			rep, err := Evaluate(d, s.opts)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				enc := json.NewEncoder(out)
				return enc.Encode(rep)
			}
			writeTable(out, rep)
			return nil
		},
	}
	c.Flags().BoolVar(&asJSON, "json", false, "print the figures and every test prediction as JSON")
	return c
}

func (s *Service) explainCommand() *cobra.Command {
	var (
		n      int
		asJSON bool
	)
	c := &cobra.Command{
		Use:          "explain OBJECT ID",
		Short:        "Show a record's win (or, for leads, conversion) probability and the factors behind it (as of now, or of its close)",
		Example:      "  relata score explain deals dea000000000002",
		Args:         cobra.ExactArgs(2),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := s.ready(); err != nil {
				return err
			}
			d, err := Load(s.app, s.reg, args[0])
			if err != nil {
				return err
			}
			var rec *Record
			for _, r := range d.Records {
				if r.ID == args[1] {
					rec = r
				}
			}
			if rec == nil {
				return fmt.Errorf("%s has no record %q", args[0], args[1])
			}
			at := rec.ScoredAt(time.Now())
			snap := rec.At(at)
			out := cmd.OutOrStdout()
			stored, err := Latest(s.app, args[0])
			if err != nil {
				return err
			}
			if asJSON {
				res := &Result{Object: args[0], ID: rec.ID, AsOf: at.UTC(), Factors: []Factor{}, Kind: "win", StageP: d.StageProb[rec.Stage]}
				if d.Lead {
					res.Kind = "conversion"
				}
				if stored == nil {
					res.P, res.Source = d.StagePredict(snap, 0.5), "stage"
				} else {
					res.P, res.Factors = stored.Model.Explain(snap, n)
					res.Source, res.Version = "model", stored.Version
				}
				return json.NewEncoder(out).Encode(res)
			}
			when := "now"
			if rec.Closed {
				when = "at its close, " + at.UTC().Format(time.DateOnly)
			}
			if stored == nil {
				p := d.StagePredict(snap, 0.5)
				fmt.Fprintf(out, "%s %s: %.0f %% (stage probability of %q, %s)\n", args[0], args[1], 100*p, snap.Stage, when)
				fmt.Fprintf(out, "no model trained for %s yet: run `relata score train %s`\n", args[0], args[0])
				return nil
			}
			p, factors := stored.Model.Explain(snap, n)
			kind := "win"
			if d.Lead {
				kind = "conversion"
			}
			fmt.Fprintf(out, "%s %s: %.0f %% %s probability (%s; model version %d of %s)\n", args[0], args[1], 100*p, kind, when,
				stored.Version, stored.TrainedAt.UTC().Format(time.DateOnly))
			for _, f := range factors {
				fmt.Fprintf(out, "  %s\n", f.Text)
			}
			return nil
		},
	}
	c.Flags().IntVar(&n, "factors", 5, "how many factors to show")
	c.Flags().BoolVar(&asJSON, "json", false, "print the probability and its factors as JSON (as the API answers)")
	return c
}

func writeTable(w io.Writer, rep *Report) {
	if rep.Fallback != "" {
		fmt.Fprintf(w, "%s: %s\n", rep.Object, rep.Fallback)
	} else {
		fmt.Fprintf(w, "%s: %d closed; trained on the oldest %d, tested on the newest %d\n", rep.Object, rep.Closed, rep.Train, rep.Test)
	}
	fmt.Fprintf(w, "%-10s %7s %9s %7s\n", "", "AUC", "log loss", "Brier")
	row := func(name string, m Metrics) {
		fmt.Fprintf(w, "%-10s %7s %9s %7s\n", name, fig(m.AUC), fig(m.LogLoss), fig(m.Brier))
	}
	if rep.Fallback == "" {
		row("model", rep.Model)
		row("baseline", *rep.Baseline)
	}
	row("stage", rep.Stage)
}

func fig(v float64) string {
	if math.IsNaN(v) {
		return "–"
	}
	return fmt.Sprintf("%.3f", v)
}

func (s *Service) rulesCommand() *cobra.Command {
	var apply, asJSON bool
	var top int
	c := &cobra.Command{
		Use:   "rules DIR",
		Short: "Check the rule-based scores of DIR (*.json), score every record, and with --apply store the scores",
		Long: "Each file of DIR defines a rule-based score (see insights/scoring/rules.schema.json): fit rules\n" +
			"(expr conditions on record.<field>) and behaviour rules (points per done activity of a type,\n" +
			"halved every halfLifeDays), summed into a score and a grade A–D. Every problem of every file is\n" +
			"reported with file, line and JSON pointer (exit 1). --apply writes the score and grade to the\n" +
			"fields the file names, where they changed.",
		Example:      "  relata score rules examples/sales/scores\n  relata score rules examples/sales/scores --apply",
		Args:         cobra.ExactArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := s.ready(); err != nil {
				return err
			}
			sets, err := LoadRules(os.DirFS(args[0]), s.reg)
			if err != nil {
				return err
			}
			if len(sets) == 0 {
				return fmt.Errorf("%s holds no *.json score definitions", args[0])
			}
			out := cmd.OutOrStdout()
			var enc *json.Encoder
			if asJSON {
				// Every record's score, streamed: {"set": [score, …], …}, records in id order.
				enc = json.NewEncoder(out)
				fmt.Fprint(out, "{")
			}
			for i, rs := range sets {
				opts := RunOptions{Apply: apply, Top: top}
				if asJSON {
					if i > 0 {
						fmt.Fprint(out, ",")
					}
					name, _ := json.Marshal(rs.Name)
					fmt.Fprintf(out, "%s:[", name)
					n := 0
					opts.Each = func(sc RuleScore) error {
						if n++; n > 1 {
							fmt.Fprint(out, ",")
						}
						return enc.Encode(sc)
					}
				}
				run, err := RunRules(s.app, s.reg, rs, opts)
				if err != nil {
					if run != nil && run.Changed > 0 {
						fmt.Fprintf(cmd.ErrOrStderr(), "%s: %d updated before the error\n", rs.Name, run.Changed)
					}
					return err
				}
				if asJSON {
					fmt.Fprint(out, "]")
					continue
				}
				g := run.Grades
				fmt.Fprintf(out, "%s (%s): %d records: A %d, B %d, C %d, D %d", rs.Name, rs.Object, run.Records, g["A"], g["B"], g["C"], g["D"])
				if apply {
					fmt.Fprintf(out, "; %d updated", run.Changed)
				}
				fmt.Fprintln(out)
				for _, sc := range run.Top {
					fmt.Fprintf(out, "  %s  %g (%s)", sc.ID, sc.Score, sc.Grade)
					for _, h := range sc.Hits {
						fmt.Fprintf(out, "  %+g %s", h.Points, h.Rule)
					}
					fmt.Fprintln(out)
				}
			}
			if asJSON {
				fmt.Fprintln(out, "}")
			}
			return nil
		},
	}
	c.Flags().BoolVar(&apply, "apply", false, "write the scores and grades to the records")
	c.Flags().BoolVar(&asJSON, "json", false, "print every record's score, grade and contributing rules as JSON")
	c.Flags().IntVar(&top, "top", 5, "how many of the highest scores to show")
	return c
}

func (s *Service) backtestCommand() *cobra.Command {
	var (
		months int
		asJSON bool
	)
	c := &cobra.Command{
		Use:   "backtest OBJECT",
		Short: "Forecast each past month as of its first day, by stage probability and by the model, against what was won",
		Long: "For each of the last --months full months: the records open on its first day whose expected close\n" +
			"fell in the month, weighted by their stage probability and by a model trained only on what had\n" +
			"closed before that day, against the amount won in the month (base currency).",
		Example:      "  relata score backtest deals --months 12",
		Args:         cobra.ExactArgs(1),
		SilenceUsage: true,
		RunE: func(cmd *cobra.Command, args []string) error {
			if err := s.ready(); err != nil {
				return err
			}
			if months < 1 || months > 120 {
				return fmt.Errorf("--months %d: give 1 to 120", months)
			}
			d, err := Load(s.app, s.reg, args[0])
			if err != nil {
				return err
			}
			bt, err := RunBacktest(d, months, time.Now().UTC(), s.opts)
			if err != nil {
				return err
			}
			out := cmd.OutOrStdout()
			if asJSON {
				return json.NewEncoder(out).Encode(bt)
			}
			fmt.Fprintf(out, "%-8s %5s %12s %12s %12s\n", "month", "open", "stage", "model", "won")
			for _, m := range bt.Months {
				fmt.Fprintf(out, "%-8s %5d %12.0f %12.0f %12.0f\n", m.Month, m.Open, m.Stage, m.Model, m.Actual)
			}
			fmt.Fprintf(out, "mean absolute error per month: stage %.0f, model %.0f\n", bt.StageMAE, bt.ModelMAE)
			return nil
		},
	}
	c.Flags().IntVar(&months, "months", 12, "how many past months")
	c.Flags().BoolVar(&asJSON, "json", false, "print the months as JSON")
	return c
}
