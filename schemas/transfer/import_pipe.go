package transfer

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas"
	"github.com/relata/relata/schemas/audit"
)

// The import's two goroutines. The importer's goroutine reads and decodes rows, converts the
// cells, resolves lookups and keys, runs the create hooks and field validators and makes each
// new record's insert values and audit changes (bulkCreate); every bulkFlushAt queued records
// it hands the group to the writer, a second goroutine on the same transaction, which checks
// the group's unique values against the stored records and (for a user's import) the create
// rule, then executes the prepared inserts of the records, their audit entries and their undo
// rows. The two overlap on the machine's two cores; memory stays bounded by the channel (one
// group written, one waiting, one being prepared), whatever the file's size.
//
// What stays exactly as with one goroutine:
//   - groups are written in the order they were made, on the transaction's one connection, so
//     the unique check of a group sees every earlier group;
//   - before the importer writes anything itself (a row's savepoint: updates, related records
//     created, rows saved one by one), reads a record the writer has not yet written (a key
//     repeated in the file), or commits, it waits for the writer to finish (drain): a savepoint
//     never spans a group's inserts, and a key seen earlier in the file is found in the
//     database;
//   - the rows the writer fails (a unique value a stored record holds, a denied create) are
//     given back to the importer, which fails them with their row and column and takes them
//     out of the counts before the chunk commits and its progress is reported.

// group is what the writer writes: new records, and the undo rows of the rows done so far.
type group struct {
	pend    []pendingRec
	changes []dbx.Params
}

// groupDone is the writer's answer for a group: the rows it failed (record id -> error).
type groupDone struct {
	pend []pendingRec
	bad  map[string]*Error
	err  error
}

// writer is the second goroutine of one transaction.
type writer struct {
	jobs     chan *group
	done     chan groupDone
	inflight int
	err      error // the first error of a write: the transaction fails
}

// serialImport makes imports write each group on the importer's goroutine (RELATA_IMPORT_SERIAL=1):
// the same work on one core, for A/B measurements of the pipeline.
var serialImport = os.Getenv("RELATA_IMPORT_SERIAL") == "1"

// startWriter starts the writer of transaction tx (nil when imports write serially or the
// object's records are saved one by one).
func (im *importer) startWriter(tx core.App) {
	if im.bulk == nil || serialImport {
		im.w = nil
		return
	}
	w := &writer{jobs: make(chan *group, 1), done: make(chan groupDone, 4)}
	go func() {
		defer close(w.done)
		failed := false
		for g := range w.jobs {
			if failed {
				w.done <- groupDone{pend: g.pend, err: errWriterStopped}
				continue
			}
			bad, err := im.writeGroup(tx, g)
			failed = err != nil
			w.done <- groupDone{pend: g.pend, bad: bad, err: err}
		}
	}()
	im.w = w
}

var errWriterStopped = fmt.Errorf("the import's writer stopped after an error")

// stopWriter waits for the writer to write what it was given and ends it; it returns the first
// error of its writes.
func (im *importer) stopWriter() error {
	if im.w == nil {
		return nil
	}
	err := im.drain()
	close(im.w.jobs)
	for range im.w.done { //nolint:revive // nothing is left: drain took every answer
	}
	im.w = nil
	return err
}

// dispatch hands the queued records (and the undo rows of the rows done so far) to the
// writer, or writes them now without one. It waits only when the writer already has a group
// waiting.
func (im *importer) dispatch(tx core.App) error {
	if im.bulk == nil || len(im.bulk.pending) == 0 {
		return nil
	}
	g := &group{pend: im.bulk.pending, changes: im.chunkChanges}
	im.bulk.pending = make([]pendingRec, 0, bulkFlushAt)
	im.chunkChanges = nil
	for _, set := range im.bulk.uniques {
		clear(set)
	}
	if im.w == nil {
		bad, err := im.writeGroup(tx, g)
		im.settle(groupDone{pend: g.pend, bad: bad, err: err})
		return err
	}
	// Take the answers already there (frees their groups), then hand the group over.
	for {
		select {
		case d := <-im.w.done:
			im.w.inflight--
			if err := im.settle(d); err != nil {
				return err
			}
			continue
		default:
		}
		break
	}
	if im.w.err != nil {
		return im.w.err
	}
	im.w.jobs <- g
	im.w.inflight++
	return nil
}

// drain waits until the writer has written every group it was given.
func (im *importer) drain() error {
	if im.w == nil {
		return nil
	}
	for im.w.inflight > 0 {
		d := <-im.w.done
		im.w.inflight--
		if err := im.settle(d); err != nil && im.w.err == nil {
			im.w.err = err
		}
	}
	return im.w.err
}

// flushBulk writes the queued records now: on return, the transaction holds them.
func (im *importer) flushBulk(tx core.App) error {
	if err := im.dispatch(tx); err != nil {
		return err
	}
	return im.drain()
}

// settle takes the writer's answer for a group: its failed rows fail, and its records are no
// longer waiting.
func (im *importer) settle(d groupDone) error {
	if d.err != nil {
		if im.w != nil && im.w.err == nil {
			im.w.err = d.err
		}
		return d.err
	}
	for _, p := range d.pend {
		delete(im.bulk.queued, p.rec.Id)
		if p.key != "" && im.bulk.keys[p.key] == p.rec.Id {
			delete(im.bulk.keys, p.key)
		}
		e := d.bad[p.rec.Id]
		if e == nil {
			continue
		}
		im.res.Created--
		im.fail(p.n, p.cells, []*Error{e})
		if im.keys != nil && p.key != "" && im.keys[p.key] == p.rec.Id {
			delete(im.keys, p.key)
		}
	}
	return nil
}

// writeGroup writes a group in tx: on the writer's goroutine, or the importer's without one.
// It reads only the group and the importer's settings, never the importer's running state.
func (im *importer) writeGroup(tx core.App, g *group) (map[string]*Error, error) {
	bad := map[string]*Error{}
	if err := im.storedClashes(tx, g.pend, bad); err != nil {
		return nil, err
	}
	if err := im.storedIDClashes(tx, g.pend, bad); err != nil {
		return nil, err
	}
	if err := im.denied(tx, g.pend, bad); err != nil {
		return nil, err
	}
	var cols []string
	rows := make([][]any, 0, len(g.pend))
	items := make([]audit.Item, 0, len(g.pend))
	for _, p := range g.pend {
		if bad[p.rec.Id] != nil {
			continue
		}
		if cols == nil {
			for k := range p.data {
				cols = append(cols, k)
			}
		}
		row := make([]any, len(cols))
		for j, c := range cols {
			row[j] = p.data[c]
		}
		rows = append(rows, row)
		items = append(items, audit.Item{Object: im.coll.Name, Record: p.rec.Id, Action: audit.ActionCreate, Encoded: p.entry})
	}
	if len(rows) > 0 {
		if err := schemas.InsertEach(tx, im.coll.Name, cols, rows); err != nil {
			return nil, err
		}
		actor, ok := audit.ActorFrom(im.ctx)
		if !ok {
			actor = audit.Actor{Kind: audit.KindSystem}
		}
		if err := audit.AppendMany(tx, time.Now(), actor, items); err != nil {
			return nil, err
		}
	}
	if len(bad) > 0 {
		g.changes = slices.DeleteFunc(g.changes, func(c dbx.Params) bool {
			id, _ := c["record"].(string)
			return bad[id] != nil
		})
	}
	if err := im.writeChanges(tx, g.changes); err != nil {
		return nil, err
	}
	return bad, nil
}

func (im *importer) uniqueErr(n int, field, value string) *Error {
	return im.cellErr(n, im.columnOf(field), fmt.Sprintf("Value must be unique: a record with %s %q exists", field, value))
}

// storedClashes marks in bad the rows whose unique values a stored record holds (one query
// per unique field and 100 values).
func (im *importer) storedClashes(tx core.App, pend []pendingRec, bad map[string]*Error) error {
	for _, name := range im.bulk.uniqueNames {
		byValue := map[string]pendingRec{}
		for _, p := range pend {
			if name == core.FieldNameId && p.idFrom != idGiven {
				continue // time-ordered ids: storedIDClashes; random ones: as a save
			}
			if k := keyString(p.rec.GetRaw(name)); k != "" {
				byValue[k] = p
			}
		}
		values := make([]any, 0, len(byValue))
		for k := range byValue {
			values = append(values, k)
		}
		for start := 0; start < len(values); start += 100 {
			part := values[start:min(start+100, len(values))]
			var found []struct {
				V string `db:"v"`
			}
			// "!= ''" lets SQLite use the field's partial unique index; selectIn names it.
			if err := im.indexes.selectIn(tx.DB(), im.coll.Name, name, []string{"[[" + name + "]] AS v"}, part, &found); err != nil {
				return fmt.Errorf("check the unique %s values: %w", name, err)
			}
			for _, f := range found {
				k := f.V
				if p, ok := byValue[k]; ok && bad[p.rec.Id] == nil {
					bad[p.rec.Id] = im.uniqueErr(p.n, name, k)
				}
			}
		}
	}
	return nil
}

// storedIDClashes marks in bad the rows whose time-ordered id (newID) a stored record holds,
// by one read of the ids between the group's least and greatest: the group's ids were made
// within a few milliseconds, so the range holds only the records made in those milliseconds.
func (im *importer) storedIDClashes(tx core.App, pend []pendingRec, bad map[string]*Error) error {
	byID := map[string]pendingRec{}
	lo, hi := "", ""
	for _, p := range pend {
		if p.idFrom != idOrdered {
			continue
		}
		id := p.rec.Id
		byID[id] = p
		if lo == "" || id < lo {
			lo = id
		}
		if id > hi {
			hi = id
		}
	}
	if len(byID) == 0 {
		return nil
	}
	from := im.coll.Name
	if idx := im.indexes.on(tx.DB(), im.coll.Name, core.FieldNameId); idx != "" {
		from = "{{" + im.coll.Name + "}} INDEXED BY `" + strings.ReplaceAll(idx, "`", "``") + "`"
	}
	var found []string
	err := tx.DB().Select("id").From(from).Where(dbx.Between("id", lo, hi)).Column(&found)
	if err != nil {
		return fmt.Errorf("check the new records' ids: %w", err)
	}
	for _, id := range found {
		if p, ok := byID[id]; ok && bad[id] == nil {
			bad[id] = im.uniqueErr(p.n, core.FieldNameId, id)
		}
	}
	return nil
}

// denied marks in bad the rows whose record the importing user may not create (the create
// rule and links of the whole group at once, schemas.Caller.CanCreateEach, on the records as
// submitted).
func (im *importer) denied(tx core.App, pend []pendingRec, bad map[string]*Error) error {
	if isSuperuser(im.info) || len(pend) == 0 {
		return nil
	}
	var recs []*core.Record
	var bodies []map[string]any
	var idx []int
	for i, p := range pend {
		if bad[p.rec.Id] == nil {
			recs, bodies, idx = append(recs, p.pre), append(bodies, p.body), append(idx, i)
		}
	}
	ok, err := schemas.Request(im.info).CanCreateEach(tx, recs, bodies)
	if err != nil {
		return err
	}
	for j, i := range idx {
		if !ok[j] {
			bad[pend[i].rec.Id] = im.deniedErr(pend[i].n)
		}
	}
	return nil
}
