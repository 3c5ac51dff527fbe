package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"sync"

	"github.com/uptrace/bun"
	"github.com/uptrace/bun/dialect/mysqldialect"
	"github.com/uptrace/bun/dialect/pgdialect"
	"github.com/uptrace/bun/dialect/sqlitedialect"

	"github.com/strata-go/strata/repo/driver"
)

// Adapter is a Strata adapter over one SQL database. It is safe for
// concurrent use.
type Adapter struct {
	store
	db   *bun.DB
	path string // the SQLite database file ("" for others and :memory:)

	memLocksMu sync.Mutex
	memLocks   map[string]chan struct{} // locks of an in-memory database
}

var (
	_ driver.Adapter       = (*Adapter)(nil)
	_ driver.Transactor    = (*Adapter)(nil)
	_ driver.Aggregator    = (*Adapter)(nil)
	_ driver.BatchInserter = (*Adapter)(nil)
	_ driver.Migrator      = (*Adapter)(nil)
	_ driver.Planner       = (*Adapter)(nil)
	_ driver.Locker        = (*Adapter)(nil)
)

// New returns an adapter over db, whose dialect must be SQLite, PostgreSQL
// or MySQL/MariaDB. The adapter owns db from then on: Close closes it.
func New(db *bun.DB) (*Adapter, error) {
	var d Dialect
	switch db.Dialect().(type) {
	case *sqlitedialect.Dialect:
		d = SQLite
	case *pgdialect.Dialect:
		d = Postgres
	case *mysqldialect.Dialect:
		d = MySQL
	default:
		return nil, fmt.Errorf("%w: sqlstore: unsupported bun dialect %s", driver.ErrInvalid, db.Dialect().Name())
	}
	a := &Adapter{db: db}
	a.store = store{db: db, d: d}
	return a, nil
}

// Dialect returns the database's dialect.
func (a *Adapter) Dialect() Dialect { return a.d }

// DB returns the bun handle, for what Strata does not cover.
func (a *Adapter) DB() *bun.DB { return a.db }

// Capabilities: everything but conditional-write exceptions; see the
// package doc.
func (a *Adapter) Capabilities() driver.Capabilities { return driver.AllCapabilities }

// Close closes the database.
func (a *Adapter) Close() error {
	if a.stmts != nil {
		a.stmts.close()
	}
	return a.db.Close()
}

// BeginTx starts a transaction at the requested isolation level. SQLite
// runs every transaction serializably (a stronger level than any asked
// for); PostgreSQL and MySQL give the level asked.
func (a *Adapter) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	o := &sql.TxOptions{ReadOnly: opts.ReadOnly}
	if a.d != SQLite {
		switch opts.Isolation {
		case driver.ReadCommitted:
			o.Isolation = sql.LevelReadCommitted
		case driver.RepeatableRead:
			o.Isolation = sql.LevelRepeatableRead
		case driver.Serializable:
			o.Isolation = sql.LevelSerializable
		}
	}
	if a.d == SQLite && opts.ReadOnly {
		o.ReadOnly = false // SQLite's driver refuses read-only transactions; Tx enforces it
	}
	// Every SQLite transaction begins IMMEDIATE, taking the writer lock.
	release, err := a.gate.enterFor(ctx)
	if err != nil {
		return nil, err
	}
	tx, err := a.db.BeginTx(ctx, o)
	if err != nil {
		release()
		return nil, fmt.Errorf("sqlstore: begin: %w", a.d.classify(nil, err))
	}
	t := &Tx{store: a.store.within(tx, opts.ReadOnly), tx: tx, ctx: ctx, release: release}
	if a.d == MySQL { // MySQL commits implicitly before a schema change
		return t, nil
	}
	return ddlTx{t}, nil
}
