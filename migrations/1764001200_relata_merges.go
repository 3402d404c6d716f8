package migrations

import (
	"github.com/pocketbase/pocketbase/core"
	m "github.com/pocketbase/pocketbase/migrations"
)

// Merges of duplicate records (package schemas/dedupe): one row per merge, holding what undo
// needs (the merged-away record, the winner's fields before, every reference re-pointed) and
// serving as the redirect of the merged-away id to the winner while not undone. No API rule:
// users reach merges only through Relata's merge endpoints, which check access.
func init() {
	m.Register(func(app core.App) error {
		c := core.NewBaseCollection("relata_merges", "pbc_relata_merges")
		c.Fields.Add(
			&core.TextField{Name: "object", Required: true, Max: 63, Presentable: true, Help: "The collection of both records."},
			&core.TextField{Name: "winner", Required: true, Max: 50, Help: "The record that was kept."},
			&core.TextField{Name: "loser", Required: true, Max: 50, Help: "The record merged away; its id now redirects to the winner."},
			&core.TextField{Name: "loser_title", Max: 300},
			&core.JSONField{Name: "loser_data", MaxSize: 8 << 20, Help: "The merged-away record's fields, recreated by undo."},
			&core.JSONField{Name: "winner_before", MaxSize: 8 << 20, Help: "The winner's fields the merge changed, as they were."},
			&core.JSONField{Name: "winner_after", MaxSize: 8 << 20, Help: "The same fields after the merge: undo refuses when they changed since."},
			&core.JSONField{Name: "repointed", MaxSize: 32 << 20, Help: `References moved to the winner: [{"collection","record","field","before","after"}].`},
			&core.TextField{Name: "merged_by", Max: 50, Help: "The user or superuser who merged; empty for the command line."},
			&core.BoolField{Name: "undone"},
			&core.DateField{Name: "undone_at"},
			&core.AutodateField{Name: "created", OnCreate: true},
		)
		c.AddIndex("idx_relata_merges_loser", false, "`object`, `loser`", "")
		c.AddIndex("idx_relata_merges_winner", false, "`object`, `winner`", "")
		return app.Save(c)
	}, func(app core.App) error {
		c, err := app.FindCollectionByNameOrId("relata_merges")
		if err != nil {
			return nil
		}
		return app.Delete(c)
	})
}
