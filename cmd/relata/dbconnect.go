package main

import (
	"os"

	"github.com/pocketbase/pocketbase"
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

// appConfig is the configuration main opens the app with. Connections to data.db stay open
// while idle (up to PocketBase's limit of open ones, closed after 3 idle minutes as before):
// with PocketBase's default of 15 idle connections, every burst of more concurrent requests
// closed the extra connections as they went idle and opened new ones at once — each open
// parses the whole schema again (Relata's is large) and loses the connection's prepared
// statements. At 64 clients creating contacts this churn was 6 % of the server's CPU.
func appConfig() pocketbase.Config {
	return pocketbase.Config{DefaultDev: false, DBConnect: dbConnect(), DataMaxIdleConns: core.DefaultDataMaxOpenConns}
}
