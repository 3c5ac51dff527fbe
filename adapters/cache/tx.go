package cache

import (
	"context"
	"fmt"
	"iter"

	"github.com/strata-go/strata/repo/driver"
)

// BeginTx starts a transaction of the store (when it has
// CapTransactions). A transaction reads and writes the store directly —
// its reads must see its own writes and its isolation level's snapshot,
// which no shared cache holds — and the keys it wrote are invalidated
// when it commits.
func (a *Adapter) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if err := a.check("begin"); err != nil {
		return nil, err
	}
	t, ok := a.inner.(driver.Transactor)
	if !ok {
		return nil, fmt.Errorf("cache: begin: %w: the store has no transactions", driver.ErrUnsupported)
	}
	inner, err := t.BeginTx(ctx, opts)
	if err != nil {
		return nil, err
	}
	tx := &Tx{a: a, inner: inner, ctx: ctx, keys: map[string][]any{}, flushes: map[string]bool{}}
	if _, ok := inner.(driver.Migrator); ok {
		return &migratingTx{tx}, nil
	}
	return tx, nil
}

// Tx is a transaction through the cache: the store's transaction, noting
// what it writes.
type Tx struct {
	a     *Adapter
	inner driver.Tx
	ctx   context.Context
	// What to invalidate at commit: keys by collection, and collections
	// to flush (DeleteAll, migrations).
	keys     map[string][]any
	flushes  map[string]bool
	flushAll bool
}

var (
	_ driver.Tx            = (*Tx)(nil)
	_ driver.Savepointer   = (*Tx)(nil)
	_ driver.Aggregator    = (*Tx)(nil)
	_ driver.BatchInserter = (*Tx)(nil)
	_ driver.Migrator      = (*migratingTx)(nil)
)

func (t *Tx) note(c *driver.Collection, keys ...any) {
	if c != nil {
		t.keys[c.Name] = append(t.keys[c.Name], keys...)
	}
}

// Insert inserts in the transaction.
func (t *Tx) Insert(ctx context.Context, c *driver.Collection, rec driver.Record, opts driver.InsertOptions) (driver.Record, error) {
	out, err := t.inner.Insert(ctx, c, rec, opts)
	if c != nil && c.Key < len(rec.Values) {
		t.note(c, rec.Values[c.Key])
		if err == nil && c.Key < len(out.Values) && out.Values[c.Key] != nil {
			t.note(c, out.Values[c.Key])
		}
	}
	return out, err
}

// Get reads in the transaction, from the store.
func (t *Tx) Get(ctx context.Context, c *driver.Collection, key any) (driver.Record, error) {
	return t.inner.Get(ctx, c, key)
}

// Update updates in the transaction.
func (t *Tx) Update(ctx context.Context, c *driver.Collection, u driver.Update) (driver.Record, error) {
	t.note(c, u.Key)
	return t.inner.Update(ctx, c, u)
}

// Delete deletes in the transaction.
func (t *Tx) Delete(ctx context.Context, c *driver.Collection, d driver.Delete) error {
	t.note(c, d.Key)
	return t.inner.Delete(ctx, c, d)
}

// Query queries in the transaction, from the store.
func (t *Tx) Query(ctx context.Context, c *driver.Collection, q *driver.Query) iter.Seq2[driver.Record, error] {
	return t.inner.Query(ctx, c, q)
}

// Count counts in the transaction, from the store.
func (t *Tx) Count(ctx context.Context, c *driver.Collection, q *driver.Query) (int64, error) {
	return t.inner.Count(ctx, c, q)
}

// DeleteAll deletes in the transaction; the collection is flushed at
// commit.
func (t *Tx) DeleteAll(ctx context.Context, c *driver.Collection, q *driver.Query) (int64, error) {
	if c != nil {
		t.flushes[c.Name] = true
	}
	return t.inner.DeleteAll(ctx, c, q)
}

// Aggregate aggregates in the transaction.
func (t *Tx) Aggregate(ctx context.Context, c *driver.Collection, q *driver.Query, fn driver.AggFunc, field int) (any, error) {
	ag, ok := t.inner.(driver.Aggregator)
	if !ok {
		return nil, fmt.Errorf("cache: aggregate: %w: the store's transactions have no aggregates", driver.ErrUnsupported)
	}
	return ag.Aggregate(ctx, c, q, fn, field)
}

// InsertAll inserts in the transaction.
func (t *Tx) InsertAll(ctx context.Context, c *driver.Collection, recs []driver.Record) ([]driver.Record, error) {
	bi, ok := t.inner.(driver.BatchInserter)
	if !ok {
		return nil, fmt.Errorf("cache: insert all: %w: the store's transactions have no batch insert", driver.ErrUnsupported)
	}
	if c != nil {
		t.note(c, recordKeys(c, recs)...)
	}
	return bi.InsertAll(ctx, c, recs)
}

// Savepoint sets a savepoint, when the store's transactions have them.
func (t *Tx) Savepoint(ctx context.Context, name string) error {
	sp, ok := t.inner.(driver.Savepointer)
	if !ok {
		return fmt.Errorf("cache: savepoint: %w: the store's transactions have no savepoints", driver.ErrUnsupported)
	}
	return sp.Savepoint(ctx, name)
}

// RollbackTo rolls back to a savepoint. (What the transaction wrote
// before stays noted: invalidating a key too many is harmless.)
func (t *Tx) RollbackTo(ctx context.Context, name string) error {
	sp, ok := t.inner.(driver.Savepointer)
	if !ok {
		return fmt.Errorf("cache: rollback to savepoint: %w: the store's transactions have no savepoints", driver.ErrUnsupported)
	}
	return sp.RollbackTo(ctx, name)
}

// Release releases a savepoint.
func (t *Tx) Release(ctx context.Context, name string) error {
	sp, ok := t.inner.(driver.Savepointer)
	if !ok {
		return fmt.Errorf("cache: release savepoint: %w: the store's transactions have no savepoints", driver.ErrUnsupported)
	}
	return sp.Release(ctx, name)
}

// Commit commits the transaction, then invalidates what it wrote —
// after, so that no node can load the old records again once they are
// invalidated; and whatever Commit returned, since a commit that failed
// on the way back may have happened.
func (t *Tx) Commit() error {
	err := t.inner.Commit()
	if t.flushAll {
		t.a.flushAll(t.ctx)
	}
	for coll, keys := range t.keys {
		if !t.flushes[coll] {
			t.a.invalidate(t.ctx, coll, keys)
		}
	}
	flushes := make([]string, 0, len(t.flushes))
	for coll := range t.flushes {
		flushes = append(flushes, coll)
	}
	if len(flushes) > 0 {
		t.a.flush(t.ctx, flushes)
	}
	return err
}

// Rollback rolls the transaction back; nothing was written.
func (t *Tx) Rollback() error { return t.inner.Rollback() }

// migratingTx is a Tx of a store whose transactions can migrate
// (transactional DDL), as package migrate looks for.
type migratingTx struct{ *Tx }

// Migrate applies a schema operation in the transaction; the collections
// it touches are flushed at commit.
func (t *migratingTx) Migrate(ctx context.Context, op driver.MigrationOp) error {
	err := t.inner.(driver.Migrator).Migrate(ctx, op)
	names, all := affected(op)
	t.flushAll = t.flushAll || all
	for _, n := range names {
		t.flushes[n] = true
	}
	return err
}
