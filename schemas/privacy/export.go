package privacy

import (
	"archive/zip"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"html/template"
	"io"
	"slices"
	"sort"
	"time"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/audit"
)

// rows are the exported rows of one collection: each record's public fields (hidden ones,
// like passwords, are never exported).
func rows(recs []*core.Record) []map[string]any {
	out := make([]map[string]any, 0, len(recs))
	for _, r := range recs {
		m := map[string]any{}
		for _, f := range r.Collection().Fields {
			if f.GetHidden() || f.Type() == core.FieldTypePassword {
				continue
			}
			m[f.GetName()] = r.Get(f.GetName())
		}
		out = append(out, m)
	}
	return out
}

// byCollection groups every record of the dossier by collection, in a stable order.
func (d *Dossier) byCollection() (names []string, data map[string][]map[string]any) {
	data = map[string][]map[string]any{}
	group := map[string][]*core.Record{}
	for _, r := range append(slices.Clone(d.Persons), d.Linked...) {
		group[r.Collection().Name] = append(group[r.Collection().Name], r)
	}
	for c, recs := range d.System {
		group[c] = append(group[c], recs...)
	}
	for c, recs := range group {
		if len(recs) > 0 {
			data[c] = rows(recs)
			names = append(names, c)
		}
	}
	if len(d.Audit) > 0 {
		var entries []map[string]any
		for _, e := range d.Audit {
			var changes any
			_ = json.Unmarshal([]byte(e.ChangesJSON), &changes)
			entries = append(entries, map[string]any{"seq": e.Seq, "at": e.At, "actor_kind": e.ActorKind, "actor_id": e.ActorID,
				"via": e.Via, "object": e.Object, "record": e.Record, "action": e.Action, "changes": changes})
		}
		data[audit.Collection] = entries
		names = append(names, audit.Collection)
	}
	sort.Strings(names)
	return names, data
}

// WriteZip writes the dossier as a ZIP: json/COLLECTION.json and csv/COLLECTION.csv for every
// collection with data about the person, and summary.html, a page a person can read.
func (d *Dossier) WriteZip(w io.Writer) error {
	names, data := d.byCollection()
	z := zip.NewWriter(w)
	for _, name := range names {
		f, err := z.Create("json/" + name + ".json")
		if err != nil {
			return err
		}
		enc := json.NewEncoder(f)
		enc.SetIndent("", "  ")
		if err := enc.Encode(data[name]); err != nil {
			return err
		}
		f, err = z.Create("csv/" + name + ".csv")
		if err != nil {
			return err
		}
		if err := writeCSV(f, data[name]); err != nil {
			return err
		}
	}
	f, err := z.Create("summary.html")
	if err != nil {
		return err
	}
	if err := d.writeSummary(f, names, data); err != nil {
		return err
	}
	return z.Close()
}

// columns are the sorted keys of rows.
func columns(rows []map[string]any) []string {
	set := map[string]bool{}
	for _, r := range rows {
		for k := range r {
			set[k] = true
		}
	}
	cols := make([]string, 0, len(set))
	for k := range set {
		cols = append(cols, k)
	}
	sort.Strings(cols)
	if i := slices.Index(cols, "id"); i > 0 {
		cols = append([]string{"id"}, slices.Delete(cols, i, i+1)...)
	}
	return cols
}

// cell renders a value for CSV and HTML: strings as they are, the rest as JSON.
func cell(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case string:
		return x
	case fmt.Stringer:
		return x.String()
	}
	b, _ := json.Marshal(v)
	return string(b)
}

// neutralise keeps a spreadsheet from evaluating a cell as a formula (OWASP CSV injection).
func neutralise(s string) string {
	if s != "" && (s[0] == '=' || s[0] == '+' || s[0] == '-' || s[0] == '@' || s[0] == '\t' || s[0] == '\r') {
		return "'" + s
	}
	return s
}

func writeCSV(w io.Writer, rows []map[string]any) error {
	cw := csv.NewWriter(w)
	cols := columns(rows)
	if err := cw.Write(cols); err != nil {
		return err
	}
	for _, r := range rows {
		rec := make([]string, len(cols))
		for i, c := range cols {
			rec[i] = neutralise(cell(r[c]))
		}
		if err := cw.Write(rec); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

var summaryPage = template.Must(template.New("summary").Funcs(template.FuncMap{"cell": cell, "columns": columns}).Parse(`<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Your data held by us</title>
<style>body{font-family:system-ui,sans-serif;margin:2rem;color:#222}table{border-collapse:collapse;margin-bottom:2rem}
td,th{border:1px solid #ccc;padding:.25rem .5rem;text-align:left;vertical-align:top;font-size:.9rem}</style></head>
<body><h1>Your data held by us</h1>
<p>Prepared on {{.Date}} in answer to a request under articles 15 and 20 of the GDPR. The same data is in
the folders <code>json/</code> (machine-readable) and <code>csv/</code> (spreadsheets) of this archive.</p>
<ul>{{range .Names}}<li><a href="#{{.}}">{{.}}</a>: {{len (index $.Data .)}}</li>{{end}}</ul>
{{range .Names}}<h2 id="{{.}}">{{.}}</h2>{{$rows := index $.Data .}}{{$cols := columns $rows}}
<table><tr>{{range $cols}}<th>{{.}}</th>{{end}}</tr>
{{range $rows}}{{$r := .}}<tr>{{range $cols}}<td>{{cell (index $r .)}}</td>{{end}}</tr>{{end}}</table>{{end}}
</body></html>
`))

func (d *Dossier) writeSummary(w io.Writer, names []string, data map[string][]map[string]any) error {
	return summaryPage.Execute(w, map[string]any{"Date": time.Now().UTC().Format(time.DateOnly), "Names": names, "Data": data})
}
