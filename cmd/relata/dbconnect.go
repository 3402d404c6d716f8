package main

import (
	"fmt"
	"os"
	"strconv"

	"github.com/pocketbase/pocketbase"
	"github.com/pocketbase/pocketbase/core"
	"github.com/pocketbase/pocketbase/tools/hook"

	"github.com/relata/relata/schemas"
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

// registerGroupCommit turns on group commit for data.db's writer once the app is bootstrapped,
// for every command (schemas.EnableGroupCommit; a command that writes from one goroutine commits
// each transaction alone, without a savepoint): up to RELATA_GROUP_COMMIT write transactions (default
// schemas.DefaultGroupCommit; 0 or 1 turns it off) share one commit.
func registerGroupCommit(app core.App) error {
	limit := schemas.DefaultGroupCommit
	if v := os.Getenv("RELATA_GROUP_COMMIT"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 {
			return fmt.Errorf("RELATA_GROUP_COMMIT=%q: want a number of transactions, 0 to turn group commit off", v)
		}
		limit = n
	}
	app.OnBootstrap().Bind(&hook.Handler[*core.BootstrapEvent]{
		Id: "relata.main.groupcommit",
		Func: func(e *core.BootstrapEvent) error {
			if err := e.Next(); err != nil {
				return err
			}
			schemas.EnableGroupCommit(e.App, limit)
			return nil
		},
	})
	return nil
}
