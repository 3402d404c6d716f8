// Package migrations holds Relata's PocketBase Go migrations: its system collections and the
// schema changes applied with "relata schema apply". Migrations are frozen data (collection
// JSON, field settings); they never call Relata's evolving code, so an old migration keeps its
// meaning. Import it for its side effects:
//
//	import _ "github.com/relata/relata/migrations"
package migrations
