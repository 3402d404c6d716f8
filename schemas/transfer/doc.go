// Package transfer moves CRM records in and out of spreadsheets: it reads CSV and XLSX
// files as streams of rows, turns cells into field values by the object model, imports them
// as an undoable batch under the acting user's access rules, and exports lists as CSV or XLSX.
//
//	transfer.MustRegister(app, app.RootCmd, transfer.Config{Registry: reg})
//
// It adds the commands `relata import`, `relata import undo` and `relata export`, and the
// routes GET /api/relata/export/{object} and POST /api/relata/import/{object}.
//
// Bulk actions (bulk.go) and reassigning a departing rep's records (reassign.go) run as jobs
// recorded in relata_bulk_jobs, each record changed under the acting user's update or delete
// rule: the command `relata reassign` and the routes POST /api/relata/bulk/{object},
// GET /api/relata/bulk/{id}, POST /api/relata/bulk/{id}/cancel and POST /api/relata/reassign
// (docs/bulk.md).
package transfer
