package sqlstore

import (
	"context"
	"fmt"

	"github.com/uptrace/bun"

	"github.com/strata-go/strata/repo/driver"
)

// Tx is a database transaction. Nested transactions are savepoints.
type Tx struct {
	store
	tx      bun.Tx
	ctx     context.Context // BeginTx's, which bounds the transaction
	release func()          // of the adapter's writer gate
}

var (
	_ driver.Tx            = (*Tx)(nil)
	_ driver.Savepointer   = (*Tx)(nil)
	_ driver.Aggregator    = (*Tx)(nil)
	_ driver.BatchInserter = (*Tx)(nil)
)

// Commit commits the transaction. A serialization failure or deadlock is
// ErrSerialization.
func (t *Tx) Commit() error {
	defer t.release()
	if err := t.ctx.Err(); err != nil {
		// database/sql rolls back a transaction whose context ends, in the
		// background: say why, whichever of the two gets here first.
		t.tx.Rollback()
		return fmt.Errorf("sqlstore: commit: transaction rolled back: %w", err)
	}
	if err := t.tx.Commit(); err != nil {
		return fmt.Errorf("sqlstore: commit: %w", t.d.txError(err))
	}
	return nil
}

// Rollback rolls the transaction back; after Commit or Rollback it does
// nothing.
func (t *Tx) Rollback() error {
	defer t.release()
	if err := t.tx.Rollback(); err != nil && !isTxDone(err) {
		return fmt.Errorf("sqlstore: rollback: %w", err)
	}
	return nil
}

// Savepoint starts a nested transaction.
func (t *Tx) Savepoint(ctx context.Context, name string) error {
	return t.exec(ctx, "savepoint", "SAVEPOINT ", name)
}

// RollbackTo undoes the writes since the savepoint.
func (t *Tx) RollbackTo(ctx context.Context, name string) error {
	return t.exec(ctx, "rollback to savepoint", "ROLLBACK TO SAVEPOINT ", name)
}

// Release forgets the savepoint, keeping its writes.
func (t *Tx) Release(ctx context.Context, name string) error {
	return t.exec(ctx, "release savepoint", "RELEASE SAVEPOINT ", name)
}

func (t *Tx) exec(ctx context.Context, op, sql, name string) error {
	var st stmt
	st.sql(sql).ident(name)
	if _, err := t.tx.ExecContext(ctx, st.String(), st.args...); err != nil {
		return fmt.Errorf("sqlstore: %s %s: %w", op, name, t.d.txError(err))
	}
	return nil
}

// ddlTx is a Tx whose database runs schema changes transactionally
// (PostgreSQL, SQLite): package migrate applies a migration and its
// history record in one.
type ddlTx struct{ *Tx }

var _ driver.Migrator = ddlTx{}

// Migrate applies a schema change inside the transaction.
func (t ddlTx) Migrate(ctx context.Context, op driver.MigrationOp) error {
	return migrate(ctx, t.tx, t.d, op)
}
