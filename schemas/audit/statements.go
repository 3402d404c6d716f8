package audit

import (
	"database/sql"
	"errors"
	"sync"

	"github.com/pocketbase/dbx"
	"github.com/pocketbase/pocketbase/core"
)

// Preparing (parsing) a statement costs SQLite more than running the journal's insert, so it
// is prepared once per database pool and reused by every transaction on its connection.

// prepared holds the journal's insert prepared on a database pool (*sql.DB), and preparing
// the pools whose statement is being prepared.
var prepared, preparing sync.Map

// statements runs the journal's insert in a transaction: prepared when its pool has it, else
// as a plain query (the first transaction on a pool), preparing it for later transactions
// once this one has ended — the pool of PocketBase's writes has one connection, which the
// transaction holds.
type statements struct {
	ex       dbx.Executor
	sqlTx    *sql.Tx
	pool     *sql.DB
	prepared *sql.Stmt
	open     []*sql.Stmt
}

func statementsOf(tx core.App) (*statements, error) {
	t, ok := tx.DB().(*dbx.Tx)
	if !ok {
		return nil, errors.New("audit: journal outside a transaction")
	}
	b, ok := t.Builder.(interface {
		DB() *dbx.DB
		Executor() dbx.Executor
	})
	if !ok {
		return nil, errors.New("audit: journal in a transaction without an executor")
	}
	s := &statements{ex: b.Executor(), pool: b.DB().DB()}
	stx, ok := s.ex.(*sql.Tx)
	if !ok {
		return s, nil
	}
	if p, ok := prepared.Load(s.pool); ok {
		s.sqlTx, s.prepared = stx, p.(*sql.Stmt)
		return s, nil
	}
	if info := tx.TxInfo(); info != nil {
		pool := s.pool
		if _, busy := preparing.LoadOrStore(pool, true); !busy {
			info.OnComplete(func(error) error {
				go prepare(pool)
				return nil
			})
		}
	}
	return s, nil
}

// prepare prepares the journal's insert on pool, once; on failure (a closed pool) the
// journal keeps using plain queries.
func prepare(pool *sql.DB) {
	stmt, err := pool.Prepare(sqlJournal)
	if err != nil {
		return
	}
	prepared.Store(pool, stmt)
}

func (s *statements) exec(query string, args ...any) error {
	var err error
	if s.prepared != nil && query == sqlJournal {
		st := s.sqlTx.Stmt(s.prepared)
		s.open = append(s.open, st)
		_, err = st.Exec(args...)
	} else {
		_, err = s.ex.Exec(query, args...)
	}
	return err
}

// close closes the transaction's copies (the prepared statement stays with its pool).
func (s *statements) close() {
	for _, st := range s.open {
		_ = st.Close()
	}
}
