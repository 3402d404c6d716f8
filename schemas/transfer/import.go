package transfer

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/pocketbase/dbx"
	validation "github.com/pocketbase/ozzo-validation/v4"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/types"

	"github.com/relata/relata/schemas"
)

// Import modes.
const (
	ModeCreate = "create" // every row is a new record; a row whose key exists fails
	ModeUpdate = "update" // every row updates the record with its key; a row without one fails
	ModeUpsert = "upsert" // update the record with the key, or create one
)

// System collections of imports (see migrations).
const (
	BatchesCollection = "relata_import_batches"
	ChangesCollection = "relata_import_changes"
)

// ImportOptions says what to import and how.
type ImportOptions struct {
	// Object is the object (collection) to import into; required.
	Object string
	// File is the file's name, for messages and the batch record.
	File string
	// Map maps column headings to field names ("" skips a column). Columns not in it are
	// mapped automatically by name, label and similarity.
	Map map[string]string
	// Key is the field that matches rows to existing records (email, domain, an external id).
	// Default: none (every row creates a record).
	Key string
	// Mode is ModeCreate, ModeUpdate or ModeUpsert. Default: upsert with a Key, else create.
	Mode string
	// DryRun reports what would happen and writes nothing.
	DryRun bool
	// Read says how to read the file (sheet, delimiter, encoding).
	Read ReadOptions
	// Workflows makes each imported row trigger workflows as a normal save does. Default:
	// false (imports trigger nothing).
	Workflows bool
	// As is the CRM user whose access rules apply; nil imports as a superuser.
	As *core.Record
	// CreateMissing creates related records (such as companies) named in a relation column
	// that do not exist yet.
	CreateMissing bool
	// Reaches, when set, says which objects the importer may write (an API token scoped to
	// some objects): CreateMissing creates no related record of an object it does not reach.
	Reaches func(object string) bool
	// DateOrder overrides the detected order of day-month dates: DayFirst or MonthFirst.
	DateOrder string
	// Decimal overrides the detected decimal separator: "," or ".".
	Decimal string
	// BatchSize is how many rows one transaction holds. Default: the service's.
	BatchSize int
	// FailedRowsLimit bounds how many failed rows are kept with their cells. Default: 10000.
	FailedRowsLimit int
	// Limit stops after this many data rows (0: all): the wizard's preview dry-runs the first rows.
	Limit int
	// Context cancels the import between chunks: the chunks committed stay (the batch is
	// marked "cancelled" and can be undone). Default: never cancelled.
	Context context.Context
	// Progress is called after each committed chunk with the counts so far and the number of
	// data rows read. A dry run is one transaction: there it is also called after each group
	// of rows, inside that transaction, so it must not write (the CLI prints; an import job,
	// whose Progress saves its batch, is never a dry run).
	Progress func(res *Result, rows int)
	// Batch, when set, is the batch record to fill (created by the caller, e.g. a job that
	// answers with its id before the import starts).
	Batch *core.Record
	// DuplicateCheck is how many created rows are checked for likely duplicates of records
	// that were there before (schemas/dedupe's indexed rules, among the records the importer
	// may view; one indexed query each: ~0.4 ms at 100 contacts a company, ~8 ms at 1,000 a
	// company, where the similar-name rule reads them all). Default (0): DefaultDuplicateCheck;
	// negative: none.
	DuplicateCheck int
}

// DefaultDuplicateCheck is how many created rows an import checks for likely duplicates
// unless told otherwise ([ImportOptions.DuplicateCheck]).
const DefaultDuplicateCheck = 200

// FailedRow is a row that was not imported, with its cells and the reasons.
type FailedRow struct {
	Row    int      `json:"row"`
	Cells  []string `json:"cells"`
	Reason string   `json:"reason"`
}

// Result is the outcome of an import (or of a dry run: what would happen).
type Result struct {
	Batch     string `json:"batch,omitempty"`
	DryRun    bool   `json:"dryRun"`
	Created   int    `json:"created"`
	Updated   int    `json:"updated"`
	Unchanged int    `json:"unchanged"`
	Failed    int    `json:"failed"`
	Related   int    `json:"related"` // related records created (CreateMissing)
	// RunsQueued is how many workflow runs the imported rows queued (ImportOptions.Workflows;
	// a dry run: would queue).
	RunsQueued int               `json:"runsQueued"`
	Mapping    map[string]string `json:"mapping"`
	Ignored    []string          `json:"ignored"`
	Header     []string          `json:"header"`
	// Errors are the problems of failed rows, one per bad cell.
	Errors Errors `json:"-"`
	// Warnings are rows imported with a remark (a duplicate merged into an earlier row).
	Warnings   Errors      `json:"-"`
	FailedRows []FailedRow `json:"failedRows,omitempty"`
	// Duplicates are the created rows that may duplicate records that were there before
	// (each with its best match), among the first DuplicatesChecked created rows.
	Duplicates        []ImportDuplicate `json:"duplicates,omitempty"`
	DuplicatesChecked int               `json:"duplicatesChecked"`
}

// ErrorList returns the errors as JSON-friendly values.
func (r *Result) ErrorList() []map[string]any {
	out := make([]map[string]any, len(r.Errors))
	for i, e := range r.Errors {
		out[i] = map[string]any{"row": e.Row, "column": e.Column, "message": e.Message}
	}
	return out
}

var errDryRun = errors.New("dry run")

// importer is one running import.
type importer struct {
	s       *Service
	opts    ImportOptions
	obj     *schemas.Object
	coll    *core.Collection
	info    *core.RequestInfo
	cols    []*column
	lookups map[string]*lookup
	keyCol  *column
	seen    map[string]int // key value -> first row
	indexes inIndexes      // the indexes the group reads (keys, unique values) go by
	lastID  string         // the last id newID returned
	// rowChanges are the changes of the row being imported; chunkChanges those of the
	// chunk's successful rows, written before the chunk commits.
	rowChanges, chunkChanges []dbx.Params
	keys                     map[string]string // key value -> id of the stored record (one the importer may view)
	dupKeys                  map[string]bool   // key values of more than one stored record the importer may view
	res                      *Result
	batch                    *core.Record
	seq                      int
	ctx                      context.Context
	// bulk queues new records for multi-row writes (nil: every row is saved); sp says the
	// current row opened its savepoint (before its first write).
	bulk  *bulk
	sp    bool
	cells []string // the current row's
	// rowRelated are the related records the current row created (CreateMissing): taken
	// back out of the lookups and the count if the row fails and its savepoint undoes them.
	rowRelated []madeRelated
	// runs counts the workflow runs the rows' saves queued (Workflows; nil without).
	runs *atomic.Int64
	// started is when the import began: records created since are its own, not duplicates.
	started        types.DateTime
	dupCheckFailed bool
	probes         []dupProbe // the created rows checked for duplicates
	// w is the current transaction's writer (import_pipe.go); nil: groups are written by the
	// importer itself.
	w *writer
}

// Import reads r and imports its rows into opts.Object. It returns an error only when the
// file cannot be imported at all (unreadable, bad mapping, no right to write); row problems
// are in the result, with Failed > 0.
func (s *Service) Import(r io.Reader, opts ImportOptions) (*Result, error) {
	obj, ok := s.reg.Object(opts.Object)
	if !ok {
		return nil, fmt.Errorf("no object %q", opts.Object)
	}
	coll, err := s.app.FindCollectionByNameOrId(obj.Name)
	if err != nil {
		return nil, err
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = s.cfg.BatchSize
	}
	if opts.FailedRowsLimit <= 0 {
		opts.FailedRowsLimit = 10000
	}
	if opts.Key != "" && obj.Field(opts.Key) == nil {
		return nil, fmt.Errorf("--key %s: %s has no field %q", opts.Key, obj.Name, opts.Key)
	}
	switch opts.Mode {
	case "":
		opts.Mode = ModeCreate
		if opts.Key != "" {
			opts.Mode = ModeUpsert
		}
	case ModeCreate, ModeUpdate, ModeUpsert:
	default:
		return nil, fmt.Errorf("unknown mode %q (create, update or upsert)", opts.Mode)
	}
	if opts.Mode != ModeCreate && opts.Key == "" {
		return nil, fmt.Errorf("mode %s needs a key field (--key) to find existing records", opts.Mode)
	}
	switch opts.DateOrder {
	case "", DayFirst, MonthFirst:
	default:
		return nil, fmt.Errorf("unknown date order %q (dmy or mdy)", opts.DateOrder)
	}
	info := caller(opts.As, http.MethodPost)
	if !isSuperuser(info) {
		if opts.As.Collection().Name != schemas.UsersCollection {
			return nil, errors.New("imports run as a CRM user or a superuser")
		}
		if coll.CreateRule == nil && opts.Mode != ModeUpdate || coll.UpdateRule == nil && opts.Mode != ModeCreate {
			return nil, fmt.Errorf("%w: %s", errForbidden, obj.Name)
		}
	}
	tab, err := Open(r, opts.Read)
	if err != nil {
		return nil, &Error{File: opts.File, Message: err.Error()}
	}
	defer tab.Close()
	cols, ignored, err := mapColumns(obj, tab.Header(), opts.Map)
	if err != nil {
		return nil, err
	}
	im := &importer{s: s, opts: opts, obj: obj, coll: coll, info: info, cols: cols, lookups: map[string]*lookup{},
		seen: map[string]int{}, res: &Result{DryRun: opts.DryRun, Mapping: mappingOf(cols), Ignored: ignored, Header: tab.Header()},
		ctx: context.Background(), started: types.NowDateTime()}
	defer im.sortResults()
	switch {
	case im.opts.DuplicateCheck == 0:
		im.opts.DuplicateCheck = DefaultDuplicateCheck
	case im.opts.DuplicateCheck < 0:
		im.opts.DuplicateCheck = 0
	}
	if opts.Key != "" {
		for _, c := range cols {
			if c.field.Name == opts.Key && !c.currency {
				im.keyCol = c
			}
		}
		if im.keyCol == nil {
			return nil, fmt.Errorf("no column maps to the key field %s", opts.Key)
		}
	}
	if !opts.Workflows {
		im.ctx = schemas.WithoutTriggers(im.ctx)
	} else {
		im.ctx, im.runs = schemas.WithRunCounter(im.ctx)
	}
	if im.keyCol != nil {
		im.keys, im.dupKeys = map[string]string{}, map[string]bool{}
	}
	if im.useBulk() {
		im.bulk = &bulk{queued: map[string]bool{}, keys: map[string]string{}}
		im.initUniques()
	}
	// Detect how each column writes dates and numbers from its first rows.
	type row struct {
		cells []string
		n     int
		err   error
	}
	var sample []row
	for len(sample) < sampleRows {
		cells, n, err := tab.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil && !errors.Is(err, errBadRow) {
			return nil, &Error{File: opts.File, Row: n, Message: err.Error()}
		}
		sample = append(sample, row{cells, n, err})
	}
	for _, c := range cols {
		cells := make([]string, 0, len(sample))
		for _, r := range sample {
			if c.idx < len(r.cells) {
				cells = append(cells, r.cells[c.idx])
			}
		}
		c.hints = DetectHints(cells)
		if opts.DateOrder != "" {
			c.hints.DateOrder, c.hints.DateConflict = opts.DateOrder, false
		}
		switch opts.Decimal {
		case ",":
			c.hints.DecimalComma = true
		case ".":
			c.hints.DecimalComma = false
		}
	}
	next := func() ([]string, int, error) {
		if len(sample) > 0 {
			r := sample[0]
			sample = sample[1:]
			return r.cells, r.n, r.err
		}
		return tab.Next()
	}
	if !opts.DryRun {
		if err := im.startBatch(); err != nil {
			return nil, err
		}
	}
	// The transactions below checkpoint the WAL less often; the app's writer connection gets
	// its own setting back afterwards.
	var walPages int
	if err := s.app.NonconcurrentDB().NewQuery("PRAGMA wal_autocheckpoint").Row(&walPages); err != nil {
		return nil, fmt.Errorf("read the WAL's auto-checkpoint: %w", err)
	}
	defer func() { _ = walCheckpointEvery(s.app.NonconcurrentDB(), walPages) }()
	eof, read := false, 0
	type pendingRow struct {
		cells []string
		n     int
		err   error
	}
	buf := make([]pendingRow, 0, keyBatch)
	chunk := func(tx core.App) error {
		for i := 0; (i < opts.BatchSize || opts.DryRun) && !eof; {
			// A dry run is one transaction, rolled back: cancelled, it stops at once.
			if opts.DryRun && opts.Context != nil && opts.Context.Err() != nil {
				return ErrCancelled
			}
			// Read up to keyBatch rows, look their keys up at once, then import them.
			buf = buf[:0]
			for len(buf) < keyBatch && (i+len(buf) < opts.BatchSize || opts.DryRun) {
				if opts.Limit > 0 && read >= opts.Limit {
					eof = true
					break
				}
				cells, n, err := next()
				if errors.Is(err, io.EOF) {
					eof = true
					break
				}
				read++
				if err != nil && !errors.Is(err, errBadRow) {
					return &Error{File: opts.File, Row: n, Message: err.Error()}
				}
				buf = append(buf, pendingRow{cells, n, err})
			}
			keyRows := make([][]string, 0, len(buf))
			for _, r := range buf {
				if r.err == nil {
					keyRows = append(keyRows, r.cells)
				}
			}
			if err := im.prefetchKeys(tx, keyRows); err != nil {
				return err
			}
			for _, r := range buf {
				i++
				if r.err != nil {
					im.fail(r.n, r.cells, []*Error{{File: opts.File, Row: r.n, Message: r.err.Error()}})
					continue
				}
				if err := im.row(tx, r.cells, r.n); err != nil {
					return err
				}
			}
			if opts.DryRun && opts.Progress != nil {
				opts.Progress(im.res, read)
			}
		}
		return nil
	}
	for !eof {
		err := s.app.RunInTransaction(func(tx core.App) error {
			if err := walCheckpointEvery(tx.DB(), importWALCheckpoint); err != nil {
				return err
			}
			im.startWriter(tx)
			err := chunk(tx)
			if err == nil {
				err = im.dispatch(tx)
			}
			// The writer has written all it was given before the transaction ends, whatever
			// happened: nothing runs on tx after it commits or rolls back.
			if werr := im.stopWriter(); err == nil {
				err = werr
			}
			if err != nil {
				return err
			}
			if err := im.writeChanges(tx, im.chunkChanges); err != nil {
				return err
			}
			im.chunkChanges = im.chunkChanges[:0]
			if opts.DryRun {
				return errDryRun
			}
			return im.heartbeat(tx, read)
		})
		if err != nil && !errors.Is(err, errDryRun) {
			if im.batch != nil {
				im.batch.Set("error", truncate(err.Error(), 2000))
				_ = im.finishBatch("failed")
			}
			return im.res, err
		}
		if im.batch != nil {
			im.batch.Set("rows", read)
		}
		im.res.RunsQueued = int(im.runsQueued())
		if opts.Progress != nil {
			opts.Progress(im.res, read)
		}
		if opts.Context != nil && opts.Context.Err() != nil && !eof {
			if im.batch != nil {
				if err := im.finishBatch("cancelled"); err != nil {
					return im.res, err
				}
			}
			return im.res, ErrCancelled
		}
	}
	im.checkScanned()
	if !opts.DryRun {
		if err := im.finishBatch("done"); err != nil {
			return im.res, err
		}
	}
	return im.res, nil
}

// importWALCheckpoint is how many WAL pages an import's writes let accumulate before SQLite
// copies them into the database (SQLite's default is 1,000; the server's connections,
// stmtcache.WALAutocheckpoint, 10,000): an import's
// transactions touch the same index pages again and again (record ids are random), and
// checkpointing after every 1,000-row transaction wrote them back each time — 8 % of a
// 100,000-row import's CPU in checkpoint writes. Measured: 7 % less CPU for 100,000 contacts
// (BENCHMARKS.md, branch import3). The WAL grows to at most ~80 MB (4 KB pages) between
// checkpoints; PocketBase's journal_size_limit truncates it afterwards.
const importWALCheckpoint = 20000

// walCheckpointEvery sets the WAL auto-checkpoint of db's connection (the app's single writer
// connection, or the transaction's).
func walCheckpointEvery(db dbx.Builder, pages int) error {
	_, err := db.NewQuery(fmt.Sprintf("PRAGMA wal_autocheckpoint = %d", pages)).Execute()
	return err
}

// ErrCancelled is returned by an import cancelled through its Context.
var ErrCancelled = errors.New("import cancelled")

// keyBatch is how many rows' keys are looked up in the database at once (one indexed
// IN (...) query per keyBatch rows): memory stays bounded by it, whatever the table's size.
const keyBatch = 500

// prefetchKeys looks up the stored records whose key the rows in cells hold (one indexed
// query per [schemas.InsertMaxParams] keys) and keeps in im.keys only those the importer may
// view: the map is bounded by the rows of one look-up, not by the table. When a row's key is one of a new
// record not yet written (queued, or with the writer: a key repeated in the file), the
// records are written first, so that the key finds its record.
func (im *importer) prefetchKeys(tx core.App, rows [][]string) error {
	if im.keyCol == nil {
		return nil
	}
	clear(im.keys)
	clear(im.dupKeys)
	want := map[string]any{}
	for _, cells := range rows {
		if im.keyCol.idx >= len(cells) || strings.TrimSpace(cells[im.keyCol.idx]) == "" {
			continue
		}
		v, _, err := Value(im.obj, im.keyCol.field, cells[im.keyCol.idx], im.keyCol.hints)
		if err != nil {
			continue // the row fails with this error when it is imported
		}
		if k := im.keyOf(v); k != "" {
			want[k] = k
			if _, isString := v.(string); !isString {
				want[k] = v
			}
		}
	}
	values := make([]any, 0, len(want))
	for k, v := range want {
		values = append(values, v)
		if im.bulk == nil {
			continue
		}
		if _, waiting := im.bulk.keys[k]; waiting {
			if err := im.flushBulk(tx); err != nil {
				return err
			}
		}
	}
	key := im.opts.Key
	keyOfID := map[string]string{} // id of a stored record -> its key (keyOf)
	for start := 0; start < len(values); start += schemas.InsertMaxParams {
		part := values[start:min(start+schemas.InsertMaxParams, len(values))]
		var found []struct {
			ID  string `db:"id"`
			Key any    `db:"k"`
		}
		// "!= ''" lets SQLite use a unique field's partial index; selectIn names the index.
		err := im.indexes.selectIn(tx.DB(), im.coll.Name, key, []string{"id", "[[" + key + "]] AS k"}, part, &found)
		if err != nil {
			return fmt.Errorf("look up the rows' %s values: %w", key, err)
		}
		for _, f := range found {
			if k := im.keyOf(f.Key); k != "" {
				keyOfID[f.ID] = k
			}
		}
	}
	// Only the records the importer may view match, and only they make a key ambiguous: a
	// row's result must not tell whether records the importer cannot see hold its key (with a
	// record of their own as a probe, "more than one stored record has amount 3900" would
	// say that a hidden one does). A hidden record with a unique key still fails a row that
	// would create its twin, through the unique check of the create (the "value must be
	// unique" the REST create answers too). One view-rule query per 500 ids, not one a row.
	ids := slices.Collect(maps.Keys(keyOfID))
	visible, err := viewableIDs(tx, im.coll, im.info, ids)
	if err != nil {
		return fmt.Errorf("look up the rows' %s values: %w", key, err)
	}
	for _, id := range ids {
		if !visible[id] {
			continue
		}
		k := keyOfID[id]
		if prev, dup := im.keys[k]; dup && prev != id {
			im.dupKeys[k] = true
		}
		im.keys[k] = id
	}
	return nil
}

// keyOf is the text of a key value for matching rows to stored records: emails match
// whatever their case (they are stored lower-cased), other values exactly.
func (im *importer) keyOf(v any) string {
	k := keyString(v)
	if f := im.obj.Field(im.opts.Key); f != nil && f.Type == schemas.TypeEmail {
		return strings.ToLower(strings.TrimSpace(k))
	}
	return k
}

// keyString is the text of a key value, stored or converted, for matching.
func keyString(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case []byte:
		return string(x)
	case float64:
		return strconv.FormatFloat(x, 'f', -1, 64)
	case int64:
		return strconv.FormatInt(x, 10)
	}
	return fmt.Sprint(v)
}

// sampleRows is how many rows decide the date order and decimal separator of each column.
const sampleRows = 1000

// sortResults puts the failed rows in file order: rows the writer failed (a unique value a
// stored record holds, a denied create) come back after rows failed later in the file.
func (im *importer) sortResults() {
	slices.SortStableFunc(im.res.Errors, func(a, b *Error) int { return a.Row - b.Row })
	slices.SortStableFunc(im.res.FailedRows, func(a, b FailedRow) int { return a.Row - b.Row })
}

func (im *importer) fail(n int, cells []string, errs []*Error) {
	im.res.Failed++
	// a row queued, checked, then failed when written: it duplicates nothing
	im.res.Duplicates = slices.DeleteFunc(im.res.Duplicates, func(d ImportDuplicate) bool { return d.Row == n })
	im.res.Errors = append(im.res.Errors, errs...)
	if len(im.res.FailedRows) < im.opts.FailedRowsLimit {
		reasons := make([]string, len(errs))
		for i, e := range errs {
			reasons[i] = e.Message
			if e.Column != "" {
				reasons[i] = e.Column + ": " + e.Message
			}
		}
		im.res.FailedRows = append(im.res.FailedRows, FailedRow{Row: n, Cells: cells, Reason: strings.Join(reasons, "; ")})
	}
}

// row imports one row. A row writes in its own savepoint, opened before its first write, so
// a failed row leaves nothing behind; a row that only queues a new record (bulk) needs none.
func (im *importer) row(tx core.App, cells []string, n int) error {
	im.rowChanges, im.rowRelated = im.rowChanges[:0], im.rowRelated[:0]
	im.sp, im.cells = false, cells
	mark := 0
	if im.bulk != nil {
		mark = len(im.bulk.pending)
	}
	var runs int64
	if im.runs != nil {
		runs = im.runs.Load()
	}
	outcome, errs := im.apply(tx, cells, n)
	if len(errs) > 0 {
		if im.runs != nil {
			im.runs.Store(runs) // rolled back with the row
		}
		for _, m := range im.rowRelated { // so are the related records it created
			m.l.removeRecord(m.rec)
			im.res.Related--
		}
		if im.sp {
			if _, err := tx.DB().NewQuery("ROLLBACK TO relata_import_row").Execute(); err != nil {
				return err
			}
		}
		if im.bulk != nil && len(im.bulk.pending) > mark {
			for _, p := range im.bulk.pending[mark:] {
				delete(im.bulk.queued, p.rec.Id)
				if p.key != "" && im.bulk.keys[p.key] == p.rec.Id {
					delete(im.bulk.keys, p.key)
				}
			}
			im.bulk.pending = im.bulk.pending[:mark]
		}
		im.fail(n, cells, errs)
	} else {
		im.chunkChanges = append(im.chunkChanges, im.rowChanges...)
		switch outcome {
		case "created":
			im.res.Created++
		case "updated":
			im.res.Updated++
		default:
			im.res.Unchanged++
		}
	}
	if im.sp {
		_, err := tx.DB().NewQuery("RELEASE relata_import_row").Execute()
		return err
	}
	if im.bulk != nil && len(im.bulk.pending) >= bulkFlushAt {
		return im.dispatch(tx) // written by the writer while the next rows are prepared
	}
	return nil
}

// savepoint opens the current row's savepoint before its first write (once per row). The
// queued records are written first, so that rolling the row back cannot undo them.
func (im *importer) savepoint(tx core.App) error {
	if im.sp {
		return nil
	}
	if err := im.flushBulk(tx); err != nil {
		return err
	}
	if _, err := tx.DB().NewQuery("SAVEPOINT relata_import_row").Execute(); err != nil {
		return err
	}
	im.sp = true
	return nil
}

func (im *importer) cellErr(n int, c *column, msg string) *Error {
	col := ""
	if c != nil {
		col = c.name
	}
	return &Error{File: im.opts.File, Row: n, Column: col, Message: msg}
}

// values converts the row's cells into field values. later are the stage columns whose
// pipeline is the stored record's (an update's row that sets none): apply converts them once
// it has found the record.
func (im *importer) values(tx core.App, cells []string, n int) (vals map[string]any, later []*column, errs []*Error) {
	vals = map[string]any{}
	for _, c := range im.cols {
		if c.idx >= len(cells) {
			continue
		}
		cell := cells[c.idx]
		if strings.TrimSpace(cell) == "" {
			continue
		}
		f := c.field
		if f.Type == schemas.TypeStage && f.PipelineField != "" && !c.currency {
			// A stage is one of the record's own pipeline (its name or label), not of the
			// field's default one: "renewed" is a stage of renewals only.
			pipeline, known, ok := im.rowPipeline(cells, c)
			switch {
			case !ok:
				continue // the pipeline cell is wrong: its own error fails the row
			case !known:
				later = append(later, c)
				continue
			}
			v, err := stageValue(im.obj, f, pipeline, strings.TrimSpace(unneutralize(cell)))
			if err != nil {
				errs = append(errs, im.cellErr(n, c, err.Error()))
				continue
			}
			vals[f.Name] = v
			continue
		}
		if c.currency {
			code := strings.ToUpper(strings.TrimSpace(cell))
			if _, sym := stripCurrency(cell); sym != "" && len(code) != 3 {
				code = sym
			}
			if !currencyRe.MatchString(code) {
				errs = append(errs, im.cellErr(n, c, fmt.Sprintf("%q is not an ISO 4217 currency code such as EUR", cell)))
				continue
			}
			vals[f.Name+schemas.CurrencySuffix] = code
			continue
		}
		if f.Type == schemas.TypeRelation || f.Type == schemas.TypeOwner {
			v, err := im.relation(tx, f, cell)
			if err != nil {
				errs = append(errs, im.cellErr(n, c, err.Error()))
				continue
			}
			vals[f.Name] = v
			continue
		}
		v, code, err := Value(im.obj, f, cell, c.hints)
		if errors.Is(err, errNoValue) {
			continue
		}
		if err != nil {
			errs = append(errs, im.cellErr(n, c, err.Error()))
			continue
		}
		vals[f.Name] = v
		if code != "" && f.Type == schemas.TypeCurrency {
			if _, set := vals[f.Name+schemas.CurrencySuffix]; !set {
				vals[f.Name+schemas.CurrencySuffix] = code
			}
		}
	}
	return vals, later, errs
}

// rowPipeline returns the pipeline the row's record follows in stage column c's field f: the
// value of f's PipelineField the row sets (in whichever column), else for a row that can only
// create a record the pipeline a new record gets (the pipeline field's default; "" for f's
// own). known is false when the row may update a stored record and sets none: the record's
// own pipeline then applies. ok is false when the row's pipeline cell is not a pipeline.
func (im *importer) rowPipeline(cells []string, c *column) (pipeline string, known, ok bool) {
	f := c.field
	for _, pc := range im.cols {
		if pc.field.Name != f.PipelineField || pc.currency || pc.idx >= len(cells) {
			continue
		}
		v, _, err := Value(im.obj, pc.field, cells[pc.idx], pc.hints)
		if errors.Is(err, errNoValue) {
			break
		}
		if err != nil {
			return "", false, false
		}
		s, _ := v.(string)
		return s, true, true
	}
	// The key column's stage is converted before any record is found (prefetchKeys), so a
	// stage used as the key follows the default pipeline.
	if im.keyCol == nil || im.opts.Mode == ModeCreate || c == im.keyCol {
		return im.newPipeline(f), true, true
	}
	return "", false, true
}

// newPipeline is the pipeline of a new record that sets none: the default of f's
// PipelineField, which Relata's create hook fills in ("" for f's own pipeline).
func (im *importer) newPipeline(f *schemas.Field) string {
	if pf := im.obj.Field(f.PipelineField); pf != nil {
		if d, ok := pf.Default.(string); ok {
			return d
		}
	}
	return ""
}

// relation resolves a relation or owner cell by natural keys.
func (im *importer) relation(tx core.App, f *schemas.Field, cell string) (any, error) {
	target := f.Target
	if f.Type == schemas.TypeOwner {
		target = schemas.UsersCollection
	}
	l := im.lookups[target]
	if l == nil {
		var err error
		if l, err = newLookup(im.s.app, im.s.reg, target, im.info); err != nil {
			return nil, err
		}
		im.lookups[target] = l
	}
	parts := []string{strings.TrimSpace(cell)}
	if f.Multiple {
		parts = SplitList(cell)
	}
	ids := make([]string, 0, len(parts))
	for _, p := range parts {
		id, err := l.find(p)
		if err != nil && im.opts.CreateMissing && l.obj != nil && !l.ambiguous[normKey(p)] {
			id, err = im.createRelated(tx, l, p)
		}
		if err != nil {
			return nil, err
		}
		ids = append(ids, id)
	}
	if f.Multiple {
		return ids, nil
	}
	return ids[0], nil
}

// madeRelated is a related record a row created, in the lookup that names it.
type madeRelated struct {
	l   *lookup
	rec *core.Record
}

// createRelated creates the missing record named p in l's object: a domain fills the
// object's domain field too.
func (im *importer) createRelated(tx core.App, l *lookup, p string) (string, error) {
	o := l.obj
	tf := o.Field(o.TitleField)
	if tf == nil || tf.Type != schemas.TypeText {
		return "", fmt.Errorf("cannot create a missing %s record from %q: its title is not a text field", o.Name, p)
	}
	rec := core.NewRecord(l.coll)
	body := map[string]any{tf.Name: p}
	if df := o.Field("domain"); df != nil && looksLikeDomain(p) {
		body[df.Name] = normDomain(p)
	}
	if of := o.OwnerField(); of != nil && im.opts.As != nil {
		body[of.Name] = im.opts.As.Id
	}
	for k, v := range body {
		rec.Set(k, v)
	}
	if im.opts.Reaches != nil && !im.opts.Reaches(o.Name) {
		return "", fmt.Errorf("no %s record named %q, and this API token does not reach %s to create one", o.Name, p, o.Name)
	}
	if ok, err := canCreate(tx, l.coll, im.info, rec, body); err != nil || !ok {
		return "", fmt.Errorf("no %s record named %q, and you may not create one", o.Name, p)
	}
	if err := im.savepoint(tx); err != nil {
		return "", err
	}
	if err := tx.SaveWithContext(im.ctx, rec); err != nil {
		return "", fmt.Errorf("create %s %q: %s", o.Name, p, saveMessage(err))
	}
	if err := im.change(tx, rec, "created", nil); err != nil {
		return "", err
	}
	l.addRecord(rec)
	im.res.Related++
	im.rowRelated = append(im.rowRelated, madeRelated{l, rec})
	return rec.Id, nil
}

// apply imports one row: it returns "created", "updated" or "unchanged", or the row's problems.
func (im *importer) apply(tx core.App, cells []string, n int) (string, []*Error) {
	vals, later, errs := im.values(tx, cells, n)
	if len(cells) > len(im.res.Header) {
		errs = append(errs, im.cellErr(n, nil, fmt.Sprintf("the row has %d cells, the header %d", len(cells), len(im.res.Header))))
	}
	if len(errs) > 0 {
		return "", errs
	}
	var existing *core.Record
	if im.keyCol != nil {
		kv, ok := vals[im.opts.Key]
		if !ok {
			return "", []*Error{im.cellErr(n, im.keyCol, "the key is empty")}
		}
		ks := im.keyOf(kv)
		if first, dup := im.seen[ks]; dup {
			if im.opts.Mode == ModeCreate {
				return "", []*Error{im.cellErr(n, im.keyCol, fmt.Sprintf("duplicate of row %d (same %s %q)", first, im.opts.Key, ks))}
			}
			im.res.Warnings = append(im.res.Warnings, im.cellErr(n, im.keyCol, fmt.Sprintf("duplicate of row %d (same %s %q): merged into the same record", first, im.opts.Key, ks)))
		} else {
			im.seen[ks] = n
		}
		if im.dupKeys[ks] {
			return "", []*Error{im.cellErr(n, im.keyCol, fmt.Sprintf("more than one stored record has %s %q; match by a unique field", im.opts.Key, ks))}
		}
		if id, ok := im.keys[ks]; ok {
			if im.bulk != nil && im.bulk.queued[id] {
				if err := im.flushBulk(tx); err != nil {
					return "", []*Error{im.cellErr(n, nil, err.Error())}
				}
			}
			rec, err := tx.FindRecordById(im.coll, id)
			if err == nil {
				existing = rec
			}
		}
		// A record the user may not see does not exist for them, as in the REST API (which
		// answers 404): the import neither updates it nor says that it exists.
		if existing != nil && !isSuperuser(im.info) {
			if ok, err := schemas.Request(im.info).CanView(tx, existing); err != nil || !ok {
				existing = nil
			}
		}
		switch {
		case existing != nil && im.opts.Mode == ModeCreate:
			return "", []*Error{im.cellErr(n, im.keyCol, fmt.Sprintf("a record with %s %q already exists", im.opts.Key, ks))}
		case existing == nil && im.opts.Mode == ModeUpdate:
			return "", []*Error{im.cellErr(n, im.keyCol, fmt.Sprintf("no record with %s %q to update", im.opts.Key, ks))}
		}
	}
	// Stages of the stored record's pipeline (the row sets none), or of a new record's.
	for _, c := range later {
		pipeline := im.newPipeline(c.field)
		if existing != nil {
			pipeline = existing.GetString(c.field.PipelineField)
		}
		v, err := stageValue(im.obj, c.field, pipeline, strings.TrimSpace(unneutralize(cells[c.idx])))
		if err != nil {
			errs = append(errs, im.cellErr(n, c, err.Error()))
			continue
		}
		vals[c.field.Name] = v
	}
	if len(errs) > 0 {
		return "", errs
	}
	if existing == nil {
		return im.create(tx, vals, n)
	}
	return im.update(tx, existing, vals, n)
}

func (im *importer) create(tx core.App, vals map[string]any, n int) (string, []*Error) {
	rec := core.NewRecord(im.coll)
	if of := im.obj.OwnerField(); of != nil && im.opts.As != nil {
		if _, set := vals[of.Name]; !set {
			vals[of.Name] = im.opts.As.Id // as the REST API does for a sales user
		}
	}
	for k, v := range vals {
		rec.Set(k, v)
	}
	// On the bulk path a user's create rule is checked for the whole group when it is written
	// (dropDenied), on the record as it is here.
	if im.bulk == nil || isSuperuser(im.info) {
		ok, err := canCreate(tx, im.coll, im.info, rec, vals)
		if err != nil {
			return "", []*Error{im.cellErr(n, nil, err.Error())}
		}
		if !ok {
			return "", []*Error{im.deniedErr(n)}
		}
	}
	if im.bulk != nil {
		resolved := map[string]bool{}
		for k := range vals {
			if f := im.obj.Field(k); f != nil && (f.Type == schemas.TypeRelation || f.Type == schemas.TypeOwner) {
				resolved[k] = true
			}
		}
		if errs := im.bulkCreate(tx, rec, resolved, n, im.cells, vals); len(errs) > 0 {
			return "", errs
		}
	} else {
		if err := im.savepoint(tx); err != nil {
			return "", []*Error{im.cellErr(n, nil, err.Error())}
		}
		if err := tx.SaveWithContext(im.ctx, rec); err != nil {
			return "", im.saveErrors(n, err)
		}
	}
	if err := im.change(tx, rec, "created", nil); err != nil {
		return "", []*Error{im.cellErr(n, nil, err.Error())}
	}
	if err := im.checkDuplicate(tx, rec, n); err != nil {
		return "", []*Error{im.cellErr(n, nil, err.Error())}
	}
	if im.keys != nil {
		// Later rows with this key match the new record: a record im.keys held for it was not
		// found, or the importer may no longer view it (im.keys holds only viewable records).
		k := im.keyOf(rec.Get(im.opts.Key))
		im.keys[k] = rec.Id
		if im.bulk != nil && im.bulk.queued[rec.Id] {
			im.bulk.keys[k] = rec.Id
			im.bulk.pending[len(im.bulk.pending)-1].key = k
		}
	}
	return "created", nil
}

func (im *importer) update(tx core.App, rec *core.Record, vals map[string]any, n int) (string, []*Error) {
	orig := rec.Original()
	before := map[string]any{}
	changed := map[string]any{}
	for k, v := range vals {
		rec.Set(k, v)
		if !same(orig.Get(k), rec.Get(k)) {
			before[k] = orig.Get(k)
			changed[k] = v
		}
	}
	if len(changed) == 0 {
		return "unchanged", nil
	}
	ok, err := canUpdate(tx, im.info, rec, changed)
	if err != nil {
		return "", []*Error{im.cellErr(n, nil, err.Error())}
	}
	if !ok {
		return "", []*Error{im.cellErr(n, im.keyCol, fmt.Sprintf("you may not update the record with %s %q (the access rules of %s deny it)", im.opts.Key, fmt.Sprint(vals[im.opts.Key]), im.obj.Name))}
	}
	if err := im.savepoint(tx); err != nil {
		return "", []*Error{im.cellErr(n, nil, err.Error())}
	}
	if err := tx.SaveWithContext(im.ctx, rec); err != nil {
		return "", im.saveErrors(n, err)
	}
	if err := im.change(tx, rec, "updated", before); err != nil {
		return "", []*Error{im.cellErr(n, nil, err.Error())}
	}
	return "updated", nil
}

func (im *importer) deniedErr(n int) *Error {
	return im.cellErr(n, im.ownerColumn(), "you may not create this record (the access rules of "+im.obj.Name+" deny it)")
}

func (im *importer) ownerColumn() *column {
	if of := im.obj.OwnerField(); of != nil {
		for _, c := range im.cols {
			if c.field == of {
				return c
			}
		}
	}
	return nil
}

// saveErrors turns PocketBase's validation errors into row errors naming the column.
func (im *importer) saveErrors(n int, err error) []*Error {
	var ve validation.Errors
	if !errors.As(err, &ve) {
		return []*Error{im.cellErr(n, nil, err.Error())}
	}
	keys := make([]string, 0, len(ve))
	for k := range ve {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var errs []*Error
	for _, k := range keys {
		var col *column
		for _, c := range im.cols {
			if c.field.Name == strings.TrimSuffix(k, schemas.CurrencySuffix) {
				col = c
			}
		}
		msg := ve[k].Error()
		if col == nil {
			msg = k + ": " + msg
		}
		errs = append(errs, im.cellErr(n, col, msg))
	}
	return errs
}

func saveMessage(err error) string {
	var ve validation.Errors
	if errors.As(err, &ve) {
		parts := []string{}
		for k, v := range ve {
			parts = append(parts, k+": "+v.Error())
		}
		sort.Strings(parts)
		return strings.Join(parts, "; ")
	}
	return err.Error()
}

// same compares two stored values as their JSON.
func same(a, b any) bool {
	ja, err1 := json.Marshal(a)
	jb, err2 := json.Marshal(b)
	return err1 == nil && err2 == nil && string(ja) == string(jb)
}

// change records a created or updated record of the current row, for undo. The row's changes
// are written with the chunk (flushChanges) only if the row succeeds.
func (im *importer) change(_ core.App, rec *core.Record, action string, before map[string]any) error {
	if im.batch == nil {
		return nil // dry run
	}
	b := []byte("{}")
	if before != nil {
		var err error
		if b, err = json.Marshal(before); err != nil {
			return err
		}
	}
	im.rowChanges = append(im.rowChanges, dbx.Params{
		"batch": im.batch.Id, "object": rec.Collection().Name,
		"record": rec.Id, "action": action, "before": string(b), "stamp": rec.GetDateTime(schemas.FieldUpdated).String(),
	})
	return nil
}

// changeColumns are the columns of relata_import_changes written by writeChanges.
var changeColumns = []string{"id", "batch", "seq", "object", "record", "action", "before", "stamp"}

// createdPerRow is the most records one "created_many" undo row lists.
const createdPerRow = 1000

// writeChanges writes undo rows (prepared inserts), numbered in order: on the writer's
// goroutine, or on the importer's once the writer is drained (never both at once). Records
// created one after the other in one object become one "created_many" row listing
// [id, stamp] pairs in creation order (up to createdPerRow), so an import of N new records
// writes N/500 undo rows rather than N; an update, or a record of another object, starts a new
// row, so the rows' order (seq) is still the order of the changes, which undo relies on.
func (im *importer) writeChanges(tx core.App, changes []dbx.Params) error {
	if len(changes) == 0 {
		return nil
	}
	rows := make([][]any, 0, 8)
	add := func(p dbx.Params) {
		im.seq++
		p["seq"] = im.seq
		if p["id"] == nil {
			p["id"] = core.GenerateDefaultRandomId()
		}
		row := make([]any, len(changeColumns))
		for j, c := range changeColumns {
			row[j] = p[c]
		}
		rows = append(rows, row)
	}
	created := func(p dbx.Params) bool { return p["action"] == "created" }
	for i := 0; i < len(changes); {
		first := changes[i]
		j := i + 1
		if created(first) {
			for j < len(changes) && j-i < createdPerRow && created(changes[j]) && changes[j]["object"] == first["object"] {
				j++
			}
		}
		if j-i < 2 {
			add(first)
			i = j
			continue
		}
		pairs := make([][2]string, 0, j-i)
		for _, c := range changes[i:j] {
			id, _ := c["record"].(string)
			stamp, _ := c["stamp"].(string)
			pairs = append(pairs, [2]string{id, stamp})
		}
		b, err := json.Marshal(pairs)
		if err != nil {
			return err
		}
		add(dbx.Params{"batch": first["batch"], "object": first["object"], "record": first["record"],
			"action": "created_many", "before": string(b), "stamp": ""})
		i = j
	}
	if err := schemas.InsertEach(tx, ChangesCollection, changeColumns, rows); err != nil {
		return fmt.Errorf("record the import's changes: %w", err)
	}
	return nil
}

func (im *importer) startBatch() error {
	coll, err := im.s.app.FindCollectionByNameOrId(BatchesCollection)
	if err != nil {
		return err
	}
	b := im.opts.Batch
	if b == nil {
		b = core.NewRecord(coll)
	}
	b.Set("object", im.obj.Name)
	b.Set("file", im.opts.File)
	b.Set("actor", "superuser")
	if im.opts.As != nil {
		b.Set("actor", im.opts.As.Email())
		if im.opts.As.Collection().Name == schemas.UsersCollection {
			b.Set("user", im.opts.As.Id)
		}
	}
	b.Set("mode", im.opts.Mode)
	b.Set("key", im.opts.Key)
	b.Set("mapping", im.res.Mapping)
	b.Set("workflows", im.opts.Workflows)
	b.Set("status", "running")
	if err := im.s.app.Save(b); err != nil {
		return fmt.Errorf("record the import batch: %w", err)
	}
	im.batch = b
	im.res.Batch = b.Id
	// The audit trail attributes the rows' changes to this batch.
	im.ctx = schemas.WithOrigin(im.ctx, schemas.Origin{Kind: schemas.OriginImport, ID: b.Id, Via: "import " + b.GetString("file")})
	return nil
}

// heartbeat records in tx, with the chunk it commits, that the batch's import is still
// writing: its rows read so far and the time. Undo refuses a batch whose import wrote within
// ImportLease, so it cannot miss rows the import adds after it read the batch's changes.
func (im *importer) heartbeat(tx core.App, rows int) error {
	if im.batch == nil {
		return nil
	}
	_, err := tx.DB().Update(BatchesCollection, dbx.Params{"rows": rows, "updated": types.NowDateTime().String()},
		dbx.HashExp{"id": im.batch.Id}).Execute()
	return err
}

func (im *importer) finishBatch(status string) error {
	im.batch.Set("counts", map[string]int{"created": im.res.Created, "updated": im.res.Updated,
		"unchanged": im.res.Unchanged, "failed": im.res.Failed, "related": im.res.Related, "runs": int(im.runsQueued())})
	im.batch.Set("status", status)
	return im.s.app.Save(im.batch)
}

// runsQueued is how many workflow runs the rows written so far queued.
func (im *importer) runsQueued() int64 {
	if im.runs == nil {
		return 0
	}
	return im.runs.Load()
}

func jsonMarshal(v any) ([]byte, error) { return json.Marshal(v) }

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n]
}
