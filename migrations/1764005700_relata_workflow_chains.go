package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// A chain of workflows is the runs descended from one run no workflow caused (its root). Each
// descendant keeps the root's id in chain — on its workflow_runs row, and on the
// workflow_events row it may be stored as first — and the root keeps the chain's count in
// chain_runs, which the engine raises by primary key as the chain queues runs and checks
// against Config.MaxChainRuns (workflows/chain.go). No index: the count needs none, and a
// root, with an empty chain, is the hot path of every save that triggers a workflow.
func init() {
	m.Register(func(app core.App) error {
		runs, err := app.FindCollectionByNameOrId("workflow_runs")
		if err != nil {
			return err
		}
		runs.Fields.Add(
			&core.TextField{Name: "chain", Max: 15, Help: "The run that started the chain of workflows this run belongs to; empty for a run no workflow caused."},
			&core.NumberField{Name: "chain_runs", OnlyInt: true, Help: "On a chain's first run: how many runs its chain asked for, queued or refused (MaxChainRuns)."},
		)
		if err := app.Save(runs); err != nil {
			return err
		}
		events, err := app.FindCollectionByNameOrId("workflow_events")
		if err != nil {
			return err
		}
		events.Fields.Add(&core.TextField{Name: "chain", Max: 15})
		return app.Save(events)
	}, func(app core.App) error {
		for _, name := range []string{"workflow_runs", "workflow_events"} {
			c, err := app.FindCollectionByNameOrId(name)
			if err != nil {
				continue
			}
			c.Fields.RemoveByName("chain")
			c.Fields.RemoveByName("chain_runs")
			if err := app.Save(c); err != nil {
				return err
			}
		}
		return nil
	})
}
