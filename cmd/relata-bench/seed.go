package main

import (
	"database/sql"
	"fmt"
	"strings"
	"time"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// The data both sides hold. Ids are fixed, so the same request names the same record on both.
const (
	password     = "bench-password-1"
	nUsers       = 20 // sales users, in teams of usersPerTeam
	usersPerTeam = 5
	// baseContacts and baseCompanies are seeded before the REST workloads; contact i belongs
	// to company i/10 and to sales user ownerOf(i).
	baseContacts  = 2_000
	baseCompanies = 200
	// restCompanies are the companies REST-created contacts link to; the data-size queries
	// filter on other companies, so their pages hold seeded contacts only.
	restCompanies = 10
	managerID     = "m00000000000000"
	managerEmail  = "manager@bench.local"
	superEmail    = "root@bench.local"
)

var teams = []string{"north", "south", "east", "west"}

func userID(i int) string { return fmt.Sprintf("u%014d", i) }

// ownerOf is the sales user owning contact i. Every fourth contact belongs to team north
// (users 0-4: the REST workloads act as user 0, who reaches a quarter of the contacts and owns
// a twentieth), the next to team south (users 5-9: the data-size queries act as user 5, who
// sees the same shares but none of the contacts the REST, form and end-to-end workloads
// create), the others to teams east and west. Every company's ten contacts include two or
// three of each of north and south, so no filter the workloads use comes back empty —
// PocketBase throttles empty filtered lists on purpose (randomizedThrottle in
// apis/record_crud_list.go), which would measure that delay instead of the query.
func ownerOf(i int) int {
	switch i % 4 {
	case 0:
		return (i / 4) % usersPerTeam
	case 1:
		return usersPerTeam + (i/4)%usersPerTeam
	}
	return 2*usersPerTeam + int(uint32(i)*2654435761>>8)%(nUsers-2*usersPerTeam)
}

func userEmail(i int) string { return fmt.Sprintf("user%02d@bench.local", i) }
func companyID(i int) string { return fmt.Sprintf("c%014d", i) }
func contactID(i int) string { return fmt.Sprintf("p%014d", i) }

// benchUser is the sales user the REST, workflow and end-to-end workloads act as (team
// north); dataUser is the one the data-size queries act as (team south). See ownerOf.
const (
	benchUser = 0
	dataUser  = usersPerTeam
)

var (
	jobTitles  = []string{"Engineer", "Director of Sales", "Buyer", "CEO", "Analyst", "Office manager", "Consultant"}
	lifecycles = []string{"subscriber", "lead", "mql", "sql", "opportunity", "customer", "evangelist", "other"}
	sources    = []string{"website", "referral", "event", "cold_outreach", "partner", "advertising", "other"}
	seedEpoch  = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
)

func dbTime(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05.000Z") }

// createUsers adds a superuser, the manager and the sales users, with fixed ids.
func createUsers(app core.App) error {
	su, err := app.FindCollectionByNameOrId(core.CollectionNameSuperusers)
	if err != nil {
		return err
	}
	root := core.NewRecord(su)
	root.SetEmail(superEmail)
	root.SetPassword(password)
	if err := app.Save(root); err != nil {
		return fmt.Errorf("create superuser: %w", err)
	}
	users, err := app.FindCollectionByNameOrId("users")
	if err != nil {
		return err
	}
	add := func(id, email, role, team string) error {
		u := core.NewRecord(users)
		u.Id = id
		u.SetEmail(email)
		u.SetPassword(password)
		u.SetVerified(true)
		u.Set("name", strings.TrimSuffix(email, "@bench.local"))
		u.Set("role", role)
		u.Set("team", team)
		if err := app.Save(u); err != nil {
			return fmt.Errorf("create user %s: %w", email, err)
		}
		return nil
	}
	if err := add(managerID, managerEmail, "manager", ""); err != nil {
		return err
	}
	for i := range nUsers {
		if err := add(userID(i), userEmail(i), "sales", teams[i/usersPerTeam%len(teams)]); err != nil {
			return err
		}
	}
	return nil
}

// seedCompanies and seedContacts insert the records with index in [from, to) with SQL, in one
// transaction each, on a data dir no server is using.
func seedCompanies(app core.App, from, to int) error {
	cols := []string{"id", "name", "domain", "industry", "country", "owner", "created", "updated"}
	industries := []string{"software", "manufacturing", "retail", "finance", "healthcare", "education", "services", "other"}
	return insertRows(app, "companies", cols, from, to, func(i int, v []any) {
		ts := dbTime(seedEpoch.Add(time.Duration(i) * time.Second))
		v[0], v[1], v[2] = companyID(i), fmt.Sprintf("Company %d", i), fmt.Sprintf("company%d.bench", i)
		v[3], v[4], v[5] = industries[i%len(industries)], "Country "+string(rune('A'+i%26)), userID(ownerOf(i))
		v[6], v[7] = ts, ts
	})
}

func seedContacts(app core.App, from, to int) error {
	cols := []string{"id", "full_name", "email", "phone", "job_title", "company", "lifecycle_stage", "source", "owner", "created", "updated"}
	return insertRows(app, "contacts", cols, from, to, func(i int, v []any) {
		ts := dbTime(seedEpoch.Add(time.Duration(i) * time.Second))
		v[0], v[1], v[2] = contactID(i), fmt.Sprintf("Seed Contact %d", i), fmt.Sprintf("p%d@seed.bench", i)
		v[3], v[4], v[5] = fmt.Sprintf("+1 555 %07d", i%10_000_000), jobTitles[i%len(jobTitles)], companyID(i/10)
		v[6], v[7], v[8] = lifecycles[(i+i/20)%len(lifecycles)], sources[i%len(sources)], userID(ownerOf(i))
		v[9], v[10] = ts, ts
	})
}

// insertRows writes rows [from, to) of table in one transaction, many rows per statement.
// Columns the table lacks are left out; the others take their column defaults.
func insertRows(app core.App, table string, cols []string, from, to int, row func(i int, v []any)) error {
	if to <= from {
		return nil
	}
	db, ok := app.NonconcurrentDB().(*dbx.DB)
	if !ok {
		return fmt.Errorf("unexpected database handle %T", app.NonconcurrentDB())
	}
	var have []string
	if err := db.NewQuery(fmt.Sprintf("SELECT name FROM pragma_table_info('%s')", table)).Column(&have); err != nil {
		return err
	}
	keep := make([]int, 0, len(cols))
	for i, c := range cols {
		for _, h := range have {
			if h == c {
				keep = append(keep, i)
				break
			}
		}
	}
	if len(keep) == 0 || cols[keep[0]] != "id" {
		return fmt.Errorf("table %s has no id column", table)
	}
	names := make([]string, len(keep))
	for j, k := range keep {
		names[j] = "`" + cols[k] + "`"
	}
	const perStmt = 200
	one := "(" + strings.TrimSuffix(strings.Repeat("?,", len(keep)), ",") + ")"
	stmtFor := func(n int) string {
		return fmt.Sprintf("INSERT INTO `%s` (%s) VALUES %s", table, strings.Join(names, ","),
			strings.TrimSuffix(strings.Repeat(one+",", n), ","))
	}
	tx, err := db.DB().Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	full, err := tx.Prepare(stmtFor(perStmt))
	if err != nil {
		return err
	}
	defer full.Close()
	vals := make([]any, len(cols))
	args := make([]any, 0, perStmt*len(keep))
	flush := func(stmt *sql.Stmt) error {
		if len(args) == 0 {
			return nil
		}
		var err error
		if stmt != nil {
			_, err = stmt.Exec(args...)
		} else {
			_, err = tx.Exec(stmtFor(len(args)/len(keep)), args...)
		}
		args = args[:0]
		return err
	}
	for i := from; i < to; i++ {
		row(i, vals)
		for _, k := range keep {
			args = append(args, vals[k])
		}
		if len(args) == perStmt*len(keep) {
			if err := flush(full); err != nil {
				return fmt.Errorf("insert into %s: %w", table, err)
			}
		}
	}
	if err := flush(nil); err != nil {
		return fmt.Errorf("insert into %s: %w", table, err)
	}
	return tx.Commit()
}

// seedTo grows the seeded data of a stopped side's data dir to contacts contacts (and a tenth
// as many companies).
func seedTo(dir string, fromContacts, contacts int) error {
	app, err := openApp(dir)
	if err != nil {
		return err
	}
	defer closeApp(app)
	if err := seedCompanies(app, max(fromContacts/10, 0), contacts/10); err != nil {
		return err
	}
	return seedContacts(app, fromContacts, contacts)
}
