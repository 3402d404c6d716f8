package transfer

import (
	"context"
	"encoding/csv"
	"errors"
	"fmt"
	"io"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
	"github.com/xuri/excelize/v2"

	"github.com/relata/relata/schemas"
)

// Export formats.
const (
	FormatCSV  = "csv"
	FormatXLSX = "xlsx"
)

// ExportOptions says what to export.
type ExportOptions struct {
	// Object is the object (collection) to export; required.
	Object string
	// Filter and Sort narrow and order the list, in PocketBase's filter and sort syntax (as
	// the REST API's filter and sort parameters).
	Filter, Sort string
	// Fields are the fields to export, in order. Default: every field of the object.
	Fields []string
	// Format is FormatCSV (default) or FormatXLSX.
	Format string
	// As is the CRM user whose access rules apply; nil exports as a superuser.
	As *core.Record
	// Context stops the export between chunks of records (Ctrl-C, a download the client
	// gave up) with ErrExportStopped. Default: never stopped.
	Context context.Context
}

// ErrExportStopped ends an export whose Context was cancelled.
var ErrExportStopped = errors.New("export stopped")

// exportColumn is one column of an export.
type exportColumn struct {
	name     string // record field
	heading  string
	field    *schemas.Field // nil for id, created, updated
	currency bool
}

// export is a prepared export: the query and the columns, checked before anything is written.
type export struct {
	s      *Service
	opts   ExportOptions
	obj    *schemas.Object
	coll   *core.Collection
	info   *core.RequestInfo
	q      *dbx.SelectQuery
	cols   []exportColumn
	titles map[string]map[string]string // target -> id -> title (or the id when hidden)
}

func (s *Service) prepareExport(opts ExportOptions) (*export, error) {
	obj, ok := s.reg.Object(opts.Object)
	if !ok {
		return nil, fmt.Errorf("no object %q", opts.Object)
	}
	coll, err := s.app.FindCollectionByNameOrId(obj.Name)
	if err != nil {
		return nil, err
	}
	switch opts.Format {
	case "":
		opts.Format = FormatCSV
	case FormatCSV, FormatXLSX:
	default:
		return nil, fmt.Errorf("unknown format %q (csv or xlsx)", opts.Format)
	}
	info := caller(opts.As, http.MethodGet)
	if !isSuperuser(info) && opts.As.Collection().Name != schemas.UsersCollection {
		return nil, errForbidden
	}
	x := &export{s: s, opts: opts, obj: obj, coll: coll, info: info, titles: map[string]map[string]string{}}
	names := opts.Fields
	if len(names) == 0 {
		for _, f := range obj.Fields {
			if f.Type != schemas.TypeFile {
				names = append(names, f.Name)
			}
		}
	}
	for _, n := range names {
		n = strings.TrimSpace(n)
		if cf := coll.Fields.GetByName(n); cf != nil && cf.GetHidden() && !isSuperuser(info) {
			return nil, fmt.Errorf("unknown field %q", n) // hidden fields do not exist for users
		}
		switch {
		case n == schemas.FieldID || n == schemas.FieldCreated || n == schemas.FieldUpdated || n == schemas.FieldLastTouched:
			x.cols = append(x.cols, exportColumn{name: n, heading: n})
		case obj.Field(n) != nil:
			f := obj.Field(n)
			if f.Type == schemas.TypeFile {
				return nil, fmt.Errorf("field %q holds files, which cannot be exported to a spreadsheet", n)
			}
			x.cols = append(x.cols, exportColumn{name: n, heading: f.DisplayLabel(), field: f})
			if f.Type == schemas.TypeCurrency {
				x.cols = append(x.cols, exportColumn{name: n + schemas.CurrencySuffix, heading: f.DisplayLabel() + " currency", field: f, currency: true})
			}
		default:
			return nil, fmt.Errorf("%s has no field %q", obj.Name, n)
		}
	}
	x.q, err = listQuery(s.app, coll, info, opts.Filter, opts.Sort)
	if err != nil {
		return nil, err
	}
	return x, nil
}

// Export writes the records of opts.Object that the caller may list, filtered and sorted,
// to w as CSV (UTF-8 with a BOM, as Excel expects) or XLSX, one row at a time. Cells that a
// spreadsheet would run as a formula are neutralised with a leading apostrophe. It returns
// the number of records written.
func (s *Service) Export(w io.Writer, opts ExportOptions) (int, error) {
	x, err := s.prepareExport(opts)
	if err != nil {
		return 0, err
	}
	return x.write(w)
}

func (x *export) headings() []string {
	h := make([]string, len(x.cols))
	for i, c := range x.cols {
		h[i] = c.heading
	}
	return h
}

// exportChunk is how many records are loaded at a time while ids stream from the query.
const exportChunk = 500

func (x *export) write(w io.Writer) (int, error) {
	rows, err := x.q.Select(x.coll.Name + ".id").Build().Rows()
	if err != nil {
		return 0, err
	}
	defer rows.Close()
	var sink rowSink
	if x.opts.Format == FormatXLSX {
		sink, err = newXLSXSink(x.obj.Label.Plural)
	} else {
		sink, err = newCSVSink(w)
	}
	if err != nil {
		return 0, err
	}
	if err := sink.row(stringsToAny(x.headings())); err != nil {
		return 0, err
	}
	n := 0
	ids := make([]string, 0, exportChunk)
	flush := func() error {
		if ctx := x.opts.Context; ctx != nil && ctx.Err() != nil {
			return ErrExportStopped
		}
		if len(ids) == 0 {
			return nil
		}
		recs, err := x.s.app.FindRecordsByIds(x.coll, ids)
		if err != nil {
			return err
		}
		byID := make(map[string]*core.Record, len(recs))
		for _, r := range recs {
			byID[r.Id] = r
		}
		for _, id := range ids {
			rec := byID[id]
			if rec == nil {
				continue // deleted meanwhile
			}
			cells := make([]any, len(x.cols))
			for i, c := range x.cols {
				if cells[i], err = x.cell(rec, c); err != nil {
					return err
				}
			}
			if err := sink.row(cells); err != nil {
				return err
			}
			n++
		}
		ids = ids[:0]
		return nil
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			return n, err
		}
		ids = append(ids, id)
		if len(ids) == exportChunk {
			if err := flush(); err != nil {
				return n, err
			}
		}
	}
	if err := rows.Err(); err != nil {
		return n, err
	}
	if err := flush(); err != nil {
		return n, err
	}
	return n, sink.close(w)
}

func stringsToAny(ss []string) []any {
	out := make([]any, len(ss))
	for i, s := range ss {
		out[i] = s
	}
	return out
}

// Neutralize puts an apostrophe before a cell that begins with a character spreadsheets
// read as the start of a formula (=, +, -, @, tab, carriage return), as OWASP advises.
func Neutralize(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r", rune(s[0])) {
		return "'" + s
	}
	return s
}

// cell is the exported value of one column: a float64 for numbers, else a neutralised string.
func (x *export) cell(rec *core.Record, c exportColumn) (any, error) {
	if c.field == nil {
		switch c.name {
		case schemas.FieldID:
			return rec.Id, nil
		default:
			d := rec.GetDateTime(c.name)
			if d.IsZero() {
				return "", nil
			}
			return d.Time().UTC().Format("2006-01-02 15:04:05"), nil
		}
	}
	f := c.field
	if c.currency {
		return rec.GetString(c.name), nil
	}
	switch f.Type {
	case schemas.TypeNumber, schemas.TypeCurrency:
		return rec.GetFloat(f.Name), nil
	case schemas.TypeBoolean:
		return strconv.FormatBool(rec.GetBool(f.Name)), nil
	case schemas.TypeDate, schemas.TypeDateTime:
		d := rec.GetDateTime(f.Name)
		if d.IsZero() {
			return "", nil
		}
		if f.Type == schemas.TypeDate {
			return d.Time().UTC().Format("2006-01-02"), nil
		}
		return d.Time().UTC().Format("2006-01-02 15:04:05"), nil
	case schemas.TypeSelect, schemas.TypeTags:
		return Neutralize(strings.Join(rec.GetStringSlice(f.Name), "; ")), nil
	case schemas.TypeRelation, schemas.TypeOwner:
		target := f.Target
		if f.Type == schemas.TypeOwner {
			target = schemas.UsersCollection
		}
		ids := rec.GetStringSlice(f.Name)
		names := make([]string, 0, len(ids))
		for _, id := range ids {
			t, err := x.title(target, id)
			if err != nil {
				return nil, err
			}
			names = append(names, t)
		}
		return Neutralize(strings.Join(names, "; ")), nil
	case schemas.TypeJSON:
		return Neutralize(string(mustJSON(rec.Get(f.Name)))), nil
	}
	return Neutralize(rec.GetString(f.Name)), nil
}

func mustJSON(v any) []byte {
	b, err := jsonMarshal(v)
	if err != nil {
		return nil
	}
	return b
}

// title names a related record as an import would find it again: a user by email where the
// caller may read it (PocketBase's rule: herself, a public email, a superuser), else by name;
// a record by its title field; the id when the caller may not view the record.
func (x *export) title(target, id string) (string, error) {
	m := x.titles[target]
	if m == nil {
		m = map[string]string{}
		x.titles[target] = m
	}
	if t, ok := m[id]; ok {
		return t, nil
	}
	t := id
	rec, err := x.s.app.FindRecordById(target, id)
	if err == nil {
		if target == schemas.UsersCollection {
			if isSuperuser(x.info) || schemas.Request(x.info).MayReadEmail(rec) {
				t = rec.Email()
			} else if name := rec.GetString("name"); name != "" {
				t = name // a colleague's hidden email stays hidden, as through the REST API
			}
		} else if o, ok := x.s.reg.Object(target); ok && o.TitleField != "" {
			visible := isSuperuser(x.info)
			if !visible {
				visible, err = schemas.Request(x.info).CanView(x.s.app, rec)
				if err != nil {
					return "", err
				}
			}
			if visible && rec.GetString(o.TitleField) != "" {
				t = rec.GetString(o.TitleField)
			}
		}
	}
	m[id] = t
	return t, nil
}

type rowSink interface {
	row(cells []any) error
	close(w io.Writer) error
}

type csvSink struct{ w *csv.Writer }

func newCSVSink(w io.Writer) (*csvSink, error) {
	if _, err := io.WriteString(w, "\uFEFF"); err != nil {
		return nil, err
	}
	return &csvSink{w: csv.NewWriter(w)}, nil
}

func (s *csvSink) row(cells []any) error {
	rec := make([]string, len(cells))
	for i, c := range cells {
		switch v := c.(type) {
		case float64:
			rec[i] = strconv.FormatFloat(v, 'f', -1, 64)
		default:
			rec[i] = fmt.Sprint(v)
		}
	}
	return s.w.Write(rec)
}

func (s *csvSink) close(io.Writer) error {
	s.w.Flush()
	return s.w.Error()
}

type xlsxSink struct {
	f  *excelize.File
	sw *excelize.StreamWriter
	n  int
}

func newXLSXSink(sheet string) (*xlsxSink, error) {
	f := excelize.NewFile()
	sheet = strings.Map(func(r rune) rune {
		if strings.ContainsRune(`[]:*?/\`, r) {
			return '_'
		}
		return r
	}, sheet)
	if sheet == "" || len([]rune(sheet)) > 31 {
		sheet = "Export"
	}
	if err := f.SetSheetName("Sheet1", sheet); err != nil {
		return nil, err
	}
	sw, err := f.NewStreamWriter(sheet)
	if err != nil {
		return nil, err
	}
	return &xlsxSink{f: f, sw: sw}, nil
}

func (s *xlsxSink) row(cells []any) error {
	s.n++
	cell, err := excelize.CoordinatesToCellName(1, s.n)
	if err != nil {
		return err
	}
	return s.sw.SetRow(cell, slices.Clone(cells))
}

func (s *xlsxSink) close(w io.Writer) error {
	if err := s.sw.Flush(); err != nil {
		return err
	}
	defer s.f.Close()
	_, err := s.f.WriteTo(w)
	return err
}
