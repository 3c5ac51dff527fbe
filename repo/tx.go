package repo

import (
	"context"
	"errors"
	"fmt"

	"github.com/strata-go/strata/repo/driver"
)

// Isolation is a transaction isolation level.
type Isolation = driver.Isolation

// The isolation levels. A level the store cannot give is ErrUnsupported,
// never silently weakened.
const (
	DefaultIsolation = driver.DefaultIsolation
	ReadCommitted    = driver.ReadCommitted
	RepeatableRead   = driver.RepeatableRead
	Serializable     = driver.Serializable
)

// TxOption configures a transaction.
type TxOption func(*driver.TxOptions)

// WithIsolation sets the isolation level.
func WithIsolation(l Isolation) TxOption { return func(o *driver.TxOptions) { o.Isolation = l } }

// ReadOnly makes the transaction refuse writes.
func ReadOnly() TxOption { return func(o *driver.TxOptions) { o.ReadOnly = true } }

// Transaction runs fn in a transaction and commits it if fn returns nil.
// If fn returns an error the transaction is rolled back and the error
// returned; if fn panics it is rolled back and the panic continues. fn must
// do its work through tx, the Repo it is given: r itself stays outside the
// transaction.
//
// Inside a transaction, Transaction nests (and ignores opts: the outer
// transaction's options hold): with CapSavepoints the inner function runs
// under a savepoint and its error rolls back only its own writes; without,
// it runs in the outer transaction and its error rolls back everything,
// even if the outer function carries on and returns nil.
//
// A store without transactions (no CapTransactions) returns ErrUnsupported
// without calling fn.
func (r *Repo) Transaction(ctx context.Context, fn func(tx *Repo) error, opts ...TxOption) (err error) {
	if fn == nil {
		return fmt.Errorf("%w: Transaction with a nil function", ErrInvalid)
	}
	if r.tx != nil {
		return r.nested(ctx, fn)
	}
	ctx, obs := r.begin(ctx, "transaction", "")
	defer obs.end(nil, &err)
	// Store-wide, not per schema: a Router declares the transactions of
	// its transaction store, and its Tx refuses the other schemas.
	t, ok := r.a.(driver.Transactor)
	if !ok || !r.caps.Has(driver.CapTransactions) {
		return wrap("transaction", "", fmt.Errorf("%w: this store has no transactions; write each record atomically, or route this schema to a CP store", ErrUnsupported))
	}
	var o driver.TxOptions
	for _, opt := range opts {
		opt(&o)
	}
	dtx, err := t.BeginTx(ctx, o)
	if err != nil {
		return wrap("transaction", "", err)
	}
	inner := *r
	inner.st, inner.tx, inner.depth, inner.txs = dtx, dtx, 1, new(txState)
	committed := false
	defer func() {
		if !committed {
			if rerr := dtx.Rollback(); rerr != nil && err != nil {
				err = errors.Join(err, wrap("rollback", "", rerr))
			}
		}
	}()
	if err := fn(&inner); err != nil {
		return err
	}
	if inner.txs.failed != nil {
		return wrap("transaction", "", fmt.Errorf("rolled back: a nested transaction failed: %w", inner.txs.failed))
	}
	if err := dtx.Commit(); err != nil {
		return wrap("commit", "", err)
	}
	committed = true
	return nil
}

// txState is shared by a transaction's Repo and its nested ones.
type txState struct {
	failed error // a nested transaction without a savepoint failed
}

func (r *Repo) nested(ctx context.Context, fn func(tx *Repo) error) (err error) {
	sp, ok := r.tx.(driver.Savepointer)
	if !ok || !r.caps.Has(driver.CapSavepoints) {
		// Without savepoints the inner writes cannot be undone alone:
		// its failure makes the whole transaction roll back, even if the
		// outer function goes on (as Ecto does).
		if err := fn(r); err != nil {
			if r.txs.failed == nil {
				r.txs.failed = err
			}
			return err
		}
		return nil
	}
	name := fmt.Sprintf("strata_sp_%d", r.depth)
	if err := sp.Savepoint(ctx, name); err != nil {
		return wrap("savepoint", "", err)
	}
	inner := *r
	inner.depth++
	done := false
	defer func() {
		if !done {
			if rerr := sp.RollbackTo(ctx, name); rerr != nil && err != nil {
				err = errors.Join(err, wrap("rollback to savepoint", "", rerr))
			}
		}
	}()
	if err := fn(&inner); err != nil {
		return err
	}
	done = true
	return wrap("release savepoint", "", sp.Release(ctx, name))
}
