package scoring

import (
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"
)

// ModelsCollection holds the trained model versions (created by the migrations).
const ModelsCollection = "relata_models"

// Stored is a model version as kept in [ModelsCollection].
type Stored struct {
	Model     *Model
	Version   int
	TrainedAt time.Time
	Records   int
	Metrics   *Report
}

// Save stores m as the next version of its object's model, with the evaluation report whose
// figures it was judged by (its predictions are not kept).
func Save(app core.App, m *Model, records int, rep *Report) (int, error) {
	coll, err := app.FindCollectionByNameOrId(ModelsCollection)
	if err != nil {
		return 0, fmt.Errorf("the %s collection does not exist (run the migrations first): %w", ModelsCollection, err)
	}
	var last struct {
		V int `db:"v"`
	}
	err = app.DB().Select("COALESCE(MAX([[version]]), 0) AS v").From(ModelsCollection).
		Where(dbx.HashExp{"object": m.Object}).One(&last)
	if err != nil {
		return 0, fmt.Errorf("read the model versions: %w", err)
	}
	metrics := *rep
	metrics.Predictions = nil
	rec := core.NewRecord(coll)
	rec.Set("object", m.Object)
	rec.Set("version", last.V+1)
	rec.Set("trained_at", types.NowDateTime())
	rec.Set("records", records)
	rec.Set("metrics", metrics)
	rec.Set("weights", m)
	if err := app.Save(rec); err != nil {
		return 0, fmt.Errorf("store the model: %w", err)
	}
	return last.V + 1, nil
}

// Latest returns the newest stored model of object, or nil when none was trained.
func Latest(app core.App, object string) (*Stored, error) {
	if _, err := app.FindCachedCollectionByNameOrId(ModelsCollection); err != nil {
		return nil, nil
	}
	recs, err := app.FindRecordsByFilter(ModelsCollection, "object = {:o}", "-version", 1, 0, dbx.Params{"o": object})
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return nil, err
	}
	if len(recs) == 0 {
		return nil, nil
	}
	rec := recs[0]
	s := &Stored{Version: rec.GetInt("version"), TrainedAt: rec.GetDateTime("trained_at").Time(), Records: rec.GetInt("records"), Model: &Model{}}
	if err := json.Unmarshal([]byte(rec.GetString("weights")), s.Model); err != nil {
		return nil, fmt.Errorf("%s version %d: %w", object, s.Version, err)
	}
	if len(s.Model.Weights) != len(s.Model.Features) || len(s.Model.Mean) != len(s.Model.Features) || len(s.Model.SD) != len(s.Model.Features) {
		return nil, fmt.Errorf("%s version %d: weights and features disagree", object, s.Version)
	}
	var rep Report
	if err := json.Unmarshal([]byte(rec.GetString("metrics")), &rep); err == nil {
		s.Metrics = &rep
	}
	return s, nil
}
