package main

import (
	"os"

	"github.com/pocketbase/pocketbase/core"

	"github.com/relata/relata/schemas/stmtcache"
)

// dbConnect is how the server opens its SQLite databases: PocketBase's own connection, with
// prepared statements kept per connection (package schemas/stmtcache) unless
// RELATA_SQL_CACHE=off.
func dbConnect() core.DBConnectFunc {
	if os.Getenv("RELATA_SQL_CACHE") == "off" {
		return core.DefaultDBConnect
	}
	return stmtcache.Connect
}
