// Package transfer moves CRM records in and out of spreadsheets: it reads CSV and XLSX
// files as streams of rows, turns cells into field values by the object model, imports them
// as an undoable batch under the acting user's access rules, and exports lists as CSV or XLSX.
//
//	transfer.MustRegister(app, app.RootCmd, transfer.Config{Registry: reg})
//
// It adds the commands `relata import`, `relata import undo` and `relata export`, and the
// routes GET /api/relata/export/{object} and POST /api/relata/import/{object}.
package transfer
