package memory

import (
	"context"
	"fmt"
	"sync"

	"github.com/strata-go/strata/repo/driver"
)

// Tx is a transaction of an Adapter, with the isolation described in the
// package documentation. It implements driver.Tx, driver.Savepointer,
// driver.Aggregator and driver.BatchInserter. Like any driver.Tx it is
// meant to be used by one goroutine at a time, but concurrent use is safe.
type Tx struct {
	store

	a *Adapter
	// ctx is BeginTx's context, which bounds the transaction.
	ctx      context.Context
	readOnly bool

	// mu guards everything below. It is taken before a.mu.
	mu         sync.Mutex
	done       bool
	streams    int // query loops running
	tables     map[string]*txTable
	savepoints []savepoint
}

var (
	_ driver.Tx            = (*Tx)(nil)
	_ driver.Savepointer   = (*Tx)(nil)
	_ driver.Aggregator    = (*Tx)(nil)
	_ driver.BatchInserter = (*Tx)(nil)
)

// txTable is what a transaction keeps for one collection.
type txTable struct {
	// c is the collection of the latest operation; Commit checks its
	// unique indexes.
	c *driver.Collection
	// rows are the buffered writes; a nil row is a deletion.
	rows *rowSet
	// seen is the revision of each committed row when the transaction
	// first saw it (see overlay.seen).
	seen map[rowKey]uint64
}

// BeginTx starts a transaction. opts.Isolation must be
// driver.DefaultIsolation or driver.ReadCommitted, which both give read
// committed isolation with first-committer-wins write-conflict detection;
// the stronger levels are driver.ErrUnsupported. A transaction with
// opts.ReadOnly set fails every write with driver.ErrInvalid. ctx bounds
// the transaction: once it is done, the transaction is rolled back.
func (a *Adapter) BeginTx(ctx context.Context, opts driver.TxOptions) (driver.Tx, error) {
	if err := live(ctx); err != nil {
		return nil, fmt.Errorf("memory: begin: %w", err)
	}
	switch opts.Isolation {
	case driver.DefaultIsolation, driver.ReadCommitted:
	case driver.RepeatableRead, driver.Serializable:
		return nil, fmt.Errorf("memory: begin: %w: isolation level %s; the memory adapter supports only read committed "+
			"(driver.DefaultIsolation or driver.ReadCommitted), with first-committer-wins write-conflict detection",
			driver.ErrUnsupported, opts.Isolation)
	default:
		return nil, fmt.Errorf("memory: begin: %w: unknown isolation level %d", driver.ErrInvalid, opts.Isolation)
	}
	a.mu.RLock()
	defer a.mu.RUnlock()
	if a.closed {
		return nil, fmt.Errorf("memory: begin: %w", driver.ErrClosed)
	}
	tx := &Tx{a: a, ctx: ctx, readOnly: opts.ReadOnly, tables: make(map[string]*txTable)}
	tx.store = store{r: tx}
	return tx, nil
}

// usable returns an error if the transaction is over, ending it if its
// context is done. tx.mu must be held.
func (tx *Tx) usable() error {
	if tx.done {
		return fmt.Errorf("memory: %w", driver.ErrTxDone)
	}
	if tx.streams > 0 {
		return fmt.Errorf("%w: the transaction is busy with a query loop: finish or break it first", driver.ErrInvalid)
	}
	if err := tx.ctx.Err(); err != nil {
		tx.end()
		return fmt.Errorf("transaction rolled back: %w", err)
	}
	return nil
}

// stream marks a query loop of the transaction as running.
func (tx *Tx) stream() func() {
	tx.mu.Lock()
	tx.streams++
	tx.mu.Unlock()
	return func() {
		tx.mu.Lock()
		tx.streams--
		tx.mu.Unlock()
	}
}

// end discards the transaction's state. tx.mu must be held.
func (tx *Tx) end() {
	tx.done = true
	tx.tables = nil
	tx.savepoints = nil
}

func (tx *Tx) read(ctx context.Context, op string, c *driver.Collection, key any, fn func(view) error) error {
	return tx.run(ctx, op, c, key, false, fn)
}

func (tx *Tx) write(ctx context.Context, op string, c *driver.Collection, key any, fn func(view) error) error {
	return tx.run(ctx, op, c, key, true, fn)
}

// run runs fn on the transaction's overlay for c over the committed data.
func (tx *Tx) run(ctx context.Context, op string, c *driver.Collection, key any, write bool, fn func(view) error) error {
	if err := enter(ctx, c); err != nil {
		return wrap(op, c, key, err)
	}
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if err := tx.usable(); err != nil {
		return wrap(op, c, key, err)
	}
	if write && tx.readOnly {
		return wrap(op, c, key, fmt.Errorf("%w: read-only transaction", driver.ErrInvalid))
	}
	a := tx.a
	// Writes may build unique-index lookups of committed tables, so they
	// need the adapter exclusively.
	unlock := a.mu.RUnlock
	if write {
		a.mu.Lock()
		unlock = a.mu.Unlock
	} else {
		a.mu.RLock()
	}
	defer unlock()
	if a.closed {
		return wrap(op, c, key, driver.ErrClosed)
	}
	ts := tx.tables[c.Name]
	if ts == nil {
		ts = &txTable{rows: newRowSet(nil, true), seen: make(map[rowKey]uint64)}
		tx.tables[c.Name] = ts
	}
	ts.c = c
	return wrap(op, c, key, fn(&overlay{base: a.snapshot(c.Name), own: ts.rows, seen: ts.seen}))
}

// Commit applies the transaction's writes atomically. It fails with an
// error wrapping driver.ErrSerialization, and applies nothing, if a record
// the transaction wrote was changed by someone else since the transaction
// first saw it; and with a *driver.ConstraintError if a record it inserted
// was inserted meanwhile, or if a record it wrote now collides in a unique
// index with a committed one. Either way the transaction is over.
func (tx *Tx) Commit() error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	if err := tx.usable(); err != nil {
		return fmt.Errorf("memory: commit: %w", err)
	}
	defer tx.end()
	a := tx.a
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return fmt.Errorf("memory: commit: %w", driver.ErrClosed)
	}
	for name, ts := range tx.tables {
		if err := ts.validate(name, a.snapshot(name)); err != nil {
			return fmt.Errorf("memory: commit: %w", err)
		}
	}
	for name, ts := range tx.tables {
		if len(ts.rows.rows) > 0 {
			(&overlay{base: a.table(name), own: ts.rows}).flush()
		}
	}
	return nil
}

// validate checks the writes of ts against t, the committed table of the
// named collection: no row written may have changed since the transaction
// first saw it, and no row written may collide in a unique index with a
// committed row that the transaction leaves alone.
func (ts *txTable) validate(name string, t *table) error {
	for k, r := range ts.rows.rows {
		now := t.rev(k)
		switch {
		case now == ts.seen[k]:
		case ts.seen[k] == 0 && r != nil:
			// Both inserted the key: a duplicate, as a SQL store reports it.
			return fmt.Errorf("%s/%v: %w", name, k.value(), uniqueViolation(ts.c, driver.PrimaryKeyConstraint))
		default:
			return fmt.Errorf("%w: %s/%v was changed by another transaction", driver.ErrSerialization, name, k.value())
		}
	}
	merged := &overlay{base: t, own: ts.rows}
	for k, r := range ts.rows.rows {
		if r == nil {
			continue
		}
		if err := checkUnique(merged, ts.c, k, r.vals); err != nil {
			return fmt.Errorf("%s/%v: %w", name, k.value(), err)
		}
	}
	return nil
}

// Rollback discards the transaction's writes. After Commit or Rollback it
// does nothing and returns nil, so it can always be deferred.
func (tx *Tx) Rollback() error {
	tx.mu.Lock()
	defer tx.mu.Unlock()
	tx.end()
	return nil
}
