package main

import (
	"context"
	"fmt"
	"time"

	"github.com/prometheus/procfs"
)

// The cpu workload: server CPU time per request (user + system, read from /proc for the
// server process before and after each cell). Requests per second depend on how much of the
// shared machine the server gets; CPU seconds per request much less so, and they give the
// ceiling a number of cores could carry (cores ÷ CPU per request) when nothing else limits.

// procCPU returns the CPU time the server of s has used so far.
func procCPU(s *side) (time.Duration, error) {
	if s.cmd == nil || s.cmd.Process == nil {
		return 0, fmt.Errorf("%s is not running", s.name)
	}
	p, err := procfs.NewProc(s.cmd.Process.Pid)
	if err != nil {
		return 0, err
	}
	st, err := p.Stat()
	if err != nil {
		return 0, err
	}
	return time.Duration(st.CPUTime() * float64(time.Second)), nil
}

// cpuCell is a measured cell with the server CPU it took.
type cpuCell struct {
	r   result
	cpu time.Duration
}

func (c cpuCell) merge(o cpuCell) cpuCell { return cpuCell{r: c.r.merge(o.r), cpu: c.cpu + o.cpu} }

// perReq is the server CPU per successful request.
func (c cpuCell) perReq() time.Duration {
	if c.r.n == 0 {
		return 0
	}
	return c.cpu / time.Duration(c.r.n)
}

// measureCPU warms up, then measures fn on s with clients and the CPU s used meanwhile.
func (b *bench) measureCPU(ctx context.Context, s *side, clients int, fn op) (cpuCell, error) {
	if b.cfg.warmup > 0 {
		measure(ctx, clients, b.cfg.warmup, b.cfg.maxRequests, fn)
	}
	c0, err := procCPU(s)
	if err != nil {
		return cpuCell{}, err
	}
	r := measure(ctx, clients, b.cfg.duration, b.cfg.maxRequests, fn)
	c1, err := procCPU(s)
	if err != nil {
		return cpuCell{}, err
	}
	if r.errs > 0 {
		b.logf("%s: %d of %d requests failed, first: %s", s.name, r.errs, r.errs+r.n, r.firstErr)
	}
	return cpuCell{r: r, cpu: c1 - c0}, nil
}

func (b *bench) cpuWorkload(ctx context.Context) error {
	clients := b.cfg.clients[len(b.cfg.clients)-1]
	t := &table{
		left:  2,
		title: "Server CPU per request",
		note: fmt.Sprintf("%d clients, %s per cell, %d time(s) per side in alternating order. CPU = user + system time of the server "+
			"process (from /proc) during the cell ÷ successful requests. \"cores used\" = that CPU ÷ wall time: how much of the "+
			"machine the server got. \"per core/s\" = 1 s ÷ CPU per request: what one core could carry if nothing else limited "+
			"(SQLite has one writer at a time, so writes stop scaling before reads do).", clients, b.cfg.duration, b.cfg.repeat),
		head: []string{"workload", "side", "req/s", "CPU per request", "cores used", "per core/s", "Relata/bare CPU"},
	}
	ops := []struct {
		name string
		mk   func(s *side) op
	}{
		{"view", b.viewOp}, {"list with filter", b.listOp}, {"update", b.updateOp}, {"create", b.createOp},
	}
	row := func(name, side string, c cpuCell, base time.Duration) {
		cores, perCore := "–", "–"
		if c.r.elapsed > 0 {
			cores = fmt.Sprintf("%.2f", c.cpu.Seconds()/c.r.elapsed.Seconds())
		}
		if p := c.perReq(); p > 0 {
			perCore = fmt.Sprintf("%.0f", float64(time.Second)/float64(p))
		}
		rel := "–"
		if base > 0 {
			rel = ratio(c.perReq().Seconds(), base.Seconds())
		}
		t.add(name, side, fmtRate(c.r), fmtDur(c.perReq()), cores, perCore, rel)
	}
	for i, o := range ops {
		var cells [2]cpuCell
		for rep := range b.cfg.repeat {
			order := []int{0, 1}
			if (i+rep)%2 == 1 {
				order = []int{1, 0}
			}
			for _, k := range order {
				s := []*side{b.bare, b.relata}[k]
				b.logf("cpu: %s on %s", o.name, s.name)
				c, err := b.measureCPU(ctx, s, clients, o.mk(s))
				if err != nil {
					return err
				}
				cells[k] = cells[k].merge(c)
			}
		}
		row(o.name, "bare", cells[0], 0)
		row(o.name, "relata", cells[1], cells[0].perReq())
	}
	if b.formsNote == "" {
		submit, err := b.formSubmit(ctx)
		if err != nil {
			return err
		}
		var c cpuCell
		for range b.cfg.repeat {
			b.logf("cpu: form submissions")
			one, err := b.measureCPU(ctx, b.relata, clients, submit)
			if err != nil {
				return err
			}
			c = c.merge(one)
		}
		row("form submission", "relata", c, 0)
	}
	t.write(b.out)
	return ctx.Err()
}
