package main

import (
	"context"
	"flag"
	"fmt"
	"time"
)

// Growth: what the data-size workload measures at each size besides list pages — form
// submissions at several clients beside bare creates of the same size, and realtime delivery
// to many subscribers (realtime.go).

// growthConfig holds the growth workload's flags.
type growthConfig struct {
	// formClients are the concurrency levels of form submissions at each data size (1 is
	// measured by the data workload already).
	formClients []int
	// rtClients SSE subscribers (0: not measured) get rtCreates creates at each size.
	rtClients, rtCreates int
}

func defaultGrowth(quick bool) growthConfig {
	if quick {
		return growthConfig{formClients: []int{8}, rtClients: 50, rtCreates: 5}
	}
	return growthConfig{formClients: []int{8}, rtClients: 1000, rtCreates: 20}
}

// growthFlags adds the growth workload's flags to fs; apply reads them into cfg.
func growthFlags(fs *flag.FlagSet) (apply func(cfg *config, set map[string]bool) error) {
	d := defaultGrowth(false)
	formClients := fs.String("growthFormClients", joinInts(d.formClients), "form submission clients measured at each data size, beside bare creates")
	rtClients := fs.Int("realtimeClients", d.rtClients, "SSE subscribers to contacts at each data size (0: no realtime measure; -quick: 50)")
	rtCreates := fs.Int("realtimeCreates", d.rtCreates, "contacts created one at a time while the subscribers listen (-quick: 5)")
	return func(cfg *config, set map[string]bool) error {
		if set["growthFormClients"] {
			ns, err := parseInts(*formClients)
			if err != nil {
				return fmt.Errorf("-growthFormClients: %w", err)
			}
			cfg.growth.formClients = ns
		}
		if set["realtimeClients"] {
			cfg.growth.rtClients = *rtClients
		}
		if set["realtimeCreates"] {
			cfg.growth.rtCreates = *rtCreates
		}
		if cfg.growth.rtClients > 0 && cfg.growth.rtCreates <= 0 {
			return fmt.Errorf("-realtimeCreates must be positive")
		}
		return nil
	}
}

// growthTables collect the rows of every data size.
type growthTables struct {
	forms, rt *table
}

var growth growthTables

// growthAtSize runs the growth measures at the current data size (the servers are running).
func (b *bench) growthAtSize(ctx context.Context, size int) error {
	if growth.forms == nil {
		growth.forms = &table{
			left:  2,
			title: "Form submissions and creates as contacts grow",
			note: "The example form (dedupe by email, consent, round-robin assignment; rate limits off) posted by several clients " +
				"at each data size, beside REST creates of a contact on both sides measured in the same minute. forms/bare create " +
				"divides the submission rate by bare PocketBase's create rate: a submission writes three records.",
			head: []string{"contacts", "clients", "submissions/s", "p50", "p99", "bare create/s", "Relata create/s", "forms/bare create"},
		}
		growth.rt = &table{
			left:  3,
			title: "Realtime delivery as contacts grow",
			note: "SSE subscribers to contacts, signed in in turn as the 20 sales users (4 teams) and the manager; contacts are created " +
				"one at a time (150 ms apart) by their owners, spread over the teams. Who may see each record is asked of the " +
				"server as each user (GET of the record). Latency: from sending the create to a visible subscriber's event; " +
				"\"all\" is, per create, until the last visible subscriber had it. leaked = events received by subscribers who " +
				"may not see the record (must be 0), of \"withheld\" events that must not arrive.",
			head: []string{"contacts", "subscribers", "side", "delivered/expected", "leaked/withheld", "p50", "p99", "all p50", "all p99", "connect"},
		}
	}
	if b.formsNote == "" {
		submit, err := b.formSubmit(ctx)
		if err != nil {
			return err
		}
		for _, c := range b.cfg.growth.formClients {
			b.logf("data size %d: form submissions and creates, %d clients", size, c)
			creates := b.pair(ctx, c, size%2 == 1, func(s *side) op { return b.createOp(s) })
			var r result
			for range b.cfg.repeat {
				r = r.merge(b.cell(ctx, b.relata, c, b.cfg.duration, b.cfg.maxRequests, submit))
			}
			growth.forms.add(fmt.Sprint(size), fmt.Sprint(c), fmtRate(r), fmtDur(r.pct(50)), fmtDur(r.pct(99)),
				fmtRate(creates[0]), fmtRate(creates[1]), ratio(r.rps(), creates[0].rps()))
			if r.errs > 0 {
				growth.forms.notes = append(growth.forms.notes, fmt.Sprintf("%d contacts, %d clients: %d submissions failed, first: %s", size, c, r.errs, r.firstErr))
			}
			growth.forms.errors("create", size, creates)
		}
	}
	if n := b.cfg.growth.rtClients; n > 0 {
		order := []*side{b.bare, b.relata}
		if size%2 == 1 {
			order = []*side{b.relata, b.bare}
		}
		for _, s := range order {
			b.logf("data size %d: realtime, %d subscribers on %s", size, n, s.name)
			r, err := b.realtime(ctx, s, n, b.cfg.growth.rtCreates)
			if err != nil {
				return fmt.Errorf("realtime on %s: %w", s.name, err)
			}
			growth.rt.add(fmt.Sprint(size), fmt.Sprint(n), s.name, fmt.Sprintf("%d/%d", r.delivered, r.expected), fmt.Sprintf("%d/%d", r.leaked, n*r.creates-r.expected),
				fmtDur(pct(r.lats, 50)), fmtDur(pct(r.lats, 99)), fmtDur(pct(r.last, 50)), fmtDur(pct(r.last, 99)),
				fmtDur(r.connect))
			if r.leaked > 0 {
				growth.rt.notes = append(growth.rt.notes, fmt.Sprintf("%s at %d contacts: %d events reached subscribers who may not see the record", s.name, size, r.leaked))
			}
		}
	}
	return ctx.Err()
}

// writeGrowth prints the growth tables, if anything was measured.
func (b *bench) writeGrowth() {
	for _, t := range []*table{growth.forms, growth.rt} {
		if t != nil && len(t.rows) > 0 {
			t.write(b.out)
		}
	}
}

// pct is the p-th percentile (nearest rank) of sorted durations, 0 without any.
func pct(d []time.Duration, p float64) time.Duration {
	return result{lats: d}.pct(p)
}
